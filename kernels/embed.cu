/*
 * embed.cu: the CUDA twins of host/cpu/embed.c.
 *
 * Sinusoidal timestep embedding: frequencies, angles, sin and cos in double
 * like the CPU's (CUDA's double exp, log, sin and cos are within an ulp or two
 * of glibc's, far below the float the result is stored in). Backward: one
 * block per sample, its sum over the h frequencies by the fixed block tree of
 * reduce.cuh.
 *
 * Table lookup: the forward copies rows, one thread per output element. The
 * backward gives each element of the table's gradient to one thread, which
 * walks the N indices in order and sums the dy rows that name its row in
 * double: no two threads write one address, so no atomics, and the sum has
 * the CPU's order, hence the CPU's bits, on every run. It reads the N
 * indices num dim times (from cache: a warp's threads read the same index
 * at once); for class labels (num in the tens to thousands, N a batch) that
 * is far below one launch's cost. The indices were checked on the host.
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

extern "C" cg_status cuda_embedding_fwd(real *y, const int32_t *idx, const real *w, int N,
                                        int dim)
{
    return cu_map((int64_t)N * dim, [=] __device__(int64_t i) {
        int64_t n = i / dim, j = i % dim;
        y[i] = w[(int64_t)idx[n] * dim + j];
    });
}

extern "C" cg_status cuda_embedding_bwd(real *dw, const real *dy, const int32_t *idx, int N,
                                        int num, int dim)
{
    return cu_map((int64_t)num * dim, [=] __device__(int64_t i) {
        int64_t r = i / dim, j = i % dim;
        double s = 0;
        int hit = 0;
        for (int n = 0; n < N; n++)
            if (idx[n] == r) {
                s += dy[(int64_t)n * dim + j];
                hit = 1;
            }
        if (hit)
            dw[i] += (real)s;
    });
}
