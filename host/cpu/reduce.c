/*
 * reduce.c: reference reductions of a whole tensor to one value.
 */
#include "cpu/cpu_reduce.h"

void cpu_sum_fwd(real *y, const real *x, double scale, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    y[0] = (real)(scale * s);
}

void cpu_sum_bwd(real *dx, const real *dy, double scale, int64_t n)
{
    const real g = (real)(scale * dy[0]);
    for (int64_t i = 0; i < n; i++)
        dx[i] = g;
}
