/*
 * vae_conv.c: the convolutional VAE's encoder and decoder (architecture and
 * names in cugen/vae.h): stride-2 4x4 convolutions down to 4x4, linear
 * layers to and from the latent space, transposed convolutions back up.
 * Initialised as PyTorch's Conv2d / ConvTranspose2d / Linear are by default.
 *
 * Not for: the loss, evaluation, files (vae.c).
 */
#include <math.h>
#include <stdio.h>

#include "cugen/ops.h"
#include "models/dense.h"
#include "models/vae_internal.h"
#include "ops/backend.h"

/* channels after encoder conv i (and before decoder conv L-1-i) */
static int width_at(const cg_vae *m, int i)
{
    return m->a.width << i;
}

int vae_conv_declare(cg_vae *m)
{
    cg_params *p = &m->p;
    int L = m->nconv, top = width_at(m, L - 1);
    char name[64];
    int ok = 1;
    for (int i = 0; i < L && ok; i++) {
        int cin = i == 0 ? m->a.channels : width_at(m, i - 1), cout = width_at(m, i);
        snprintf(name, sizeof name, "enc.%d.weight", 2 * i);
        m->enc[i].w = cg_param(p, name, CG_SHAPE(cout, cin, 4, 4), 0);
        snprintf(name, sizeof name, "enc.%d.bias", 2 * i);
        m->enc[i].b = cg_param(p, name, CG_SHAPE(cout), 0);
        ok = m->enc[i].w && m->enc[i].b;
    }
    ok = ok && dense_declare(p, &m->fc2_mu.w, &m->fc2_mu.b, "fc_mu", top * 16, m->a.latent, 0) &&
         dense_declare(p, &m->fc2_logvar.w, &m->fc2_logvar.b, "fc_logvar", top * 16,
                       m->a.latent, 0) &&
         dense_declare(p, &m->dec_fc.w, &m->dec_fc.b, "dec_fc", m->a.latent, top * 16, 0);
    /* decoder conv j goes from width_at(L-1-j) to width_at(L-2-j), the last to C */
    for (int j = 0; j < L && ok; j++) {
        int cin = width_at(m, L - 1 - j), cout = j == L - 1 ? m->a.channels
                                                            : width_at(m, L - 2 - j);
        snprintf(name, sizeof name, "dec.%d.weight", 2 * j);
        m->dec[j].w = cg_param(p, name, CG_SHAPE(cin, cout, 4, 4), 0);
        snprintf(name, sizeof name, "dec.%d.bias", 2 * j);
        m->dec[j].b = cg_param(p, name, CG_SHAPE(cout), 0);
        ok = m->dec[j].w && m->dec[j].b;
    }
    return ok;
}

/* PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and
 * biases, fan_in = w.size(1) * k * k (for ConvTranspose2d that is Cout k k:
 * PyTorch computes it from the weight's dim 1 either way). */
static void init_conv(cg_vae_linear *l, cg_rng *r)
{
    double bound = 1.0 / sqrt((double)l->w->shape[1] * 16.0);
    cg_init_uniform(l->w, r, -bound, bound);
    cg_init_uniform(l->b, r, -bound, bound);
}

void vae_conv_init(cg_vae *m, cg_rng *r)
{
    for (int i = 0; i < m->nconv; i++)
        init_conv(&m->enc[i], r);
    dense_init(m->fc2_mu.w, m->fc2_mu.b, r);
    dense_init(m->fc2_logvar.w, m->fc2_logvar.b, r);
    dense_init(m->dec_fc.w, m->dec_fc.b, r);
    for (int j = 0; j < m->nconv; j++)
        init_conv(&m->dec[j], r);
}

cg_status vae_conv_encode(cg_ctx *ctx, cg_vae *m, cg_tensor *x, cg_tensor **mu,
                          cg_tensor **logvar)
{
    int N = x->shape[0], S = m->a.size, top = width_at(m, m->nconv - 1);
    cg_tensor *h = cg_reshape(ctx, x, CG_SHAPE(N, m->a.channels, S, S));
    for (int i = 0; i < m->nconv; i++)
        h = cg_relu(ctx, cg_conv2d(ctx, h, m->enc[i].w, m->enc[i].b, 2, 1));
    h = cg_reshape(ctx, h, CG_SHAPE(N, top * 16));
    *mu = cg_linear(ctx, h, m->fc2_mu.w, m->fc2_mu.b);
    *logvar = cg_linear(ctx, h, m->fc2_logvar.w, m->fc2_logvar.b);
    return ctx->err;
}

cg_tensor *vae_conv_decode(cg_ctx *ctx, cg_vae *m, cg_tensor *h)
{
    if (!h)
        return NULL;
    int N = h->shape[0], L = m->nconv, top = width_at(m, L - 1);
    cg_tensor *g = cg_relu(ctx, cg_linear(ctx, h, m->dec_fc.w, m->dec_fc.b));
    g = cg_reshape(ctx, g, CG_SHAPE(N, top, 4, 4));
    for (int j = 0; j < L; j++) {
        g = cg_conv_transpose2d(ctx, g, m->dec[j].w, m->dec[j].b, 2, 1);
        if (j < L - 1)
            g = cg_relu(ctx, g);
    }
    return cg_reshape(ctx, g, CG_SHAPE(N, m->a.x_dim));
}
