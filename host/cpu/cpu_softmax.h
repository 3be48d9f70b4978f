/*
 * cpu_softmax.h: reference softmax over the last dim of a (rows, D) view.
 * Backward writes dx (=).
 */
#ifndef CUGEN_CPU_SOFTMAX_H
#define CUGEN_CPU_SOFTMAX_H

#include <stdint.h>

#include "cugen/tensor.h"

/* y (R, D) = exp(x - max) / sum exp(x - max), row by row */
void cpu_softmax_fwd(real *y, const real *x, int64_t R, int D);
/* dx (R, D) = y (dy - sum_j dy_j y_j), from the saved output y */
void cpu_softmax_bwd(real *dx, const real *dy, const real *y, int64_t R, int D);

#endif
