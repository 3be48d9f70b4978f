/*
 * ebm_sample.c: an energy-based model (cugen train ebm) as `cugen sample`
 * sees it (cugen/sampler.h): from a run directory or its ebm.safetensors,
 * the network read from the tensor names and shapes; n chains from uniform
 * noise moved by --langevin-steps Langevin steps (the flags of training's
 * names, defaults those of the run's pictures). Images for the image
 * models, points for a toy set's (an MLP on 2 inputs).
 *
 * The conv energy's image side is not in its weights: a run directory's
 * checkpoint gives it (its replay buffer's shape); a bare weights file is
 * taken as 28x28 for one channel, 32x32 for three.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/ebm.h"
#include "cugen/ops.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"
#include "models/sample_util.h"

#define FILE_NAME "ebm.safetensors"

typedef struct {
    int64_t steps;
    double step_size, noise, clip;
} ebm_sample_flags;

typedef struct {
    cg_ebm m;
    int loaded;
} ebm_sampler;

static int recognise(const char *path)
{
    cg_st_file f;
    if (!sample_open(path, FILE_NAME, &f))
        return 0;
    int yes = cg_st_find(&f, "net.4.weight") || cg_st_find(&f, "cnn_layers.11.weight");
    cg_st_free(&f);
    return yes;
}

/* The side of the conv energy's images from the run's checkpoint, or 0 */
static int side_from_run(const char *path)
{
    cg_st_file f;
    if (!sample_open(path, "checkpoint.safetensors", &f))
        return 0;
    const cg_st_tensor *t = cg_st_find(&f, "replay.x");
    int side = t && t->ndim == 4 ? (int)t->shape[2] : 0;
    cg_st_free(&f);
    return side;
}

static int square_side(int64_t n)
{
    int s = (int)lround(sqrt((double)n));
    return (int64_t)s * s == n ? s : 0;
}

static cg_status load(void *self, const char *path, cg_device dev, char *err, size_t len)
{
    ebm_sampler *s = self;
    char file[4096], why[512];
    cg_st_file f;
    cg_status st = cg_st_load_run(&f, path, FILE_NAME, file, sizeof file, err, len);
    if (st != CG_OK)
        return st;
    cg_ebm_arch a = {0};
    const cg_st_tensor *mlp = cg_st_find(&f, "net.0.weight");
    const cg_st_tensor *cnn = cg_st_find(&f, "cnn_layers.0.weight");
    if (mlp && mlp->ndim == 2) {
        int64_t D = mlp->shape[1];
        a.net = CG_EBM_MLP, a.hidden = (int)mlp->shape[0];
        if (D == 2)
            a.channels = 2, a.height = a.width = 1;
        else if (square_side(D))
            a.channels = 1, a.height = a.width = square_side(D);
        else if (D % 3 == 0 && square_side(D / 3))
            a.channels = 3, a.height = a.width = square_side(D / 3);
    } else if (cnn && cnn->ndim == 4) {
        int side = side_from_run(path);
        a.net = CG_EBM_CNN, a.hidden = 2 * (int)cnn->shape[0], a.channels = (int)cnn->shape[1];
        a.height = a.width = side ? side : a.channels == 1 ? 28 : 32;
    }
    cg_st_free(&f);
    if (a.channels == 0) {
        snprintf(err, len, "%s: not an energy-based model's weights (no net.0.weight of C*S*S "
                 "or 2 inputs, no cnn_layers.0.weight)", file);
        return CG_ERR_ARG;
    }
    if ((st = cg_ebm_build(&s->m, &a, 0, 1, why, sizeof why)) != CG_OK) {
        snprintf(err, len, "%s: %s", file, why);
        return st;
    }
    s->loaded = 1;
    if ((st = cg_weights_load_part(file, &s->m.p, "E.", err, len)) != CG_OK)
        return st;
    if (dev == CG_CUDA && (st = cg_params_to_device(&s->m.p, why, sizeof why)) != CG_OK)
        snprintf(err, len, "parameters to the GPU: %s", why);
    return st;
}

