/*
 * realnvp_img_train.c: `cugen train realnvp --data fashion-mnist`: the image
 * RealNVP trained by Adam on the mean NLL of dequantised, logit-transformed
 * batches, reported in bits per dimension; the test-set bits per dimension
 * (cugen eval --metric bpd), loading a trained flow.
 *
 * A run directory gets checkpoint.safetensors (weights, act-norm state,
 * Adam's moments, loader position, noise offset: --resume continues bit for
 * bit; and .prev) every --ckpt-every steps, after every epoch and at the end,
 * flow.safetensors (the weights), metrics.jsonl (per step train_bpd; per
 * epoch test_bpd; --fid-every: fid, at temperature 1) and samples.png (64
 * samples at --temperature). SIGINT /
 * SIGTERM save a checkpoint and stop; a NaN stops the run.
 *
 * Random streams of the seed: 1 the initial weights, 2 the dequantisation
 * noise, 5 the samples' z; evaluation uses stream 6 of its own seed.
 *
 * --device cuda runs the whole step on the GPU (cg_flowimg_step, the same
 * function as on the CPU): the batch uploaded through the pinned buffer,
 * the dequantisation noise drawn on the device (Philox: the same values as
 * on the CPU), one read-back per step (the NLL and the log-det together);
 * act-norm's data initialisation reads its first batch back once. The
 * parameters move after --resume has loaded them.
 *
 * Not for: the flow (realnvp_img.c).
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/flow.h"
#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/optim.h"
#include "cugen/sampler.h"
#include "cugen/cuda.h"
#include "cugen/tape.h"

#define EVAL_BATCH 100
#define TEST_LIMIT 1000   /* test images measured after every epoch */
#define GRID_N 64

cg_status cg_flowimg_evaluate(cg_flowimg *m, const cg_dataset *ds, int64_t limit,
                              uint64_t seed, double *bpd, char *err, size_t errlen)
{
    int C = m->a.channels, S = m->a.size;
    if (ds->channels != C || ds->height != S || ds->width != S) {
        snprintf(err, errlen, "realnvp: the flow takes %dx%dx%d images, the data set has "
                 "%dx%dx%d", C, S, S, ds->channels, ds->height, ds->width);
        return CG_ERR_ARG;
    }
    int64_t count = limit > 0 && limit < ds->count ? limit : ds->count, D = (int64_t)C * S * S;
    cg_ctx ctx;
    real *img = malloc(sizeof(real) * EVAL_BATCH * (size_t)D);
    if (!img || cg_ctx_init(&ctx) != CG_OK) {
        free(img);
        snprintf(err, errlen, "realnvp: out of memory");
        return CG_ERR_NOMEM;
    }
    cg_set_grad(&ctx, 0);
    int was_training = m->training;
    m->training = 0;   /* batchnorm: the running statistics */
    cg_rng r;
    cg_rng_init(&r, seed, 6);
    double nll = 0, ld = 0;
    cg_status st = CG_OK;
    for (int64_t i0 = 0; i0 < count && st == CG_OK; i0 += EVAL_BATCH) {
        int n = (int)(count - i0 < EVAL_BATCH ? count - i0 : EVAL_BATCH);
        for (int64_t k = 0; k < n * D; k++)
            img[k] = (real)(ds->pixels[i0 * D + k] / 127.5 - 1.0);
        double l;
        real v;
        cg_tensor *y = cg_flowimg_preprocess(&ctx, img, n, C, S, &r, &l);
        if (y && m->p.dev != CG_CPU)
            y = cg_to_device(&ctx, y, (cg_device)m->p.dev);
        cg_tensor *t = cg_flowimg_nll(&ctx, m, y);
        if (!t || cg_copy_to_host(&ctx, &v, t) != CG_OK) {
            snprintf(err, errlen, "realnvp: evaluation: %s", ctx.errmsg);
            st = ctx.err ? ctx.err : CG_ERR_CUDA;
            break;
        }
        nll += v * n;
        ld += l;
        cg_ctx_step_end(&ctx);
    }
    m->training = was_training;
    *bpd = cg_flowimg_bpd(nll / (double)count, ld / (double)count, D);
    cg_ctx_free(&ctx);
    free(img);
    return st;
}

cg_status cg_flowimg_to_device(cg_flowimg *m, cg_device dev, char *err, size_t errlen)
{
    for (int i = 0; i < m->count; i++)
        if (m->l[i].inited && m->l[i].inited->dev == CG_CPU)
            m->l[i].ready = m->l[i].inited->data[0] != 0;
    cg_status st = dev == CG_CPU ? cg_params_to_host(&m->p, err, errlen)
                                 : cg_params_to_device(&m->p, err, errlen);
    if (st == CG_OK)
        st = dev == CG_CPU ? cg_params_to_host(&m->masks, err, errlen)
                           : cg_params_to_device(&m->masks, err, errlen);
    return st;
}

