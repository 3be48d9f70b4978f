/*
 * cpu_parallel.h: splitting an op's batch over CPU threads.
 *
 * The GEMMs of a convolution are small per image, and im2col / col2im run
 * outside the BLAS, so giving each thread whole images (each running its own
 * single-threaded GEMMs) scales better than one multi-threaded GEMM at a
 * time. The thread count is the BLAS's (OPENBLAS_NUM_THREADS, else the
 * cores), read once; from then on the BLAS itself runs on one thread and
 * cugen splits the work (cpu_parallel, cpu_gemm) over a pool of its own.
 *
 * Not for: nested use (a region inside a region runs on one thread), or
 * regions started from several threads at once (the BLAS thread count is
 * process-wide; cugen runs its ops from one thread).
 */
#ifndef CUGEN_CPU_PARALLEL_H
#define CUGEN_CPU_PARALLEL_H

#include <stdint.h>

#define CPU_MAX_THREADS 64

/* Threads a parallel region would use (1 inside a region). */
int cpu_threads(void);
/* Runs fn(arg, t, nt) for t = 0 .. nt - 1, on nt threads (the caller runs
 * t = 0), and returns when all have finished. nt <= CPU_MAX_THREADS. A
 * thread that cannot be started runs its share on the caller instead. */
void cpu_parallel(void (*fn)(void *arg, int t, int nt), void *arg, int nt);
/* [*lo, *hi): part t of nt of the range [0, n), the parts in order and
 * differing in size by at most one. */
static inline void cpu_split(int64_t n, int t, int nt, int64_t *lo, int64_t *hi)
{
    *lo = n * t / nt;
    *hi = n * (t + 1) / nt;
}

/* Elements below which a region costs an elementwise loop more than it saves. */
#define CPU_PAR_MIN_ELEMS 65536
/* An elementwise loop over [0, n): fn(arg, lo, hi) on each thread's part
 * (cpu_split) from CPU_PAR_MIN_ELEMS elements on, else fn(arg, 0, n) on
 * the caller. For loops whose elements do not depend on each other, so
 * that the split changes no bit. */
void cpu_parallel_range(int64_t n, void (*fn)(void *arg, int64_t lo, int64_t hi), void *arg);

#endif
