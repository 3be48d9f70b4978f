/*
 * spectral.cu: the CUDA twin of host/cpu/spectral.c, spectral normalisation
 * of a weight seen as the matrix W (h, A R) (cpu_spectral.h).
 *
 * Each matrix-vector product is one block per output element summing its
 * row (or column) in double by the fixed tree of reduce.cuh; each
 * normalisation, and sigma = u . W v, is one block over the whole vector.
 * The vectors are a few hundred to a few thousand values, so a launch or
 * two per product is the cost, not the arithmetic. No atomics: the same
 * bits every run. Scratch (the products in double) comes from the front
 * end's step arena.
 */
#include "reduce.cuh"

/* wv (h) = W v */
static cg_status mat_vec(double *wv, const real *w, const real *v, int A, int h, int R)
{
    return cu_rows(h, [=] __device__(int64_t i) {
        double s = 0;
        for (int64_t j = threadIdx.x; j < (int64_t)A * R; j += CU_RED_THREADS) {
            int64_t a = j / R, r = j % R;
            s += (double)w[(a * h + i) * R + r] * v[j];
        }
        s = cu_block_sum(s);
        if (threadIdx.x == 0)
            wv[i] = s;
    });
}

/* out = x / max(|x|, eps) over n values, one block */
static cg_status normalize(real *out, const double *x, int64_t n, double eps)
{
    return cu_rows(1, [=] __device__(int64_t) {
        double s = 0;
        for (int64_t k = threadIdx.x; k < n; k += CU_RED_THREADS)
            s += x[k] * x[k];
        const double norm = fmax(sqrt(cu_block_sum(s)), eps);
        for (int64_t k = threadIdx.x; k < n; k += CU_RED_THREADS)
            out[k] = (real)(x[k] / norm);
    });
}

extern "C" cg_status cuda_spectral_norm_fwd(real *y, real *sigma, real *u, real *v,
                                            const real *w, int A, int h, int R, int update,
                                            double eps, double *acc)
{
    int64_t cols = (int64_t)A * R, n = cols * h;
    double *wv = acc, *wtu = acc + h;
    cg_status st;
    if (update) {
        st = cu_rows(cols, [=] __device__(int64_t j) {
            int64_t a = j / R, r = j % R;
            double s = 0;
            for (int i = threadIdx.x; i < h; i += CU_RED_THREADS)
                s += (double)w[(a * h + i) * R + r] * u[i];
            s = cu_block_sum(s);
            if (threadIdx.x == 0)
                wtu[j] = s;
        });
        if (st == CG_OK)
            st = normalize(v, wtu, cols, eps);
        if (st == CG_OK)
            st = mat_vec(wv, w, v, A, h, R);
        if (st == CG_OK)
            st = normalize(u, wv, h, eps);
    } else {
        st = mat_vec(wv, w, v, A, h, R);
    }
    if (st != CG_OK)
        return st;
    st = cu_rows(1, [=] __device__(int64_t) {
        double s = 0;
        for (int i = threadIdx.x; i < h; i += CU_RED_THREADS)
            s += (double)u[i] * wv[i];
        s = cu_block_sum(s);
        if (threadIdx.x == 0)
            sigma[0] = (real)s;
    });
    if (st != CG_OK)
        return st;
    return cu_map(n, [=] __device__(int64_t e) { y[e] = (real)(w[e] / (double)sigma[0]); });
}

extern "C" cg_status cuda_spectral_norm_bwd(real *dw, const real *dy, const real *w,
                                            const real *u, const real *v, const real *sigma,
                                            int A, int h, int R, double *dot)
{
    int64_t n = (int64_t)A * h * R;
    cg_status st = cu_rows(1, [=] __device__(int64_t) {
        double s = 0;
        for (int64_t e = threadIdx.x; e < n; e += CU_RED_THREADS)
            s += (double)dy[e] * w[e];
        s = cu_block_sum(s);
        if (threadIdx.x == 0)
            dot[0] = s;
    });
    if (st != CG_OK)
        return st;
    return cu_map(n, [=] __device__(int64_t e) {
        int64_t r = e % R, i = (e / R) % h, a = e / ((int64_t)R * h);
        double sg = sigma[0], c = dot[0] / (sg * sg);
        dw[e] += (real)(dy[e] / sg - c * u[i] * v[a * R + r]);
    });
}
