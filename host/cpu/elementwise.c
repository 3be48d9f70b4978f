/*
 * elementwise.c: reference pointwise ops.
 */
#include "cpu/cpu_elementwise.h"

void cpu_relu_fwd(real *y, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] > 0 ? x[i] : 0;
}

void cpu_relu_bwd(real *dx, const real *dy, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = x[i] > 0 ? dy[i] : 0;
}
