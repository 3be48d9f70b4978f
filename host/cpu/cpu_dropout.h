/*
 * cpu_dropout.h: reference dropout with a Philox mask. Backward writes dx (=).
 *
 * The mask is a pure function of (seed, stream, offset): element i is kept
 * iff (double)cg_u32_to_uniform(u_i) >= p, u_i being value offset + i of the
 * Philox stream (block (offset + i) / 4, lane (offset + i) % 4, the layout of
 * rng.h), i.e. iff the value cg_philox_uniform gives at offset + i is >= p.
 * A CUDA kernel evaluating the same expression drops the same elements.
 * Kept elements are scaled by 1 / (1 - p).
 */
#ifndef CUGEN_CPU_DROPOUT_H
#define CUGEN_CPU_DROPOUT_H

#include <stdint.h>

#include "cugen/tensor.h"

/* y (n) = keep_i ? x_i / (1 - p) : 0 */
void cpu_dropout_fwd(real *y, const real *x, int64_t n, double p, uint64_t seed,
                     uint32_t stream, uint64_t offset);
/* dx (n) = keep_i ? dy_i / (1 - p) : 0, the mask regenerated from the same counters */
void cpu_dropout_bwd(real *dx, const real *dy, int64_t n, double p, uint64_t seed,
                     uint32_t stream, uint64_t offset);

#endif
