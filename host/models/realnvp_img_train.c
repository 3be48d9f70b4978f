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
#include "cugen/optim.h"
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
    cg_rng r;
    cg_rng_init(&r, seed, 6);
    double nll = 0, ld = 0;
    cg_status st = CG_OK;
    for (int64_t i0 = 0; i0 < count && st == CG_OK; i0 += EVAL_BATCH) {
        int n = (int)(count - i0 < EVAL_BATCH ? count - i0 : EVAL_BATCH);
        for (int64_t k = 0; k < n * D; k++)
            img[k] = (real)(ds->pixels[i0 * D + k] / 127.5 - 1.0);
        double l;
        cg_tensor *y = cg_flowimg_preprocess(&ctx, img, n, C, S, &r, &l);
        cg_tensor *v = cg_flowimg_nll(&ctx, m, y);
        if (!v) {
            snprintf(err, errlen, "realnvp: evaluation: %s", ctx.errmsg);
            st = ctx.err;
            break;
        }
        nll += v->data[0] * n;
        ld += l;
        cg_ctx_step_end(&ctx);
    }
    *bpd = cg_flowimg_bpd(nll / (double)count, ld / (double)count, D);
    cg_ctx_free(&ctx);
    free(img);
    return st;
}

static const cg_st_tensor *find(const cg_st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->t[i].name, name) == 0)
            return &f->t[i];
    return NULL;
}

/* The shapes do not depend on the image size: build at side 2, load, then
 * take the side from the image_size buffer. */
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
    cg_flowimg_arch a = {.size = 2};
    int found = w && w->ndim == 4;
    if (found) {
        a.channels = (int)w->shape[1];
        a.width = (int)w->shape[0];
        while (a.layers < CG_FLOWIMG_MAX_L) {
            char name[48];
            snprintf(name, sizeof name, "a.%d.net.in.weight", a.layers);
            if (!find(&f, name))
                break;
            a.layers++;
        }
    }
    cg_st_free(&f);
    if (!found || a.layers < 1) {
        snprintf(err, errlen, "%s: not an image RealNVP (no a.0.net.in.weight)", file);
        return CG_ERR_ARG;
    }
    if ((st = cg_flowimg_build(m, &a, why, sizeof why)) != CG_OK) {
        snprintf(err, errlen, "%s: %s", file, why);
        return st;
    }
    if ((st = cg_weights_load(file, &m->p, why, sizeof why)) != CG_OK) {
        snprintf(err, errlen, "%s", why);
        cg_flowimg_free(m);
        return st;
    }
    double side = m->size_buf->data[0];
    if (side < 2 || side > 1024 || side != floor(side) || (int)side % 2) {
        snprintf(err, errlen, "%s: image_size %g is not an even side from 2 to 1024", file,
                 side);
        cg_flowimg_free(m);
        return CG_ERR_ARG;
    }
    m->a.size = (int)side;
    return CG_OK;
}

/* ---- the training run ------------------------------------------------------------ */

enum {
    X_DEQ, X_LOADER_EPOCH, X_LOADER_INDEX, X_LOADER_RNG, X_LAYERS, X_WIDTH, X_SIZE,
    X_CHANNELS, X_BATCH, X_COUNT
};

