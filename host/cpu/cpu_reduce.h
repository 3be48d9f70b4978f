/*
 * cpu_reduce.h: reference full reductions to one value (sum, mean).
 * The sum is accumulated in double; mean is the sum scaled by 1 / n.
 */
#ifndef CUGEN_CPU_REDUCE_H
#define CUGEN_CPU_REDUCE_H

#include <stdint.h>

#include "cugen/tensor.h"

/* y (1) = scale * sum x (n) */
void cpu_sum_fwd(real *y, const real *x, double scale, int64_t n);
/* dx (n) = scale * dy[0] (written) */
void cpu_sum_bwd(real *dx, const real *dy, double scale, int64_t n);

#endif
