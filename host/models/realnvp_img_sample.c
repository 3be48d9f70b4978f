/*
 * realnvp_img_sample.c: an image RealNVP (cugen train realnvp --data
 * fashion-mnist ...) as `cugen sample` and `cugen eval` see it
 * (cugen/sampler.h): from a run directory, its flow.safetensors or
 * checkpoint.safetensors; batchnorm with its running statistics.
 *
 *   sample    x = f^-1(z), z ~ N(0, T^2 I) (of --seed; T = --temperature),
 *             8 per row
 *   generate  the same at temperature 1
 *   metrics   bpd: bits per dimension on a data set, one dequantisation
 *             sample per image, on the CPU
 *
 * Runs on the CPU.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/flow.h"
#include "cugen/io.h"
#include "cugen/rng.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"
#include "models/sample_util.h"

#define CHUNK 64   /* images inverted at a time */

typedef struct {
    double temperature;
} flow_sample_flags;

typedef struct {
    cg_flowimg m;
    int loaded;
} flow_sampler;

/* a run directory's flow.safetensors (an unreadable one too: the loader
 * says what is wrong with it), or a file with the image flow's first
 * coupling and its image size */
static int recognise(const char *path)
{
    char file[4096];
    struct stat sb;
    if (stat(path, &sb) != 0)
        return 0;
    int is_dir = S_ISDIR(sb.st_mode);
    if (is_dir) {
        snprintf(file, sizeof file, "%s/flow.safetensors", path);
        if (stat(file, &sb) != 0)
            return 0;
        path = file;
    }
    if (!S_ISREG(sb.st_mode))
        return 0;
    cg_st_file f;
    if (cg_st_load(&f, path, NULL, 0) != CG_OK)
        return is_dir;
    int yes = cg_st_find(&f, "a.0.net.in.weight") && cg_st_find(&f, "image_size");
    cg_st_free(&f);
    return yes;
}

static cg_status load(void *self, const char *path, cg_device dev, char *err, size_t len)
{
    flow_sampler *s = self;
    cg_status st = cg_flowimg_load(path, &s->m, err, len);
    s->loaded = st == CG_OK;
    s->m.training = 0;
    return st;
}

/* n images from x (n, D) of z values (in place), at temperature T (for the
 * message): pixels in [-1, 1] */
static cg_status invert(flow_sampler *s, real *x, int64_t n, double T, const char *kind,
                        char *err, size_t len)
{
    int64_t D = (int64_t)s->m.a.channels * s->m.a.size * s->m.a.size;
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    cg_set_grad(&ctx, 0);
    cg_status st = CG_OK;
    double t0 = cg_monotonic_seconds();
    for (int64_t at = 0; at < n && st == CG_OK; at += CHUNK) {
        int k = (int)(n - at < CHUNK ? n - at : CHUNK);
        cg_tensor *y = cg_flowimg_inverse(&ctx, &s->m, cg_wrap(&ctx, x + at * D,
                                                               CG_SHAPE(k, (int)D)));
        if (y)
            memcpy(x + at * D, y->data, sizeof(real) * (size_t)(k * D));
        else
            st = sample_failed(&ctx, err, len);
        cg_ctx_step_end(&ctx);
        if (kind && (at / CHUNK) % 16 == 15)
            sample_progress(kind, at + k, n, t0);
    }
    cg_ctx_free(&ctx);
    int64_t bad = 0;
    for (int64_t i = 0; st == CG_OK && i < n * D; i++)
        bad += !isfinite(x[i]);
    if (bad) {
        snprintf(err, len, "%lld of the %lld sampled values are not finite (the flow's inverse "
                 "overflowed at temperature %g)", (long long)bad, (long long)(n * D), T);
        st = CG_ERR_NUMERIC;
    }
    if (st == CG_OK)
        cg_flowimg_to_pixels(x, n * D);
    return st;
}