static cg_status sample(void *self, const void *settings, const cg_sample_opts *o,
                        cg_samples *out, char *err, size_t len)
{
    ebm_sampler *s = self;
    const ebm_sample_flags *f = settings;
    const cg_ebm_arch *a = &s->m.a;
    int n = o->n, points = a->channels == 2 && a->height == 1;
    double box = points ? 3.0 : 1.0;   /* the chains' range in training */
    cg_langevin l = {.steps = (int)f->steps, .step_size = f->step_size, .noise = f->noise,
                     .clip = f->clip, .lo = -box, .hi = box};
    cg_ctx ctx, chains;
    if (cg_ctx_init(&ctx) != CG_OK || cg_ctx_init(&chains) != CG_OK) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    cg_rng init, noise;
    cg_rng_init(&init, o->seed, CG_SAMPLE_STREAM);
    cg_rng_init(&noise, o->seed, CG_SAMPLE_STREAM + 1);
    cg_tensor *x = cg_new_on(&ctx, o->device, CG_SHAPE(n, a->channels, a->height, a->width));
    cg_status st = CG_OK;
    if (x && cg_rng_fill_uniform(&init, x, l.lo, l.hi) != CG_OK)
        cg_fail(&ctx, CG_ERR_CUDA, "ebm: noise could not be drawn");
    if (!cg_ok(&ctx))
        st = sample_failed(&ctx, err, len);
    else if (cg_ebm_langevin(&chains, &s->m, x, &l, &noise, NULL) != CG_OK)
        st = sample_failed(&chains, err, len);
    real *host = st == CG_OK ? malloc(sizeof(real) * (size_t)x->n) : NULL;
    if (st == CG_OK && !host) {
        snprintf(err, len, "out of memory");
        st = CG_ERR_NOMEM;
    }
    if (st == CG_OK && cg_copy_to_host(&ctx, host, x) != CG_OK)
        st = sample_failed(&ctx, err, len);
    cg_ctx_free(&chains);
    cg_ctx_free(&ctx);
    if (st != CG_OK) {
        free(host);
        return st;
    }
    out->x = host, out->n = n, out->points = points;
    out->c = a->channels, out->h = a->height, out->w = a->width;
    out->per_row = CG_SAMPLE_PER_ROW;
    snprintf(out->what, sizeof out->what, "%d %s of an EBM (%s) from %s: %d Langevin steps of "
             "%g from uniform noise, seed %llu", n, points ? "points" : "samples",
             a->net == CG_EBM_CNN ? "conv energy" : "MLP energy", o->path, l.steps, l.step_size,
             (unsigned long long)o->seed);
    return CG_OK;
}

static void free_sampler(void *self)
{
    ebm_sampler *s = self;
    if (s->loaded)
        cg_ebm_free(&s->m);
}

#define F(field) offsetof(ebm_sample_flags, field)
static const cg_flag flags[] = {
    {"langevin-steps", CG_FLAG_INT, F(steps), "256", 1, 1e6, "N",
     "Langevin steps from uniform noise", NULL},
    {"step-size", CG_FLAG_REAL, F(step_size), "10", 0, 1e6, "S",
     "Langevin step: x -= S clip(dE/dx)", NULL},
    {"langevin-noise", CG_FLAG_REAL, F(noise), "0.005", 0, 100, "SIGMA",
     "std of the noise of each Langevin step", NULL},
    {"grad-clip", CG_FLAG_REAL, F(clip), "0.03", 1e-12, 1e6, "C",
     "dE/dx clipped to [-C, C] per element", NULL},
};
#undef F

const cg_sampler cg_sampler_ebm = {
    .a = "an energy-based model", .these = "EBM runs", .models = "EBMs",
    .recognise = recognise, .gpu = 1, .settings_size = sizeof(ebm_sample_flags),
    .flags = flags, .nflags = sizeof flags / sizeof flags[0],
    .state_size = sizeof(ebm_sampler), .load = load, .sample = sample, .free = free_sampler,
};
