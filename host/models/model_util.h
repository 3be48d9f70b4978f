/*
 * model_util.h: small helpers the models' own files (dcgan.c, vae.c,
 * wgan_gp.c, ...) share. Internal to host/models; what the samplers share is
 * in sample_util.h.
 */
#ifndef CUGEN_MODELS_MODEL_UTIL_H
#define CUGEN_MODELS_MODEL_UTIL_H

/* k with v = 2^k, or -1 when v is not a power of two (an image side) */
int model_log2_exact(int v);

#endif