static cg_status sample(void *self, const void *settings, const cg_sample_opts *o,
                        cg_samples *out, char *err, size_t len)
{
    const flow_sample_flags *f = settings;
    flow_sampler *s = self;
    const cg_flowimg_arch *a = &s->m.a;
    int C = a->channels, S = a->size;
    int64_t n = o->n, D = (int64_t)C * S * S;
    out->x = malloc(sizeof(real) * (size_t)(n * D));
    if (!out->x) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    cg_rng rz;
    cg_rng_init(&rz, o->seed, CG_SAMPLE_STREAM);
    cg_rng_normal(&rz, out->x, n * D, 0.0, f->temperature);
    cg_status st = invert(s, out->x, n, f->temperature, NULL, err, len);
    if (st != CG_OK)
        return st;
    out->n = n, out->c = C, out->h = out->w = S, out->per_row = CG_SAMPLE_PER_ROW;
    snprintf(out->what, sizeof out->what, "%lld samples of a %dx%dx%d RealNVP (%d scales, %s, "
             "width %d) from %s, temperature %g, seed %llu", (long long)n, C, S, S, a->scales,
             cg_flowimg_norm_name(a->norm), a->width, o->path, f->temperature,
             (unsigned long long)o->seed);
    return CG_OK;
}

static cg_status generate(void *self, const void *settings, int64_t n, uint64_t seed,
                          cg_image_set *out, char *err, size_t len)
{
    flow_sampler *s = self;
    int C = s->m.a.channels, S = s->m.a.size;
    int64_t D = (int64_t)C * S * S;
    out->x = malloc(sizeof(real) * (size_t)(n * D));
    if (!out->x) {
        snprintf(err, len, "out of memory for %lld images", (long long)n);
        return CG_ERR_NOMEM;
    }
    cg_rng r;
    cg_rng_init(&r, seed, SAMPLE_EVAL_STREAM);
    cg_rng_normal(&r, out->x, n * D, 0.0, 1.0);
    out->n = n, out->c = C, out->h = out->w = S;
    return invert(s, out->x, n, 1.0, "realnvp", err, len);
}

static cg_status evaluate(void *self, const void *settings, const cg_eval_opts *o,
                          char *report, size_t rlen, char *err, size_t len)
{
    flow_sampler *s = self;
    const cg_flowimg_arch *a = &s->m.a;
    cg_dataset ds;
    cg_data_spec spec = o->data;
    spec.size = a->size;
    cg_status st = cg_dataset_open(&spec, &ds, err, len);
    if (st != CG_OK)
        return st;
    double bpd;
    st = cg_flowimg_evaluate(&s->m, &ds, o->n, o->seed, &bpd, err, len);
    if (st == CG_OK)
        snprintf(report, rlen, "%s, %lld images of %dx%dx%d; RealNVP (%d scales, %d couplings "
                 "per stage, %d at the last, width %d, %s) from %s\n  %.4f bits per "
                 "dimension\n", ds.name, (long long)(o->n > 0 && o->n < ds.count ? o->n
                                                                                 : ds.count),
                 ds.channels, ds.height, ds.width, a->scales, a->layers, a->last, a->width,
                 cg_flowimg_norm_name(a->norm), o->path, bpd);
    cg_dataset_free(&ds);
    return st;
}

static void free_sampler(void *self)
{
    flow_sampler *s = self;
    if (s->loaded)
        cg_flowimg_free(&s->m);
}

static const cg_flag flags[] = {
    {"temperature", CG_FLAG_REAL, offsetof(flow_sample_flags, temperature), "1", 0, 10, "T",
     "z drawn from N(0, T^2 I) (the paper shows T < 1 too)", NULL},
};

static const cg_metric metrics[] = {
    {"bpd", "image flows: bits per dimension on the test set", 0},
};

const cg_sampler cg_sampler_realnvp_images = {
    .a = "an image flow", .these = "image flows", .models = "image flows",
    .recognise = recognise, .settings_size = sizeof(flow_sample_flags), .flags = flags,
    .nflags = 1, .state_size = sizeof(flow_sampler), .load = load, .sample = sample,
    .generate = generate, .metrics = metrics, .nmetrics = 1, .evaluate = evaluate,
    .free = free_sampler,
};
