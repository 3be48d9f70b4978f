/*
 * rng.cu: Philox fills on the GPU, bit for bit the values of the CPU's
 * cg_philox_uniform and cg_philox_normal (host/core/rng.c): the same block
 * function and conversions (cugen/philox_impl.h, compiled here for the
 * device) and the same stream layout, value k of a fill at `offset` from
 * block (offset + k) / 4, lane (offset + k) % 4, normals pairing lanes (0, 1)
 * and (2, 3). One thread per Philox block. Exactness needs --fmad=false (the
 * Makefile), as the CPU side needs -ffp-contract=off.
 */
#include "cuda_check.h"
#include "cugen/philox_impl.h"

/* The block at index `block` of (seed, stream), as rng.c's block_at. */
static __device__ void block_at(uint64_t seed, uint32_t stream, uint64_t block, uint32_t out[4])
{
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), stream, 0};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    cg_philox_block(ctr, key, out);
}

/* Blocks touched by values [offset, offset + n). */
static int64_t blocks_spanned(uint64_t offset, int64_t n)
{
    return (int64_t)(((offset + (uint64_t)n + 3) >> 2) - (offset >> 2));
}

extern "C" cg_status cuda_philox_uniform(uint64_t seed, uint32_t stream, uint64_t offset, real *x,
                                         int64_t n, double lo, double hi)
{
    const int map = lo != 0.0 || hi != 1.0;
    const uint64_t first = offset >> 2, end = offset + (uint64_t)n;
    return cu_map(n > 0 ? blocks_spanned(offset, n) : 0, [=] __device__(int64_t t) {
        uint64_t block = first + (uint64_t)t;
        uint32_t b[4];
        block_at(seed, stream, block, b);
        for (int l = 0; l < 4; l++) {
            uint64_t idx = block * 4 + (uint64_t)l;
            if (idx < offset || idx >= end)
                continue;
            real u = cg_u32_to_uniform(b[l]);
            x[idx - offset] = map ? (real)(lo + (hi - lo) * (double)u) : u;
        }
    });
}

extern "C" cg_status cuda_philox_normal(uint64_t seed, uint32_t stream, uint64_t offset, real *x,
                                        int64_t n, double mean, double std)
{
    const int map = mean != 0.0 || std != 1.0;
    const uint64_t first = offset >> 2, end = offset + (uint64_t)n;
    return cu_map(n > 0 ? blocks_spanned(offset, n) : 0, [=] __device__(int64_t t) {
        uint64_t block = first + (uint64_t)t;
        uint32_t b[4];
        float z[4];
        block_at(seed, stream, block, b);
        cg_box_muller(b[0], b[1], &z[0], &z[1]);
        cg_box_muller(b[2], b[3], &z[2], &z[3]);
        for (int l = 0; l < 4; l++) {
            uint64_t idx = block * 4 + (uint64_t)l;
            if (idx < offset || idx >= end)
                continue;
            x[idx - offset] = map ? (real)(mean + std * (double)z[l]) : z[l];
        }
    });
}
