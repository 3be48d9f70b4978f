/*
 * rng.h: Philox4x32-10 counter-based random numbers (Salmon et al., SC'11).
 *
 * Every value is a pure function of (seed, counter), so the CPU and the CUDA
 * backends produce the same bits: the block function, the uint32 -> float
 * conversions and the Box-Muller transform are written once, in
 * cugen/philox_impl.h, with only correctly rounded operations (integer math,
 * +, -, *, /, sqrt and explicit fma), never libm's log/sin/cos whose last bit
 * differs between glibc and CUDA.
 *
 * Layout of a stream: value k of a fill that starts at offset `off` comes from
 * Philox block (off + k) / 4, lane (off + k) % 4, with
 *   counter = { block_lo, block_hi, stream, 0 },  key = { seed_lo, seed_hi }.
 * Normals pair lanes (0,1) and (2,3) through Box-Muller. Offsets handed out by
 * cg_rng_take are multiples of 4, so a fill never shares a block with another.
 */
#ifndef CUGEN_RNG_H
#define CUGEN_RNG_H

#include <stdint.h>
#include "cugen/tensor.h"

/* One Philox4x32-10 block: out = philox(ctr, key). */
void cg_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

typedef struct {
    uint64_t seed;
    uint32_t stream;   /* independent sub-streams: data order, noise, dropout... */
    uint64_t offset;   /* next unused value index (multiple of 4) */
    /* one part of parts (0: the whole): each draw of n values takes values
     * [part n, (part + 1) n) of a draw of parts * n, and moves the offset as
     * that draw does; the ranks of a data-parallel run, each with its rows of
     * a batch's noise (cugen/trainer.h). Not saved: the offset is the state. */
    uint32_t part, parts;
} cg_rng;

void cg_rng_init(cg_rng *r, uint64_t seed, uint32_t stream);
/* Reserve n values (of parts * n with parts); returns the offset of the first. */
uint64_t cg_rng_take(cg_rng *r, int64_t n);

/* Fill with uniform (0, 1) floats, normal(mean, std), or raw uint32s. */
void cg_rng_uniform(cg_rng *r, real *x, int64_t n);
void cg_rng_normal(cg_rng *r, real *x, int64_t n, double mean, double std);
void cg_rng_u32(cg_rng *r, uint32_t *x, int64_t n);

/* Stateless forms at an explicit offset (what the GPU kernels mirror). */
void cg_philox_uniform(uint64_t seed, uint32_t stream, uint64_t offset, real *x, int64_t n);
void cg_philox_normal(uint64_t seed, uint32_t stream, uint64_t offset, real *x, int64_t n);

/* Fill a tensor on either device (the GPU fill is kernels/rng.cu): the
 * values cg_rng_uniform mapped to lo + (hi - lo) u in double, or those of
 * cg_rng_normal, bit for bit the same on both devices. CG_ERR_CUDA (detail
 * in cg_cuda_last_error()) when the GPU fill cannot be queued. */
cg_status cg_rng_fill_uniform(cg_rng *r, cg_tensor *t, double lo, double hi);
cg_status cg_rng_fill_normal(cg_rng *r, cg_tensor *t, double mean, double std);

/* Uniform integer in [0, n) and a Fisher-Yates shuffle of idx[0..n-1]. */
uint32_t cg_rng_below(cg_rng *r, uint32_t n);
void cg_rng_shuffle(cg_rng *r, int32_t *idx, int64_t n);

#endif
