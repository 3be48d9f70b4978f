/*
 * vae_train.c: `cugen train vae`: the article's training loop (Adam, lr 1e-3,
 * batches of 128, loss summed over the batch) with the run directory of the
 * image models:
 *
 *   DIR/checkpoint.safetensors  weights, Adam's moments, loader position and
 *                               noise offset: all --resume needs (and .prev)
 *   DIR/vae.safetensors         the weights alone, the article's state_dict names
 *   DIR/metrics.jsonl           per step loss, rec (-log p(x|h)), kl per image; per epoch
 *                               test_elbo
 *   DIR/samples.png, recon.png, traversal.png, interp.png (manifold.png
 *                               for a 2-D latent space) at the end of the run
 *
 * The test ELBO (one eps per image) is measured after every epoch on the
 * test split; a data set without one (an MNIST folder holding only the
 * training files) is measured on its training images, and the run says so.
 *
 * Random streams of the seed: 1 the initial weights, 3 the eps of the
 * training steps; the loader has its own.
 *
 * With --device cuda the whole step runs on the GPU (cg_vae_train_step: the
 * batch uploaded through the pinned buffer, eps drawn there, the same Philox
 * values as on the CPU, one read-back of the loss terms); checkpoints and
 * the weights file go through host copies, so a run resumes on either
 * device. The test ELBO and the pictures run on the model's device too.
 *
 * Not for: the networks (vae.c), flags (cli/train.c).
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/tape.h"
#include "cugen/vae.h"

#define STREAM_INIT 1
#define STREAM_NOISE 3

enum {
    X_NOISE, X_LOADER_EPOCH, X_LOADER_INDEX, X_LOADER_RNG, X_XDIM, X_HIDDEN, X_LATENT,
    X_KIND, X_LIK, X_WIDTH, X_BATCH, X_COUNT
};

typedef struct {
    const cg_train_opts *o;
    cg_vae m;
    cg_dataset ds, test;
    int test_is_train;
    cg_loader *loader;
    cg_ctx ctx;
    cg_adam adam;
    cg_rng noise;
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
    cg_run_vfail(r->err, r->errlen, "vae", st, fmt, ap);
    va_end(ap);
    return st;
}

static cg_status save(run *r, int64_t step, int64_t epoch)
{
    char why[1024], path[4096];
    cg_loader_state ls = cg_loader_get_state(r->loader);
    r->cs.step = step;
    r->cs.epoch = epoch;
    r->cs.optim_t = r->adam.t;
    r->extra[X_NOISE].value = (int64_t)r->noise.offset;
    r->extra[X_LOADER_EPOCH].value = ls.epoch;
    r->extra[X_LOADER_INDEX].value = ls.index;
    r->extra[X_LOADER_RNG].value = (int64_t)ls.rng_offset;
    cg_status st = cg_ckpt_save_dir(r->o->out_dir, &r->m.p, &r->cs, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "checkpoint at step %lld: %s", (long long)step, why);
    r->saved_step = step;
    snprintf(path, sizeof path, "%s/vae.safetensors", r->o->out_dir);
    if ((st = cg_weights_save(path, &r->m.p, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    return CG_OK;
}

/* How --resume names the settings a run records */
static const char *const shown[X_COUNT] = {
    [X_XDIM] = "pixels per image (--data, --image-size)", [X_HIDDEN] = "--hidden",
    [X_LATENT] = "--latent", [X_KIND] = "--arch (0 mlp, 1 conv)",
    [X_LIK] = "--likelihood (0 bernoulli, 1 gaussian)", [X_WIDTH] = "--width",
    [X_BATCH] = "--batch"};

static cg_status resume(run *r, int64_t *first_step)
{
    cg_status st = cg_run_resume(r->o, "vae", &r->m.p, &r->cs, X_XDIM, X_BATCH + 1, shown,
                                 first_step, r->err, r->errlen);
    if (st != CG_OK)
        return st;
    if ((st = cg_run_restore_loader(r->loader, r->extra[X_LOADER_EPOCH].value,
                                    r->extra[X_LOADER_INDEX].value,
                                    r->extra[X_LOADER_RNG].value, "vae", r->err,
                                    r->errlen)) != CG_OK)
        return st;
    r->adam.t = r->cs.optim_t;
    r->noise.offset = (uint64_t)r->extra[X_NOISE].value;
    r->saved_step = r->cs.step;
    return CG_OK;
}

static cg_status open_data(run *r, const cg_vae_opts *v)
{
    const cg_train_opts *o = r->o;
    char why[1024];
    int size = o->image_size ? o->image_size : v->kind == CG_VAE_CONV ? 32 : 0;
    cg_data_spec spec = {.name = o->data ? o->data : "fashion-mnist", .dir = o->data_dir,
                         .size = size};
    cg_status st = cg_dataset_open(&spec, &r->ds, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "%s", why);
    spec.split = "test";
    if (cg_dataset_open(&spec, &r->test, why, sizeof why) != CG_OK) {
        r->test = r->ds;          /* borrowed: freed once */
        r->test_is_train = 1;
    }
    return CG_OK;
}

