/*
 * realnvp.c: the 2-D RealNVP flow: coupling layers, the whole flow both ways,
 * its exact log-likelihood (definitions in cugen/flow.h).
 *
 * Each coupling's net is three Linear layers (cugen/layers.h), the rest
 * existing ops (split, tanh, exp, mul, add, concat), so the tape
 * differentiates the log-likelihood and the inverse is the same code read
 * backwards.
 *
 * Not for: the training run and its pictures (realnvp_train.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/flow.h"
#include "cugen/metrics.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

#define LOG_2PI 1.8378770664093454836

cg_status cg_flow2d_build(cg_flow2d *m, const cg_flow2d_arch *a, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cg_params_init(&m->p);
    if (a->layers < 1 || a->layers > CG_FLOW2D_MAX_LAYERS || a->hidden < 1 ||
        a->hidden > 4096) {
        snprintf(err, errlen, "realnvp: need 1 to %d layers and 1 <= hidden <= 4096; got %d "
                 "layers, hidden %d", CG_FLOW2D_MAX_LAYERS, a->layers, a->hidden);
        return CG_ERR_ARG;
    }
    m->a = *a;
    int H = a->hidden;
    cg_nn_begin(&m->nn, &m->p);
    for (int i = 0; i < a->layers; i++) {
        cg_flow2d_coupling *l = &m->l[i];
        char name[3][32];
        for (int k = 0; k < 3; k++)
            snprintf(name[k], sizeof name[k], "layers.%d.net.%d", i, 2 * k);
        cg_nn_linear_declare(&m->nn, &l->net0, name[0], 1, H, 1);
        cg_nn_linear_declare(&m->nn, &l->net2, name[1], H, H, 1);
        cg_nn_linear_declare(&m->nn, &l->net4, name[2], H, 2, 1);
        l->net4.hdr.init = cg_nn_init_zeros;
    }
    return cg_nn_alloc_for(&m->nn, "realnvp", err, errlen);
}

void cg_flow2d_free(cg_flow2d *m)
{
    cg_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

void cg_flow2d_init(cg_flow2d *m, uint64_t seed, uint32_t stream)
{
    cg_nn_init_seeded(&m->nn, seed, stream);
}

/* s = tanh(raw scale) and t of layer i from the kept coordinate xc (N, 1) */
static void scale_shift(cg_ctx *ctx, cg_flow2d_coupling *l, cg_tensor *xc, cg_tensor **s,
                        cg_tensor **t)
{
    cg_tensor *h = cg_relu(ctx, cg_nn_linear_fwd(ctx, &l->net0, xc));
    h = cg_relu(ctx, cg_nn_linear_fwd(ctx, &l->net2, h));
    cg_tensor *st = cg_nn_linear_fwd(ctx, &l->net4, h), *parts[2] = {NULL, NULL};
    if (st)
        cg_split(ctx, st, (const int[]){1, 1}, 2, parts);
    *s = cg_tanh(ctx, parts[0]);
    *t = parts[1];
}

/* x (N, 2) into its kept coordinate *xc and the other *xo, for layer i */
static int halves(cg_ctx *ctx, cg_flow2d *m, int i, cg_tensor *x, cg_tensor **xc,
                  cg_tensor **xo)
{
    *xc = *xo = NULL;
    if (!x)
        return 0;
    if (i < 0 || i >= m->a.layers) {
        cg_fail(ctx, CG_ERR_ARG, "realnvp: no coupling layer %d (the flow has %d)", i,
                m->a.layers);
        return 0;
    }
    if (x->ndim != 2 || x->shape[1] != 2) {
        cg_fail(ctx, CG_ERR_ARG, "realnvp: takes points (N, 2), got %s", CG_SHAPE_STR(x));
        return 0;
    }
    cg_tensor *parts[2];
    if (cg_split(ctx, x, (const int[]){1, 1}, 2, parts) != CG_OK)
        return 0;
    *xc = parts[i % 2];
    *xo = parts[1 - i % 2];
    return 1;
}

