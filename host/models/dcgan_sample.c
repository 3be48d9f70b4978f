/*
 * dcgan_sample.c: a DCGAN generator as `cugen sample` and `cugen eval` see
 * it (cugen/sampler.h): G from a run directory (G.safetensors), its
 * checkpoint, or a G.safetensors written by PyTorch from the example's
 * Generator; z ~ N(0, I).
 *
 *   sample    --n images, 8 per row; --interpolate: rows of 8 on straight
 *             lines between random latent points; --bn batch|running.
 *             A conditional G (a label embedding "embed.weight"): by
 *             default a row of 8 per class, the same 8 z in every row;
 *             --class K: every image of class K; --n without --class:
 *             rows of 8 cycling through the classes. A run trained with
 *             --attrs (CelebA attributes, recorded in its settings):
 *             --attrs Smiling=1,Male=0 draws the classes of those values,
 *             the attributes not given taking both (a row per class)
 *   generate  z from the seed's eval stream, batch statistics in batches of
 *             64, as the example samples; conditional: labels i mod classes
 *
 * The fallback sampler: `cugen sample` reads a path no kind recognises as a
 * generator file, and the loader's message says what is wrong with it.
 * Runs on the CPU.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/dcgan.h"
#include "cugen/rng.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"
#include "models/sample_util.h"

#define GEN_CHUNK 64   /* eval's images drawn (and batch-normalised) at a time */

typedef struct {
    int interpolate;
    const char *bn;
    int64_t klass;
    const char *attrs;   /* --attrs NAME=0|1,... */
} dcgan_sample_flags;

typedef struct {
    cg_dcgan m;
    cg_dcgan_arch a;
    int loaded;
    char attrs[256];     /* the --attrs the run was trained with, "" when none */
} dcgan_sampler;

/* a generator's first ConvTranspose2d, exported or in a checkpoint ("G.") */
static int recognise(const char *path)
{
    return sample_holds(path, "G.safetensors", "main.0.weight", "G.main.0.weight") ||
           sample_holds(path, "G.safetensors", "main.0.weight_orig", "G.main.0.weight_orig");
}

static cg_status check(const void *settings, const cg_sample_opts *o, char *err, size_t len)
{
    const dcgan_sample_flags *f = settings;
    return sample_rows_check(f->interpolate, o->n, err, len);
}

static cg_status load(void *self, const char *path, cg_device dev, char *err, size_t len)
{
    dcgan_sampler *s = self;
    cg_status st = cg_dcgan_load_generator(path, &s->m, &s->a, err, len);
    s->loaded = st == CG_OK;
    if (!sample_setting(path, "attrs", s->attrs, sizeof s->attrs))
        s->attrs[0] = '\0';
    return st;
}

/* --attrs: the classes of those attribute values into *classes (malloc'ed),
 * their count *n; without --attrs all num_classes classes */
static cg_status attr_classes(const dcgan_sampler *s, const dcgan_sample_flags *f,
                              const cg_sample_opts *o, int32_t **classes, int *n, char *err,
                              size_t len)
{
    int K = s->a.num_classes;
    *classes = malloc(sizeof(int32_t) * (size_t)(K > 0 ? K : 1));
    if (!*classes) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    if (!f->attrs) {
        for (int c = 0; c < K; c++)
            (*classes)[c] = c;
        *n = K;
        return CG_OK;
    }
    if (f->klass >= 0) {
        snprintf(err, len, "--attrs and --class both choose the classes: give one");
        return CG_ERR_ARG;
    }
    if (!s->attrs[0]) {
        snprintf(err, len, "--attrs: %s records no attributes (a run of cugen train dcgan "
                 "--conditional --attrs NAME,... records them in its settings)%s", o->path,
                 K ? "; --class K picks a class" : "");
        return CG_ERR_ARG;
    }
    int32_t all[1 << CG_ATTR_LABELS_MAX];
    cg_status st = cg_attr_classes(s->attrs, f->attrs, all, n, err, len);
    if (st == CG_OK && (all[*n - 1] >= K)) {
        snprintf(err, len, "--attrs: the run records attributes %s, but its generator has %d "
                 "classes", s->attrs, K);
        st = CG_ERR_ARG;
    }
    if (st == CG_OK)
        memcpy(*classes, all, sizeof(int32_t) * (size_t)*n);
    return st;
}

