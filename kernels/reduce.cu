/*
 * reduce.cu: the CUDA twins of host/cpu/reduce.c (sum and mean of a whole
 * tensor), through the deterministic two-pass sum of reduce.cuh.
 */
#include "reduce.cuh"

extern "C" cg_status cuda_sum_fwd(real *y, const real *x, double scale, int64_t n)
{
    return cu_sum(y, n, [=] __device__(int64_t i) { return (double)x[i]; }, scale, NULL);
}

/* dy[0] is read on the device: dx = scale * dy[0] everywhere */
extern "C" cg_status cuda_sum_bwd(real *dx, const real *dy, double scale, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { dx[i] = (real)(scale * dy[0]); });
}