static cg_tensor *join(cg_ctx *ctx, int i, cg_tensor *yc, cg_tensor *yo)
{
    cg_tensor *p[2] = {i % 2 == 0 ? yc : yo, i % 2 == 0 ? yo : yc};
    if (!p[0] || !p[1])
        return NULL;
    return cg_concat(ctx, p, 2);
}

cg_tensor *cg_flow2d_coupling_fwd(cg_ctx *ctx, cg_flow2d *m, int i, cg_tensor *x,
                                  cg_tensor **logdet)
{
    cg_tensor *xc, *xo, *s, *t;
    if (logdet)
        *logdet = NULL;
    if (!halves(ctx, m, i, x, &xc, &xo))
        return NULL;
    scale_shift(ctx, &m->l[i], xc, &s, &t);
    cg_tensor *yo = cg_add(ctx, cg_mul(ctx, xo, cg_exp(ctx, s)), t);
    if (logdet)
        *logdet = s;
    return join(ctx, i, xc, yo);
}

cg_tensor *cg_flow2d_coupling_inv(cg_ctx *ctx, cg_flow2d *m, int i, cg_tensor *y,
                                  cg_tensor **logdet)
{
    cg_tensor *yc, *yo, *s, *t;
    if (logdet)
        *logdet = NULL;
    if (!halves(ctx, m, i, y, &yc, &yo))
        return NULL;
    scale_shift(ctx, &m->l[i], yc, &s, &t);
    cg_tensor *neg = cg_scale(ctx, s, -1.0);
    cg_tensor *xo = cg_mul(ctx, cg_sub(ctx, yo, t), cg_exp(ctx, neg));
    if (logdet)
        *logdet = neg;
    return join(ctx, i, yc, xo);
}

cg_tensor *cg_flow2d_forward(cg_ctx *ctx, cg_flow2d *m, cg_tensor *x, cg_tensor **logdet)
{
    cg_tensor *sum = NULL, *h = x;
    for (int i = 0; i < m->a.layers; i++) {
        cg_tensor *ld;
        h = cg_flow2d_coupling_fwd(ctx, m, i, h, &ld);
        sum = i == 0 ? ld : cg_add(ctx, sum, ld);
    }
    *logdet = sum;
    return h;
}

cg_tensor *cg_flow2d_inverse(cg_ctx *ctx, cg_flow2d *m, cg_tensor *z)
{
    cg_tensor *h = z;
    for (int i = m->a.layers - 1; i >= 0; i--)
        h = cg_flow2d_coupling_inv(ctx, m, i, h, NULL);
    return h;
}

cg_tensor *cg_flow2d_nll(cg_ctx *ctx, cg_flow2d *m, cg_tensor *x)
{
    cg_tensor *ld, *z = cg_flow2d_forward(ctx, m, x, &ld);
    if (!z)
        return NULL;
    int N = z->shape[0];
    /* -log N(z; 0, I) summed over rows and both coordinates */
    cg_tensor *zero = cg_new_zeros(ctx, CG_SHAPE(N, 2)), *lv = cg_new_zeros(ctx, CG_SHAPE(1));
    cg_tensor *base = cg_gaussian_nll(ctx, z, zero, lv, CG_REDUCE_SUM);
    return cg_scale(ctx, cg_sub(ctx, base, cg_sum(ctx, ld)), 1.0 / N);
}

cg_status cg_flow2d_log_prob(cg_ctx *ctx, cg_flow2d *m, cg_tensor *x, double *logp)
{
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *ld, *z = cg_flow2d_forward(ctx, m, x, &ld);
    cg_set_grad(ctx, prev);
    if (!z)
        return ctx->err;
    for (int i = 0; i < z->shape[0]; i++) {
        double a = z->data[2 * i], b = z->data[2 * i + 1];
        logp[i] = -0.5 * (a * a + b * b) - LOG_2PI + (double)ld->data[i];
    }
    return CG_OK;
}

double cg_gaussian_mle_nll(const real *xy, int64_t n)
{
    double mean[2], cov[4];
    cg_moments2(xy, n, 0, mean, cov);
    double det = cov[0] * cov[3] - cov[1] * cov[1];
    /* the mean Mahalanobis term at the MLE is the dimension, 2 */
    return LOG_2PI + 0.5 * log(det) + 1.0;
}