cg_status cg_flowimg_step(cg_ctx *ctx, cg_flowimg *m, cg_adam *opt, cg_tensor *x, cg_rng *deq,
                          double *nll, double *logit_ld)
{
    *nll = *logit_ld = NAN;
    cg_tensor *ld, *y = cg_flowimg_dequantize(ctx, x, deq, &ld);
    m->training = 1;
    cg_tensor *loss = cg_flowimg_nll(ctx, m, y);
    if (!loss || !ld || cg_backward(ctx, loss) != CG_OK)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    /* one read-back: (nll, log-det) */
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *both = cg_concat(ctx, (cg_tensor *const[]){cg_reshape(ctx, loss, CG_SHAPE(1, 1)),
                                                          cg_reshape(ctx, ld, CG_SHAPE(1, 1))},
                                2);
    cg_set_grad(ctx, prev);
    real v[2];
    if (!both || cg_copy_to_host(ctx, v, both) != CG_OK)
        return ctx->err ? ctx->err : CG_ERR_CUDA;
    *nll = v[0];
    *logit_ld = v[1] / x->shape[0];
    if (!isfinite(v[0]) || !isfinite(v[1]))
        return CG_ERR_NUMERIC;   /* before the update: the weights stay as they were */
    cg_status st = cg_adam_step(opt, &m->p);
    if (st != CG_OK) {
        cg_fail(ctx, st, "realnvp: Adam step failed");
        return st;
    }
    return cg_params_zero_grad(&m->p);
}

static const cg_st_tensor *find(const cg_st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->t[i].name, name) == 0)
            return &f->t[i];
    return NULL;
}

static int stage_count(const cg_st_file *f, int stage)
{
    int n = 0;
    while (n <= CG_FLOWIMG_MAX_L + 1) {
        char name[48];
        snprintf(name, sizeof name, "%c.%d.net.in.weight", 'a' + stage, n);
        if (!find(f, name))
            break;
        n++;
    }
    return n;
}

/* The architecture from the names and shapes (cugen/flow.h): the stages
 * a, b, c, ... present give the scales, their lengths the couplings, the
 * buffers the normalisation; the side comes from the image_size buffer
 * (shapes do not depend on it: build at the smallest side, load, then set
 * it). A file of the earlier one-scale flow is scales 2, last = layers. */
cg_status cg_flowimg_load(const char *path, cg_flowimg *m, char *err, size_t errlen)
{
    char file[4096], why[1024];
    cg_st_file f;
    cg_status st = cg_st_load_run(&f, path, "flow.safetensors", file, sizeof file, err, errlen);
    if (st != CG_OK)
        return st;
    const cg_st_tensor *w = find(&f, "a.0.net.in.weight");
    cg_flowimg_arch a = {0};
    int found = w && w->ndim == 4, stages = 0;
    if (found) {
        a.channels = (int)w->shape[1];
        a.width = (int)w->shape[0];
        while (stages < CG_FLOWIMG_MAX_STAGES && stage_count(&f, stages) > 0)
            stages++;
        a.scales = (stages + 1) / 2;
        a.last = stage_count(&f, stages - 1);
        a.layers = stages > 1 ? stage_count(&f, 0) : (a.last > 1 ? a.last - 1 : 1);
        a.norm = find(&f, "a.0.norm.running_mean") ? CG_FLOWIMG_BATCHNORM : CG_FLOWIMG_ACTNORM;
        a.size = 2 << (a.scales - 1);
    }
    cg_st_free(&f);
    if (!found) {
        snprintf(err, errlen, "%s: not an image RealNVP (no a.0.net.in.weight)", file);
        return CG_ERR_ARG;
    }
    if (stages % 2 == 0) {
        snprintf(err, errlen, "%s: an image RealNVP has an odd number of stages (a, b, c, "
                 "...), this file has %d", file, stages);
        return CG_ERR_ARG;
    }
    if ((st = cg_flowimg_build(m, &a, why, sizeof why)) != CG_OK) {
        snprintf(err, errlen, "%s: %s", file, why);
        return st;
    }
    if ((st = cg_weights_load(file, &m->p, why, sizeof why)) != CG_OK) {
        snprintf(err, errlen, "%s (as a %d-scale image RealNVP with %s)", why, a.scales,
                 cg_flowimg_norm_name(a.norm));
        cg_flowimg_free(m);
        return st;
    }
    double side = m->size_buf->data[0];
    int div = 1 << (a.scales - 1);
    if (side < 2 || side > 1024 || side != floor(side) || (int)side % div ||
        (int)side / div < 2) {
        snprintf(err, errlen, "%s: image_size %g does not fit %d scales (a multiple of %d "
                 "from %d to 1024)", file, side, a.scales, div, 2 * div);
        cg_flowimg_free(m);
        return CG_ERR_ARG;
    }
    m->a.size = (int)side;
    return CG_OK;
}

