/*
 * dcgan_wgan.c: one WGAN-GP iteration of a DCGAN whose D is the critic
 * (cugen/dcgan.h, cg_dcgan_wgan_step): n_critic critic steps, each with its
 * gradient penalty (cugen/wgan_gp.h, through the tape's create-graph mode),
 * then one generator step.
 *
 * The critic's score is cg_dcgan_discriminate, so a conditional critic is
 * the projection discriminator: on the penalty's path from x^ to the score
 * lie the convolutions, layer norms, leaky relus, reshapes and the
 * projection's batched product (cg_bmm), all with create-graph backwards;
 * the label embedding is off that path (it does not depend on x^), and the
 * penalty's gradient reaches its table through the ordinary backward of the
 * ops that the product's create-graph backward records.
 *
 * Not for: the critic and its penalty (wgan_gp.c), flags and files
 * (dcgan_train.c).
 */
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/dcgan.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

/* the critic of a DCGAN, for the labels of the batch in flight */
typedef struct {
    cg_dcgan *m;
    const int32_t *y;
} labelled_critic;

static cg_tensor *score(cg_ctx *ctx, void *critic, cg_tensor *x)
{
    labelled_critic *c = critic;
    return cg_dcgan_discriminate(ctx, c->m, x, c->y);
}

static cg_status check(cg_ctx *ctx, const cg_dcgan *m, const cg_dcgan_wgan_batch *in)
{
    if (!m->a.critic)
        return cg_fail(ctx, CG_ERR_ARG, "dcgan: the WGAN-GP step needs the critic as D");
    if (in->n_critic < 1 || !in->real || !in->z || !in->eps || (m->a.num_classes && !in->y))
        return cg_fail(ctx, CG_ERR_ARG, "dcgan: the WGAN-GP step needs n_critic >= 1 real "
                       "batches (with labels, conditional), latents and eps");
    for (int i = 0; i <= in->n_critic; i++) {
        cg_tensor *z = in->z[i];
        if (!z || (i < in->n_critic && (!in->real[i] || !in->eps[i])))
            return cg_fail(ctx, CG_ERR_STATE, "dcgan: WGAN-GP critic step %d has no batch, z "
                           "or eps", i);
        if (z->dev != m->p.dev || (i < in->n_critic && in->real[i]->dev != m->p.dev))
            return cg_fail(ctx, CG_ERR_ARG, "dcgan: the batches, z and the parameters must "
                           "be on one device");
    }
    return CG_OK;
}

cg_status cg_dcgan_wgan_step(cg_ctx *ctx, cg_dcgan *m, cg_adam *opt_d, cg_adam *opt_g,
                             const cg_dcgan_wgan_batch *in, cg_dcgan_wgan_stats *out)
{
    real *each = out->each;
    memset(out, 0, sizeof *out);
    out->each = each;
    if (ctx->err || check(ctx, m, in) != CG_OK)
        return ctx->err;
    int K = in->n_critic;
    for (int i = 0; i < K; i++) {
        const int32_t *y = m->a.num_classes ? in->y[i] : NULL;
        int prev = cg_set_grad(ctx, 0);   /* the fakes are data to the critic */
        cg_tensor *fake = cg_dcgan_generate(ctx, m, in->z[i], y, 0, 1);
        cg_set_grad(ctx, prev);
        labelled_critic c = {m, y};
        cg_wgan_gp_stats s;
        if (!fake || cg_wgan_gp_critic_step_of(ctx, score, &c, &m->p, CG_DCGAN_D, opt_d,
                                               in->real[i], fake, in->eps[i], in->lambda,
                                               &s) != CG_OK)
            return ctx->err ? ctx->err : cg_fail(ctx, CG_ERR_STATE, "dcgan: no fakes");
        out->loss_d += s.loss / K;
        out->wasserstein += s.wasserstein / K;
        out->gp += s.penalty / K;
        if (each) {
            each[3 * i] = (real)s.loss;
            each[3 * i + 1] = (real)s.wasserstein;
            each[3 * i + 2] = (real)s.penalty;
        }
    }
    /* G step: -mean D(G(z)), through the critic without its weight gradients */
    const int32_t *y = m->a.num_classes ? in->y[K - 1] : NULL;
    cg_params_freeze(&m->p, CG_DCGAN_D, 1);
    cg_tensor *fake = cg_dcgan_generate(ctx, m, in->z[K], y, 0, 1);
    cg_tensor *err_g = cg_scale(ctx, cg_mean(ctx, cg_dcgan_discriminate(ctx, m, fake, y)), -1);
    cg_status st = err_g ? cg_backward(ctx, err_g) : ctx->err;
    cg_params_freeze(&m->p, CG_DCGAN_D, 0);
    if (st != CG_OK)
        return ctx->err ? ctx->err : st;
    cg_params_freeze(&m->p, CG_DCGAN_D, 1);
    st = cg_adam_step(opt_g, &m->p);
    cg_params_freeze(&m->p, CG_DCGAN_D, 0);
    if (st != CG_OK)
        return cg_fail(ctx, st, "dcgan: Adam step of G failed: %s", cg_cuda_last_error());
    if (cg_params_zero_grad(&m->p) != CG_OK)
        return cg_fail(ctx, CG_ERR_CUDA, "dcgan: zeroing gradients: %s", cg_cuda_last_error());
    real v;
    if (cg_copy_to_host(ctx, &v, err_g) != CG_OK)
        return ctx->err;
    out->loss_g = v;
    cg_ctx_step_end(ctx);
    return CG_OK;
}