/* G(z, y) for the n rows of z (and labels y, conditional) into x (n, nc, S, S) */
static cg_status generate_into(dcgan_sampler *s, real *z, const int32_t *y, int n,
                               int bn_running, real *x, char *err, size_t len)
{
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    cg_set_grad(&ctx, 0);
    cg_tensor *g = cg_dcgan_generate(&ctx, &s->m, cg_wrap(&ctx, z, CG_SHAPE(n, s->a.nz)), y,
                                     bn_running, 0);
    return sample_take(&ctx, g, x, err, len);
}

/* The labels of a conditional sample (NULL for another G) and, for the
 * default grid of a row per class, the same z in every row. */
static cg_status sample_labels(const dcgan_sampler *s, const dcgan_sample_flags *f,
                               const cg_sample_opts *o, int n, real *z, const int32_t *classes,
                               int K, int32_t **y, char *err, size_t len)
{
    int R = CG_SAMPLE_PER_ROW;
    *y = NULL;
    if (!s->a.num_classes)
        return CG_OK;
    if (!(*y = malloc(sizeof(int32_t) * (size_t)n))) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    int grid = f->klass < 0 && !f->interpolate && !o->n_given;
    for (int i = 0; i < n; i++) {
        (*y)[i] = f->klass >= 0 ? (int32_t)f->klass : classes[(i / R) % K];
        if (grid && i >= R)
            memcpy(z + (size_t)i * s->a.nz, z + (size_t)(i % R) * s->a.nz,
                   sizeof(real) * (size_t)s->a.nz);
    }
    return CG_OK;
}