/* ---- the training run, as the trainer runs it ------------------------------------ */

typedef struct {
    cg_flowimg m;
    cg_adam adam;
    cg_rng deq;
    int64_t dims;     /* C S S */
    double temperature;
} flow_run;

static cg_status build(cg_trainer *t, void *self)
{
    flow_run *r = self;
    const cg_realnvp_flags *f = t->settings;
    char why[1024];
    if (t->ds.height != t->ds.width)
        return cg_trainer_fail(t, CG_ERR_ARG, "the images must be square, got %dx%d",
                               t->ds.height, t->ds.width);
    cg_flowimg_arch a = {.channels = t->ds.channels, .size = t->ds.height,
                         .layers = f->layers ? (int)f->layers : 3,
                         .width = f->width ? (int)f->width : 32,
                         .scales = f->scales ? (int)f->scales : 2,
                         .norm = f->norm && strcmp(f->norm, "batchnorm") == 0
                                     ? CG_FLOWIMG_BATCHNORM : CG_FLOWIMG_ACTNORM};
    cg_status st = cg_flowimg_build(&r->m, &a, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail_model(t, st, why);
    cg_flowimg_init(&r->m, t->o->seed, 1);
    a = r->m.a;
    r->dims = (int64_t)a.channels * a.size * a.size;
    r->temperature = f->temperature ? f->temperature : 1.0;
    cg_adam_init(&r->adam, t->o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    cg_rng_init(&r->deq, t->o->seed, 2);
    cg_trainer_per_sample(t, &r->deq);
    cg_trainer_params(t, &r->m.p, &r->adam.t, NULL);
    cg_trainer_keep(t, "rng.dequantize", (int64_t *)&r->deq.offset);
    cg_trainer_setting(t, "run.layers", a.layers, "--layers");
    cg_trainer_setting(t, "run.width", a.width, "--width");
    cg_trainer_setting(t, "run.image_size", a.size, "--image-size");
    cg_trainer_setting(t, "run.channels", a.channels, "channels of --data");
    cg_trainer_setting(t, "run.batch", t->o->batch, "--batch");
    cg_trainer_setting(t, "run.scales", a.scales, "--scales");
    cg_trainer_setting(t, "run.last", a.last, "couplings of the last stage (--layers)");
    cg_trainer_setting(t, "run.norm", a.norm, "--norm (0 actnorm, 1 batchnorm)");
    return CG_OK;
}

/* Before loading: a checkpoint of the earlier one-scale flow (no run.scales)
 * is refused by what it is, and another --norm by name, not as a list of
 * missing tensors. A file that cannot be read is left to the resume, which
 * says why or falls back to .prev. */
static cg_status resume_check(cg_trainer *t, void *self, const char *path)
{
    flow_run *r = self;
    char why[512];
    cg_st_file f;
    if (cg_st_load(&f, path, why, sizeof why) != CG_OK)
        return CG_OK;
    cg_status st = CG_OK;
    const cg_st_tensor *norm = find(&f, "train.extra.run.norm");
    int64_t v;
    if (!find(&f, "train.extra.run.scales")) {
        st = cg_trainer_fail(t, CG_ERR_ARG, "--resume: %s is a checkpoint of the earlier "
                             "one-scale image RealNVP (it records no run.scales): it cannot be "
                             "continued by this version; its flow.safetensors still loads for "
                             "cugen eval and cugen sample", path);
    } else if (norm && norm->dtype == CG_ST_I64 && norm->nbytes == sizeof v &&
               (memcpy(&v, norm->data, sizeof v), v != r->m.a.norm)) {
        st = cg_trainer_fail(t, CG_ERR_ARG, "--resume: the run in %s has --norm %s, this "
                             "command %s; give the same flags", t->o->out_dir,
                             cg_flowimg_norm_name((int)v), cg_flowimg_norm_name(r->m.a.norm));
    }
    cg_st_free(&f);
    return st;
}

/* On the device once the act-norm state is loaded: moving reads whether
 * each coupling was initialised from data. */
static cg_status ready(cg_trainer *t, void *self)
{
    char why[512];
    if (t->o->device == CG_CPU)
        return CG_OK;
    cg_status st = cg_flowimg_to_device(&((flow_run *)self)->m, t->o->device, why, sizeof why);
    return st == CG_OK ? CG_OK : cg_trainer_fail(t, st, "parameters to the GPU: %s", why);
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    (void)t;
    const cg_flowimg_arch *a = &((flow_run *)self)->m.a;
    snprintf(buf, len, "%d scales, %d couplings per stage (%d at the last), width %d, %s",
             a->scales, a->layers, a->last, a->width, cg_flowimg_norm_name(a->norm));
}

static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    flow_run *r = self;
    (void)b;
    double nll, ld;
    cg_status st = cg_flowimg_step(&t->ctx, &r->m, &r->adam, x, &r->deq, &nll, &ld);
    /* a non-finite NLL is the trainer's to report, as a diverged run */
    cg_scalars_put(out, "train_bpd", st == CG_ERR_NUMERIC ? NAN : cg_flowimg_bpd(nll, ld,
                                                                                 r->dims));
    return st == CG_ERR_NUMERIC ? CG_OK : st;
}

static cg_status samples(cg_trainer *t, flow_run *r)
{
    cg_ctx *ctx = &t->ctx;
    int C = r->m.a.channels, S = r->m.a.size;
    int prev = cg_set_grad(ctx, 0);
    r->m.training = 0;
    cg_tensor *z = cg_new_on(ctx, (cg_device)r->m.p.dev, CG_SHAPE(GRID_N, C * S * S));
    cg_rng rz;
    cg_rng_init(&rz, t->o->seed, 5);
    if (z && cg_rng_fill_normal(&rz, z, 0.0, r->temperature) != CG_OK)
        cg_fail(ctx, CG_ERR_CUDA, "z: %s", cg_cuda_last_error());
    cg_tensor *x = cg_flowimg_inverse(ctx, &r->m, z);
    cg_set_grad(ctx, prev);
    r->m.training = 1;
    real *px = x ? malloc(sizeof(real) * (size_t)x->n) : NULL;
    if (!x || !px || cg_copy_to_host(ctx, px, x) != CG_OK) {
        free(px);
        cg_status st = ctx->err ? ctx->err : CG_ERR_NOMEM;
        cg_trainer_fail(t, st, "sampling: %s", ctx->errmsg);
        cg_ctx_step_end(ctx);
        return st;
    }
    cg_flowimg_to_pixels(px, x->n);
    char path[4096], why[512];
    cg_trainer_path(t, path, sizeof path, "samples.png");
    cg_status st = cg_png_write_grid(path, px, GRID_N, C, S, S, 8, why, sizeof why);
    free(px);
    cg_ctx_step_end(ctx);
    return st != CG_OK ? cg_trainer_fail(t, st, "%s", why) : CG_OK;
}

/* --fid-every: n images as cugen sample and cugen eval draw them: x = f^-1(z),
 * z ~ N(0, I) (temperature 1, their default; --temperature is samples.png's)
 * from the trainer's stream r, in chunks of FID_CHUNK, the flow in
 * evaluation mode (batch norm with its running statistics, untouched). A
 * non-finite value (the inverse overflowed) fails the measurement. */
#define FID_CHUNK 64
static cg_status generate(cg_trainer *t, void *self, int n, cg_rng *r, real *out)
{
    flow_run *g = self;
    cg_ctx *ctx = &t->ctx;
    int C = g->m.a.channels, S = g->m.a.size;
    int64_t D = (int64_t)C * S * S;
    int prev = cg_set_grad(ctx, 0);
    g->m.training = 0;
    cg_status st = CG_OK;
    for (int at = 0; at < n && st == CG_OK; at += FID_CHUNK) {
        int k = n - at < FID_CHUNK ? n - at : FID_CHUNK;
        cg_rng_normal(r, out + at * D, (int64_t)k * D, 0.0, 1.0);
        cg_tensor *z = cg_new_on(ctx, (cg_device)g->m.p.dev, CG_SHAPE(k, (int)D));
        if (z)
            cg_copy_from_host(ctx, z, out + at * D);
        cg_tensor *x = z ? cg_flowimg_inverse(ctx, &g->m, z) : NULL;
        st = x && !ctx->err ? cg_copy_to_host(ctx, out + at * D, x) : ctx->err ? ctx->err
                                                                              : CG_ERR_STATE;
        cg_ctx_step_end(ctx);
    }
    g->m.training = 1;
    cg_set_grad(ctx, prev);
    int64_t bad = 0;
    for (int64_t i = 0; st == CG_OK && i < n * D; i++)
        bad += !isfinite(out[i]);
    if (bad)
        return cg_fail(ctx, CG_ERR_NUMERIC, "%lld of the %lld sampled values are not finite "
                       "(the flow's inverse overflowed)", (long long)bad, (long long)(n * D));
    if (st == CG_OK)
        cg_flowimg_to_pixels(out, n * D);
    return st;
}

/* The test bits per dimension (the first TEST_LIMIT images) and the samples */
static cg_status measure(cg_trainer *t, flow_run *r, cg_scalars *out)
{
    char why[1024];
    double bpd;
    cg_status st = cg_flowimg_evaluate(&r->m, &t->test, TEST_LIMIT, t->o->seed, &bpd, why,
                                       sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail_model(t, st, why);
    cg_scalars_put(out, "test_bpd", bpd);
    return t->o->out_dir ? samples(t, r) : CG_OK;
}

static cg_status epoch_end(cg_trainer *t, void *self, int64_t epoch, cg_scalars *out)
{
    (void)epoch;
    return measure(t, self, out);
}

static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    if (t->epoch > 0 && t->step % t->per_epoch == 0)
        return CG_OK;  /* measured at the end of that epoch */
    return measure(t, self, out);
}

static cg_status on_save(cg_trainer *t, void *self)
{
    return cg_trainer_save_weights(t, &((flow_run *)self)->m.p, NULL, "flow.safetensors");
}

static void free_run(void *self)
{
    cg_flowimg_free(&((flow_run *)self)->m);
}

/* The flags of the realnvp kind (shared with the 2-D flow) that images refuse */
static cg_status check(const void *settings, const cg_train_opts *o, char *err, size_t len)
{
    const cg_realnvp_flags *f = settings;
    (void)o;
    if (f->layers > CG_FLOWIMG_MAX_L) {
        snprintf(err, len, "--layers on images is per stage, at most %d", CG_FLOWIMG_MAX_L);
        return CG_ERR_ARG;
    }
    return CG_OK;
}

/* bench step: the arguments of scripts/bench_torch_realnvp.py for this model */
static int torch_args(cg_trainer *t, void *self, char *buf, size_t len)
{
    (void)t;
    const cg_flowimg_arch *a = &((flow_run *)self)->m.a;
    if (a->channels != 1) {
        snprintf(buf, len, "its flow takes 1-channel images, not %d", a->channels);
        return -1;
    }
    snprintf(buf, len, "--layers %d --width %d --scales %d --norm %s", a->layers, a->width,
             a->scales, cg_flowimg_norm_name(a->norm));
    return 0;
}

static void report(const cg_train_opts *o, const void *settings, const cg_train_result *r)
{
    const cg_realnvp_flags *f = settings;
    printf("  bits per dimension: last batch %.4f, test (first %d images) %.4f on %s\n",
           cg_scalars_get(&r->last, "train_bpd"), TEST_LIMIT,
           cg_scalars_get(&r->final, "test_bpd"), o->data);
    if (o->out_dir)
        printf("  samples (temperature %g): %s/samples.png\n",
               f->temperature ? f->temperature : 1.0, o->out_dir);
}

extern const cg_sampler cg_sampler_realnvp_images;  /* realnvp_img_sample.c */

/* Reached through cg_kind_realnvp for image data. */
const cg_model_kind cg_kind_realnvp_images = {
    .name = "realnvp", .title = "RealNVP",
    .summary = "RealNVP flow on images", .checkpoints = 1, .gpu = 1, .check = check,
    .steps = 3000, .batch = 256, .lr = 1e-3, .ckpt_every = 500,
    .shared = "data data-dir image-size deterministic", .flags = cg_realnvp_flag_table + 1,
    .nflags = CG_REALNVP_NFLAGS - 1, .settings_size = sizeof(cg_realnvp_flags),
    .may_change = "temperature",
    .state_size = sizeof(flow_run), .test_split = 1, .build = build,
    .resume_check = resume_check, .ready = ready, .describe = describe, .step = step,
    .epoch_end = epoch_end, .on_save = on_save, .finish = finish, .free = free_run,
    .generate = generate, .report = report, .files = "weights: %s/flow.safetensors",
    .torch_bench = "bench_torch_realnvp.py", .torch_args = torch_args,
    .sampler = &cg_sampler_realnvp_images,
};
