/*
 * vae_sample.c: a VAE as `cugen sample` and `cugen eval` see it
 * (cugen/sampler.h): either architecture, from a run directory, its
 * checkpoint or vae.safetensors (also one PyTorch wrote from the article's
 * module), recognised by the encoder's names. Pictures are pixel means of
 * decoded latents.
 *
 *   sample    --n decodings of h ~ N(0, I) (of --seed), 8 per row;
 *             --interpolate: rows of 8 on straight lines between two random
 *             latent points (the DCGAN's latents); --traverse: one row per
 *             latent dimension (at most MAX_ROWS), that dimension swept over
 *             [-3, 3] in TRAVERSE_STEPS steps, the others fixed at one draw
 *             from the prior
 *   generate  decodings of h ~ N(0, I) in chunks of GEN_CHUNK
 *   metrics   elbo (one posterior sample per image) and nll (importance-
 *             weighted, --k samples) on a data set, in nats per image, on
 *             the model's device; eval --out DIR: its pictures (vae_pictures.c)
 *
 * Sampling and generating run on the CPU: a grid is a few hundred decodings.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/rng.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"
#include "cugen/train.h"
#include "cugen/vae.h"
#include "models/sample_util.h"

#define TRAVERSE_STEPS 11
#define MAX_ROWS 64
#define GEN_CHUNK 500   /* eval's images decoded at a time */
#define NLL_K 1000      /* --k when not given */

typedef struct {
    int interpolate, traverse;  /* sample */
    int64_t k;                  /* eval: 0 when not given (NLL_K) */
} vae_settings;

typedef struct {
    cg_vae m;
    int loaded;
} vae_sampler;

static int recognise(const char *path)
{
    return cg_vae_is_checkpoint(path);
}

static cg_status check(const void *settings, const cg_sample_opts *o, char *err, size_t len)
{
    const vae_settings *f = settings;
    if (f->traverse && o->n_given) {
        snprintf(err, len, "--n does not apply to --traverse (one row per latent dimension)");
        return CG_ERR_ARG;
    }
    if (f->traverse && f->interpolate) {
        snprintf(err, len, "--traverse and --interpolate exclude each other");
        return CG_ERR_ARG;
    }
    return sample_rows_check(f->interpolate, o->n, err, len);
}

static cg_status load(void *self, const char *path, cg_device dev, char *err, size_t len)
{
    vae_sampler *s = self;
    cg_status st = cg_vae_load(path, &s->m, err, len);
    if (st != CG_OK)
        return st;
    s->loaded = 1;
    char why[1024];
    if (dev == CG_CUDA && (st = cg_vae_to_device(&s->m, CG_CUDA, why, sizeof why)) != CG_OK)
        snprintf(err, len, "parameters to the GPU: %s", why);
    return st;
}

/* The images' channels and side: the MLP knows only its input size, taken
 * as square gray images (28 x 28 for the article) */
static cg_status image_shape(const vae_sampler *s, const char *path, int *C, int *S, char *err,
                             size_t len)
{
    *C = s->m.a.channels, *S = s->m.a.size;
    if (s->m.a.kind != CG_VAE_MLP)
        return CG_OK;
    *C = 1;
    *S = sample_side_of(s->m.a.x_dim);
    if (*S)
        return CG_OK;
    snprintf(err, len, "%s: an MLP VAE of %d inputs is not a square gray image", path,
             s->m.a.x_dim);
    return CG_ERR_ARG;
}

