/*
 * vae_internal.h: the convolutional VAE's networks, which vae.c dispatches
 * to for --arch conv (vae_conv.c), and the loss pieces evaluation shares
 * with the training step (vae.c, vae_eval.c). Internal to host/models.
 */
#ifndef CUGEN_MODELS_VAE_INTERNAL_H
#define CUGEN_MODELS_VAE_INTERNAL_H

#include "cugen/vae.h"

/* Declare the conv architecture's layers into m->nn (m->a, m->nconv set). */
void vae_conv_declare(cg_vae *m);
/* x (N, C*S*S) -> mu, logvar (N, latent) */
cg_status vae_conv_encode(cg_ctx *ctx, cg_vae *m, cg_tensor *x, cg_tensor **mu,
                          cg_tensor **logvar);
/* h (N, latent) -> (N, C*S*S) */
cg_tensor *vae_conv_decode(cg_ctx *ctx, cg_vae *m, cg_tensor *h);

/* The loss of x with noise eps and its two terms (reconstruction, KL), as
 * (1) tensors on the model's device; nothing read back. */
cg_tensor *vae_loss_terms(cg_ctx *ctx, cg_vae *m, cg_tensor *x, cg_tensor *eps,
                          cg_tensor **rec, cg_tensor **div);
/* The values of k one-element tensors of one device into v, with one wait
 * for the GPU. */
cg_status vae_read_scalars(cg_ctx *ctx, cg_tensor *const *t, int k, real *v);

#endif
