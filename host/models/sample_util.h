/*
 * sample_util.h: what the models' samplers (cugen/sampler.h: dcgan_sample.c,
 * vae_sample.c, ...) share: a run's files, latents drawn as `cugen sample`
 * draws them, and the checks and messages they have in common. Internal to
 * host/models.
 */
#ifndef CUGEN_MODELS_SAMPLE_UTIL_H
#define CUGEN_MODELS_SAMPLE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "cugen/io.h"
#include "cugen/sampler.h"
#include "cugen/tensor.h"

/* The Philox streams of the images eval generates (of its --seed): the
 * VAE's, the DDPM's and the image flow's latents; the GAN generators'. */
#define SAMPLE_EVAL_STREAM 0x4745454eu      /* "GEEN" */
#define SAMPLE_EVAL_GAN_STREAM 0x4556414cu  /* "EVAL" */

/* The safetensors file at path, or the file name in the run directory
 * path, into f: 1, or 0 when it cannot be read (f then needs no freeing). */
int sample_open(const char *path, const char *name, cg_st_file *f);
/* Does that file hold a tensor named a (or b, when not NULL)? A run's files
 * are recognised by their tensors' names. */
int sample_holds(const char *path, const char *name, const char *a, const char *b);
/* The value of a run's setting key (a flag as the run was trained: "attrs")
 * into value: from DIR/settings.json or DIR's latest checkpoint when path
 * is a run directory; from a checkpoint's own record, or the settings.json
 * beside it, when path is a file. 1, or 0 when no record has it. */
int sample_setting(const char *path, const char *key, char *value, size_t len);
/* The side S of npix = S * S pixels, or 0 */
int sample_side_of(int64_t npix);

/* z (n, nz) from CG_SAMPLE_STREAM of seed: n independent normals, or with
 * interpolate rows of CG_SAMPLE_PER_ROW points on the lines between pairs
 * of normals. CG_ERR_NOMEM with err. */
cg_status sample_latents(real *z, int n, int nz, uint64_t seed, int interpolate, char *err,
                         size_t len);
/* --interpolate draws whole rows: n a multiple of CG_SAMPLE_PER_ROW, else
 * CG_ERR_ARG with the line in err. */
cg_status sample_rows_check(int interpolate, int n, char *err, size_t len);

/* After an op of ctx failed: its message into err, and the status to
 * return (never CG_ERR_ARG, which means the user's request: a failed op is
 * failed work). */
cg_status sample_failed(const cg_ctx *ctx, char *err, size_t len);
/* The end of a generator's forward: y's values into x (or, y NULL, the
 * failed op's message into err), and ctx freed. */
cg_status sample_take(cg_ctx *ctx, const cg_tensor *y, real *x, char *err, size_t len);
/* The same into a malloc'ed copy *out of y's values (CG_ERR_NOMEM with err
 * when there is no room for one). */
cg_status sample_take_copy(cg_ctx *ctx, const cg_tensor *y, real **out, char *err, size_t len);
/* A model built from the shapes in file takes its weights (into p): built
 * is the build's status, why its message, which goes into err after the
 * file's name when the build failed. */
cg_status sample_weights(cg_status built, const char *why, const char *file, cg_params *p,
                         char *err, size_t len);
/* What a generate needs before its loop: out->x for n images of P values,
 * with z not NULL *z for nz values (the caller frees it), with ctx not NULL
 * ctx initialised. CG_ERR_NOMEM with err, and then nothing but out->x (the
 * caller's) to free. */
cg_status sample_gen_alloc(cg_image_set *out, int64_t n, int64_t P, real **z, int64_t nz,
                           cg_ctx *ctx, char *err, size_t len);
/* "cugen eval: KIND: 640/10000 images generated (12 s)" on stderr, for more
 * than 64 images (t0: cg_monotonic_seconds at the start) */
void sample_progress(const char *kind, int64_t done, int64_t n, double t0);

#endif
