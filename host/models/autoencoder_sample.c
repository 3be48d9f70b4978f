/*
 * autoencoder_sample.c: a plain autoencoder as `cugen sample` and `cugen
 * eval` see it (cugen/sampler.h): from a run directory (autoencoder.safetensors
 * and codes.safetensors), its checkpoint or its autoencoder.safetensors (the
 * codes file beside it), recognised by the encoder's and decoder's names.
 *
 * A plain autoencoder has no prior: its decoder is a generator only where
 * its codes are. What `cugen sample` decodes:
 *
 *   sample    --n codes drawn from the Gaussian fitted to the training
 *             set's codes (codes.safetensors: mean and full covariance), the
 *             simplest density on the code space, for any --latent; 8 per row.
 *             --grid (2-D codes): a k x k grid (--n = k^2; 15 x 15, the
 *             article's, without --n) over the test codes' range, rows from
 *             the top of the second coordinate down
 *   generate  the same Gaussian codes, for eval --metric mmd|fid
 *   metrics   mse: the mean squared reconstruction error of a data set
 *
 * Runs on the CPU: a grid is a few hundred decodings.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/autoencoder.h"
#include "cugen/rng.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"
#include "models/sample_util.h"

#define GEN_CHUNK 500   /* eval's images decoded at a time */
#define GRID_SIDE 15    /* --grid without --n: the article's 15 x 15 */

typedef struct {
    int grid;
} ae_sample_flags;

typedef struct {
    cg_ae m;
    cg_ae_codes codes;
    int loaded, have_codes;
    char codes_err[1024];   /* why there are none */
} ae_sampler;

static int recognise(const char *path)
{
    return cg_ae_is_checkpoint(path);
}

static cg_status check(const void *settings, const cg_sample_opts *o, char *err, size_t len)
{
    int k = sample_side_of(o->n);
    if (!((const ae_sample_flags *)settings)->grid || !o->n_given || k >= 2)
        return CG_OK;
    snprintf(err, len, "--grid draws a k x k grid: --n must be a square from 4 on, got %d",
             o->n);
    return CG_ERR_ARG;
}

/* codes.safetensors of the run directory path, or beside the file path */
static void codes_path(const char *path, char *out, size_t len)
{
    char file[4096];
    cg_run_file(path, "autoencoder.safetensors", file, sizeof file);
    const char *slash = strrchr(file, '/');
    if (slash)
        snprintf(out, len, "%.*s/codes.safetensors", (int)(slash - file), file);
    else
        snprintf(out, len, "codes.safetensors");
}

static cg_status load(void *self, const char *path, cg_device dev, char *err, size_t len)
{
    ae_sampler *s = self;
    cg_status st = cg_ae_load(path, &s->m, err, len);
    if (st != CG_OK)
        return st;
    s->loaded = 1;
    char why[1024], file[4200];
    if (dev == CG_CUDA && (st = cg_ae_to_device(&s->m, CG_CUDA, why, sizeof why)) != CG_OK) {
        snprintf(err, len, "parameters to the GPU: %s", why);
        return st;
    }
    /* the metrics need no codes: their absence is an error of sample and generate */
    codes_path(path, file, sizeof file);
    s->have_codes = cg_ae_codes_load(&s->codes, s->m.a.latent, file, s->codes_err,
                                     sizeof s->codes_err) == CG_OK;
    return CG_OK;
}

static cg_status image_shape(const ae_sampler *s, const char *path, int *S, char *err,
                             size_t len)
{
    if ((*S = sample_side_of(s->m.a.x_dim)) != 0)
        return CG_OK;
    snprintf(err, len, "%s: an autoencoder of %d inputs is not a square gray image", path,
             s->m.a.x_dim);
    return CG_ERR_ARG;
}

/* n decodings of codes z (n, Z) into x */
static cg_status decode_into(ae_sampler *s, const real *z, int n, real *x, char *err,
                             size_t len)
{
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    cg_status st = cg_ae_decode_host(&ctx, &s->m, z, n, x);
    if (st != CG_OK)
        st = sample_failed(&ctx, err, len);
    cg_ctx_free(&ctx);
    return st;
}

