/*
 * norm.c: reference batch norm and group norm (layer norm is group norm with
 * one group over the last dim; see cpu_norm.h). Sums in double, two passes
 * for the variance so that a large mean does not cancel it away.
 */
#include <math.h>

#include "cpu/cpu_norm.h"
#include "cpu/cpu_parallel.h"

/* ---- batch norm ------------------------------------------------------------ */

/* channel c of x (N, C, S): the sum of its values, and of their squared
 * distances from m */
static double channel_sum(const real *x, int N, int C, int S, int c)
{
    double s = 0;
    for (int n = 0; n < N; n++) {
        const real *xp = x + ((int64_t)n * C + c) * S;
        for (int i = 0; i < S; i++)
            s += xp[i];
    }
    return s;
}

static double channel_sqdev(const real *x, int N, int C, int S, int c, double m)
{
    double v = 0;
    for (int n = 0; n < N; n++) {
        const real *xp = x + ((int64_t)n * C + c) * S;
        for (int i = 0; i < S; i++) {
            double d = xp[i] - m;
            v += d * d;
        }
    }
    return v;
}

void cpu_batchnorm_stats(real *mean, real *var, const real *x, int N, int C, int S)
{
    double cnt = (double)N * S;
    for (int c = 0; c < C; c++) {
        double m = channel_sum(x, N, C, S, c) / cnt;
        mean[c] = (real)m;
        var[c] = (real)(channel_sqdev(x, N, C, S, c, m) / cnt);
    }
}

void cpu_batchnorm_mean_part(real *mean, const real *x, int N, int C, int S, double total)
{
    for (int c = 0; c < C; c++)
        mean[c] = (real)(channel_sum(x, N, C, S, c) / total);
}

