/*
 * cpu_flow.h: reference of the squeeze of image flows (space to depth, as
 * PyTorch's pixel_unshuffle with factor 2) and its inverse. Both are
 * permutations, so each one's backward is the other's forward; dx is
 * written (=).
 *
 * Not for: resampling that mixes pixels (cpu_resample.h).
 */
#ifndef CUGEN_CPU_FLOW_H
#define CUGEN_CPU_FLOW_H

#include <stdint.h>

#include "cugen/tensor.h"

/* x (N, C, H, W) -> y (N, 4C, H/2, W/2): y[n, 4c + 2a + b, i, j] = x[n, c, 2i + a, 2j + b].
 * H, W even. */
void cpu_squeeze2x_fwd(real *y, const real *x, int N, int C, int H, int W);
/* The inverse: x from y (N, 4C, H/2, W/2); also squeeze's backward (dx from dy). */
void cpu_unsqueeze2x_fwd(real *x, const real *y, int N, int C, int H, int W);

#endif
