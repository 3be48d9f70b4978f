/*
 * mmd.c: the lecture notes' MMD score (compute_score) between generated and
 * real samples, in double: squared distances through a double GEMM in
 * blocks of rows (10,000 x 10,000 Fashion-MNIST images is 1.6e11 flops: the
 * GEMM is what makes it seconds, not minutes), kernel sums accumulated in
 * double.
 *
 * On the GPU (cg_mmd_score_on) the score is the op cg_mmd2_rbf's forward,
 * which sums every pair's kernel in double on the device.
 *
 * Not for: MMD as a training loss (the op cg_mmd2_rbf, differentiable).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cugen/metrics.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

#define BLOCK 256

typedef struct {
    const double *a, *b;      /* (na, d), (nb, d) */
    const double *na2, *nb2;  /* squared norms of the rows */
    int na, nb, d;
} pair_set;

/* sum over i, j of f(|a_i - b_j|^2): f = identity when inv_scale == 0
 * (the distances themselves), else exp(-dist * inv_scale) */
static cg_status pair_sum(const pair_set *s, double inv_scale, double *out)
{
    double *g = malloc(sizeof(double) * BLOCK * (size_t)s->nb);
    if (!g)
        return CG_ERR_NOMEM;
    double total = 0;
    for (int i0 = 0; i0 < s->na; i0 += BLOCK) {
        int bi = s->na - i0 < BLOCK ? s->na - i0 : BLOCK;
        /* g = a[i0:i0+bi] b^T */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi, s->nb, s->d, 1.0,
                    s->a + (size_t)i0 * s->d, s->d, s->b, s->d, 0.0, g, s->nb);
        for (int i = 0; i < bi; i++)
            for (int j = 0; j < s->nb; j++) {
                /* the notes clamp nothing; rounding can make a zero distance -1e-13 */
                double d2 = s->na2[i0 + i] + s->nb2[j] - 2 * g[(size_t)i * s->nb + j];
                if (d2 < 0)
                    d2 = 0;
                total += inv_scale == 0 ? d2 : exp(-d2 * inv_scale);
            }
    }
    free(g);
    *out = total;
    return CG_OK;
}

static double *to_double(const real *x, int n, int d, double **norms)
{
    double *y = malloc(sizeof(double) * (size_t)n * d), *nn = malloc(sizeof(double) * n);
    if (!y || !nn) {
        free(y);
        free(nn);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < d; k++) {
            double v = x[(size_t)i * d + k];
            y[(size_t)i * d + k] = v;
            s += v * v;
        }
        nn[i] = s;
    }
    *norms = nn;
    return y;
}

cg_status cg_mmd_score(const real *fake, int n, const real *real_x, int m, int d, double sigma,
                       double *mmd2, double *mmd)
{
    if (n < 1 || m < 1 || d < 1 || !(sigma > 0))
        return CG_ERR_ARG;
    double *fn = NULL, *rn = NULL;
    double *f = to_double(fake, n, d, &fn), *r = to_double(real_x, m, d, &rn);
    cg_status st = f && r ? CG_OK : CG_ERR_NOMEM;
    double rr = 0, kxx = 0, kyy = 0, kxy = 0;
    pair_set s_rr = {r, r, rn, rn, m, m, d}, s_ff = {f, f, fn, fn, n, n, d},
             s_rf = {r, f, rn, fn, m, n, d};
    if (st == CG_OK)
        st = pair_sum(&s_rr, 0, &rr);
    double scale = rr / ((double)m * m);
    if (st == CG_OK && !(scale > 0))
        st = CG_ERR_NUMERIC;
    double inv = st == CG_OK ? 1 / (scale * 2 * sigma * sigma) : 0;
    if (st == CG_OK)
        st = pair_sum(&s_rr, inv, &kxx);
    if (st == CG_OK)
        st = pair_sum(&s_ff, inv, &kyy);
    if (st == CG_OK)
        st = pair_sum(&s_rf, inv, &kxy);
    if (st == CG_OK) {
        *mmd2 = kxx / ((double)m * m) + kyy / ((double)n * n) - 2 * kxy / ((double)m * n);
        *mmd = sqrt(fmax(*mmd2, 0));
    }
    free(f), free(r), free(fn), free(rn);
    return st;
}

/* the mean over all pairs (diagonal included) of |r_i - r_j|^2; -1 on OOM */
static double mean_sq_distance(const real *r, int m, int d)
{
    double *mean = calloc((size_t)d, sizeof(double)), sq = 0, mm = 0;
    if (!mean)
        return -1;
    for (int i = 0; i < m; i++)
        for (int k = 0; k < d; k++) {
            double v = r[(size_t)i * d + k];
            mean[k] += v;
            sq += v * v;
        }
    for (int k = 0; k < d; k++)
        mm += (mean[k] / m) * (mean[k] / m);
    free(mean);
    return 2 * (sq / m - mm);
}

cg_status cg_mmd_score_on(cg_device dev, const real *fake, int n, const real *real_x, int m,
                          int d, double sigma, double *mmd2, double *mmd, char *err,
                          size_t errlen)
{
    if (dev == CG_CPU || n < 1 || m < 1 || d < 1 || !(sigma > 0)) {
        cg_status st = cg_mmd_score(fake, n, real_x, m, d, sigma, mmd2, mmd);
        if (st != CG_OK)
            snprintf(err, errlen, "%s", cg_status_str(st));
        return st;
    }
    double scale = mean_sq_distance(real_x, m, d);
    if (!(scale > 0)) {
        cg_status st = scale == -1 ? CG_ERR_NOMEM : CG_ERR_NUMERIC;
        snprintf(err, errlen, "%s", cg_status_str(st));
        return st;
    }
    /* exp(-M / (2 scale sigma^2)) is the op's Gaussian of width sqrt(scale) sigma */
    double width = sqrt(scale) * sigma;
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK) {
        snprintf(err, errlen, "out of memory");
        return CG_ERR_NOMEM;
    }
    cg_set_grad(&ctx, 0);
    cg_tensor *x = cg_new_on(&ctx, CG_CUDA, CG_SHAPE(n, d));
    cg_tensor *y = cg_new_on(&ctx, CG_CUDA, CG_SHAPE(m, d));
    if (x && y) {
        cg_copy_from_host(&ctx, x, fake);
        cg_copy_from_host(&ctx, y, real_x);
    }
    cg_tensor *out = cg_mmd2_rbf(&ctx, x, y, &width, 1);
    real v = 0;
    cg_status st = out ? cg_copy_to_host(&ctx, &v, out) : ctx.err;
    if (st == CG_OK) {
        *mmd2 = v;
        *mmd = sqrt(fmax(v, 0));
    } else {
        snprintf(err, errlen, "%s", ctx.errmsg);
    }
    cg_ctx_free(&ctx);
    return st;
}
