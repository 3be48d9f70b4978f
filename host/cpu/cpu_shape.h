/*
 * cpu_shape.h: reference data movement for concat / split on channels and
 * reshape. One primitive moves a block of channels between two tensors viewed
 * as (N, C, S), S the product of the dims after C:
 *   concat forward / split backward: part -> channels [c0, c0 + Cp) of the whole
 *   concat backward / split forward: channels [c0, c0 + Cp) of the whole -> part
 */
#ifndef CUGEN_CPU_SHAPE_H
#define CUGEN_CPU_SHAPE_H

#include <stdint.h>

#include "cugen/tensor.h"

/* dst[n, dc0 + c, s] = (or += when accumulate) src[n, sc0 + c, s] for c < Cp;
 * dst is (N, dC, S), src (N, sC, S). */
void cpu_channel_copy(real *dst, int dC, int dc0, const real *src, int sC, int sc0, int Cp,
                      int N, int S, int accumulate);
/* dx (n) = dy (n): backward of a reshape */
void cpu_reshape_bwd(real *dx, const real *dy, int64_t n);

#endif
