/*
 * embed.cu: the CUDA twin of host/cpu/embed.c, the sinusoidal timestep
 * embedding. Frequencies, angles, sin and cos in double like the CPU's (CUDA's
 * double exp, log, sin and cos are within an ulp or two of glibc's, far below
 * the float the result is stored in). Backward: one block per sample, its
 * sum over the h frequencies by the fixed block tree of reduce.cuh.
 */
#include "reduce.cuh"

/* f_j = max_period^(-j / h), the CPU's expression */
static __device__ double embed_freq(int j, int h, double max_period)
{
    return exp(-log(max_period) * (double)j / (double)h);
}

extern "C" cg_status cuda_timestep_embedding_fwd(real *y, const real *t, int N, int h,
                                                 double max_period)
{
    return cu_map((int64_t)N * h, [=] __device__(int64_t i) {
        int64_t n = i / h;
        int j = (int)(i % h);
        double a = (double)t[n] * embed_freq(j, h, max_period);
        y[n * 2 * h + j] = (real)cos(a);
        y[n * 2 * h + h + j] = (real)sin(a);
    });
}

extern "C" cg_status cuda_timestep_embedding_bwd(real *dt, const real *dy, const real *t, int N,
                                                 int h, double max_period)
{
    return cu_rows(N, [=] __device__(int64_t n) {
        const real *dc = dy + n * 2 * h, *ds = dc + h;
        double s = 0;
        for (int j = threadIdx.x; j < h; j += CU_RED_THREADS) {
            double f = embed_freq(j, h, max_period);
            double a = (double)t[n] * f;
            s += f * (cos(a) * ds[j] - sin(a) * dc[j]);
        }
        s = cu_block_sum(s);
        if (threadIdx.x == 0)
            dt[n] = (real)s;
    });
}
