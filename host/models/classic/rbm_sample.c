/*
 * rbm_sample.c: the RBM as `cugen sample` sees it (cugen/sampler.h): W,
 * v_bias and h_bias from a run directory or its rbm.safetensors (the
 * persistent chains are not needed); n Gibbs chains from uniform random
 * binary images, --gibbs steps each, shown as the last step's p(v | h), as
 * the training run's samples.png. Runs on the CPU; it draws no images for
 * eval (a chain of 1000 steps per image).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/rng.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"
#include "models/sample_util.h"

typedef struct {
    int64_t gibbs;
} rbm_sample_flags;

typedef struct {
    cg_rbm m;
    int loaded;
} rbm_sampler;

static int recognise(const char *path)
{
    return sample_holds(path, "rbm.safetensors", "v_bias", NULL);
}

static cg_status load(void *self, const char *path, cg_device dev, char *err, size_t len)
{
    rbm_sampler *s = self;
    char file[4096];
    cg_st_file f;
    cg_status st = cg_st_load_run(&f, path, "rbm.safetensors", file, sizeof file, err, len);
    if (st != CG_OK)
        return st;
    const cg_st_tensor *w = cg_st_find(&f, "W");
    int two = w && w->ndim == 2, nh = two ? (int)w->shape[0] : 0, nv = two ? (int)w->shape[1] : 0;
    cg_st_free(&f);
    if (nh < 1 || nv < 1) {
        snprintf(err, len, "%s: no RBM weight W (hidden, visible)", file);
        return CG_ERR_ARG;
    }
    char why[512];
    st = cg_rbm_build(&s->m, nv, nh, 0, why, sizeof why);
    s->loaded = st == CG_OK;
    return sample_weights(st, why, file, &s->m.p, err, len);
}

static cg_status sample(void *self, const void *settings, const cg_sample_opts *o,
                        cg_samples *out, char *err, size_t len)
{
    const rbm_sample_flags *f = settings;
    rbm_sampler *s = self;
    cg_rbm *m = &s->m;
    int n = o->n, S = sample_side_of(m->nv), steps = (int)f->gibbs;
    if (!S) {
        snprintf(err, len, "%s: the RBM's %d visible units are not a square image", o->path,
                 m->nv);
        return CG_ERR_ARG;
    }
    int64_t nv = (int64_t)n * m->nv;
    real *v = malloc(sizeof(real) * (size_t)nv);
    cg_ctx ctx;
    if (!v || cg_ctx_init(&ctx) != CG_OK) {
        free(v);
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    cg_rng r;
    cg_rng_init(&r, o->seed, CG_SAMPLE_STREAM);
    cg_rng_uniform(&r, v, nv);
    for (int64_t i = 0; i < nv; i++)
        v[i] = v[i] < 0.5 ? 0 : 1;
    cg_set_grad(&ctx, 0);
    cg_tensor *pv = NULL;
    for (int t = 0; t < steps; t++) {
        cg_tensor *ph = cg_rbm_hidden_probs(&ctx, m, cg_wrap(&ctx, v, CG_SHAPE(n, m->nv)), 1.0);
        if (ph)
            cg_rbm_bernoulli(&r, ph->data, ph->data, ph->n);
        pv = ph ? cg_rbm_visible_probs(&ctx, m, ph, 1.0, NULL) : NULL;
        if (!pv)
            break;
        if (t + 1 < steps) {
            cg_rbm_bernoulli(&r, pv->data, v, pv->n);
            cg_ctx_step_end(&ctx);
        }
    }
    cg_status st = sample_take_copy(&ctx, pv, &out->x, err, len);
    free(v);
    if (st != CG_OK)
        return st;
    for (int64_t i = 0; i < nv; i++)
        out->x[i] = 2 * out->x[i] - 1;   /* [0, 1] -> the grid's [-1, 1] */
    out->n = n, out->c = 1, out->h = out->w = S, out->per_row = CG_SAMPLE_PER_ROW;
    snprintf(out->what, sizeof out->what, "%d Gibbs chains of an RBM (%d hidden units), %d "
             "steps from random images, from %s, seed %llu", n, m->nh, steps, o->path,
             (unsigned long long)o->seed);
    return CG_OK;
}

static void free_sampler(void *self)
{
    rbm_sampler *s = self;
    if (s->loaded)
        cg_rbm_free(&s->m);
}

static const cg_flag flags[] = {
    {"gibbs", CG_FLAG_INT, offsetof(rbm_sample_flags, gibbs), "1000", 1, 1e7, "N",
     "Gibbs steps of each chain", NULL},
};

const cg_sampler cg_sampler_rbm = {
    .a = "an RBM", .these = "RBM runs", .models = "RBMs", .recognise = recognise,
    .settings_size = sizeof(rbm_sample_flags), .flags = flags, .nflags = 1,
    .state_size = sizeof(rbm_sampler), .load = load, .sample = sample, .free = free_sampler,
};
