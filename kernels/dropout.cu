/*
 * dropout.cu: the CUDA twin of host/cpu/dropout.c. The mask is the CPU's bit
 * for bit: element i is kept iff (double)cg_u32_to_uniform(u) >= p, u being
 * value offset + i of the Philox stream (block (offset + i) / 4, lane
 * (offset + i) % 4, cugen/philox_impl.h compiled for the device). One thread
 * per Philox block, as kernels/rng.cu; forward and backward are the same
 * masked scale.
 */
#include "cuda_check.h"
#include "cugen/philox_impl.h"

/* out_i = keep_i ? in_i / (1 - p) : 0 */
static cg_status dropout_apply(real *out, const real *in, int64_t n, double p, uint64_t seed,
                               uint32_t stream, uint64_t offset)
{
    if (n <= 0)
        return CG_OK;
    const double scale = 1.0 / (1.0 - p);
    const uint64_t first = offset >> 2, end = offset + (uint64_t)n;
    const int64_t nblocks = (int64_t)(((end + 3) >> 2) - first);
    return cu_map(nblocks, [=] __device__(int64_t t) {
        const uint64_t block = first + (uint64_t)t;
        const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), stream, 0};
        const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
        uint32_t u[4];
        cg_philox_block(ctr, key, u);
        for (int l = 0; l < 4; l++) {
            uint64_t idx = block * 4 + (uint64_t)l;
            if (idx < offset || idx >= end)
                continue;
            int64_t i = (int64_t)(idx - offset);
            int keep = (double)cg_u32_to_uniform(u[l]) >= p;
            out[i] = keep ? (real)((double)in[i] * scale) : 0;
        }
    });
}

extern "C" cg_status cuda_dropout_fwd(real *y, const real *x, int64_t n, double p,
                                      uint64_t seed, uint32_t stream, uint64_t offset)
{
    return dropout_apply(y, x, n, p, seed, stream, offset);
}

extern "C" cg_status cuda_dropout_bwd(real *dx, const real *dy, int64_t n, double p,
                                      uint64_t seed, uint32_t stream, uint64_t offset)
{
    return dropout_apply(dx, dy, n, p, seed, stream, offset);
}