static cg_status sample(void *self, const void *settings, const cg_sample_opts *o,
                        cg_samples *out, char *err, size_t len)
{
    const dcgan_sample_flags *f = settings;
    dcgan_sampler *s = self;
    int K = s->a.num_classes;
    if (f->attrs && !K) {
        snprintf(err, len, "--attrs is for conditional generators, and %s is not one (it has "
                 "no label embedding)", o->path);
        return CG_ERR_ARG;
    }
    if (f->klass >= 0 && f->klass >= K) {
        if (K)
            snprintf(err, len, "--class %lld: %s draws classes 0 to %d", (long long)f->klass,
                     o->path, K - 1);
        else
            snprintf(err, len, "--class is for conditional generators, and %s is not one (it "
                     "has no label embedding)", o->path);
        return CG_ERR_ARG;
    }
    /* the classes drawn (--attrs: those of its values); a conditional G's
     * default: a row of 8 per class */
    int32_t *classes = NULL;
    cg_status st = CG_OK;
    if (K && (st = attr_classes(s, f, o, &classes, &K, err, len)) != CG_OK) {
        free(classes);
        return st;
    }
    int n = K && f->klass < 0 && !f->interpolate && !o->n_given ? CG_SAMPLE_PER_ROW * K : o->n;
    int S = s->a.image_size, C = s->a.nc;
    out->z = malloc(sizeof(real) * (size_t)n * (size_t)s->a.nz);
    out->x = malloc(sizeof(real) * (size_t)n * (size_t)(C * S * S));
    if (!out->z || !out->x) {
        free(classes);
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    int32_t *y = NULL;
    st = sample_latents(out->z, n, s->a.nz, o->seed, f->interpolate, err, len);
    if (st == CG_OK)
        st = sample_labels(s, f, o, n, out->z, classes, K, &y, err, len);
    if (st == CG_OK)
        st = generate_into(s, out->z, y, n, strcmp(f->bn, "running") == 0, out->x, err, len);
    free(y);
    free(classes);
    if (st != CG_OK)
        return st;
    out->n = n, out->c = C, out->h = out->w = S, out->per_row = CG_SAMPLE_PER_ROW;
    out->nz = (int64_t)n * s->a.nz;
    snprintf(out->what, sizeof out->what, "%d %s of a %dx%d DCGAN generator (nz %d, ngf %d, %d "
             "channel%s) from %s, seed %llu, batchnorm %s statistics", n,
             f->interpolate ? "images on straight latent lines" : "samples", S, S, s->a.nz,
             s->a.ngf, C, C == 1 ? "" : "s", o->path, (unsigned long long)o->seed, f->bn);
    size_t k = strlen(out->what);
    if (K && f->klass >= 0)
        snprintf(out->what + k, sizeof out->what - k, ", class %lld", (long long)f->klass);
    else if (f->attrs)
        snprintf(out->what + k, sizeof out->what - k, ", --attrs %s (of %s): %d class%s",
                 f->attrs, s->attrs, K, K == 1 ? "" : "es, a row of 8 per class");
    else if (K && s->attrs[0])
        snprintf(out->what + k, sizeof out->what - k, ", a row of 8 per class (%d classes, "
                 "the bit patterns of %s)", K, s->attrs);
    else if (K)
        snprintf(out->what + k, sizeof out->what - k, ", a row of 8 per class (%d classes)", K);
    return CG_OK;
}

static cg_status generate(void *self, const void *settings, int64_t n, uint64_t seed,
                          cg_image_set *out, char *err, size_t len)
{
    dcgan_sampler *s = self;
    int64_t P = (int64_t)s->a.nc * s->a.image_size * s->a.image_size;
    out->x = malloc(sizeof(real) * (size_t)(n * P));
    real *z = malloc(sizeof(real) * (size_t)GEN_CHUNK * (size_t)s->a.nz);
    int32_t *y = s->a.num_classes ? malloc(sizeof(int32_t) * GEN_CHUNK) : NULL;
    if (!out->x || !z || (s->a.num_classes && !y)) {
        free(z);
        free(y);
        snprintf(err, len, "out of memory for %lld images", (long long)n);
        return CG_ERR_NOMEM;
    }
    cg_rng r;
    cg_rng_init(&r, seed, SAMPLE_EVAL_GAN_STREAM);
    cg_status st = CG_OK;
    for (int64_t at = 0; at < n && st == CG_OK; at += GEN_CHUNK) {
        int k = (int)(n - at < GEN_CHUNK ? n - at : GEN_CHUNK);
        cg_rng_normal(&r, z, (int64_t)k * s->a.nz, 0.0, 1.0);
        for (int i = 0; y && i < k; i++)
            y[i] = (int32_t)((at + i) % s->a.num_classes);
        st = generate_into(s, z, y, k, 0, out->x + at * P, err, len);
    }
    free(z);
    free(y);
    out->n = n, out->c = s->a.nc, out->h = out->w = s->a.image_size;
    return st;
}

static void free_sampler(void *self)
{
    dcgan_sampler *s = self;
    if (s->loaded)
        cg_dcgan_free(&s->m);
}

#define F(field) offsetof(dcgan_sample_flags, field)
static const cg_flag flags[] = {
    {"interpolate", CG_FLAG_BOOL, F(interpolate), NULL, 0, 0, NULL,
     "rows of 8 along straight lines between random latent points (--n a multiple of 8)",
     NULL},
    {"bn", CG_FLAG_CHOICE, F(bn), "batch", 0, 0, "batch|running",
     "batchnorm with the batch's statistics (as the example samples) or the running ones",
     NULL},
    {"class", CG_FLAG_INT, F(klass), "-1", -1, CG_DCGAN_MAX_CLASSES - 1, "K",
     "a conditional generator: every image of class K (default: a row of 8 per class)",
     NULL},
    {"attrs", CG_FLAG_STR, F(attrs), NULL, 0, 0, "NAME=0|1,..",
     "a generator trained with --attrs: those attribute values, the others both (a row of 8 "
     "per class)", NULL},
};
#undef F

const cg_sampler cg_sampler_dcgan = {
    .a = "a DCGAN generator", .these = "DCGAN generators", .models = "DCGAN generators",
    .recognise = recognise, .fallback = 1, .settings_size = sizeof(dcgan_sample_flags),
    .flags = flags, .nflags = sizeof flags / sizeof flags[0], .check = check,
    .state_size = sizeof(dcgan_sampler), .load = load, .sample = sample,
    .generate = generate, .free = free_sampler,
};
