/*
 * loss.cu: the CUDA twins of host/cpu/loss.c. A forward is one
 * deterministic sum (reduce.cuh) of the CPU's per-element term, in double;
 * a backward is one thread per element (per row for softmax_xent) reading
 * dout[0] on the device, with the CPU's expression.
 */
#include "reduce.cuh"

#define LOG_2PI 1.8378770664093454836

static __device__ double dev_sigmoid(double x)
{
    if (x >= 0)
        return 1 / (1 + exp(-x));
    double e = exp(x);
    return e / (1 + e);
}

static __device__ double dev_softplus(double x)
{
    return (x > 0 ? x : 0) + log1p(exp(-fabs(x)));
}

/* log v clamped to >= -100 like PyTorch's BCELoss; NaN stays NaN */
static __device__ double clamped_log(double v)
{
    double l = log(v);
    return l < -100 ? -100 : l;
}

/* ---- bce ------------------------------------------------------------------------- */
extern "C" cg_status cuda_bce_fwd(real *out, const real *p, const real *t, double scale,
                                  int64_t n)
{
    return cu_sum(out, n, [=] __device__(int64_t i) {
        return -(t[i] * clamped_log(p[i]) + (1 - (double)t[i]) * clamped_log(1 - (double)p[i]));
    }, scale, NULL);
}

extern "C" cg_status cuda_bce_bwd(real *dp, real *dt, const real *dout, const real *p,
                                  const real *t, double scale, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) {
        const double g = scale * dout[0];
        double pi = p[i], ti = t[i];
        if (dp) {
            double den = pi * (1 - pi);
            dp[i] = (real)(g * (pi - ti) / (den > 1e-12 ? den : 1e-12));
        }
        if (dt)
            dt[i] = (real)(g * (clamped_log(1 - pi) - clamped_log(pi)));
    });
}

/* ---- bce_with_logits (and bernoulli_nll) -------------------------------------------- */
extern "C" cg_status cuda_bce_logits_fwd(real *out, const real *z, const real *t, double scale,
                                         int64_t n)
{
    return cu_sum(out, n, [=] __device__(int64_t i) {
        return dev_softplus(z[i]) - (double)z[i] * t[i];
    }, scale, NULL);
}

extern "C" cg_status cuda_bce_logits_bwd(real *dz, real *dt, const real *dout, const real *z,
                                         const real *t, double scale, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) {
        const double g = scale * dout[0];
        if (dz)
            dz[i] = (real)(g * (dev_sigmoid(z[i]) - t[i]));
        if (dt)
            dt[i] = (real)(-g * z[i]);
    });
}

/* ---- mse ----------------------------------------------------------------------------- */
extern "C" cg_status cuda_mse_fwd(real *out, const real *x, const real *t, double scale,
                                  int64_t n)
{
    return cu_sum(out, n, [=] __device__(int64_t i) {
        double d = (double)x[i] - t[i];
        return d * d;
    }, scale, NULL);
}

extern "C" cg_status cuda_mse_bwd(real *dx, real *dt, const real *dout, const real *x,
                                  const real *t, double scale, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) {
        const double g = 2 * scale * dout[0];
        double d = g * ((double)x[i] - t[i]);
        if (dx)
            dx[i] = (real)d;
        if (dt)
            dt[i] = (real)-d;
    });
}

/* ---- gaussian_kl ----------------------------------------------------------------------- */
extern "C" cg_status cuda_gaussian_kl_fwd(real *out, const real *mu, const real *lv,
                                          double scale, int64_t n)
{
    return cu_sum(out, n, [=] __device__(int64_t i) {
        return (double)mu[i] * mu[i] + exp((double)lv[i]) - 1 - lv[i];
    }, scale * 0.5, NULL);
}

extern "C" cg_status cuda_gaussian_kl_bwd(real *dmu, real *dlv, const real *dout,
                                          const real *mu, const real *lv, double scale,
                                          int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) {
        const double g = scale * dout[0];
        if (dmu)
            dmu[i] = (real)(g * mu[i]);
        if (dlv)
            dlv[i] = (real)(g * 0.5 * (exp((double)lv[i]) - 1));
    });
}

/* ---- gaussian_nll ---------------------------------------------------------------------- */
extern "C" cg_status cuda_gaussian_nll_fwd(real *out, const real *x, const real *mu,
                                           const real *lv, int64_t nlv, double scale, int64_t n)
{
    return cu_sum(out, n, [=] __device__(int64_t i) {
        double l = lv[nlv == 1 ? 0 : i], d = (double)x[i] - mu[i];
        return LOG_2PI + l + d * d * exp(-l);
    }, scale * 0.5, NULL);
}

/* A shared logvar (nlv == 1) gets the sum over all elements: one more
 * deterministic sum, reading dout on the device. */
extern "C" cg_status cuda_gaussian_nll_bwd(real *dx, real *dmu, real *dlv, const real *dout,
                                           const real *x, const real *mu, const real *lv,
                                           int64_t nlv, double scale, int64_t n)
{
    const int shared = nlv == 1;
    cg_status st = cu_map(n, [=] __device__(int64_t i) {
        const double g = scale * dout[0];
        double l = lv[shared ? 0 : i], d = (double)x[i] - mu[i], r = d * exp(-l);
        if (dx)
            dx[i] = (real)(g * r);
        if (dmu)
            dmu[i] = (real)(-g * r);
        if (dlv && !shared)
            dlv[i] = (real)(g * 0.5 * (1 - d * r));
    });
    if (st != CG_OK || !dlv || !shared)
        return st;
    return cu_sum(dlv, n, [=] __device__(int64_t i) {
        double d = (double)x[i] - mu[i], r = d * exp(-(double)lv[0]);
        return 0.5 * (1 - d * r);
    }, scale, dout);
}

/* ---- softmax_xent ---------------------------------------------------------------------- */
/* max and log sum exp (z - max) of one row of K logits */
static __device__ double row_logsumexp(const real *z, int K, double *max)
{
    double m = z[0];
    for (int k = 1; k < K; k++)
        if (z[k] > m)
            m = z[k];
    double s = 0;
    for (int k = 0; k < K; k++)
        s += exp(z[k] - m);
    *max = m;
    return log(s);
}

extern "C" cg_status cuda_softmax_xent_fwd(real *out, const real *z, const int32_t *labels,
                                           double scale, int N, int K)
{
    return cu_sum(out, N, [=] __device__(int64_t n) {
        const real *row = z + n * K;
        double m, lse = row_logsumexp(row, K, &m);
        return lse - (row[labels[n]] - m);
    }, scale, NULL);
}

extern "C" cg_status cuda_softmax_xent_bwd(real *dz, const real *dout, const real *z,
                                           const int32_t *labels, double scale, int N, int K)
{
    return cu_map(N, [=] __device__(int64_t n) {
        const double g = scale * dout[0];
        const real *row = z + n * K;
        real *drow = dz + n * K;
        double m, lse = row_logsumexp(row, K, &m);
        for (int k = 0; k < K; k++)
            drow[k] = (real)(g * (exp(row[k] - m - lse) - (k == labels[n])));
    });
}
