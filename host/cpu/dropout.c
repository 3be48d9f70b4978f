/*
 * dropout.c: reference dropout. Forward and backward run the same masked
 * scale, the mask drawn from Philox blocks on the fly (no mask in memory).
 */
#include "cpu/cpu_dropout.h"
#include "cpu/cpu_parallel.h"
#include "cugen/philox_impl.h"

#define DROP_CHUNK 1024  /* elements per pass: their Philox values fit on the stack */

/* out_i = keep_i ? in_i / (1 - p) : 0 (see cpu_dropout.h for keep_i). Per
 * chunk: the Philox blocks it spans first (a branch-free loop over blocks),
 * then the mask and the scaling, so that neither loop tests per element
 * whether a new block starts. */
static void dropout_apply(real *out, const real *in, int64_t n, double p, uint64_t seed,
                          uint32_t stream, uint64_t offset)
{
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    double scale = 1.0 / (1.0 - p);
    uint32_t u[DROP_CHUNK + 8];
    for (int64_t i0 = 0; i0 < n; i0 += DROP_CHUNK) {
        int64_t m = n - i0 < DROP_CHUNK ? n - i0 : DROP_CHUNK;
        /* values offset + i0 .. offset + i0 + m - 1 lie in blocks b0 .. b1 */
        uint64_t first = offset + (uint64_t)i0, b0 = first >> 2;
        uint64_t b1 = (first + (uint64_t)m - 1) >> 2;
        for (uint64_t b = b0; b <= b1; b++) {
            const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), stream, 0};
            cg_philox_block(ctr, key, u + 4 * (b - b0));
        }
        const uint32_t *v = u + (first & 3);
        const real *x = in + i0;
        real *y = out + i0;
        for (int64_t i = 0; i < m; i++) {
            int keep = (double)cg_u32_to_uniform(v[i]) >= p;
            y[i] = keep ? (real)((double)x[i] * scale) : 0;
        }
    }
}

typedef struct {
    real *out;
    const real *in;
    double p;
    uint64_t seed, offset;
    uint32_t stream;
} drop_job;

/* elements [lo, hi): the same counters as in one pass (offset + lo) */
static void drop_range(void *arg, int64_t lo, int64_t hi)
{
    const drop_job *j = arg;
    dropout_apply(j->out + lo, j->in + lo, hi - lo, j->p, j->seed, j->stream,
                  j->offset + (uint64_t)lo);
}

static void dropout_run(real *out, const real *in, int64_t n, double p, uint64_t seed,
                        uint32_t stream, uint64_t offset)
{
    drop_job j = {out, in, p, seed, offset, stream};
    cpu_parallel_range(n, drop_range, &j);
}

void cpu_dropout_fwd(real *y, const real *x, int64_t n, double p, uint64_t seed,
                     uint32_t stream, uint64_t offset)
{
    dropout_run(y, x, n, p, seed, stream, offset);
}

void cpu_dropout_bwd(real *dx, const real *dy, int64_t n, double p, uint64_t seed,
                     uint32_t stream, uint64_t offset)
{
    dropout_run(dx, dy, n, p, seed, stream, offset);
}
