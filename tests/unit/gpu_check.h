/*
 * gpu_check.h: what the CPU-vs-GPU tests share.
 *
 *   GPU_OR_SKIP();   at the top of a GPU test (in the forked child, so CUDA
 *                    is initialised there): skips with the reason when no
 *                    GPU is usable, or fails instead when CUGEN_REQUIRE_GPU=1
 *                    (make test-gpu).
 *   guarded outputs: gpu_out(n) returns device memory for n values inside
 *                    guard zones filled with a pattern, the values poisoned
 *                    with a NaN pattern; gpu_fetch copies them back to the
 *                    host and fails the test if a guard changed (a kernel
 *                    wrote out of bounds); an element left unwritten stays
 *                    NaN and fails gpu_compare.
 *   gpu_compare:     every value finite, and ||gpu - cpu|| / ||cpu|| < tol;
 *                    gpu_same_bits: every value finite and bit-identical.
 *
 * Device memory of a test is freed by gpu_free_all (the child exits anyway).
 */
#ifndef CUGEN_TEST_GPU_CHECK_H
#define CUGEN_TEST_GPU_CHECK_H

#include "cugen/cuda.h"
#include "harness.h"

/* 1 when a GPU is usable; otherwise skipped or failed (see above) and 0. */
int gpu_ready(void);
#define GPU_OR_SKIP()        \
    do {                     \
        if (!gpu_ready())    \
            return;          \
    } while (0)

/* A device copy of n host values (NULL fails the test). */
real *gpu_from(const real *host, int64_t n);
/* n guarded, poisoned values on the device. */
real *gpu_out(int64_t n);
/* The n values at a gpu_out pointer into host (th_alloc'd); fails the test
 * if a guard changed. Returns the host copy. */
real *gpu_fetch(const char *what, const real *dev, int64_t n);
/* n guarded values on the device holding init: the output of an op that
 * accumulates (+=) into it. */
real *gpu_out_init(const real *init, int64_t n);
/* Plain download of device memory (no guards). */
real *gpu_get(const real *dev, int64_t n);
/* Finite and within tol of cpu (relative L2); returns the error. */
double gpu_compare(const char *what, const real *gpu, const real *cpu, int64_t n, double tol);
/* Finite and the same bits as cpu; 1 when so. */
int gpu_same_bits(const char *what, const real *gpu, const real *cpu, int64_t n);
void gpu_free_all(void);
/* Between steps: every block of ctx's device step arena filled with the
 * poison NaN, so that what the next step's ops leave unwritten stays NaN
 * (fresh cudaMalloc memory holds anything). 1, or 0 and the test failed. */
int gpu_poison_step_arena(cg_ctx *ctx);

/* n random values uniform in magnitude on [lo, hi], with a random sign when
 * signed_ (th_alloc'd host memory). */
real *gpu_rand(uint64_t seed, int64_t n, double lo, double hi, int signed_);

#endif
