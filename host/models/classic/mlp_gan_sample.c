/*
 * mlp_gan_sample.c: the lecture notes' MLP GAN as `cugen sample` and
 * `cugen eval` see it (cugen/sampler.h): G from a run directory (its
 * G.safetensors, and the noise kind from its checkpoint) or a
 * G.safetensors, recognised by fc_g0.weight; z drawn as trained (U[-1, 1]
 * or N(0, I)). Images are square and gray (28 x 28 for the notes).
 *
 *   sample    --n images, 8 per row
 *   generate  z from the seed's eval stream, GEN_CHUNK images at a time
 *
 * Runs on the CPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/rng.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"
#include "models/sample_util.h"

#define GEN_CHUNK 1000

typedef struct {
    cg_mlp_gan m;
    int loaded;
} mlp_gan_sampler;

static int recognise(const char *path)
{
    return sample_holds(path, "G.safetensors", "fc_g0.weight", NULL);
}

static cg_status load(void *self, const char *path, cg_device dev, char *err, size_t len)
{
    mlp_gan_sampler *s = self;
    cg_status st = cg_mlp_gan_load_generator(path, &s->m, err, len);
    s->loaded = st == CG_OK;
    return st;
}

/* G(z) for k draws of r into x (k, P) */
static cg_status draw(mlp_gan_sampler *s, cg_rng *r, int k, real *z, real *x, char *err,
                      size_t len)
{
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    cg_mlp_gan_noise(&s->m, r, z, (int64_t)k * s->m.a.nz);
    cg_set_grad(&ctx, 0);
    cg_tensor *y = cg_mlp_gan_generate(&ctx, &s->m, cg_wrap(&ctx, z, CG_SHAPE(k, s->m.a.nz)));
    return sample_take(&ctx, y, x, err, len);
}

static cg_status sample(void *self, const void *settings, const cg_sample_opts *o,
                        cg_samples *out, char *err, size_t len)
{
    mlp_gan_sampler *s = self;
    const cg_mlp_gan_arch *a = &s->m.a;
    int n = o->n, S = sample_side_of(a->npix);
    if (!S) {
        snprintf(err, len, "%s: the generator's %d pixels are not a square image", o->path,
                 a->npix);
        return CG_ERR_ARG;
    }
    out->z = malloc(sizeof(real) * (size_t)n * a->nz);
    out->x = malloc(sizeof(real) * (size_t)n * a->npix);
    if (!out->z || !out->x) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    cg_rng r;
    cg_rng_init(&r, o->seed, CG_SAMPLE_STREAM);
    cg_status st = draw(s, &r, n, out->z, out->x, err, len);
    if (st != CG_OK)
        return st;
    out->n = n, out->c = 1, out->h = out->w = S, out->per_row = CG_SAMPLE_PER_ROW;
    out->nz = (int64_t)n * a->nz;
    snprintf(out->what, sizeof out->what, "%d samples of an MLP GAN (z %d, %s noise, %d "
             "hidden) from %s, seed %llu", n, a->nz, a->noise_normal ? "normal" : "uniform",
             a->hidden, o->path, (unsigned long long)o->seed);
    return CG_OK;
}

static cg_status generate(void *self, const void *settings, int64_t n, uint64_t seed,
                          cg_image_set *out, char *err, size_t len)
{
    mlp_gan_sampler *s = self;
    int P = s->m.a.npix, S = sample_side_of(P);
    real *z;
    cg_status st = sample_gen_alloc(out, n, P, &z, (int64_t)GEN_CHUNK * s->m.a.nz, NULL, err,
                                    len);
    if (st != CG_OK)
        return st;
    cg_rng r;
    cg_rng_init(&r, seed, SAMPLE_EVAL_GAN_STREAM);
    for (int64_t at = 0; at < n && st == CG_OK; at += GEN_CHUNK) {
        int k = (int)(n - at < GEN_CHUNK ? n - at : GEN_CHUNK);
        st = draw(s, &r, k, z, out->x + at * P, err, len);
    }
    free(z);
    /* gray images, square when the pixels are (else one row) */
    out->n = n, out->c = 1, out->h = S ? S : 1, out->w = S ? S : P;
    return st;
}

static void free_sampler(void *self)
{
    mlp_gan_sampler *s = self;
    if (s->loaded)
        cg_mlp_gan_free(&s->m);
}

const cg_sampler cg_sampler_mlp_gan = {
    .a = "an MLP GAN", .these = "MLP GAN runs", .models = "MLP GANs", .recognise = recognise,
    .state_size = sizeof(mlp_gan_sampler), .load = load, .sample = sample,
    .generate = generate, .free = free_sampler,
};
