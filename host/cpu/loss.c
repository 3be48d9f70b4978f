/*
 * loss.c: reference losses with a scalar output (see cpu_loss.h for the
 * formulas and the scale / dout convention). Each forward sums l_i in
 * double; each backward is one independent expression per element, so the
 * GPU twins map one thread to one element (one row for softmax_xent).
 * The squared MMD is in mmd.c.
 */
#include <math.h>

#include "cpu/cpu_elementwise.h"
#include "cpu/cpu_loss.h"

#define LOG_2PI 1.8378770664093454836

/* log v clamped to >= -100 like PyTorch's BCELoss; NaN stays NaN */
static double clamped_log(double v)
{
    double l = log(v);
    return l < -100 ? -100 : l;
}

void cpu_bce_fwd(real *out, const real *p, const real *t, double scale, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s -= t[i] * clamped_log(p[i]) + (1 - (double)t[i]) * clamped_log(1 - (double)p[i]);
    out[0] = (real)(scale * s);
}

void cpu_bce_bwd(real *dp, real *dt, const real *dout, const real *p, const real *t,
                 double scale, int64_t n)
{
    const double g = scale * dout[0];
    for (int64_t i = 0; i < n; i++) {
        double pi = p[i], ti = t[i];
        if (dp) {
            double den = pi * (1 - pi);
            dp[i] = (real)(g * (pi - ti) / (den > 1e-12 ? den : 1e-12));
        }
        if (dt)
            dt[i] = (real)(g * (clamped_log(1 - pi) - clamped_log(pi)));
    }
}

void cpu_bce_logits_fwd(real *out, const real *z, const real *t, double scale, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += cpu_softplus(z[i]) - (double)z[i] * t[i];
    out[0] = (real)(scale * s);
}

void cpu_bce_logits_bwd(real *dz, real *dt, const real *dout, const real *z, const real *t,
                        double scale, int64_t n)
{
    const double g = scale * dout[0];
    for (int64_t i = 0; i < n; i++) {
        if (dz)
            dz[i] = (real)(g * (cpu_sigmoid(z[i]) - t[i]));
        if (dt)
            dt[i] = (real)(-g * z[i]);
    }
}

void cpu_mse_fwd(real *out, const real *x, const real *t, double scale, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - t[i];
        s += d * d;
    }
    out[0] = (real)(scale * s);
}

void cpu_mse_bwd(real *dx, real *dt, const real *dout, const real *x, const real *t,
                 double scale, int64_t n)
{
    const double g = 2 * scale * dout[0];
    for (int64_t i = 0; i < n; i++) {
        double d = g * ((double)x[i] - t[i]);
        if (dx)
            dx[i] = (real)d;
        if (dt)
            dt[i] = (real)-d;
    }
}

void cpu_gaussian_kl_fwd(real *out, const real *mu, const real *lv, double scale, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)mu[i] * mu[i] + exp(lv[i]) - 1 - lv[i];
    out[0] = (real)(scale * 0.5 * s);
}

void cpu_gaussian_kl_bwd(real *dmu, real *dlv, const real *dout, const real *mu,
                         const real *lv, double scale, int64_t n)
{
    const double g = scale * dout[0];
    for (int64_t i = 0; i < n; i++) {
        if (dmu)
            dmu[i] = (real)(g * mu[i]);
        if (dlv)
            dlv[i] = (real)(g * 0.5 * (exp(lv[i]) - 1));
    }
}

void cpu_gaussian_nll_fwd(real *out, const real *x, const real *mu, const real *lv,
                          int64_t nlv, double scale, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double l = lv[nlv == 1 ? 0 : i], d = (double)x[i] - mu[i];
        s += LOG_2PI + l + d * d * exp(-l);
    }
    out[0] = (real)(scale * 0.5 * s);
}

void cpu_gaussian_nll_bwd(real *dx, real *dmu, real *dlv, const real *dout, const real *x,
                          const real *mu, const real *lv, int64_t nlv, double scale, int64_t n)
{
    const double g = scale * dout[0];
    double shared = 0;  /* d / d lv[0] when one logvar is shared */
    for (int64_t i = 0; i < n; i++) {
        double l = lv[nlv == 1 ? 0 : i], d = (double)x[i] - mu[i], r = d * exp(-l);
        if (dx)
            dx[i] = (real)(g * r);
        if (dmu)
            dmu[i] = (real)(-g * r);
        if (dlv && nlv == 1)
            shared += 0.5 * (1 - d * r);
        else if (dlv)
            dlv[i] = (real)(g * 0.5 * (1 - d * r));
    }
    if (dlv && nlv == 1)
        dlv[0] = (real)(g * shared);
}

/* max and log sum exp (z - max) of one row of K logits */
static double row_logsumexp(const real *z, int K, double *max)
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

void cpu_softmax_xent_fwd(real *out, const real *z, const int32_t *labels, double scale, int N,
                          int K)
{
    double s = 0;
    for (int n = 0; n < N; n++) {
        const real *row = z + (int64_t)n * K;
        double m, lse = row_logsumexp(row, K, &m);
        s += lse - (row[labels[n]] - m);
    }
    out[0] = (real)(scale * s);
}

void cpu_softmax_xent_bwd(real *dz, const real *dout, const real *z, const int32_t *labels,
                          double scale, int N, int K)
{
    const double g = scale * dout[0];
    for (int n = 0; n < N; n++) {
        const real *row = z + (int64_t)n * K;
        real *drow = dz + (int64_t)n * K;
        double m, lse = row_logsumexp(row, K, &m);
        for (int k = 0; k < K; k++)
            drow[k] = (real)(g * (exp(row[k] - m - lse) - (k == labels[n])));
    }
}
