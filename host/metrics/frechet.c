/*
 * frechet.c: feature statistics (mean, unbiased covariance, in double) and
 * the Frechet distance between two of them (formula in cugen/metrics.h),
 * with a symmetric square root through LAPACK.
 */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/io.h"
#include "cugen/metrics.h"
#include "cugen/tape.h"

void cg_feat_stats_free(cg_feat_stats *s)
{
    free(s->mean);
    free(s->cov);
    memset(s, 0, sizeof *s);
}

cg_status cg_feat_stats_compute(const real *f, int64_t n, int d, cg_feat_stats *s)
{
    memset(s, 0, sizeof *s);
    if (n < 2 || d < 1)
        return CG_ERR_ARG;
    s->d = d;
    s->n = n;
    s->mean = calloc((size_t)d, sizeof(double));
    s->cov = calloc((size_t)d * d, sizeof(double));
    double *row = malloc(sizeof(double) * (size_t)d);
    if (!s->mean || !s->cov || !row) {
        free(row);
        cg_feat_stats_free(s);
        return CG_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < d; k++)
            s->mean[k] += f[i * d + k];
    for (int k = 0; k < d; k++)
        s->mean[k] /= (double)n;
    /* two passes (centred products): no cancellation from E[x x^T] - mu mu^T */
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < d; k++)
            row[k] = f[i * d + k] - s->mean[k];
        for (int a = 0; a < d; a++)
            for (int b = a; b < d; b++)
                s->cov[a * d + b] += row[a] * row[b];
    }
    for (int a = 0; a < d; a++)
        for (int b = a; b < d; b++)
            s->cov[b * d + a] = s->cov[a * d + b] /= (double)(n - 1);
    free(row);
    return CG_OK;
}

cg_status cg_frechet_distance(const cg_feat_stats *a, const cg_feat_stats *b, double *fd)
{
    int d = a->d;
    if (d != b->d || d < 1)
        return CG_ERR_ARG;
    double *v = malloc(sizeof(double) * (size_t)d * d), *w = malloc(sizeof(double) * d);
    double *r = malloc(sizeof(double) * (size_t)d * d), *t = malloc(sizeof(double) * (size_t)d * d);
    cg_status st = v && w && r && t ? CG_OK : CG_ERR_NOMEM;
    int rank = 0;
    if (st == CG_OK) {
        memcpy(v, a->cov, sizeof(double) * (size_t)d * d);
        st = cg_sym_eig(d, v, w);
    }
    if (st == CG_OK) {
        /* L (d, rank) = the columns k of V sqrt(w_k) with w_k above rounding */
        double tol = w[d - 1] * d * DBL_EPSILON;
        int *keep = (int *)r;  /* r is free until the GEMMs */
        for (int k = 0; k < d; k++)
            if (w[k] > tol && w[k] > 0)
                keep[rank++] = k;
        for (int i = 0; i < d; i++)
            for (int c = 0; c < rank; c++)
                t[i * rank + c] = v[i * d + keep[c]] * sqrt(w[keep[c]]);
        /* r (d, rank) = S_b L; v (rank, rank) = L^T r, symmetrised (double GEMMs: d is
         * 2048 for Inception features) */
        if (rank > 0) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, rank, d, 1.0, b->cov, d,
                        t, rank, 0.0, r, rank);
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rank, rank, d, 1.0, t, rank, r,
                        rank, 0.0, v, rank);
            for (int i = 0; i < rank; i++)
                for (int j = i + 1; j < rank; j++)
                    v[i * rank + j] = v[j * rank + i] =
                        0.5 * (v[i * rank + j] + v[j * rank + i]);
            st = cg_sym_eigvals(rank, v, w);
        }
    }
    if (st == CG_OK) {
        double tr_sqrt = 0, tr = 0, dm = 0;
        for (int k = 0; k < rank; k++)
            tr_sqrt += sqrt(fmax(w[k], 0));
        for (int k = 0; k < d; k++) {
            tr += a->cov[k * d + k] + b->cov[k * d + k];
            double e = a->mean[k] - b->mean[k];
            dm += e * e;
        }
        *fd = dm + tr - 2 * tr_sqrt;
    }
    free(v), free(w), free(r), free(t);
    return st;
}

cg_status cg_feature_rows(cg_feature_net *net, const real *x, int64_t n, int logits, real *out,
                          char *err, size_t errlen)
{
    int CH = net->batch > 0 ? net->batch : 500;
    int width = logits ? net->classes : net->dim;
    if (logits && !net->logits) {
        snprintf(err, errlen, "%s: has no classifier", net->name);
        return CG_ERR_ARG;
    }
    cg_ctx ctx;
    cg_status st = cg_ctx_init(&ctx);
    if (st != CG_OK) {
        cg_ctx_free(&ctx);
        snprintf(err, errlen, "%s: out of memory", net->name);
        return CG_ERR_NOMEM;
    }
    int64_t P = (int64_t)net->channels * net->height * net->width;
    int prev = cg_set_grad(&ctx, 0);
    cg_progress prog;
    int64_t steps = (n + CH - 1) / CH;
    cg_progress_begin(&prog, steps, 0,
                      &(cg_progress_cfg){.tty = -1, .every = 10, .unit = "img",
                                         .quiet = !net->progress});
    for (int64_t at = 0; at < n && st == CG_OK; at += CH) {
        int k = (int)(n - at < CH ? n - at : CH);
        st = (logits ? net->logits : net->features)(net, &ctx, x + at * P, k, out + at * width);
        if (st != CG_OK)
            snprintf(err, errlen, "%s: %s", net->name, ctx.errmsg);
        cg_ctx_step_end(&ctx);
        cg_progress_update(&prog, at / CH + 1, 0, k, NULL);
    }
    cg_progress_end(&prog);
    cg_set_grad(&ctx, prev);
    cg_ctx_free(&ctx);
    return st;
}

cg_status cg_feature_stats(cg_feature_net *net, const real *x, int64_t n, cg_feat_stats *s,
                           char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (n < 2) {
        snprintf(err, errlen, "%s: need at least 2 images for a covariance, got %lld", net->name,
                 (long long)n);
        return CG_ERR_ARG;
    }
    real *f = malloc(sizeof(real) * (size_t)n * net->dim);
    if (!f) {
        snprintf(err, errlen, "%s: out of memory for %lld x %d features", net->name,
                 (long long)n, net->dim);
        return CG_ERR_NOMEM;
    }
    cg_status st = cg_feature_rows(net, x, n, 0, f, err, errlen);
    if (st == CG_OK && (st = cg_feat_stats_compute(f, n, net->dim, s)) != CG_OK)
        snprintf(err, errlen, "%s: out of memory for the feature covariance", net->name);
    free(f);
    return st;
}
