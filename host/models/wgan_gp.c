/*
 * wgan_gp.c: the WGAN-GP critic (DCGAN's D with layer norm instead of batch
 * norm) and its training step with the gradient penalty (cugen/wgan_gp.h).
 *
 * The penalty needs the gradient of the critic's scores with respect to its
 * input as a differentiable tensor: cg_grad (the tape's create-graph mode)
 * records that gradient as ops (conv input-gradient ops, the layer norm's
 * backward as ops, leaky relu's slope), so the backward of the loss reaches
 * the weights through it, exactly as torch.autograd.grad(create_graph=True).
 *
 * Not for: the generator, the training loop.
 */
#include <stdio.h>
#include <string.h>

#include "cugen/ops.h"
#include "cugen/tape.h"
#include "cugen/wgan_gp.h"
#include "models/model_util.h"

#define LEAK 0.2

void cg_wgan_critic_declare(cg_nn *nn, cg_wgan_critic *c, const char *prefix, int nc, int ndf,
                            int image_size, int layernorm)
{
    memset(c, 0, sizeof *c);
    if (nn->err != CG_OK)
        return;
    if (image_size != 32 && image_size != 64) {
        nn->err = CG_ERR_ARG;
        snprintf(nn->errmsg, sizeof nn->errmsg, "%scritic: image size must be 32 or 64, got %d",
                 prefix, image_size);
        return;
    }
    *c = (cg_wgan_critic){.nc = nc, .ndf = ndf, .image_size = image_size,
                          .layers = model_log2_exact(image_size) - 1, .layernorm = layernorm != 0};
    int L = c->layers;
    char name[CG_NN_NAME_MAX];
    for (int i = 0; i < L; i++) {
        int cin = i == 0 ? nc : ndf << (i - 1);
        int cout = i == L - 1 ? 1 : ndf << i;
        int at = i == 0 ? 0 : 3 * i - 1, last = i == L - 1;
        snprintf(name, sizeof name, "%smain.%d", prefix, at);
        cg_nn_conv2d_declare(nn, &c->conv[i], name, cin, cout, 4, last ? 1 : 2, last ? 0 : 1, 0);
        if (i > 0 && !last && c->layernorm) {
            int side = image_size >> (i + 1);  /* this conv's output size */
            snprintf(name, sizeof name, "%smain.%d", prefix, at + 1);
            cg_nn_layernorm_declare_shape(nn, &c->ln[i], name, CG_SHAPE(cout, side, side));
        }
    }
}

cg_status cg_wgan_critic_init(cg_wgan_critic *c, cg_rng *r)
{
    cg_status st = CG_OK;
    for (int i = 0; i < c->layers && st == CG_OK; i++) {
        st = cg_init_normal(c->conv[i].weight, r, 0.0, 0.02);
        if (st == CG_OK && c->ln[i].weight)
            st = cg_nn_init_default(&c->ln[i].hdr, r);
    }
    return st;
}

cg_tensor *cg_wgan_critic_fwd(cg_ctx *ctx, cg_wgan_critic *c, cg_tensor *x)
{
    int L = c->layers;
    cg_tensor *h = x;
    for (int i = 0; i < L - 1; i++) {
        h = cg_nn_conv2d_fwd(ctx, &c->conv[i], h);
        if (c->ln[i].weight)
            h = cg_nn_layernorm_fwd(ctx, &c->ln[i], h);
        h = cg_leaky_relu(ctx, h, LEAK);
    }
    h = cg_nn_conv2d_fwd(ctx, &c->conv[L - 1], h);  /* (N, 1, 1, 1) */
    return h ? cg_reshape(ctx, h, CG_SHAPE(h->shape[0])) : NULL;
}

static cg_tensor *critic_score(cg_ctx *ctx, void *critic, cg_tensor *x)
{
    return cg_wgan_critic_fwd(ctx, critic, x);
}

cg_tensor *cg_wgan_gp_penalty(cg_ctx *ctx, cg_wgan_critic *c, cg_tensor *real_x,
                              cg_tensor *fake, cg_tensor *eps, double lambda)
{
    return cg_wgan_gp_penalty_of(ctx, critic_score, c, real_x, fake, eps, lambda);
}

