/*
 * ddpm_sample.c: a DDPM checkpoint as `cugen sample` and `cugen eval` see it
 * (cugen/sampler.h): the UNet's EMA weights and the schedule, from a run
 * directory or its checkpoint.safetensors, recognised by the tensors
 * temb.dense.0.weight and conv_in.weight.
 *
 *   sample    n images from x_T ~ N(0, I) (of --seed) by DDIM (eta 0,
 *             --ddim-steps) or the ancestral sampler over all T steps (--sampler
 *             ddpm), x_0's prediction clipped to [-1, 1] at every step unless
 *             --no-clip; --progress: one row per image, the chain from x_T to
 *             x_0 at PROGRESS_FRAMES evenly spaced points; --dump's z is x_T
 *   generate  DDIM with the source flag --ddim-steps, in chunks of 64
 *
 * On the GPU when the command puts it there (the same x_T; the samples
 * agree with the CPU's to float rounding).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/ddpm.h"
#include "cugen/io.h"
#include "cugen/rng.h"
#include "cugen/sampler.h"
#include "models/sample_util.h"

#define PROGRESS_FRAMES 10
#define DDIM_STEPS 50   /* --ddim-steps when not given */
#define GEN_CHUNK 64    /* eval's images sampled at a time */

typedef struct {
    const char *sampler;
    int64_t ddim_steps;   /* 0: not given (DDIM_STEPS) */
    int progress, no_clip;
} ddpm_sample_flags;

typedef struct {
    cg_unet m;
    cg_ddpm_sched s;
    cg_device dev;
    int loaded;
} ddpm_sampler;

static int recognise(const char *path)
{
    return cg_ddpm_is_checkpoint(path);
}

static cg_status check(const void *settings, const cg_sample_opts *o, char *err, size_t len)
{
    const ddpm_sample_flags *f = settings;
    if (f->ddim_steps && strcmp(f->sampler, "ddpm") == 0) {
        snprintf(err, len, "--ddim-steps sets DDIM's steps; --sampler ddpm takes all T");
        return CG_ERR_ARG;
    }
    return CG_OK;
}

static cg_status load(void *self, const char *path, cg_device dev, char *err, size_t len)
{
    ddpm_sampler *s = self;
    cg_status st = cg_ddpm_load(path, &s->m, &s->s, 1, err, len);
    if (st != CG_OK)
        return st;
    s->loaded = 1;
    s->dev = dev;
    char why[1024];
    if (dev == CG_CUDA && (st = cg_params_to_device(&s->m.p, why, sizeof why)) != CG_OK)
        snprintf(err, len, "parameters to the GPU: %s", why);
    return st;
}

static cg_status steps_check(const ddpm_sampler *s, int steps, char *err, size_t len)
{
    if (steps <= s->s.T)
        return CG_OK;
    snprintf(err, len, "--ddim-steps %d: the model has only %d timesteps", steps, s->s.T);
    return CG_ERR_ARG;
}

/* frames [f][i] -> grid order [i][f] (one row per image) */
static void rows_of_frames(real *dst, const real *frames, int n, int nf, int64_t img)
{
    for (int f = 0; f < nf; f++)
        for (int i = 0; i < n; i++)
            memcpy(dst + ((size_t)i * nf + f) * img, frames + ((size_t)f * n + i) * img,
                   sizeof(real) * (size_t)img);
}

