/*
 * vae_internal.h: the convolutional VAE's networks, which vae.c dispatches
 * to for --arch conv (vae_conv.c). Internal to host/models.
 */
#ifndef CUGEN_MODELS_VAE_INTERNAL_H
#define CUGEN_MODELS_VAE_INTERNAL_H

#include "cugen/vae.h"

/* Declare the parameters of the conv architecture (m->a set); 0 on OOM. */
int vae_conv_declare(cg_vae *m);
void vae_conv_init(cg_vae *m, cg_rng *r);
/* x (N, C*S*S) -> mu, logvar (N, latent) */
cg_status vae_conv_encode(cg_ctx *ctx, cg_vae *m, cg_tensor *x, cg_tensor **mu,
                          cg_tensor **logvar);
/* h (N, latent) -> (N, C*S*S) */
cg_tensor *vae_conv_decode(cg_ctx *ctx, cg_vae *m, cg_tensor *h);

#endif