static cg_status open_all(run *r, const cg_vae_opts *v)
{
    const cg_train_opts *o = r->o;
    char why[1024];
    cg_status st = open_data(r, v);
    if (st != CG_OK)
        return st;
    cg_vae_arch a = {.x_dim = r->ds.channels * r->ds.height * r->ds.width,
                     .hidden = v->hidden, .latent = v->latent, .kind = v->kind, .lik = v->lik,
                     .channels = r->ds.channels, .size = r->ds.height, .width = v->width};
    if (a.kind == CG_VAE_MLP)
        a.width = a.size = 0;
    else
        a.hidden = 0;
    if ((st = cg_vae_build(&r->m, &a, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why + (strncmp(why, "vae: ", 5) == 0 ? 5 : 0));
    cg_vae_init(&r->m, o->seed, STREAM_INIT);
    if (o->device == CG_CUDA) {
        cg_cuda_set_deterministic(o->deterministic);
        cg_cuda_set_tf32(o->tf32);
        if ((st = cg_vae_to_device(&r->m, CG_CUDA, why, sizeof why)) != CG_OK)
            return fail(r, st, "parameters to the GPU: %s", why);
    }
    if (r->ds.count < o->batch)
        return fail(r, CG_ERR_ARG, "--batch %lld is larger than the data set (%lld images)",
                    (long long)o->batch, (long long)r->ds.count);
    cg_loader_opts lo = cg_loader_defaults((int)o->batch, o->seed);
    if ((st = cg_loader_open(&r->loader, &r->ds, &lo, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    if ((st = cg_ctx_init(&r->ctx)) != CG_OK)
        return fail(r, st, "out of memory");
    cg_rng_init(&r->noise, o->seed, STREAM_NOISE);
    cg_adam_init(&r->adam, o->lr, 0.9, 0.999, 1e-8, 0.0, 0);  /* torch.optim.Adam defaults */
    static const char *const names[X_COUNT] = {
        "rng.noise", "loader.epoch", "loader.index", "loader.rng_offset", "run.x_dim",
        "run.hidden", "run.latent", "run.kind", "run.likelihood", "run.width", "run.batch"};
    for (int i = 0; i < X_COUNT; i++)
        r->extra[i].name = names[i];
    r->extra[X_XDIM].value = a.x_dim;
    r->extra[X_HIDDEN].value = a.hidden;
    r->extra[X_LATENT].value = a.latent;
    r->extra[X_KIND].value = a.kind;
    r->extra[X_LIK].value = a.lik;
    r->extra[X_WIDTH].value = a.width;
    r->extra[X_BATCH].value = o->batch;
    r->cs = (cg_ckpt_state){.seed = o->seed, .extra = r->extra, .nextra = X_COUNT};
    return CG_OK;
}

static cg_status test_elbo(run *r, double *elbo)
{
    cg_vae_eval ev;
    char why[512];
    cg_status st = cg_vae_evaluate(&r->m, &r->test, 0, 0, r->o->seed, &ev, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "%s", why);
    *elbo = ev.elbo;
    return CG_OK;
}

/* A test hook: CUGEN_FAULT_NAN_STEP=N puts a NaN into the batch of step N. */
static int64_t nan_step(void)
{
    const char *s = getenv("CUGEN_FAULT_NAN_STEP");
    return s ? strtoll(s, NULL, 10) : -1;
}

static cg_status diverged(run *r, int64_t s, int64_t epoch, double loss)
{
    char values[64];
    snprintf(values, sizeof values, "loss = %g", loss);
    return cg_run_diverged(r->err, r->errlen, "vae", r->o, s, epoch, values,
                           r->saved_step);
}

static cg_status interrupted(run *r, int sig, int64_t steps)
{
    return cg_run_interrupted(r->err, r->errlen, "vae", r->o, sig, steps);
}

cg_status cg_vae_train(const cg_train_opts *o, const cg_vae_opts *v, cg_vae_result *res,
                       char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    res->test_elbo = NAN;
    run R = {.o = o, .saved_step = -1, .err = err, .errlen = errlen};
    run *r = &R;
    err[0] = '\0';
    cg_metrics log = {0};
    cg_progress prog;
    int progressing = 0;
    char why[1024];
    cg_status st = open_all(r, v);
    if (st != CG_OK)
        goto done;
    int64_t per_epoch = cg_loader_batches_per_epoch(r->loader);
    int64_t total = cg_run_total_steps(o, per_epoch);
    int64_t first = 1;
    if (o->resume && (st = resume(r, &first)) != CG_OK)
        goto done;
    if (o->out_dir) {
        st = cg_run_open_log(&log, o, first, why, sizeof why);
        if (st != CG_OK) {
            fail(r, st, "%s", why);
            goto done;
        }
    }
    if (!o->quiet)
        fprintf(stderr, "vae: %s, %lld images of %dx%dx%d, batch %lld, %lld steps per epoch; "
                "%s %d-%d-%d, %s pixels, %lld parameters%s\n", r->ds.name,
                (long long)r->ds.count, r->ds.channels, r->ds.height, r->ds.width,
                (long long)o->batch, (long long)per_epoch,
                r->m.a.kind == CG_VAE_CONV ? "conv" : "mlp", r->m.a.x_dim,
                r->m.a.kind == CG_VAE_CONV ? r->m.a.width : r->m.a.hidden, r->m.a.latent,
                r->m.a.lik == CG_VAE_GAUSSIAN ? "Gaussian" : "Bernoulli",
                (long long)cg_params_count(&r->m.p),
                r->test_is_train ? "; no test split: the ELBO is measured on the training set"
                                 : "");
    cg_progress_begin(&prog, total, per_epoch,
                      &(cg_progress_cfg){.tty = -1, .every = o->log_every, .quiet = o->quiet,
                                         .start_step = first - 1, .unit = "img"});
    progressing = 1;
    cg_train_catch_signals();
    int64_t inject = nan_step();
    double t_start = 0;
    int64_t timed = 0;
    for (int64_t s = first; s <= total; s++) {
        cg_batch b;
        cg_loader_next(r->loader, &b);
        cg_ctx *ctx = &r->ctx;
        if (s == inject)
            ((real *)b.x)[0] = NAN;  /* the loader's buffer is ours until the next batch */
        if (s == first + 1)
            t_start = cg_monotonic_seconds();  /* the first step warms up */
        cg_vae_stats vs;
        if ((st = cg_vae_train_step(ctx, &r->m, &r->adam, b.x, b.n, &r->noise, &vs)) != CG_OK) {
            fail(r, st, "step %lld: %s", (long long)s, ctx->errmsg);
            break;
        }
        if (s > first)
            timed++;
        int64_t epoch = b.epoch + 1;
        res->last = vs;
        if (!isfinite(vs.loss)) {
            st = diverged(r, s, epoch, vs.loss);
            break;
        }
        res->steps = s;
        cg_progress_update(&prog, s, epoch, b.n, "loss", vs.loss, "rec", vs.rec, "kl", vs.kl,
                           (const char *)NULL);
        cg_metrics_write(&log, s, epoch, b.n, "loss", vs.loss, "rec", vs.rec, "kl", vs.kl,
                         (const char *)NULL);
        if (b.last_in_epoch) {
            res->epochs_done = epoch;
            if ((st = test_elbo(r, &res->test_elbo)) != CG_OK)
                break;
            cg_metrics_write(&log, s, epoch, 0, "test_elbo", res->test_elbo,
                             (const char *)NULL);
        }
        if (cg_metrics_failed(&log, NULL, 0)) {
            /* the log cannot be written (a full disk): the checkpoint first */
            if (o->out_dir)
                save(r, s, epoch);
            st = cg_run_log_failed(err, errlen, "vae", o, &log, s, r->saved_step == s);
            break;
        }
        if (!o->out_dir)
            continue;
        int end = s == total || cg_train_signal();
        if (end || b.last_in_epoch || (o->ckpt_every > 0 && s % o->ckpt_every == 0))
            if ((st = save(r, s, epoch)) != CG_OK)
                break;
        if (cg_train_signal())
            break;
    }
    if (timed > 0)
        res->img_per_s = (double)timed * (double)o->batch / (cg_monotonic_seconds() - t_start);
    int sig = cg_train_signal();
    cg_train_release_signals();
    if (st == CG_OK && sig) {
        st = interrupted(r, sig, res->steps);
        res->interrupted = sig;
    }
    if (progressing)
        cg_progress_end(&prog);
    progressing = 0;
    if (st == CG_OK && isnan(res->test_elbo))
        st = test_elbo(r, &res->test_elbo);
    if (st == CG_OK && o->out_dir &&
        (st = cg_vae_pictures(&r->m, &r->test, o->out_dir, o->seed, why, sizeof why)) != CG_OK)
        fail(r, st, "%s", why);
    if (st == CG_OK)
        cg_metrics_write(&log, res->steps, res->steps ? (res->steps - 1) / per_epoch + 1 : 0,
                         0, "img_per_s", res->img_per_s, "test_elbo", res->test_elbo,
                         (const char *)NULL);
done:
    if (progressing)
        cg_progress_end(&prog);
    if (cg_metrics_close(&log) != CG_OK && st == CG_OK)
        st = cg_run_log_failed(err, errlen, "vae", o, &log, res->steps,
                               r->saved_step == res->steps);
    cg_loader_close(r->loader);
    if (!r->test_is_train)
        cg_dataset_free(&r->test);
    cg_dataset_free(&r->ds);
    cg_vae_free(&r->m);
    cg_ctx_free(&r->ctx);
    return st;
}