static cg_status sample(void *self, const void *settings, const cg_sample_opts *o,
                        cg_samples *out, char *err, size_t len)
{
    const ddpm_sample_flags *f = settings;
    ddpm_sampler *s = self;
    int ancestral = strcmp(f->sampler, "ddpm") == 0, clip = !f->no_clip, n = o->n;
    int steps = f->ddim_steps ? (int)f->ddim_steps : DDIM_STEPS;
    cg_status st = ancestral ? CG_OK : steps_check(s, steps, err, len);
    if (st != CG_OK)
        return st;
    int C = s->m.a.in_ch, S = s->m.a.image_size, nf = f->progress ? PROGRESS_FRAMES : 0;
    int64_t img = (int64_t)C * S * S;
    real *x = malloc(sizeof(real) * (size_t)(n * img));
    real *frames = nf ? malloc(sizeof(real) * (size_t)(n * img * nf)) : NULL;
    out->z = malloc(sizeof(real) * (size_t)(n * img));
    cg_ctx ctx;
    if (!x || !out->z || (nf && !frames) || cg_ctx_init(&ctx) != CG_OK) {
        free(x);
        free(frames);
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    cg_rng r;
    cg_rng_init(&r, o->seed, CG_SAMPLE_STREAM);
    cg_rng_normal(&r, x, n * img, 0.0, 1.0);
    memcpy(out->z, x, sizeof(real) * (size_t)(n * img));
    double t0 = cg_monotonic_seconds();
    st = cg_ddpm_sample(&ctx, &s->m, &s->s, x, n, ancestral ? 0 : steps, clip, &r, frames, nf,
                        err, len);
    double secs = cg_monotonic_seconds() - t0;
    cg_ctx_free(&ctx);
    out->nz = n * img;
    out->c = C, out->h = out->w = S;
    if (st == CG_OK && nf) {
        real *grid = malloc(sizeof(real) * (size_t)(n * img * nf));
        if (!grid) {
            snprintf(err, len, "out of memory");
            st = CG_ERR_NOMEM;
        } else {
            rows_of_frames(grid, frames, n, nf, img);
            out->x = grid, out->n = (int64_t)n * nf, out->per_row = nf;
            out->raw = x, out->nraw = n * img;
            x = NULL;
        }
    } else if (st == CG_OK) {
        out->x = x, out->n = n, out->per_row = CG_SAMPLE_PER_ROW;
        x = NULL;
    }
    free(x);
    free(frames);
    if (st != CG_OK)
        return st;
    char how[64];
    if (ancestral)
        snprintf(how, sizeof how, "ancestral DDPM, %d steps", s->s.T);
    else
        snprintf(how, sizeof how, "DDIM, %d steps, eta 0", steps);
    snprintf(out->what, sizeof out->what, "%d %s of a %dx%d DDPM (ch %d, %d channel%s) from "
             "%s, EMA weights, %s, x_0 %s, seed %llu, %.2f s on the %s", n,
             nf ? "denoising chains" : "samples", S, S, s->m.a.ch, C, C == 1 ? "" : "s",
             o->path, how, clip ? "clipped" : "not clipped", (unsigned long long)o->seed, secs,
             s->dev == CG_CUDA ? "GPU" : "CPU");
    return CG_OK;
}

static cg_status generate(void *self, const void *settings, int64_t n, uint64_t seed,
                          cg_image_set *out, char *err, size_t len)
{
    const ddpm_sample_flags *f = settings;
    ddpm_sampler *s = self;
    int steps = (int)f->ddim_steps;
    cg_status st = steps_check(s, steps, err, len);
    if (st != CG_OK)
        return st;
    int64_t P = (int64_t)s->m.a.in_ch * s->m.a.image_size * s->m.a.image_size;
    cg_ctx ctx;
    if ((st = sample_gen_alloc(out, n, P, NULL, 0, &ctx, err, len)) != CG_OK)
        return st;
    cg_rng r;
    cg_rng_init(&r, seed, SAMPLE_EVAL_STREAM);
    double t0 = cg_monotonic_seconds();
    for (int64_t at = 0; at < n && st == CG_OK; at += GEN_CHUNK) {
        int k = (int)(n - at < GEN_CHUNK ? n - at : GEN_CHUNK);
        real *x = out->x + at * P;
        cg_rng_normal(&r, x, (int64_t)k * P, 0.0, 1.0);
        st = cg_ddpm_sample(&ctx, &s->m, &s->s, x, k, steps, 1, &r, NULL, 0, err, len);
        sample_progress("ddpm", at + k, n, t0);
    }
    cg_ctx_free(&ctx);
    out->n = n, out->c = s->m.a.in_ch, out->h = out->w = s->m.a.image_size;
    return st;
}

static void free_sampler(void *self)
{
    ddpm_sampler *s = self;
    if (s->loaded) {
        cg_unet_free(&s->m);
        cg_ddpm_sched_free(&s->s);
    }
}

#define F(field) offsetof(ddpm_sample_flags, field)
static const cg_flag flags[] = {
    {"sampler", CG_FLAG_CHOICE, F(sampler), "ddim", 0, 0, "ddim|ddpm",
     "DDIM (eta 0, --ddim-steps) or ancestral over all T steps", NULL},
    {"ddim-steps", CG_FLAG_INT, F(ddim_steps), NULL, 1, 100000, "N",
     "DDIM steps (default 50)", NULL},
    {"progress", CG_FLAG_BOOL, F(progress), NULL, 0, 0, NULL,
     "one row per image, the denoising chain from noise to image", NULL},
    {"no-clip", CG_FLAG_BOOL, F(no_clip), NULL, 0, 0, NULL,
     "do not clip each step's prediction of x_0 to [-1, 1]", NULL},
};
static const cg_flag source_flags[] = {
    {"ddim-steps", CG_FLAG_INT, F(ddim_steps), "50", 1, 1e6, "N",
     "a DDPM source: DDIM steps per image", NULL},
};
#undef F

const cg_sampler cg_sampler_ddpm = {
    .a = "a DDPM checkpoint", .these = "DDPM checkpoints", .recognise = recognise, .gpu = 1,
    .settings_size = sizeof(ddpm_sample_flags), .flags = flags,
    .nflags = sizeof flags / sizeof flags[0], .check = check,
    .state_size = sizeof(ddpm_sampler), .load = load, .sample = sample,
    .source_flags = source_flags, .nsource_flags = 1, .generate = generate,
    .free = free_sampler,
};