typedef struct {
    const cg_train_opts *o;
    const cg_flowimg_opts *f;
    cg_flowimg m;
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
                         .layers = r->f->layers, .width = r->f->width};
    if ((st = cg_flowimg_build(&r->m, &a, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why + (strncmp(why, "realnvp: ", 9) == 0 ? 9 : 0));
    cg_flowimg_init(&r->m, o->seed, 1);
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
        "run.width", "run.image_size", "run.channels", "run.batch"};
    const int64_t values[X_COUNT] = {[X_LAYERS] = a.layers, [X_WIDTH] = a.width,
                                     [X_SIZE] = a.size, [X_CHANNELS] = a.channels,
                                     [X_BATCH] = o->batch};
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

static cg_status resume(run *r, int64_t *first)
{
    const cg_train_opts *o = r->o;
    const int64_t want[X_COUNT] = {[X_LAYERS] = r->m.a.layers, [X_WIDTH] = r->m.a.width,
                                   [X_SIZE] = r->m.a.size, [X_CHANNELS] = r->m.a.channels,
                                   [X_BATCH] = o->batch};
    int found = 0;
    char msg[2048], why[512];
    cg_status st = cg_ckpt_resume(o->out_dir, &r->m.p, &r->cs, &found, msg, sizeof msg);
    if (st != CG_OK)
        return fail(r, st, "--resume: %s (were the run's --layers, --width, --data and "
                    "--image-size the same as now?)", msg);
    if (!found)
        return fail(r, CG_ERR_ARG, "--resume: no checkpoint in %s (start without --resume)",
                    o->out_dir);
    for (int i = X_LAYERS; i <= X_BATCH; i++)
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
    cg_tensor *z = cg_new(ctx, CG_SHAPE(GRID_N, C * S * S));
    cg_rng rz;
    cg_rng_init(&rz, r->o->seed, 5);
    if (z)
        cg_rng_normal(&rz, z->data, z->n, 0.0, r->f->temperature);
    cg_tensor *x = cg_flowimg_inverse(ctx, &r->m, z);
    cg_set_grad(ctx, prev);
    if (!x)
        return fail(r, ctx->err, "sampling: %s", ctx->errmsg);
    cg_flowimg_to_pixels(x->data, x->n);
    char path[4096], why[512];
    snprintf(path, sizeof path, "%s/samples.png", r->o->out_dir);
    cg_status st = cg_png_write_grid(path, x->data, GRID_N, C, S, S, 8, why, sizeof why);
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
        double ld;
        cg_tensor *y = cg_flowimg_preprocess(&r->ctx, b.x, b.n, C, S, &r->deq, &ld);
        cg_tensor *nll = cg_flowimg_nll(&r->ctx, &r->m, y);
        if (!nll || cg_backward(&r->ctx, nll) != CG_OK) {
            st = fail(r, r->ctx.err, "step %lld: %s", (long long)s, r->ctx.errmsg);
            break;
        }
        res->train_bpd = cg_flowimg_bpd(nll->data[0], ld / b.n, D);
        if (!isfinite(res->train_bpd)) {
            st = fail(r, CG_ERR_NUMERIC, "step %lld: bits per dimension = %g: training "
                      "diverged; stopped without saving this step", (long long)s,
                      res->train_bpd);
            break;
        }
        if ((st = cg_adam_step(&r->adam, &r->m.p)) != CG_OK) {
            fail(r, st, "Adam step failed");
            break;
        }
        cg_params_zero_grad(&r->m.p);
        cg_ctx_step_end(&r->ctx);
        res->steps = s;
        int64_t epoch = b.epoch + 1;
        cg_progress_update(&prog, s, epoch, b.n, "bpd", res->train_bpd, (const char *)NULL);
        cg_metrics_write(&log, s, epoch, b.n, "train_bpd", res->train_bpd, (const char *)NULL);
        int end = s == total || cg_train_signal();
        if (b.last_in_epoch || s == total) {
            if ((st = save(r, &res->test_bpd)) != CG_OK)
                break;
            cg_metrics_write(&log, s, epoch, 0, "test_bpd", res->test_bpd, (const char *)NULL);
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
    cg_metrics_close(&log);
    return st;
}

cg_status cg_flowimg_train(const cg_train_opts *o, const cg_flowimg_opts *f,
                           cg_flowimg_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    run R = {.o = o, .f = f, .saved_step = -1, .err = err, .errlen = errlen};
    cg_status st = open_all(&R);
    if (st == CG_OK && !o->quiet)
        fprintf(stderr, "realnvp: %s, %lld images of %dx%dx%d, batch %lld; %d couplings per "
                "stage, width %d, %lld parameters%s\n", R.ds.name, (long long)R.ds.count,
                R.ds.channels, R.ds.height, R.ds.width, (long long)o->batch, f->layers,
                f->width, (long long)cg_params_count(&R.m.p),
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