static cg_status sample(void *self, const void *settings, const cg_sample_opts *o,
                        cg_samples *out, char *err, size_t len)
{
    const vae_settings *f = settings;
    vae_sampler *s = self;
    int C, S, L = s->m.a.latent, rows = L < MAX_ROWS ? L : MAX_ROWS;
    cg_status st = image_shape(s, o->path, &C, &S, err, len);
    if (st != CG_OK)
        return st;
    int n = f->traverse ? rows * TRAVERSE_STEPS : o->n;
    out->z = malloc(sizeof(real) * (size_t)(n + 1) * L);  /* one more row: the base */
    out->x = malloc(sizeof(real) * (size_t)n * s->m.a.x_dim);
    cg_ctx ctx;
    if (!out->z || !out->x || cg_ctx_init(&ctx) != CG_OK) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    if (f->traverse) {
        real *base = out->z + (size_t)n * L;  /* one draw from the prior, after the rows */
        cg_rng r;
        cg_rng_init(&r, o->seed, CG_SAMPLE_STREAM);
        cg_rng_normal(&r, base, L, 0.0, 1.0);
        cg_vae_traversal_latents(out->z, rows, TRAVERSE_STEPS, L, base);
    } else {
        st = sample_latents(out->z, n, L, o->seed, f->interpolate, err, len);
    }
    cg_set_grad(&ctx, 0);
    if (st == CG_OK && (st = cg_vae_decode_images(&ctx, &s->m, out->z, n, out->x)) != CG_OK)
        st = sample_failed(&ctx, err, len);
    cg_ctx_free(&ctx);
    if (st != CG_OK)
        return st;
    out->n = n, out->c = C, out->h = out->w = S;
    out->per_row = f->traverse ? TRAVERSE_STEPS : CG_SAMPLE_PER_ROW;
    out->nz = (int64_t)n * L;
    const char *what = f->traverse      ? "latent traversals"
                       : f->interpolate ? "images on straight latent lines"
                                        : "samples";
    int k = snprintf(out->what, sizeof out->what, "%d %s of %s VAE (%s pixels, latent %d, "
                     "%dx%dx%d) from %s, seed %llu", n, what,
                     s->m.a.kind == CG_VAE_CONV ? "a conv" : "an MLP",
                     s->m.a.lik == CG_VAE_GAUSSIAN ? "Gaussian" : "Bernoulli", L, C, S, S,
                     o->path, (unsigned long long)o->seed);
    if (f->traverse && rows < L && k > 0 && (size_t)k < sizeof out->what)
        snprintf(out->what + k, sizeof out->what - (size_t)k,
                 "\n  the first %d of %d latent dimensions", rows, L);
    return CG_OK;
}

static cg_status generate(void *self, const void *settings, int64_t n, uint64_t seed,
                          cg_image_set *out, char *err, size_t len)
{
    vae_sampler *s = self;
    int C, S, L = s->m.a.latent;
    cg_status st = image_shape(s, "the VAE", &C, &S, err, len);
    if (st != CG_OK)
        return st;
    int64_t P = s->m.a.x_dim;
    real *h;
    cg_ctx ctx;
    if ((st = sample_gen_alloc(out, n, P, &h, (int64_t)GEN_CHUNK * L, &ctx, err, len)) != CG_OK)
        return st;
    cg_rng r;
    cg_rng_init(&r, seed, SAMPLE_EVAL_STREAM);
    cg_set_grad(&ctx, 0);
    for (int64_t at = 0; at < n && st == CG_OK; at += GEN_CHUNK) {
        int k = (int)(n - at < GEN_CHUNK ? n - at : GEN_CHUNK);
        cg_rng_normal(&r, h, (int64_t)k * L, 0.0, 1.0);
        if ((st = cg_vae_decode_images(&ctx, &s->m, h, k, out->x + at * P)) != CG_OK)
            st = sample_failed(&ctx, err, len);
        cg_ctx_step_end(&ctx);
    }
    cg_ctx_free(&ctx);
    free(h);
    out->n = n, out->c = C, out->h = out->w = S;
    return st;
}

static cg_status eval_check(const void *settings, const cg_eval_opts *o, char *err, size_t len)
{
    const vae_settings *f = settings;
    if (f->k && strcmp(o->metric, "nll") != 0) {
        snprintf(err, len, "--k is for --metric nll");
        return CG_ERR_ARG;
    }
    return CG_OK;
}

/* the side S with x_dim = channels S S, or 0 */
static int square_side(int x_dim, int channels)
{
    if (channels < 1 || x_dim % channels)
        return 0;
    return sample_side_of(x_dim / channels);
}

