/*
 * softmax.cu: the CUDA twin of host/cpu/softmax.c, softmax over the last
 * dim: one block per row, the row's maximum and sum by the fixed block trees
 * of reduce.cuh (deterministic, no atomics), in double like the CPU's.
 */
#include "reduce.cuh"

extern "C" cg_status cuda_softmax_fwd(real *y, const real *x, int64_t R, int D)
{
    return cu_rows(R, [=] __device__(int64_t r) {
        const real *xr = x + r * D;
        real *yr = y + r * D;
        double m = xr[0];  /* a value of the row, so an idle thread cannot win */
        for (int j = threadIdx.x; j < D; j += CU_RED_THREADS)
            if (xr[j] > m)
                m = xr[j];
        const double mx = cu_block_max(m);
        double s = 0;
        for (int j = threadIdx.x; j < D; j += CU_RED_THREADS)
            s += exp((double)xr[j] - mx);
        const double inv = 1.0 / cu_block_sum(s);
        for (int j = threadIdx.x; j < D; j += CU_RED_THREADS)
            yr[j] = (real)(exp((double)xr[j] - mx) * inv);
    });
}

extern "C" cg_status cuda_softmax_bwd(real *dx, const real *dy, const real *y, int64_t R, int D)
{
    return cu_rows(R, [=] __device__(int64_t r) {
        const real *dyr = dy + r * D, *yr = y + r * D;
        real *dxr = dx + r * D;
        double s = 0;
        for (int j = threadIdx.x; j < D; j += CU_RED_THREADS)
            s += (double)dyr[j] * yr[j];
        const double dot = cu_block_sum(s);
        for (int j = threadIdx.x; j < D; j += CU_RED_THREADS)
            dxr[j] = (real)(yr[j] * ((double)dyr[j] - dot));
    });
}