cg_tensor *cg_wgan_gp_penalty_of(cg_ctx *ctx, cg_wgan_score score, void *critic,
                                 cg_tensor *real_x, cg_tensor *fake, cg_tensor *eps,
                                 double lambda)
{
    if (!cg_ok(ctx))
        return NULL;
    if (!real_x || !fake || !eps) {
        cg_fail(ctx, CG_ERR_STATE, "wgan-gp: penalty without real, fake or eps");
        return NULL;
    }
    int N = real_x->shape[0];
    if (!cg_same_shape(real_x, fake) || real_x->ndim != 4 || eps->n != N) {
        cg_fail(ctx, CG_ERR_ARG, "wgan-gp: real %s, fake %s and eps %s do not match (N, C, H, "
                "W) and (N)", CG_SHAPE_STR(real_x), CG_SHAPE_STR(fake), CG_SHAPE_STR(eps));
        return NULL;
    }
    if (fake->requires_grad || real_x->requires_grad) {
        cg_fail(ctx, CG_ERR_ARG, "wgan-gp: real and fake must not require grad (detach G(z))");
        return NULL;
    }
    /* x^ = fake + eps (real - fake), computed off the tape: a leaf of its own */
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *e = cg_reshape(ctx, eps, CG_SHAPE(N, 1, 1, 1));
    cg_tensor *xhat = cg_add(ctx, fake, cg_mul(ctx, cg_sub(ctx, real_x, fake), e));
    cg_set_grad(ctx, prev);
    if (!xhat)
        return NULL;
    xhat->requires_grad = 1;
    cg_tensor *g;
    if (cg_grad(ctx, score(ctx, critic, xhat), NULL, &xhat, 1, &g) != CG_OK)
        return NULL;
    int D = (int)(g->n / N);
    cg_tensor *g2 = cg_reshape(ctx, g, CG_SHAPE(N, D));
    cg_tensor *norm = cg_pow(ctx, cg_sum_to(ctx, cg_mul(ctx, g2, g2), CG_SHAPE(N, 1)), 0.5);
    cg_tensor *dev = cg_affine(ctx, norm, 1, -1);  /* ||g|| - 1 */
    return cg_scale(ctx, cg_mean(ctx, cg_mul(ctx, dev, dev)), lambda);
}

/* Freeze every group but `group` (keep[] gets their states), or restore them. */
static void freeze_others(cg_params *p, int group, uint8_t keep[CG_MAX_GROUPS], int restore)
{
    for (int gi = 0; gi < CG_MAX_GROUPS; gi++) {
        if (gi == group)
            continue;
        if (!restore)
            keep[gi] = p->frozen[gi];
        cg_params_freeze(p, gi, restore ? keep[gi] : 1);
    }
}

cg_status cg_wgan_gp_critic_step(cg_ctx *ctx, cg_wgan_critic *c, cg_params *p, int group,
                                 cg_adam *opt, cg_tensor *real_x, cg_tensor *fake,
                                 cg_tensor *eps, double lambda, cg_wgan_gp_stats *out)
{
    return cg_wgan_gp_critic_step_of(ctx, critic_score, c, p, group, opt, real_x, fake, eps,
                                     lambda, out);
}

cg_status cg_wgan_gp_critic_step_of(cg_ctx *ctx, cg_wgan_score score, void *critic,
                                    cg_params *p, int group, cg_adam *opt, cg_tensor *real_x,
                                    cg_tensor *fake, cg_tensor *eps, double lambda,
                                    cg_wgan_gp_stats *out)
{
    memset(out, 0, sizeof *out);
    if (ctx->err)
        return ctx->err;
    if (group < 0 || group >= CG_MAX_GROUPS)
        return cg_fail(ctx, CG_ERR_ARG, "wgan-gp: parameter group %d out of range", group);
    uint8_t keep[CG_MAX_GROUPS];
    freeze_others(p, group, keep, 0);  /* only the critic's weights get gradients and move */
    cg_tensor *d_real = cg_mean(ctx, score(ctx, critic, real_x));
    cg_tensor *d_fake = cg_mean(ctx, score(ctx, critic, fake));
    cg_tensor *gp = cg_wgan_gp_penalty_of(ctx, score, critic, real_x, fake, eps, lambda);
    cg_tensor *loss = cg_add(ctx, cg_sub(ctx, d_fake, d_real), gp);
    cg_status st = loss ? cg_backward(ctx, loss) : ctx->err;
    if (st == CG_OK)
        st = cg_adam_step(opt, p);
    freeze_others(p, group, keep, 1);
    if (ctx->err)
        return ctx->err;
    if (st != CG_OK)
        return cg_fail(ctx, st, "wgan-gp: Adam step of the critic failed");
    if (cg_params_zero_grad(p) != CG_OK)
        return cg_fail(ctx, CG_ERR_CUDA, "wgan-gp: zeroing gradients failed");
    real v[4];
    if (cg_copy_to_host(ctx, &v[0], loss) != CG_OK || cg_copy_to_host(ctx, &v[1], d_real) ||
        cg_copy_to_host(ctx, &v[2], d_fake) || cg_copy_to_host(ctx, &v[3], gp))
        return ctx->err;
    out->loss = v[0];
    out->wasserstein = (double)v[1] - (double)v[2];
    out->penalty = v[3];
    return CG_OK;
}

cg_tensor *cg_wgan_gp_draw_eps(cg_ctx *ctx, cg_rng *r, int n, cg_device dev)
{
    real *host = cg_scratch(ctx, sizeof(real) * (size_t)(n > 0 ? n : 1));
    cg_tensor *eps = cg_new_on(ctx, dev, CG_SHAPE(n));
    if (!host || !eps)
        return NULL;
    cg_rng_uniform(r, host, n);
    return cg_copy_from_host(ctx, eps, host) == CG_OK ? eps : NULL;
}
