/*
 * rng.c: Philox streams on the host. The block function and conversions are
 * in cugen/philox_impl.h, shared with the CUDA kernels. This file is built
 * with -ffp-contract=off (see the Makefile) so that no multiply-add is fused
 * behind our back.
 */
#include "cugen/philox_impl.h"
#include "cugen/rng.h"
#include "core/core_cuda.h"

void cg_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    cg_philox_block(ctr, key, out);
}

void cg_rng_init(cg_rng *r, uint64_t seed, uint32_t stream)
{
    r->seed = seed;
    r->stream = stream;
    r->offset = 0;
    r->part = 0;
    r->parts = 0;
}

uint64_t cg_rng_take(cg_rng *r, int64_t n)
{
    uint64_t off = r->offset, parts = r->parts > 1 ? r->parts : 1;
    r->offset += ((uint64_t)n * parts + 3) & ~(uint64_t)3;
    return off + (parts > 1 ? (uint64_t)r->part * (uint64_t)n : 0);
}

static void block_at(uint64_t seed, uint32_t stream, uint64_t block, uint32_t out[4])
{
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), stream, 0};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    cg_philox_block(ctr, key, out);
}

static void u32_at(uint64_t seed, uint32_t stream, uint64_t offset, uint32_t *x, int64_t n)
{
    uint32_t b[4];
    for (int64_t k = 0; k < n; k++) {
        uint64_t idx = offset + (uint64_t)k;
        if (k == 0 || (idx & 3) == 0)
            block_at(seed, stream, idx >> 2, b);
        x[k] = b[idx & 3];
    }
}

void cg_philox_uniform(uint64_t seed, uint32_t stream, uint64_t offset, real *x, int64_t n)
{
    uint32_t b[4];
    for (int64_t k = 0; k < n; k++) {
        uint64_t idx = offset + (uint64_t)k;
        if (k == 0 || (idx & 3) == 0)
            block_at(seed, stream, idx >> 2, b);
        x[k] = cg_u32_to_uniform(b[idx & 3]);
    }
}

/* Values come in pairs from lanes (0,1) and (2,3) of a block; an odd offset
 * takes the second of its pair. */
void cg_philox_normal(uint64_t seed, uint32_t stream, uint64_t offset, real *x, int64_t n)
{
    uint32_t b[4];
    float z[4];
    for (int64_t k = 0; k < n; k++) {
        uint64_t idx = offset + (uint64_t)k;
        if (k == 0 || (idx & 3) == 0) {
            block_at(seed, stream, idx >> 2, b);
            cg_box_muller(b[0], b[1], &z[0], &z[1]);
            cg_box_muller(b[2], b[3], &z[2], &z[3]);
        }
        x[k] = z[idx & 3];
    }
}

void cg_rng_uniform(cg_rng *r, real *x, int64_t n)
{
    cg_philox_uniform(r->seed, r->stream, cg_rng_take(r, n), x, n);
}

void cg_rng_normal(cg_rng *r, real *x, int64_t n, double mean, double std)
{
    cg_philox_normal(r->seed, r->stream, cg_rng_take(r, n), x, n);
    if (mean != 0.0 || std != 1.0)
        for (int64_t k = 0; k < n; k++)
            x[k] = (real)(mean + std * (double)x[k]);
}

cg_status cg_rng_fill_uniform(cg_rng *r, cg_tensor *t, double lo, double hi)
{
    if (t->dev == CG_CUDA)
        return cuda_philox_uniform(r->seed, r->stream, cg_rng_take(r, t->n), t->data, t->n, lo,
                                   hi);
    cg_rng_uniform(r, t->data, t->n);
    for (int64_t i = 0; i < t->n; i++)
        t->data[i] = (real)(lo + (hi - lo) * (double)t->data[i]);
    return CG_OK;
}

cg_status cg_rng_fill_normal(cg_rng *r, cg_tensor *t, double mean, double std)
{
    if (t->dev == CG_CUDA)
        return cuda_philox_normal(r->seed, r->stream, cg_rng_take(r, t->n), t->data, t->n, mean,
                                  std);
    cg_rng_normal(r, t->data, t->n, mean, std);
    return CG_OK;
}

void cg_rng_u32(cg_rng *r, uint32_t *x, int64_t n)
{
    u32_at(r->seed, r->stream, cg_rng_take(r, n), x, n);
}

/* Lemire's multiply-shift with rejection: unbiased. */
uint32_t cg_rng_below(cg_rng *r, uint32_t n)
{
    if (n <= 1)
        return 0;
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t u;
        cg_rng_u32(r, &u, 1);
        uint64_t m = (uint64_t)u * n;
        if ((uint32_t)m >= threshold)
            return (uint32_t)(m >> 32);
    }
}

void cg_rng_shuffle(cg_rng *r, int32_t *idx, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = cg_rng_below(r, (uint32_t)(i + 1));
        int32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
