/*
 * ebm.c: the energy networks, dE/dx with frozen weights, Langevin dynamics,
 * the replay buffer's draw, and one step of each objective (cugen/ebm.h).
 * Everything runs through ops, so on the CPU and the GPU alike.
 *
 * Not for: the run, its files and pictures (ebm_train.c), `cugen sample`
 * (ebm_sample.c).
 */
#include <stdio.h>
#include <string.h>

#include "cugen/ebm.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

#define GROUP_E 0

int64_t cg_ebm_dim(const cg_ebm_arch *a)
{
    return (int64_t)a->channels * a->height * a->width;
}

static cg_status arch_check(const cg_ebm_arch *a, char *err, size_t errlen)
{
    if (a->channels < 1 || a->height < 1 || a->width < 1 || a->hidden < 1 || a->buffer < 0 ||
        cg_ebm_dim(a) > (1 << 24)) {
        snprintf(err, errlen, "ebm: inputs (%d, %d, %d), width %d, buffer %d: out of range",
                 a->channels, a->height, a->width, a->hidden, a->buffer);
        return CG_ERR_ARG;
    }
    if (a->net == CG_EBM_CNN &&
        (a->height != a->width || a->height % 2 || a->height < 8 || a->height > 36 ||
         a->hidden % 2)) {
        snprintf(err, errlen, "ebm: the conv energy takes square images of an even side from 8 "
                 "to 36 and an even --hidden, not %dx%d and %d", a->height, a->width, a->hidden);
        return CG_ERR_ARG;
    }
    return CG_OK;
}

cg_status cg_ebm_build(cg_ebm *m, const cg_ebm_arch *a, uint64_t seed, uint32_t stream,
                       char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cg_status st = arch_check(a, err, errlen);
    if (st != CG_OK)
        return st;
    m->a = *a;
    cg_params_init(&m->p);
    cg_nn *nn = &m->nn;
    cg_nn_begin(nn, &m->p);
    nn->group = GROUP_E;
    int H = a->hidden, D = (int)cg_ebm_dim(a);
    if (a->net == CG_EBM_MLP) {
        cg_nn_linear_declare(nn, &m->net0, "E.net.0", D, H, 1);
        cg_nn_linear_declare(nn, &m->net2, "E.net.2", H, H, 1);
        cg_nn_linear_declare(nn, &m->net4, "E.net.4", H, 1, 1);
    } else {
        m->pad0 = (36 - a->height) / 2;
        cg_nn_conv2d_declare(nn, &m->c0, "E.cnn_layers.0", a->channels, H / 2, 5, 2, m->pad0, 1);
        cg_nn_conv2d_declare(nn, &m->c2, "E.cnn_layers.2", H / 2, H, 3, 2, 1, 1);
        cg_nn_conv2d_declare(nn, &m->c4, "E.cnn_layers.4", H, 2 * H, 3, 2, 1, 1);
        cg_nn_conv2d_declare(nn, &m->c6, "E.cnn_layers.6", 2 * H, 2 * H, 3, 2, 1, 1);
        cg_nn_linear_declare(nn, &m->f9, "E.cnn_layers.9", 8 * H, 2 * H, 1);
        cg_nn_linear_declare(nn, &m->f11, "E.cnn_layers.11", 2 * H, 1, 1);
    }
    if (a->buffer > 0)
        m->replay = cg_buffer(&m->p, "replay.x",
                              CG_SHAPE(a->buffer, a->channels, a->height, a->width));
    if (a->buffer > 0 && !m->replay) {
        snprintf(err, errlen, "ebm: out of memory declaring the replay buffer");
        return CG_ERR_NOMEM;
    }
    if ((st = cg_nn_alloc(nn, err, errlen)) != CG_OK)
        return st;
    if ((st = cg_nn_init_seeded(nn, seed, stream)) != CG_OK)
        snprintf(err, errlen, "ebm: initialisation failed");
    return st;
}