static cg_status sample(void *self, const void *settings, const cg_sample_opts *o,
                        cg_samples *out, char *err, size_t len)
{
    const ae_sample_flags *f = settings;
    ae_sampler *s = self;
    int S, n = f->grid && !o->n_given ? GRID_SIDE * GRID_SIDE : o->n, Z = s->m.a.latent;
    cg_status st = image_shape(s, o->path, &S, err, len);
    if (st != CG_OK)
        return st;
    if (!s->have_codes) {
        snprintf(err, len, "%s", s->codes_err);
        return CG_ERR_ARG;
    }
    if (f->grid && Z != 2) {
        snprintf(err, len, "--grid is for a 2-D code; %s has %d dimensions", o->path, Z);
        return CG_ERR_ARG;
    }
    out->z = malloc(sizeof(real) * (size_t)n * Z);
    out->x = malloc(sizeof(real) * (size_t)n * s->m.a.x_dim);
    if (!out->z || !out->x) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    int k = sample_side_of(n);
    if (f->grid) {
        cg_ae_grid_codes(&s->codes, k, out->z);
    } else {
        cg_rng r;
        cg_rng_init(&r, o->seed, CG_SAMPLE_STREAM);
        st = cg_ae_codes_draw(&s->codes, &r, out->z, n, err, len);
    }
    if (st == CG_OK)
        st = decode_into(s, out->z, n, out->x, err, len);
    if (st != CG_OK)
        return st;
    out->n = n, out->c = 1, out->h = out->w = S;
    out->per_row = f->grid ? k : CG_SAMPLE_PER_ROW;
    out->nz = (int64_t)n * Z;
    if (f->grid)
        snprintf(out->what, sizeof out->what, "a %d x %d grid of decodings over the test codes' "
                 "range [%.3g, %.3g] x [%.3g, %.3g] of an autoencoder (latent 2, %dx%d) from %s",
                 k, k, s->codes.lo[0], s->codes.hi[0], s->codes.lo[1], s->codes.hi[1], S, S,
                 o->path);
    else
        snprintf(out->what, sizeof out->what, "%d decodings of codes from the Gaussian of the "
                 "training codes, of an autoencoder (latent %d, %dx%d) from %s, seed %llu", n,
                 Z, S, S, o->path, (unsigned long long)o->seed);
    return CG_OK;
}

static cg_status generate(void *self, const void *settings, int64_t n, uint64_t seed,
                          cg_image_set *out, char *err, size_t len)
{
    ae_sampler *s = self;
    int S, Z = s->m.a.latent;
    cg_status st = image_shape(s, "the autoencoder", &S, err, len);
    if (st != CG_OK)
        return st;
    if (!s->have_codes) {
        snprintf(err, len, "%s", s->codes_err);
        return CG_ERR_ARG;
    }
    int64_t P = s->m.a.x_dim;
    real *z;
    if ((st = sample_gen_alloc(out, n, P, &z, (int64_t)GEN_CHUNK * Z, NULL, err, len)) != CG_OK)
        return st;
    cg_rng r;
    cg_rng_init(&r, seed, SAMPLE_EVAL_STREAM);
    for (int64_t at = 0; at < n && st == CG_OK; at += GEN_CHUNK) {
        int k = (int)(n - at < GEN_CHUNK ? n - at : GEN_CHUNK);
        st = cg_ae_codes_draw(&s->codes, &r, z, k, err, len);
        if (st == CG_OK)
            st = decode_into(s, z, k, out->x + at * P, err, len);
    }
    free(z);
    out->n = n, out->c = 1, out->h = out->w = S;
    return st;
}

static cg_status evaluate(void *self, const void *settings, const cg_eval_opts *o,
                          char *report, size_t rlen, char *err, size_t len)
{
    ae_sampler *s = self;
    int S;
    cg_status st = image_shape(s, o->path, &S, err, len);
    if (st != CG_OK)
        return st;
    cg_data_spec spec = o->data;
    spec.size = S;
    cg_dataset ds;
    if ((st = cg_dataset_open(&spec, &ds, err, len)) != CG_OK)
        return st;
    double mse;
    st = cg_ae_encode_set(&s->m, &ds, o->n, NULL, &mse, err, len);
    int64_t n = o->n > 0 && o->n < ds.count ? o->n : ds.count;
    if (st == CG_OK)
        snprintf(report, rlen, "%s, %lld images of %dx%dx%d; autoencoder (%d-%d-%d-%d) from "
                 "%s\n  MSE %.6f per pixel value (in [-1, 1])\n", ds.name, (long long)n,
                 ds.channels, ds.height, ds.width, s->m.a.x_dim, s->m.a.h1, s->m.a.h2,
                 s->m.a.latent, o->path, mse);
    cg_dataset_free(&ds);
    return st;
}

static void free_sampler(void *self)
{
    ae_sampler *s = self;
    if (s->loaded)
        cg_ae_free(&s->m);
    cg_ae_codes_free(&s->codes);
}

static const cg_flag flags[] = {
    {"grid", CG_FLAG_BOOL, offsetof(ae_sample_flags, grid), NULL, 0, 0, NULL,
     "a 2-D code: a k x k grid (--n k^2, default 15 x 15) over the test codes' range",
     NULL},
};

static const cg_metric metrics[] = {
    {"mse", "autoencoder: the mean squared reconstruction error, per pixel value", 1},
};

const cg_sampler cg_sampler_autoencoder = {
    .a = "an autoencoder", .these = "autoencoders", .models = "autoencoders",
    .recognise = recognise, .settings_size = sizeof(ae_sample_flags), .flags = flags,
    .nflags = sizeof flags / sizeof flags[0], .check = check,
    .state_size = sizeof(ae_sampler), .load = load, .sample = sample, .generate = generate,
    .metrics = metrics, .nmetrics = sizeof metrics / sizeof metrics[0],
    .evaluate = evaluate, .free = free_sampler,
};
