/*
 * norm.c: reference batch norm and group norm (layer norm is group norm with
 * one group over the last dim; see cpu_norm.h). Sums in double, two passes
 * for the variance so that a large mean does not cancel it away.
 */
#include <math.h>

#include "cpu/cpu_norm.h"

/* ---- batch norm ------------------------------------------------------------ */

void cpu_batchnorm_stats(real *mean, real *var, const real *x, int N, int C, int S)
{
    double cnt = (double)N * S;
    for (int c = 0; c < C; c++) {
        double s = 0;
        for (int n = 0; n < N; n++) {
            const real *xp = x + ((int64_t)n * C + c) * S;
            for (int i = 0; i < S; i++)
                s += xp[i];
        }
        double m = s / cnt, v = 0;
        for (int n = 0; n < N; n++) {
            const real *xp = x + ((int64_t)n * C + c) * S;
            for (int i = 0; i < S; i++) {
                double d = xp[i] - m;
                v += d * d;
            }
        }
        mean[c] = (real)m;
        var[c] = (real)(v / cnt);
    }
}

void cpu_batchnorm_update_running(real *run_mean, real *run_var, const real *mean,
                                  const real *var, int C, int64_t count, double momentum)
{
    double unbias = (double)count / (double)(count - 1);
    for (int c = 0; c < C; c++) {
        run_mean[c] = (real)((1 - momentum) * run_mean[c] + momentum * mean[c]);
        run_var[c] = (real)((1 - momentum) * run_var[c] + momentum * (var[c] * unbias));
    }
}

void cpu_batchnorm_fwd(real *y, real *rstd, const real *x, const real *mean, const real *var,
                       const real *gamma, const real *beta, int N, int C, int S, double eps)
{
    for (int c = 0; c < C; c++) {
        double r = 1.0 / sqrt((double)var[c] + eps);
        rstd[c] = (real)r;
        double m = mean[c], b = beta ? beta[c] : 0.0;
        double scale = (gamma ? gamma[c] : 1.0) * r;
        for (int n = 0; n < N; n++) {
            int64_t o = ((int64_t)n * C + c) * S;
            for (int i = 0; i < S; i++)
                y[o + i] = (real)((x[o + i] - m) * scale + b);
        }
    }
}

void cpu_batchnorm_bwd(real *dx, real *dgamma, real *dbeta, const real *dy, const real *x,
                       const real *mean, const real *rstd, const real *gamma, int N, int C,
                       int S, int training)
{
    double cnt = (double)N * S;
    for (int c = 0; c < C; c++) {
        double m = mean[c], r = rstd[c];
        /* sum dy and sum dy * xhat over the channel */
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++) {
            int64_t o = ((int64_t)n * C + c) * S;
            for (int i = 0; i < S; i++) {
                sdy += dy[o + i];
                sdyx += dy[o + i] * ((x[o + i] - m) * r);
            }
        }
        if (dgamma)
            dgamma[c] += (real)sdyx;
        if (dbeta)
            dbeta[c] += (real)sdy;
        if (!dx)
            continue;
        double gr = (gamma ? gamma[c] : 1.0) * r;
        /* training: dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat)) */
        double mdy = training ? sdy / cnt : 0, mdyx = training ? sdyx / cnt : 0;
        for (int n = 0; n < N; n++) {
            int64_t o = ((int64_t)n * C + c) * S;
            for (int i = 0; i < S; i++) {
                double xh = (x[o + i] - m) * r;
                dx[o + i] = (real)(gr * (dy[o + i] - mdy - xh * mdyx));
            }
        }
    }
}

/* ---- group norm ------------------------------------------------------------- */

void cpu_groupnorm_fwd(real *y, real *mean, real *rstd, const real *x, const real *gamma,
                       const real *beta, int N, int C, int S, int G, double eps)
{
    int Cg = C / G;
    int64_t L = (int64_t)Cg * S;  /* elements of one (sample, group), contiguous */
    for (int n = 0; n < N; n++) {
        for (int g = 0; g < G; g++) {
            int64_t o = ((int64_t)n * C + (int64_t)g * Cg) * S;
            double s = 0;
            for (int64_t i = 0; i < L; i++)
                s += x[o + i];
            double m = s / (double)L, v = 0;
            for (int64_t i = 0; i < L; i++) {
                double d = x[o + i] - m;
                v += d * d;
            }
            double r = 1.0 / sqrt(v / (double)L + eps);
            mean[n * G + g] = (real)m;
            rstd[n * G + g] = (real)r;
            for (int j = 0; j < Cg; j++) {
                int c = g * Cg + j;
                double gm = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
                const real *xp = x + o + (int64_t)j * S;
                real *yp = y + o + (int64_t)j * S;
                for (int i = 0; i < S; i++)
                    yp[i] = (real)((xp[i] - m) * r * gm + b);
            }
        }
    }
}

void cpu_groupnorm_bwd(real *dx, real *dgamma, real *dbeta, const real *dy, const real *x,
                       const real *mean, const real *rstd, const real *gamma, int N, int C,
                       int S, int G)
{
    int Cg = C / G;
    int64_t L = (int64_t)Cg * S;
    /* dgamma[c] += sum over (n, s) of dy xhat, dbeta[c] += sum of dy */
    if (dgamma || dbeta) {
        for (int c = 0; c < C; c++) {
            double sg = 0, sb = 0;
            for (int n = 0; n < N; n++) {
                double m = mean[n * G + c / Cg], r = rstd[n * G + c / Cg];
                const real *xp = x + ((int64_t)n * C + c) * S;
                const real *dyp = dy + ((int64_t)n * C + c) * S;
                for (int i = 0; i < S; i++) {
                    sg += dyp[i] * ((xp[i] - m) * r);
                    sb += dyp[i];
                }
            }
            if (dgamma)
                dgamma[c] += (real)sg;
            if (dbeta)
                dbeta[c] += (real)sb;
        }
    }
    if (!dx)
        return;
    /* per (n, g), with dxhat = dy gamma:
     * dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) */
    for (int n = 0; n < N; n++) {
        for (int g = 0; g < G; g++) {
            int64_t o = ((int64_t)n * C + (int64_t)g * Cg) * S;
            double m = mean[n * G + g], r = rstd[n * G + g];
            double sd = 0, sdx = 0;
            for (int j = 0; j < Cg; j++) {
                double gm = gamma ? gamma[g * Cg + j] : 1.0;
                for (int i = 0; i < S; i++) {
                    int64_t k = o + (int64_t)j * S + i;
                    double d = dy[k] * gm;
                    sd += d;
                    sdx += d * ((x[k] - m) * r);
                }
            }
            double md = sd / (double)L, mdx = sdx / (double)L;
            for (int j = 0; j < Cg; j++) {
                double gm = gamma ? gamma[g * Cg + j] : 1.0;
                for (int i = 0; i < S; i++) {
                    int64_t k = o + (int64_t)j * S + i;
                    double xh = (x[k] - m) * r;
                    dx[k] = (real)(r * (dy[k] * gm - md - xh * mdx));
                }
            }
        }
    }
}
