/*
 * dropout.c: reference dropout. Forward and backward run the same masked
 * scale, the mask drawn from Philox blocks on the fly (no mask in memory).
 */
#include "cpu/cpu_dropout.h"
#include "cugen/philox_impl.h"

/* out_i = keep_i ? in_i / (1 - p) : 0 (see cpu_dropout.h for keep_i) */
static void dropout_apply(real *out, const real *in, int64_t n, double p, uint64_t seed,
                          uint32_t stream, uint64_t offset)
{
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    double scale = 1.0 / (1.0 - p);
    uint32_t u[4];
    for (int64_t i = 0; i < n; i++) {
        uint64_t idx = offset + (uint64_t)i;
        if (i == 0 || (idx & 3) == 0) {
            uint64_t block = idx >> 2;
            const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), stream, 0};
            cg_philox_block(ctr, key, u);
        }
        int keep = (double)cg_u32_to_uniform(u[idx & 3]) >= p;
        out[i] = keep ? (real)((double)in[i] * scale) : 0;
    }
}

void cpu_dropout_fwd(real *y, const real *x, int64_t n, double p, uint64_t seed,
                     uint32_t stream, uint64_t offset)
{
    dropout_apply(y, x, n, p, seed, stream, offset);
}

void cpu_dropout_bwd(real *dx, const real *dy, int64_t n, double p, uint64_t seed,
                     uint32_t stream, uint64_t offset)
{
    dropout_apply(dx, dy, n, p, seed, stream, offset);
}
