/*
 * mmd.cu: the CUDA twin of host/cpu/mmd.c, the squared MMD between the rows
 * of x (N, D) and y (M, D) under a sum of Gaussian kernels, sigmas (ns) in
 * GPU memory. Every pair's squared distance is summed over D by one thread
 * in the CPU's order, so a kernel value is the CPU's up to exp's last bit.
 *
 * Forward: one deterministic sum (reduce.cuh) over the N^2 + M^2 + N M
 * pairs, each weighted by its set's coefficient.
 * Backward: one block per row p of A (x, then y). For a chunk of
 * CU_RED_THREADS columns d (one per thread) it walks the rows j of A then B
 * in tiles: each thread computes one pair's coefficient f_j into shared
 * memory, then each thread adds f_j (a_d - b_jd) over the tile in order j,
 * the CPU's order. No atomics: the same bits every run.
 */
#include "reduce.cuh"

/* k(a, b) for rows of length D; *w = sum_s k_s(a, b) / sigma_s^2 (cpu's rbf) */
static __device__ double dev_rbf(const real *a, const real *b, int D, const double *sigmas,
                                 int ns, double *w)
{
    double d2 = 0;
    for (int d = 0; d < D; d++) {
        double t = (double)a[d] - (double)b[d];
        d2 += t * t;
    }
    double k = 0, kw = 0;
    for (int s = 0; s < ns; s++) {
        double s2 = sigmas[s] * sigmas[s], ks = exp(-d2 / (2 * s2));
        k += ks;
        kw += ks / s2;
    }
    *w = kw;
    return k;
}

extern "C" cg_status cuda_mmd2_rbf_fwd(real *out, const real *x, const real *y,
                                       const double *sigmas, int ns, int N, int M, int D)
{
    const int64_t nxx = (int64_t)N * N, nyy = (int64_t)M * M, nxy = (int64_t)N * M;
    const double cxx = 1 / ((double)N * N), cyy = 1 / ((double)M * M);
    const double cxy = -2 / ((double)N * M);
    return cu_sum(out, nxx + nyy + nxy, [=] __device__(int64_t i) {
        const real *a, *b;
        double c, w;
        if (i < nxx) {
            a = x + (i / N) * D;
            b = x + (i % N) * D;
            c = cxx;
        } else if (i < nxx + nyy) {
            i -= nxx;
            a = y + (i / M) * D;
            b = y + (i % M) * D;
            c = cyy;
        } else {
            i -= nxx + nyy;
            a = x + (i / M) * D;
            b = y + (i % M) * D;
            c = cxy;
        }
        return c * dev_rbf(a, b, D, sigmas, ns, &w);
    }, 1.0, NULL);
}

#define MMD_TILE CU_RED_THREADS

/* dA (na, D) = dout[0] (c_self sum_j g(A_p, A_j) + c_cross sum_j g(A_p, B_j)),
 * g(a, b) = -(a - b) sum_s k_s(a, b) / sigma_s^2 (see host/cpu/mmd.c) */
static __global__ void mmd_rows_grad(real *dA, const real *dout, const real *A, int na,
                                     const real *B, int nb, int D, const double *sigmas, int ns,
                                     double c_self, double c_cross)
{
    __shared__ double f[MMD_TILE];
    const double g0 = dout[0];
    const int nj = na + nb;
    for (int p = blockIdx.x; p < na; p += gridDim.x) {
        const real *a = A + (int64_t)p * D;
        for (int d0 = 0; d0 < D; d0 += MMD_TILE) {
            const int d = d0 + (int)threadIdx.x;
            const double ad = d < D ? (double)a[d] : 0;
            double acc = 0;
            for (int j0 = 0; j0 < nj; j0 += MMD_TILE) {
                const int j = j0 + (int)threadIdx.x;
                __syncthreads();  /* the previous tile's f has been read */
                if (j < nj) {
                    const real *b = j < na ? A + (int64_t)j * D : B + (int64_t)(j - na) * D;
                    double w;
                    dev_rbf(a, b, D, sigmas, ns, &w);
                    f[threadIdx.x] = -(j < na ? c_self : c_cross) * w;
                }
                __syncthreads();
                const int tile = nj - j0 < MMD_TILE ? nj - j0 : MMD_TILE;
                if (d < D)
                    for (int k = 0; k < tile; k++) {
                        const int jj = j0 + k;
                        const real *b = jj < na ? A + (int64_t)jj * D
                                                : B + (int64_t)(jj - na) * D;
                        acc += f[k] * (ad - (double)b[d]);
                    }
            }
            if (d < D)
                dA[(int64_t)p * D + d] = (real)(g0 * acc);
        }
    }
}

static cg_status rows_grad(real *dA, const real *dout, const real *A, int na, const real *B,
                           int nb, int D, const double *sigmas, int ns, double c_self,
                           double c_cross)
{
    /* no rows or no columns: nothing to write, and a grid of 0 blocks would
     * be an invalid launch */
    if (na <= 0 || D <= 0)
        return CG_OK;
    cudaStream_t s;
    cg_status st = cu_stream(&s);
    if (st != CG_OK)
        return st;
    CU_LAUNCH(mmd_rows_grad, na < 65535 ? na : 65535, MMD_TILE, s, dA, dout, A, na, B, nb, D,
              sigmas, ns, c_self, c_cross);
    return CU_LAUNCHED();
}

extern "C" cg_status cuda_mmd2_rbf_bwd(real *dx, real *dy, const real *dout, const real *x,
                                       const real *y, const double *sigmas, int ns, int N, int M,
                                       int D)
{
    const double cross = -2 / ((double)N * M);
    if (dx) {
        cg_status st = rows_grad(dx, dout, x, N, y, M, D, sigmas, ns, 2 / ((double)N * N), cross);
        if (st != CG_OK)
            return st;
    }
    if (dy)
        return rows_grad(dy, dout, y, M, x, N, D, sigmas, ns, 2 / ((double)M * M), cross);
    return CG_OK;
}
