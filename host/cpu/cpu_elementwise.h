/*
 * cpu_elementwise.h: reference pointwise ops. Backward writes dx (=).
 */
#ifndef CUGEN_CPU_ELEMENTWISE_H
#define CUGEN_CPU_ELEMENTWISE_H

#include <stdint.h>

#include "cugen/tensor.h"

void cpu_relu_fwd(real *y, const real *x, int64_t n);
void cpu_relu_bwd(real *dx, const real *dy, const real *x, int64_t n);

#endif