/* o's data at the size the VAE was trained at */
static cg_status open_data(const vae_sampler *s, const cg_eval_opts *o, cg_dataset *ds,
                           char *err, size_t len)
{
    cg_data_spec spec = o->data;
    spec.size = s->m.a.kind == CG_VAE_CONV ? s->m.a.size : 0;
    cg_status st = cg_dataset_open(&spec, ds, err, len);
    int side = st == CG_OK ? square_side(s->m.a.x_dim, ds->channels) : 0;
    if (st == CG_OK && side && side != ds->height) {
        /* an MLP trained on resized images (--image-size): the same size here */
        cg_dataset_free(ds);
        spec.size = side;
        st = cg_dataset_open(&spec, ds, err, len);
    }
    return st;
}

static cg_status evaluate(void *self, const void *settings, const cg_eval_opts *o,
                          char *report, size_t rlen, char *err, size_t len)
{
    const vae_settings *f = settings;
    vae_sampler *s = self;
    cg_dataset ds;
    cg_status st = open_data(s, o, &ds, err, len);
    if (st != CG_OK)
        return st;
    int iw = strcmp(o->metric, "nll") == 0 ? (int)(f->k ? f->k : NLL_K) : 0;
    cg_vae_eval ev;
    st = cg_vae_evaluate(&s->m, &ds, o->n, iw, o->seed, &ev, err, len);
    if (st == CG_OK && o->out && (st = cg_mkdirs(o->out, err, len)) == CG_OK)
        st = cg_vae_pictures(&s->m, &ds, o->out, o->seed, err, len);
    if (st == CG_OK) {
        const cg_vae_arch *a = &s->m.a;
        int k = snprintf(report, rlen, "%s, %lld images of %dx%dx%d; %s VAE (%s pixels, latent "
                         "%d) from %s\n  ELBO %.4f nats per image (rec %.4f, kl %.4f)\n",
                         ds.name, (long long)ev.images, ds.channels, ds.height, ds.width,
                         a->kind == CG_VAE_CONV ? "conv" : "MLP",
                         a->lik == CG_VAE_GAUSSIAN ? "Gaussian" : "Bernoulli", a->latent,
                         o->path, ev.elbo, ev.rec, ev.kl);
        if (iw && k > 0 && (size_t)k < rlen)
            k += snprintf(report + k, rlen - (size_t)k, "  NLL %.4f nats per image "
                          "(importance-weighted, k = %d)\n", ev.nll, ev.k);
        if (o->out && k > 0 && (size_t)k < rlen)
            snprintf(report + k, rlen - (size_t)k, "  pictures in %s\n", o->out);
    }
    cg_dataset_free(&ds);
    return st;
}

static void free_sampler(void *self)
{
    vae_sampler *s = self;
    if (s->loaded)
        cg_vae_free(&s->m);
}

#define F(field) offsetof(vae_settings, field)
static const cg_flag flags[] = {
    {"interpolate", CG_FLAG_BOOL, F(interpolate), NULL, 0, 0, NULL,
     "rows of 8 along straight lines between random latent points (--n a multiple of 8)",
     NULL},
    {"traverse", CG_FLAG_BOOL, F(traverse), NULL, 0, 0, NULL,
     "one row per latent dimension swept over [-3, 3], the others fixed", NULL},
};
static const cg_flag eval_flags[] = {
    {"k", CG_FLAG_INT, F(k), NULL, 1, 1e6, "N",
     "nll: importance samples per image (default 1000)", NULL},
};
#undef F

static const cg_metric metrics[] = {
    {"elbo", "VAE: the evidence lower bound on the test set, nats per image", 1},
    {"nll", "VAE: importance-weighted -log p(x) (--k samples), nats per image", 1},
};

const cg_sampler cg_sampler_vae = {
    .a = "a VAE", .these = "VAE checkpoints", .models = "VAEs", .recognise = recognise,
    .settings_size = sizeof(vae_settings), .flags = flags,
    .nflags = sizeof flags / sizeof flags[0], .check = check,
    .state_size = sizeof(vae_sampler), .load = load, .sample = sample, .generate = generate,
    .metrics = metrics, .nmetrics = sizeof metrics / sizeof metrics[0],
    .eval_flags = eval_flags, .neval_flags = 1, .eval_check = eval_check, .pictures = 1,
    .evaluate = evaluate, .free = free_sampler,
};
