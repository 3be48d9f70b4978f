/*
 * realnvp_sample.c: the 2-D RealNVP (cugen train realnvp --data moons ...)
 * as `cugen sample` sees it (cugen/sampler.h): from a run directory or its
 * flow.safetensors, the layers and width read from the tensor names and
 * shapes; n points x = f^-1(z), z ~ N(0, I) (of --seed), as a scatter plot.
 * Runs on the CPU; its points are no images for eval.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/flow.h"
#include "cugen/rng.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"
#include "models/sample_util.h"

typedef struct {
    cg_flow2d m;
    int loaded;
} flow2d_sampler;

static int recognise(const char *path)
{
    return sample_holds(path, "flow.safetensors", "layers.0.net.0.weight", NULL);
}

static cg_status load(void *self, const char *path, cg_device dev, char *err, size_t len)
{
    flow2d_sampler *s = self;
    char file[4096];
    cg_st_file f;
    cg_status st = cg_st_load_run(&f, path, "flow.safetensors", file, sizeof file, err, len);
    if (st != CG_OK)
        return st;
    cg_flow2d_arch a = {0};
    char name[64];
    for (;;) {
        snprintf(name, sizeof name, "layers.%d.net.0.weight", a.layers);
        const cg_st_tensor *t = cg_st_find(&f, name);
        if (!t || a.layers == CG_FLOW2D_MAX_LAYERS)
            break;
        if (a.layers == 0 && t->ndim == 2)
            a.hidden = (int)t->shape[0];
        a.layers++;
    }
    cg_st_free(&f);
    char why[512];
    st = cg_flow2d_build(&s->m, &a, why, sizeof why);
    s->loaded = st == CG_OK;
    return sample_weights(st, why, file, &s->m.p, err, len);
}

static cg_status sample(void *self, const void *settings, const cg_sample_opts *o,
                        cg_samples *out, char *err, size_t len)
{
    flow2d_sampler *s = self;
    int n = o->n;
    out->z = malloc(sizeof(real) * 2 * (size_t)n);
    cg_ctx ctx;
    if (!out->z || cg_ctx_init(&ctx) != CG_OK) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    cg_rng r;
    cg_rng_init(&r, o->seed, CG_SAMPLE_STREAM);
    cg_rng_normal(&r, out->z, 2 * (int64_t)n, 0.0, 1.0);
    cg_set_grad(&ctx, 0);
    cg_tensor *x = cg_flow2d_inverse(&ctx, &s->m, cg_wrap(&ctx, out->z, CG_SHAPE(n, 2)));
    cg_status st = sample_take_copy(&ctx, x, &out->x, err, len);
    if (st != CG_OK)
        return st;
    out->n = n, out->points = 1, out->nz = 2 * (int64_t)n;
    snprintf(out->what, sizeof out->what, "%d points of a 2-D RealNVP (%d couplings of width "
             "%d) from %s, seed %llu", n, s->m.a.layers, s->m.a.hidden, o->path,
             (unsigned long long)o->seed);
    return CG_OK;
}

static void free_sampler(void *self)
{
    flow2d_sampler *s = self;
    if (s->loaded)
        cg_flow2d_free(&s->m);
}

const cg_sampler cg_sampler_realnvp_2d = {
    .a = "a 2-D RealNVP", .these = "2-D RealNVP runs", .models = "2-D flows",
    .recognise = recognise, .state_size = sizeof(flow2d_sampler), .load = load,
    .sample = sample, .free = free_sampler,
};