void cg_ebm_free(cg_ebm *m)
{
    cg_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

cg_tensor *cg_ebm_energy(cg_ctx *ctx, cg_ebm *m, cg_tensor *x)
{
    if (!x || !cg_ok(ctx))
        return NULL;
    const cg_ebm_arch *a = &m->a;
    int N = x->shape[0];
    if (x->n != (int64_t)N * cg_ebm_dim(a)) {
        cg_fail(ctx, CG_ERR_ARG, "ebm: x %s does not hold inputs of (%d, %d, %d)",
                CG_SHAPE_STR(x), a->channels, a->height, a->width);
        return NULL;
    }
    if (a->net == CG_EBM_MLP) {
        cg_tensor *h = cg_reshape(ctx, x, CG_SHAPE(N, (int)cg_ebm_dim(a)));
        h = cg_relu(ctx, cg_nn_linear_fwd(ctx, &m->net0, h));
        h = cg_relu(ctx, cg_nn_linear_fwd(ctx, &m->net2, h));
        return cg_nn_linear_fwd(ctx, &m->net4, h);
    }
    cg_tensor *h = cg_reshape(ctx, x, CG_SHAPE(N, a->channels, a->height, a->width));
    h = cg_silu(ctx, cg_nn_conv2d_fwd(ctx, &m->c0, h));   /* (N, h/2, 16, 16) */
    h = cg_silu(ctx, cg_nn_conv2d_fwd(ctx, &m->c2, h));   /* (N, h, 8, 8) */
    h = cg_silu(ctx, cg_nn_conv2d_fwd(ctx, &m->c4, h));   /* (N, 2h, 4, 4) */
    h = cg_silu(ctx, cg_nn_conv2d_fwd(ctx, &m->c6, h));   /* (N, 2h, 2, 2) */
    h = cg_reshape(ctx, h, CG_SHAPE(N, 8 * a->hidden));
    h = cg_silu(ctx, cg_nn_linear_fwd(ctx, &m->f9, h));
    return cg_nn_linear_fwd(ctx, &m->f11, h);
}

/* A header of ctx over n values at data on dev (no copy) */
static cg_tensor *view(cg_ctx *ctx, real *data, int dev, const int *shape, int ndim)
{
    cg_tensor *t = cg_wrap(ctx, data, shape, ndim);
    if (t)
        t->dev = (uint8_t)dev;
    return t;
}

cg_tensor *cg_ebm_input_grad(cg_ctx *ctx, cg_ebm *m, cg_tensor *x)
{
    if (!x || !cg_ok(ctx))
        return NULL;
    /* a leaf over x's values that wants its gradient; the weights want none */
    cg_tensor *leaf = view(ctx, x->data, x->dev, x->shape, x->ndim);
    if (!leaf)
        return NULL;
    leaf->requires_grad = 1;
    int prev = cg_set_grad(ctx, 1);
    cg_params_freeze(&m->p, GROUP_E, 1);
    cg_tensor *e = cg_sum(ctx, cg_ebm_energy(ctx, m, leaf));
    cg_status st = e ? cg_backward(ctx, e) : CG_ERR_STATE;
    cg_params_freeze(&m->p, GROUP_E, 0);
    cg_set_grad(ctx, prev);
    if (st != CG_OK || !cg_ok(ctx))
        return NULL;
    return view(ctx, leaf->grad, x->dev, x->shape, x->ndim);
}

cg_status cg_ebm_langevin(cg_ctx *ctx, cg_ebm *m, cg_tensor *x, const cg_langevin *l,
                          cg_rng *rng, const real *fixed)
{
    for (int k = 0; k < l->steps && cg_ok(ctx); k++) {
        int prev = cg_set_grad(ctx, 0);
        cg_tensor *z = cg_new_on(ctx, x->dev, x->shape, x->ndim);
        if (z && fixed)
            cg_copy_from_host(ctx, z, fixed + (int64_t)k * x->n);
        else if (z && cg_rng_fill_normal(rng, z, 0.0, l->noise) != CG_OK)
            cg_fail(ctx, CG_ERR_CUDA, "ebm: Langevin noise could not be drawn");
        cg_tensor *xn = cg_clamp(ctx, cg_add(ctx, x, z), l->lo, l->hi);
        cg_tensor *g = cg_clamp(ctx, cg_ebm_input_grad(ctx, m, xn), -l->clip, l->clip);
        cg_tensor *next = cg_clamp(ctx, cg_sub(ctx, xn, cg_scale(ctx, g, l->step_size)),
                                   l->lo, l->hi);
        if (next)
            cg_copy(ctx, x, 0, next);
        cg_set_grad(ctx, prev);
        if (!cg_ok(ctx))
            break;
        cg_ctx_step_end(ctx);
    }
    return ctx->err;
}

cg_tensor *cg_ebm_replay_start(cg_ctx *ctx, cg_ebm *m, int n, int64_t head, int64_t count,
                               double reinit, double lo, double hi, cg_rng *pick,
                               cg_rng *noise)
{
    if (!cg_ok(ctx))
        return NULL;
    const cg_ebm_arch *a = &m->a;
    if (!m->replay || n < 1 || head < 0 || head + n > a->buffer || count < 0 ||
        count > a->buffer) {
        cg_fail(ctx, CG_ERR_ARG, "ebm: %d chains at slot %lld of a replay buffer of %d (%lld "
                "filled)", n, (long long)head, a->buffer, (long long)count);
        return NULL;
    }
    int D = (int)cg_ebm_dim(a), dev = m->replay->dev;
    real *u = cg_scratch(ctx, sizeof(real) * (size_t)n);
    int32_t *idx = cg_scratch(ctx, sizeof(int32_t) * (size_t)n);
    uint8_t *fresh = cg_scratch(ctx, (size_t)n);
    if (!u || !idx || !fresh)
        return NULL;
    cg_rng_uniform(pick, u, n);
    int nfresh = 0;
    for (int i = 0; i < n; i++) {
        fresh[i] = count == 0 || u[i] < reinit;
        idx[i] = fresh[i] ? 0 : (int32_t)cg_rng_below(pick, (uint32_t)count);
        nfresh += fresh[i];
    }
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *slots = view(ctx, m->replay->data + head * D, dev,
                            CG_SHAPE(n, a->channels, a->height, a->width));
    if (nfresh < n) {   /* gather first: a chosen slot may be one of those overwritten */
        cg_tensor *all = view(ctx, m->replay->data, dev, CG_SHAPE(a->buffer, D));
        cg_tensor *old = cg_embedding(ctx, all, idx, n);
        if (old)
            cg_copy(ctx, slots, 0, old);
    }
    if (nfresh > 0) {
        cg_tensor *u0 = cg_new_on(ctx, dev, CG_SHAPE(nfresh, D));
        if (u0 && cg_rng_fill_uniform(noise, u0, lo, hi) != CG_OK)
            cg_fail(ctx, CG_ERR_CUDA, "ebm: replay noise could not be drawn");
        for (int i = 0, r = 0; i < n && cg_ok(ctx); i++)
            if (fresh[i]) {
                cg_tensor *row = view(ctx, u0->data + (int64_t)r++ * D, dev, CG_SHAPE(D));
                if (row)
                    cg_copy(ctx, slots, (int64_t)i * D, row);
            }
    }
    cg_set_grad(ctx, prev);
    return cg_ok(ctx) ? slots : NULL;
}

/* The host values of scalars (1-element tensors): one read-back each */
static cg_status read_scalars(cg_ctx *ctx, cg_tensor *const *t, double *out, int n)
{
    for (int i = 0; i < n; i++) {
        real v;
        if (cg_copy_to_host(ctx, &v, t[i]) != CG_OK)
            return ctx->err ? ctx->err : CG_ERR_STATE;
        out[i] = v;
    }
    return CG_OK;
}

static cg_status update(cg_ctx *ctx, cg_ebm *m, cg_adam *adam, cg_tensor *loss)
{
    if (!loss || cg_backward(ctx, loss) != CG_OK)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    cg_status st = cg_adam_step(adam, &m->p);
    if (st != CG_OK)
        return cg_fail(ctx, st, "ebm: Adam step failed");
    return cg_params_zero_grad(&m->p);
}

cg_status cg_ebm_nce_step(cg_ctx *ctx, cg_ebm *m, cg_adam *adam, cg_tensor *x,
                          cg_tensor *noise, cg_ebm_stats *s)
{
    memset(s, 0, sizeof *s);
    cg_tensor *e_pos = cg_ebm_energy(ctx, m, x), *e_neg = cg_ebm_energy(ctx, m, noise);
    cg_tensor *zeros = e_pos ? cg_new_zeros_on(ctx, e_pos->dev, e_pos->shape, e_pos->ndim)
                             : NULL;
    cg_tensor *ones = cg_affine(ctx, zeros, 0.0, 1.0);
    /* the logit is -E: data (label 1) is pushed to low energy */
    cg_tensor *l_pos = cg_bce_with_logits(ctx, cg_scale(ctx, e_pos, -1.0), ones, CG_REDUCE_MEAN);
    cg_tensor *l_neg = cg_bce_with_logits(ctx, cg_scale(ctx, e_neg, -1.0), zeros,
                                          CG_REDUCE_MEAN);
    cg_tensor *loss = cg_scale(ctx, cg_add(ctx, l_pos, l_neg), 0.5);   /* the mean over 2N */
    cg_tensor *show[3] = {loss, cg_mean(ctx, e_pos), cg_mean(ctx, e_neg)};
    if (!cg_ok(ctx))
        return ctx->err;
    double v[3];
    cg_status st = read_scalars(ctx, show, v, 3);
    if (st != CG_OK)
        return st;
    s->loss = v[0], s->e_data = v[1], s->e_other = v[2];
    return update(ctx, m, adam, loss);
}

cg_status cg_ebm_cd_step(cg_ctx *ctx, cg_ebm *m, cg_adam *adam, cg_tensor *x,
                         cg_tensor *jitter, cg_tensor *samples, double alpha, double lo,
                         double hi, cg_ebm_stats *s)
{
    memset(s, 0, sizeof *s);
    cg_tensor *real_x = cg_clamp(ctx, cg_add(ctx, x, jitter), lo, hi);
    cg_tensor *e_pos = cg_ebm_energy(ctx, m, real_x);
    cg_tensor *e_neg = cg_ebm_energy(ctx, m, cg_detach(ctx, samples));
    cg_tensor *m_pos = cg_mean(ctx, e_pos), *m_neg = cg_mean(ctx, e_neg);
    cg_tensor *cd = cg_sub(ctx, m_pos, m_neg);
    cg_tensor *reg = cg_scale(ctx, cg_add(ctx, cg_mean(ctx, cg_mul(ctx, e_pos, e_pos)),
                                          cg_mean(ctx, cg_mul(ctx, e_neg, e_neg))), alpha);
    cg_tensor *loss = cg_add(ctx, cd, reg);
    cg_tensor *show[5] = {loss, m_pos, m_neg, cd, reg};
    if (!cg_ok(ctx))
        return ctx->err;
    double v[5];
    cg_status st = read_scalars(ctx, show, v, 5);
    if (st != CG_OK)
        return st;
    s->loss = v[0], s->e_data = v[1], s->e_other = v[2], s->cd = v[3], s->reg = v[4];
    return update(ctx, m, adam, loss);
}