void cpu_batchnorm_var_part(real *var, const real *x, const real *mean, int N, int C, int S,
                            double total)
{
    for (int c = 0; c < C; c++)
        var[c] = (real)(channel_sqdev(x, N, C, S, c, mean[c]) / total);
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

/* channel c: the sums of dy and of dy xhat, xhat = (x - m) r */
static void channel_dsums(double *sdy, double *sdyx, const real *dy, const real *x, double m,
                          double r, int N, int C, int S, int c)
{
    double a = 0, b = 0;
    for (int n = 0; n < N; n++) {
        int64_t o = ((int64_t)n * C + c) * S;
        for (int i = 0; i < S; i++) {
            a += dy[o + i];
            b += dy[o + i] * ((x[o + i] - m) * r);
        }
    }
    *sdy = a;
    *sdyx = b;
}

/* channel c of dx = gr (dy - mdy - xhat mdyx) */
static void channel_dx(real *dx, const real *dy, const real *x, double m, double r, double gr,
                       double mdy, double mdyx, int N, int C, int S, int c)
{
    for (int n = 0; n < N; n++) {
        int64_t o = ((int64_t)n * C + c) * S;
        for (int i = 0; i < S; i++) {
            double xh = (x[o + i] - m) * r;
            dx[o + i] = (real)(gr * (dy[o + i] - mdy - xh * mdyx));
        }
    }
}

void cpu_batchnorm_bwd(real *dx, real *dgamma, real *dbeta, const real *dy, const real *x,
                       const real *mean, const real *rstd, const real *gamma, int N, int C,
                       int S, int training)
{
    double cnt = (double)N * S;
    for (int c = 0; c < C; c++) {
        double m = mean[c], r = rstd[c], sdy, sdyx;
        channel_dsums(&sdy, &sdyx, dy, x, m, r, N, C, S, c);
        if (dgamma)
            dgamma[c] += (real)sdyx;
        if (dbeta)
            dbeta[c] += (real)sdy;
        if (!dx)
            continue;
        /* training: dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat)) */
        double mdy = training ? sdy / cnt : 0, mdyx = training ? sdyx / cnt : 0;
        channel_dx(dx, dy, x, m, r, (gamma ? gamma[c] : 1.0) * r, mdy, mdyx, N, C, S, c);
    }
}

void cpu_batchnorm_bwd_sums(real *sums, real *dgamma, real *dbeta, const real *dy,
                            const real *x, const real *mean, const real *rstd, int N, int C,
                            int S)
{
    for (int c = 0; c < C; c++) {
        double sdy, sdyx;
        channel_dsums(&sdy, &sdyx, dy, x, mean[c], rstd[c], N, C, S, c);
        if (dgamma)
            dgamma[c] += (real)sdyx;
        if (dbeta)
            dbeta[c] += (real)sdy;
        sums[c] = (real)sdy;
        sums[C + c] = (real)sdyx;
    }
}

void cpu_batchnorm_bwd_dx(real *dx, const real *dy, const real *x, const real *mean,
                          const real *rstd, const real *gamma, const real *sums, double total,
                          int N, int C, int S)
{
    for (int c = 0; c < C; c++) {
        double r = rstd[c];
        channel_dx(dx, dy, x, mean[c], r, (gamma ? gamma[c] : 1.0) * r, sums[c] / total,
                   sums[C + c] / total, N, C, S, c);
    }
}

/* ---- group norm ------------------------------------------------------------- */

/* The group norm's loops run over the thread pool when the tensor is large:
 * the forward and the dx pass by (sample, group), the dgamma / dbeta pass
 * by channel. Each unit's sums are one thread's, in the same order as a
 * single thread's, so the split does not change a bit. */
#define GN_PAR_MIN 65536  /* elements */

typedef struct {
    real *y, *mean, *rstd;                 /* forward outputs; dx, dgamma, dbeta below */
    real *dx, *dgamma, *dbeta;
    const real *x, *dy, *gamma, *beta;
    const real *cmean, *crstd;             /* the forward's statistics, for backward */
    int N, C, S, G;
    double eps;
} gn_job;

static void gn_fwd_group(const gn_job *j, int n, int g)
{
    int C = j->C, S = j->S, G = j->G, Cg = C / G;
    int64_t L = (int64_t)Cg * S;  /* elements of one (sample, group), contiguous */
    const real *x = j->x;
    int64_t o = ((int64_t)n * C + (int64_t)g * Cg) * S;
    double s = 0;
    for (int64_t i = 0; i < L; i++)
        s += x[o + i];
    double m = s / (double)L, v = 0;
    for (int64_t i = 0; i < L; i++) {
        double d = x[o + i] - m;
        v += d * d;
    }
    double r = 1.0 / sqrt(v / (double)L + j->eps);
    j->mean[n * G + g] = (real)m;
    j->rstd[n * G + g] = (real)r;
    for (int k = 0; k < Cg; k++) {
        int c = g * Cg + k;
        double gm = j->gamma ? j->gamma[c] : 1.0, b = j->beta ? j->beta[c] : 0.0;
        const real *xp = x + o + (int64_t)k * S;
        real *yp = j->y + o + (int64_t)k * S;
        for (int i = 0; i < S; i++)
            yp[i] = (real)((xp[i] - m) * r * gm + b);
    }
}

/* dgamma[c] += sum over (n, s) of dy xhat, dbeta[c] += sum of dy */
static void gn_dgamma_channel(const gn_job *j, int c)
{
    int C = j->C, S = j->S, G = j->G, Cg = C / G;
    double sg = 0, sb = 0;
    for (int n = 0; n < j->N; n++) {
        double m = j->cmean[n * G + c / Cg], r = j->crstd[n * G + c / Cg];
        const real *xp = j->x + ((int64_t)n * C + c) * S;
        const real *dyp = j->dy + ((int64_t)n * C + c) * S;
        for (int i = 0; i < S; i++) {
            sg += dyp[i] * ((xp[i] - m) * r);
            sb += dyp[i];
        }
    }
    if (j->dgamma)
        j->dgamma[c] += (real)sg;
    if (j->dbeta)
        j->dbeta[c] += (real)sb;
}

/* per (n, g), with dxhat = dy gamma:
 * dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) */
static void gn_dx_group(const gn_job *j, int n, int g)
{
    int C = j->C, S = j->S, G = j->G, Cg = C / G;
    int64_t L = (int64_t)Cg * S;
    const real *x = j->x, *dy = j->dy, *gamma = j->gamma;
    int64_t o = ((int64_t)n * C + (int64_t)g * Cg) * S;
    double m = j->cmean[n * G + g], r = j->crstd[n * G + g];
    double sd = 0, sdx = 0;
    for (int c = 0; c < Cg; c++) {
        double gm = gamma ? gamma[g * Cg + c] : 1.0;
        for (int i = 0; i < S; i++) {
            int64_t k = o + (int64_t)c * S + i;
            double d = dy[k] * gm;
            sd += d;
            sdx += d * ((x[k] - m) * r);
        }
    }
    double md = sd / (double)L, mdx = sdx / (double)L;
    for (int c = 0; c < Cg; c++) {
        double gm = gamma ? gamma[g * Cg + c] : 1.0;
        for (int i = 0; i < S; i++) {
            int64_t k = o + (int64_t)c * S + i;
            double xh = (x[k] - m) * r;
            j->dx[k] = (real)(r * (dy[k] * gm - md - xh * mdx));
        }
    }
}

static void gn_fwd_part(void *arg, int t, int nt)
{
    const gn_job *j = arg;
    int64_t lo, hi;
    cpu_split((int64_t)j->N * j->G, t, nt, &lo, &hi);
    for (int64_t u = lo; u < hi; u++)
        gn_fwd_group(j, (int)(u / j->G), (int)(u % j->G));
}

static void gn_dgamma_part(void *arg, int t, int nt)
{
    const gn_job *j = arg;
    int64_t lo, hi;
    cpu_split(j->C, t, nt, &lo, &hi);
    for (int64_t c = lo; c < hi; c++)
        gn_dgamma_channel(j, (int)c);
}

static void gn_dx_part(void *arg, int t, int nt)
{
    const gn_job *j = arg;
    int64_t lo, hi;
    cpu_split((int64_t)j->N * j->G, t, nt, &lo, &hi);
    for (int64_t u = lo; u < hi; u++)
        gn_dx_group(j, (int)(u / j->G), (int)(u % j->G));
}

static int gn_threads(const gn_job *j)
{
    return (int64_t)j->N * j->C * j->S < GN_PAR_MIN ? 1 : cpu_threads();
}

void cpu_groupnorm_fwd(real *y, real *mean, real *rstd, const real *x, const real *gamma,
                       const real *beta, int N, int C, int S, int G, double eps)
{
    gn_job j = {.y = y, .mean = mean, .rstd = rstd, .x = x, .gamma = gamma, .beta = beta,
                .N = N, .C = C, .S = S, .G = G, .eps = eps};
    cpu_parallel(gn_fwd_part, &j, gn_threads(&j));
}

void cpu_groupnorm_bwd(real *dx, real *dgamma, real *dbeta, const real *dy, const real *x,
                       const real *mean, const real *rstd, const real *gamma, int N, int C,
                       int S, int G)
{
    gn_job j = {.dx = dx, .dgamma = dgamma, .dbeta = dbeta, .x = x, .dy = dy, .gamma = gamma,
                .cmean = mean, .crstd = rstd, .N = N, .C = C, .S = S, .G = G};
    int nt = gn_threads(&j);
    if (dgamma || dbeta)
        cpu_parallel(gn_dgamma_part, &j, nt);
    if (dx)
        cpu_parallel(gn_dx_part, &j, nt);
}
