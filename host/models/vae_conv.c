/*
 * vae_conv.c: the convolutional VAE's encoder and decoder (architecture and
 * names in cugen/vae.h): stride-2 4x4 convolutions down to 4x4, linear
 * layers to and from the latent space, transposed convolutions back up,
 * declared as layers (cugen/layers.h), which own PyTorch's default init.
 *
 * Not for: the loss, evaluation, files (vae.c).
 */
#include <stdio.h>

#include "cugen/ops.h"
#include "models/vae_internal.h"

/* channels after encoder conv i (and before decoder conv L-1-i) */
static int width_at(const cg_vae *m, int i)
{
    return m->a.width << i;
}

/* Declared in PyTorch's order (enc, fc_mu, fc_logvar, dec_fc, dec), which is
 * also the order cg_nn_init draws their default initialisation in. */
void vae_conv_declare(cg_vae *m)
{
    cg_nn *nn = &m->nn;
    int L = m->nconv, top = width_at(m, L - 1);
    char name[32];
    for (int i = 0; i < L; i++) {
        int cin = i == 0 ? m->a.channels : width_at(m, i - 1), cout = width_at(m, i);
        snprintf(name, sizeof name, "enc.%d", 2 * i);
        cg_nn_conv2d_declare(nn, &m->conv.enc[i], name, cin, cout, 4, 2, 1, 1);
    }
    cg_nn_linear_declare(nn, &m->conv.fc_mu, "fc_mu", top * 16, m->a.latent, 1);
    cg_nn_linear_declare(nn, &m->conv.fc_logvar, "fc_logvar", top * 16, m->a.latent, 1);
    cg_nn_linear_declare(nn, &m->conv.dec_fc, "dec_fc", m->a.latent, top * 16, 1);
    /* decoder conv j goes from width_at(L-1-j) to width_at(L-2-j), the last to C */
    for (int j = 0; j < L; j++) {
        int cin = width_at(m, L - 1 - j), cout = j == L - 1 ? m->a.channels
                                                            : width_at(m, L - 2 - j);
        snprintf(name, sizeof name, "dec.%d", 2 * j);
        cg_nn_conv_transpose2d_declare(nn, &m->conv.dec[j], name, cin, cout, 4, 2, 1, 1);
    }
}

cg_status vae_conv_encode(cg_ctx *ctx, cg_vae *m, cg_tensor *x, cg_tensor **mu,
                          cg_tensor **logvar)
{
    int N = x->shape[0], S = m->a.size, top = width_at(m, m->nconv - 1);
    cg_tensor *h = cg_reshape(ctx, x, CG_SHAPE(N, m->a.channels, S, S));
    for (int i = 0; i < m->nconv; i++)
        h = cg_relu(ctx, cg_nn_conv2d_fwd(ctx, &m->conv.enc[i], h));
    h = cg_reshape(ctx, h, CG_SHAPE(N, top * 16));
    *mu = cg_nn_linear_fwd(ctx, &m->conv.fc_mu, h);
    *logvar = cg_nn_linear_fwd(ctx, &m->conv.fc_logvar, h);
    return ctx->err;
}

cg_tensor *vae_conv_decode(cg_ctx *ctx, cg_vae *m, cg_tensor *h)
{
    if (!h)
        return NULL;
    int N = h->shape[0], L = m->nconv, top = width_at(m, L - 1);
    cg_tensor *g = cg_relu(ctx, cg_nn_linear_fwd(ctx, &m->conv.dec_fc, h));
    g = cg_reshape(ctx, g, CG_SHAPE(N, top, 4, 4));
    for (int j = 0; j < L; j++) {
        g = cg_nn_conv_transpose2d_fwd(ctx, &m->conv.dec[j], g);
        if (j < L - 1)
            g = cg_relu(ctx, g);
    }
    return cg_reshape(ctx, g, CG_SHAPE(N, m->a.x_dim));
}
