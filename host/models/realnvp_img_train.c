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
 * epoch test_bpd) and samples.png (64 samples at --temperature). SIGINT /
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
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(file, sizeof file, "%s/flow.safetensors", path);
    else
        snprintf(file, sizeof file, "%s", path);
    cg_st_file f;
    cg_status st = cg_st_load(&f, file, why, sizeof why);
    if (st != CG_OK) {
        snprintf(err, errlen, "%s", why);
        return st;
    }
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

/* ---- the training run ------------------------------------------------------------ */

enum {
    X_DEQ, X_LOADER_EPOCH, X_LOADER_INDEX, X_LOADER_RNG, X_LAYERS, X_WIDTH, X_SIZE,
    X_CHANNELS, X_BATCH, X_SCALES, X_LAST, X_NORM, X_COUNT
};

typedef struct {
    const cg_train_opts *o;
    const cg_flowimg_opts *f;
    cg_flowimg m;
    cg_device dev;
    cg_dataset ds, test;
    int test_is_train;
    cg_loader *loader;
    cg_ctx ctx;
    cg_adam adam;
    cg_rng deq;
    cg_ckpt_int extra[X_COUNT];
    cg_ckpt_state cs;
    int64_t saved_step;
    char *err;
    size_t errlen;
} run;

static cg_status fail(run *r, cg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cg_status fail(run *r, cg_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_run_vfail(r->err, r->errlen, "realnvp", st, fmt, ap);
    va_end(ap);
    return st;
}

static cg_status open_all(run *r)
{
    const cg_train_opts *o = r->o;
    char why[1024];
    cg_data_spec spec = {.name = o->data, .dir = o->data_dir, .size = o->image_size};
    cg_status st = cg_dataset_open(&spec, &r->ds, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "%s", why);
    spec.split = "test";
    if (cg_dataset_open(&spec, &r->test, why, sizeof why) != CG_OK) {
        r->test = r->ds;
        r->test_is_train = 1;
    }
    if (r->ds.height != r->ds.width)
        return fail(r, CG_ERR_ARG, "the images must be square, got %dx%d", r->ds.height,
                    r->ds.width);
    cg_flowimg_arch a = {.channels = r->ds.channels, .size = r->ds.height,
                         .layers = r->f->layers, .width = r->f->width,
                         .scales = r->f->scales, .norm = r->f->norm};
    if ((st = cg_flowimg_build(&r->m, &a, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why + (strncmp(why, "realnvp: ", 9) == 0 ? 9 : 0));
    cg_flowimg_init(&r->m, o->seed, 1);
    a = r->m.a;
    r->dev = o->device;
    if (r->ds.count < o->batch)
        return fail(r, CG_ERR_ARG, "--batch %lld is larger than the data set (%lld images)",
                    (long long)o->batch, (long long)r->ds.count);
    cg_loader_opts lo = cg_loader_defaults((int)o->batch, o->seed);
    if ((st = cg_loader_open(&r->loader, &r->ds, &lo, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    if ((st = cg_ctx_init(&r->ctx)) != CG_OK)
        return fail(r, st, "out of memory");
    cg_adam_init(&r->adam, o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    cg_rng_init(&r->deq, o->seed, 2);
    static const char *const names[X_COUNT] = {
        "rng.dequantize", "loader.epoch", "loader.index", "loader.rng_offset", "run.layers",
        "run.width", "run.image_size", "run.channels", "run.batch", "run.scales",
        "run.last", "run.norm"};
    const int64_t values[X_COUNT] = {[X_LAYERS] = a.layers, [X_WIDTH] = a.width,
                                     [X_SIZE] = a.size, [X_CHANNELS] = a.channels,
                                     [X_BATCH] = o->batch, [X_SCALES] = a.scales,
                                     [X_LAST] = a.last, [X_NORM] = a.norm};
    for (int i = 0; i < X_COUNT; i++)
        r->extra[i] = (cg_ckpt_int){names[i], values[i]};
    r->cs = (cg_ckpt_state){.seed = o->seed, .extra = r->extra, .nextra = X_COUNT};
    return CG_OK;
}

static cg_status checkpoint(run *r, int64_t step, int64_t epoch)
{
    char why[1024];
    cg_loader_state ls = cg_loader_get_state(r->loader);
    r->cs.step = step;
    r->cs.epoch = epoch;
    r->cs.optim_t = r->adam.t;
    r->extra[X_DEQ].value = (int64_t)r->deq.offset;
    r->extra[X_LOADER_EPOCH].value = ls.epoch;
    r->extra[X_LOADER_INDEX].value = ls.index;
    r->extra[X_LOADER_RNG].value = (int64_t)ls.rng_offset;
    cg_status st = cg_ckpt_save_dir(r->o->out_dir, &r->m.p, &r->cs, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "checkpoint at step %lld: %s", (long long)step, why);
    r->saved_step = step;
    return CG_OK;
}

/* Before loading: the architecture the checkpoint in the run directory
 * records against this command's, so that a different --scales, --norm,
 * --layers ... is refused by name (not as a list of missing tensors), and a
 * checkpoint of the earlier one-scale flow (no run.scales) by what it is.
 * 0: go on (also when there is no readable checkpoint: cg_ckpt_resume
 * says why, or falls back to .prev);
 * 1: refused, r->err set. */
static int arch_of_checkpoint(run *r, const int64_t *want)
{
    char path[4096], why[512];
    snprintf(path, sizeof path, "%s/%s", r->o->out_dir, CG_CKPT_LATEST);
    cg_st_file f;
    if (cg_st_load(&f, path, why, sizeof why) != CG_OK)
        return 0;
    int refused = 0;
    if (!find(&f, "train.extra.run.scales")) {
        fail(r, CG_ERR_ARG, "--resume: %s is a checkpoint of the earlier one-scale image "
             "RealNVP (it records no run.scales): it cannot be continued by this version; its "
             "flow.safetensors still loads for cugen eval and cugen sample", path);
        refused = 1;
    }
    for (int i = X_LAYERS; i < X_COUNT && !refused; i++) {
        char key[96];
        snprintf(key, sizeof key, "train.extra.%s", r->extra[i].name);
        const cg_st_tensor *t = find(&f, key);
        int64_t v;
        if (!t || t->dtype != CG_ST_I64 || t->nbytes != sizeof v)
            continue;   /* a missing or malformed one is cg_ckpt_resume's to report */
        memcpy(&v, t->data, sizeof v);
        if (v == want[i])
            continue;
        if (i == X_NORM)
            fail(r, CG_ERR_ARG, "--resume: the run in %s has --norm %s, this command %s; give "
                 "the same flags", r->o->out_dir, cg_flowimg_norm_name((int)v),
                 cg_flowimg_norm_name((int)want[i]));
        else
            fail(r, CG_ERR_ARG, "--resume: the run in %s has %s %lld, this command %lld; give "
                 "the same flags", r->o->out_dir, r->extra[i].name + 4, (long long)v,
                 (long long)want[i]);
        refused = 1;
    }
    cg_st_free(&f);
    return refused;
}

static cg_status resume(run *r, int64_t *first)
{
    const cg_train_opts *o = r->o;
    const cg_flowimg_arch *a = &r->m.a;
    const int64_t want[X_COUNT] = {[X_LAYERS] = a->layers, [X_WIDTH] = a->width,
                                   [X_SIZE] = a->size, [X_CHANNELS] = a->channels,
                                   [X_BATCH] = o->batch, [X_SCALES] = a->scales,
                                   [X_LAST] = a->last, [X_NORM] = a->norm};
    int found = 0;
    char msg[2048], why[512];
    if (arch_of_checkpoint(r, want))
        return CG_ERR_ARG;
    cg_status st = cg_ckpt_resume(o->out_dir, &r->m.p, &r->cs, &found, msg, sizeof msg);
    if (st != CG_OK)
        return fail(r, st, "--resume: %s (were the run's --layers, --width, --scales, --norm, "
                    "--data and --image-size the same as now?)", msg);
    if (!found)
        return fail(r, CG_ERR_ARG, "--resume: no checkpoint in %s (start without --resume)",
                    o->out_dir);
    for (int i = X_LAYERS; i < X_COUNT; i++)   /* .prev may be what was loaded */
        if (r->extra[i].value != want[i])
            return fail(r, CG_ERR_ARG, "--resume: the run in %s has %s %lld, this command "
                        "%lld; give the same flags", o->out_dir, r->extra[i].name + 4,
                        (long long)r->extra[i].value, (long long)want[i]);
    if (r->cs.seed != o->seed)
        return fail(r, CG_ERR_ARG, "--resume: the run in %s has --seed %llu, not %llu",
                    o->out_dir, (unsigned long long)r->cs.seed, (unsigned long long)o->seed);
    cg_loader_state ls = cg_loader_get_state(r->loader);
    ls.epoch = r->extra[X_LOADER_EPOCH].value;
    ls.index = r->extra[X_LOADER_INDEX].value;
    ls.rng_offset = (uint64_t)r->extra[X_LOADER_RNG].value;
    if ((st = cg_loader_restore(r->loader, &ls, why, sizeof why)) != CG_OK)
        return fail(r, st, "--resume: %s", why);
    r->adam.t = r->cs.optim_t;
    r->deq.offset = (uint64_t)r->extra[X_DEQ].value;
    r->saved_step = r->cs.step;
    *first = r->cs.step + 1;
    if (!o->quiet)
        fprintf(stderr, "%s\n", msg);
    return CG_OK;
}

static cg_status samples(run *r)
{
    cg_ctx *ctx = &r->ctx;
    int C = r->m.a.channels, S = r->m.a.size;
    int prev = cg_set_grad(ctx, 0);
    r->m.training = 0;
    cg_tensor *z = cg_new_on(ctx, (cg_device)r->m.p.dev, CG_SHAPE(GRID_N, C * S * S));
    cg_rng rz;
    cg_rng_init(&rz, r->o->seed, 5);
    if (z && cg_rng_fill_normal(&rz, z, 0.0, r->f->temperature) != CG_OK)
        cg_fail(ctx, CG_ERR_CUDA, "z: %s", cg_cuda_last_error());
    cg_tensor *x = cg_flowimg_inverse(ctx, &r->m, z);
    cg_set_grad(ctx, prev);
    real *px = x ? malloc(sizeof(real) * (size_t)x->n) : NULL;
    if (!x || !px || cg_copy_to_host(ctx, px, x) != CG_OK) {
        free(px);
        return fail(r, ctx->err ? ctx->err : CG_ERR_NOMEM, "sampling: %s", ctx->errmsg);
    }
    cg_flowimg_to_pixels(px, x->n);
    char path[4096], why[512];
    snprintf(path, sizeof path, "%s/samples.png", r->o->out_dir);
    cg_status st = cg_png_write_grid(path, px, GRID_N, C, S, S, 8, why, sizeof why);
    free(px);
    cg_ctx_step_end(ctx);
    return st != CG_OK ? fail(r, st, "%s", why) : CG_OK;
}

static cg_status save(run *r, double *test_bpd)
{
    char path[4096], why[1024];
    cg_status st = cg_flowimg_evaluate(&r->m, &r->test, TEST_LIMIT, r->o->seed, test_bpd, why,
                                       sizeof why);
    if (st != CG_OK)
        return fail(r, st, "%s", why + (strncmp(why, "realnvp: ", 9) == 0 ? 9 : 0));
    if (!r->o->out_dir)
        return CG_OK;
    snprintf(path, sizeof path, "%s/flow.safetensors", r->o->out_dir);
    if ((st = cg_weights_save(path, &r->m.p, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    return samples(r);
}

/* The metrics log cannot be written (a full disk): the checkpoint, then the
 * message that says where it is. */
static cg_status log_failed(run *r, const cg_metrics *log, int64_t step, int64_t epoch)
{
    if (r->o->out_dir)
        checkpoint(r, step, epoch);
    return cg_run_log_failed(r->err, r->errlen, "realnvp", r->o, log, step,
                             r->saved_step == step);
}

static cg_status loop(run *r, cg_flowimg_result *res)
{
    const cg_train_opts *o = r->o;
    int64_t per_epoch = cg_loader_batches_per_epoch(r->loader);
    int64_t total = cg_run_total_steps(o, per_epoch);
    int C = r->m.a.channels, S = r->m.a.size;
    int64_t D = (int64_t)C * S * S, first = 1;
    cg_metrics log = {0};
    char why[512];
    cg_status st = CG_OK;
    if (o->resume && (st = resume(r, &first)) != CG_OK)
        return st;
    if (r->dev != CG_CPU) {
        cg_cuda_set_deterministic(o->deterministic);
        if ((st = cg_flowimg_to_device(&r->m, r->dev, why, sizeof why)) != CG_OK)
            return fail(r, st, "parameters to the GPU: %s", why);
    }
    if (o->out_dir) {
        st = cg_run_open_log(&log, o, first, why, sizeof why);
        if (st != CG_OK)
            return fail(r, st, "%s", why);
    }
    cg_progress prog;
    cg_progress_begin(&prog, total, per_epoch,
                      &(cg_progress_cfg){.tty = -1, .every = o->log_every, .quiet = o->quiet,
                                         .start_step = first - 1, .unit = "img"});
    cg_train_catch_signals();
    double t0 = 0;
    for (int64_t s = first; s <= total; s++) {
        cg_batch b;
        cg_loader_next(r->loader, &b);
        if (s == first + 1)
            t0 = cg_monotonic_seconds();
        double nll, ld;
        cg_tensor *x;
        if (r->dev == CG_CPU) {
            x = cg_wrap(&r->ctx, (real *)b.x, CG_SHAPE(b.n, C, S, S));
        } else {
            x = cg_new_on(&r->ctx, r->dev, CG_SHAPE(b.n, C, S, S));
            if (x)
                cg_copy_from_host(&r->ctx, x, b.x);   /* pinned, asynchronous */
        }
        cg_status sst = x ? cg_flowimg_step(&r->ctx, &r->m, &r->adam, x, &r->deq, &nll, &ld)
                          : r->ctx.err;
        if (sst != CG_OK && sst != CG_ERR_NUMERIC) {
            st = fail(r, sst, "step %lld: %s", (long long)s, r->ctx.errmsg);
            break;
        }
        res->train_bpd = cg_flowimg_bpd(nll, ld, D);
        if (sst == CG_ERR_NUMERIC || !isfinite(res->train_bpd)) {
            st = fail(r, CG_ERR_NUMERIC, "step %lld: bits per dimension = %g: training "
                      "diverged; stopped without saving this step", (long long)s,
                      res->train_bpd);
            break;
        }
        cg_ctx_step_end(&r->ctx);
        res->steps = s;
        int64_t epoch = b.epoch + 1;
        cg_progress_update(&prog, s, epoch, b.n, "bpd", res->train_bpd, (const char *)NULL);
        cg_metrics_write(&log, s, epoch, b.n, "train_bpd", res->train_bpd, (const char *)NULL);
        if (cg_metrics_failed(&log, NULL, 0)) {
            st = log_failed(r, &log, s, epoch);
            break;
        }
        int end = s == total || cg_train_signal();
        if (b.last_in_epoch || s == total) {
            if ((st = save(r, &res->test_bpd)) != CG_OK)
                break;
            cg_metrics_write(&log, s, epoch, 0, "test_bpd", res->test_bpd, (const char *)NULL);
            if (cg_metrics_failed(&log, NULL, 0)) {
                st = log_failed(r, &log, s, epoch);
                break;
            }
        }
        if (o->out_dir && (end || b.last_in_epoch || (o->ckpt_every > 0 &&
                                                      s % o->ckpt_every == 0)))
            if ((st = checkpoint(r, s, epoch)) != CG_OK)
                break;
        if (cg_train_signal())
            break;
    }
    if (res->steps > first)
        res->img_per_s = (double)(res->steps - first) * o->batch /
                         (cg_monotonic_seconds() - t0);
    int sig = cg_train_signal();
    cg_train_release_signals();
    if (st == CG_OK && sig) {
        res->interrupted = sig;
        st = o->out_dir
                 ? fail(r, CG_ERR_STATE, "interrupted by %s after step %lld: checkpoint saved "
                        "to %s/%s; continue with the same command and --resume",
                        sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)res->steps,
                        o->out_dir, CG_CKPT_LATEST)
                 : fail(r, CG_ERR_STATE, "interrupted by %s after step %lld (no --out: "
                        "nothing saved)", sig == SIGINT ? "SIGINT" : "SIGTERM",
                        (long long)res->steps);
    }
    cg_progress_end(&prog);
    if (cg_metrics_close(&log) != CG_OK && st == CG_OK)
        st = cg_run_log_failed(r->err, r->errlen, "realnvp", o, &log, res->steps,
                               r->saved_step == res->steps);
    return st;
}

cg_status cg_flowimg_train(const cg_train_opts *o, const cg_flowimg_opts *f,
                           cg_flowimg_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    run R = {.o = o, .f = f, .saved_step = -1, .err = err, .errlen = errlen};
    cg_status st = open_all(&R);
    if (st == CG_OK && !o->quiet)
        fprintf(stderr, "realnvp: %s, %lld images of %dx%dx%d, batch %lld; %d scales, %d "
                "couplings per stage (%d at the last), width %d, %s, %lld parameters%s\n",
                R.ds.name, (long long)R.ds.count, R.ds.channels, R.ds.height, R.ds.width,
                (long long)o->batch, R.m.a.scales, R.m.a.layers, R.m.a.last, R.m.a.width,
                cg_flowimg_norm_name(R.m.a.norm), (long long)cg_params_count(&R.m.p),
                R.test_is_train ? "; no test split: bits/dim on the training set" : "");
    if (st == CG_OK)
        st = loop(&R, res);
    cg_loader_close(R.loader);
    if (!R.test_is_train)
        cg_dataset_free(&R.test);
    cg_dataset_free(&R.ds);
    cg_flowimg_free(&R.m);
    cg_ctx_free(&R.ctx);
    return st;
}
