/*
 * ddpm_train.c: `cugen train ddpm`: DDPM training with a run directory.
 *
 *   DIR/checkpoint.safetensors  the UNet, Adam's moments, the EMA weights
 *                               ("ema."), the loader position, the RNG
 *                               offsets and the architecture (run.*):
 *                               everything --resume and cugen sample need
 *                               (and .prev, the one before)
 *   DIR/unet_ema.safetensors    the EMA weights alone under the state_dict
 *                               names of scripts/ddpm_torch.py's UNet
 *   DIR/samples.png             64 DDIM samples (EMA weights) from a fixed
 *                               x_T after the last step
 *   DIR/real.png                a batch of the training data
 *   DIR/metrics.jsonl           every step: loss
 *
 * With --device cuda the parameters, Adam's moments and the EMA live on the
 * GPU and the whole step runs there (the timesteps are drawn on the host
 * from the noise stream, the noise on the GPU from the same stream: the
 * same values as a CPU run); checkpoints go through host copies and are the
 * same files either way, so a run may resume on the other device.
 *
 * Random streams of the seed: 1 the initial weights, 2 the fixed x_T of the
 * grid, 3 the timesteps and noise of the training steps, 4 dropout; the
 * loader has its own.
 *
 * Not for: the network and the diffusion (unet.c, ddpm.c), flags (cli/train.c).
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/data.h"
#include "cugen/ddpm.h"
#include "cugen/io.h"
#include "cugen/tape.h"

#define GRID_N 64
#define STREAM_INIT 1
#define STREAM_FIXED_X 2
#define STREAM_NOISE 3
#define STREAM_DROP 4

typedef struct {
    const cg_train_opts *o;
    const cg_ddpm_opts *d;
    cg_unet m;
    cg_ddpm_sched s;
    cg_dataset ds;
    cg_loader *loader;
    cg_ctx ctx;
    cg_adam adam;
    cg_ema ema;
    cg_rng noise, drop;
    cg_ckpt_int extra[CG_DX_COUNT];
    cg_ckpt_state cs;
    int64_t saved_step;   /* of the last checkpoint written or resumed from; -1: none */
    char *err;
    size_t errlen;
} run;

static cg_status fail(run *r, cg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cg_status fail(run *r, cg_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_run_vfail(r->err, r->errlen, "ddpm", st, fmt, ap);
    va_end(ap);
    return st;
}

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

/* GRID_N DDIM samples with the EMA weights from the fixed x_T into DIR/name */
static cg_status write_grid(run *r, const char *name, double *seconds)
{
    const cg_unet_arch *a = &r->m.a;
    int64_t n = (int64_t)GRID_N * a->in_ch * a->image_size * a->image_size;
    real *x = malloc(sizeof(real) * (size_t)n);
    if (!x)
        return fail(r, CG_ERR_NOMEM, "out of memory for the sample grid");
    cg_rng fx;
    cg_rng_init(&fx, r->o->seed, STREAM_FIXED_X);
    cg_rng_normal(&fx, x, n, 0.0, 1.0);
    char why[512], path[4096];
    double t0 = cg_monotonic_seconds();
    cg_ema_swap(&r->ema, &r->m.p);
    cg_status st = cg_ddpm_sample(&r->ctx, &r->m, &r->s, x, GRID_N, r->d->sample_steps, 1, &fx,
                                  NULL, 0, why, sizeof why);
    cg_ema_swap(&r->ema, &r->m.p);
    *seconds = cg_monotonic_seconds() - t0;
    if (st != CG_OK) {
        fail(r, st, "sample grid: %s", why);
    } else {
        path_in(path, sizeof path, r->o->out_dir, name);
        st = cg_png_write_grid(path, x, GRID_N, a->in_ch, a->image_size, a->image_size, 8,
                               why, sizeof why);
        if (st != CG_OK)
            fail(r, st, "%s", why);
    }
    free(x);
    return st;
}

static void fill_state(run *r, int64_t step, int64_t epoch)
{
    cg_loader_state ls = cg_loader_get_state(r->loader);
    r->cs.step = step;
    r->cs.epoch = epoch;
    r->cs.optim_t = r->adam.t;
    r->extra[CG_DX_NOISE].value = (int64_t)r->noise.offset;
    r->extra[CG_DX_DROP].value = (int64_t)r->drop.offset;
    r->extra[CG_DX_LOADER_EPOCH].value = ls.epoch;
    r->extra[CG_DX_LOADER_INDEX].value = ls.index;
    r->extra[CG_DX_LOADER_RNG].value = (int64_t)ls.rng_offset;
}

/* The checkpoint (atomically, the previous kept as .prev), then the EMA
 * weights alone for PyTorch. */
static cg_status save(run *r, int64_t step, int64_t epoch)
{
    char why[1024], path[4096];
    fill_state(r, step, epoch);
    cg_status st = cg_ckpt_save_dir(r->o->out_dir, &r->m.p, &r->cs, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "checkpoint at step %lld: %s", (long long)step, why);
    r->saved_step = step;
    path_in(path, sizeof path, r->o->out_dir, "unet_ema.safetensors");
    cg_ema_swap(&r->ema, &r->m.p);
    st = cg_weights_save(path, &r->m.p, why, sizeof why);
    cg_ema_swap(&r->ema, &r->m.p);
    if (st != CG_OK)
        return fail(r, st, "%s", why);
    return CG_OK;
}

/* How --resume names the settings a run records */
static const char *const shown[CG_DX_COUNT] = {
    [CG_DX_CH] = "--ch", [CG_DX_MULT] = "--ch-mult (packed, a byte per level)",
    [CG_DX_LEVELS] = "levels of --ch-mult", [CG_DX_NRB] = "--num-res-blocks",
    [CG_DX_ATTN] = "--attn (a mask of resolutions)", [CG_DX_GROUPS] = "groups",
    [CG_DX_SIZE] = "--image-size", [CG_DX_CHANNELS] = "channels of --data",
    [CG_DX_T] = "timesteps", [CG_DX_SCHEDULE] = "--schedule (0 linear, 1 cosine)",
    [CG_DX_DROPOUT] = "--dropout (in millionths)", [CG_DX_BATCH] = "--batch"};

static cg_status resume(run *r, int64_t *first_step)
{
    cg_status st = cg_run_resume(r->o, "ddpm", &r->m.p, &r->cs, CG_DX_FIRST_RUN, CG_DX_COUNT,
                                 shown, first_step, r->err, r->errlen);
    if (st != CG_OK)
        return st;
    if ((st = cg_run_restore_loader(r->loader, r->extra[CG_DX_LOADER_EPOCH].value,
                                    r->extra[CG_DX_LOADER_INDEX].value,
                                    r->extra[CG_DX_LOADER_RNG].value, "ddpm", r->err,
                                    r->errlen)) != CG_OK)
        return st;
    r->adam.t = r->cs.optim_t;
    r->noise.offset = (uint64_t)r->extra[CG_DX_NOISE].value;
    r->drop.offset = (uint64_t)r->extra[CG_DX_DROP].value;
    r->saved_step = r->cs.step;
    return CG_OK;
}

/* A test hook: CUGEN_FAULT_NAN_STEP=N puts a NaN into the batch of step N,
 * so the NaN guard is exercised by a genuinely diverged step. */
static int64_t nan_step(void)
{
    const char *s = getenv("CUGEN_FAULT_NAN_STEP");
    return s ? strtoll(s, NULL, 10) : -1;
}

static cg_status open_all(run *r)
{
    const cg_train_opts *o = r->o;
    const cg_ddpm_opts *d = r->d;
    char why[1024];
    int size = o->image_size ? o->image_size : d->a.image_size ? d->a.image_size : 32;
    cg_data_spec spec = {.name = o->data ? o->data : "fashion-mnist", .dir = o->data_dir,
                         .size = size};
    cg_status st = cg_dataset_open(&spec, &r->ds, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "%s", why);
    cg_unet_arch a = d->a;
    a.image_size = size;
    a.in_ch = r->ds.channels;
    if ((st = cg_unet_build(&r->m, &a, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why + (strncmp(why, "ddpm: ", 6) == 0 ? 6 : 0));
    cg_unet_init(&r->m, o->seed, STREAM_INIT);
    /* on the GPU before the EMA copies the weights: the shadow lives beside them */
    if (o->device == CG_CUDA) {
        cg_cuda_set_deterministic(o->deterministic);
        cg_cuda_set_tf32(o->tf32);
        if ((st = cg_params_to_device(&r->m.p, why, sizeof why)) != CG_OK)
            return fail(r, st, "parameters to the GPU: %s", why);
    }
    if ((st = cg_ddpm_sched_init(&r->s, d->schedule, d->T)) != CG_OK)
        return fail(r, st, "bad schedule or %d timesteps", d->T);
    if (r->ds.count < o->batch)
        return fail(r, CG_ERR_ARG, "--batch %lld is larger than the data set (%lld images)",
                    (long long)o->batch, (long long)r->ds.count);
    cg_loader_opts lo = cg_loader_defaults((int)o->batch, o->seed);
    if ((st = cg_loader_open(&r->loader, &r->ds, &lo, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    if ((st = cg_ctx_init(&r->ctx)) != CG_OK)
        return fail(r, st, "out of memory");
    if ((st = cg_ema_init(&r->ema, &r->m.p, d->ema_decay)) != CG_OK)
        return fail(r, st, "EMA: out of memory or decay %g outside [0, 1]", d->ema_decay);
    cg_rng_init(&r->noise, o->seed, STREAM_NOISE);
    cg_rng_init(&r->drop, o->seed, STREAM_DROP);
    /* DDPM's optimizer: Adam(lr, betas (0.9, 0.999)) */
    cg_adam_init(&r->adam, o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    cg_ddpm_extras(r->extra, &r->m.a, &r->s, (int)o->batch);
    r->cs = (cg_ckpt_state){.seed = o->seed, .extra = r->extra, .nextra = CG_DX_COUNT,
                            .ema = &r->ema};
    return CG_OK;
}

static cg_status write_real_grid(run *r)
{
    cg_batch b;
    cg_loader_state keep = cg_loader_get_state(r->loader);
    cg_loader_next(r->loader, &b);
    int n = b.n < GRID_N ? b.n : GRID_N, S = r->m.a.image_size;
    char path[4096], why[512];
    path_in(path, sizeof path, r->o->out_dir, "real.png");
    cg_status st = cg_png_write_grid(path, b.x, n, r->m.a.in_ch, S, S, 8, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "%s", why);
    /* hand the same batches to training as if none was taken */
    if ((st = cg_loader_restore(r->loader, &keep, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    return CG_OK;
}

static void describe(run *r, int64_t per_epoch)
{
    const cg_unet_arch *a = &r->m.a;
    char mult[64] = "", attn[64] = "";
    for (int i = 0; i < a->nlevels; i++)
        snprintf(mult + strlen(mult), sizeof mult - strlen(mult), "%s%d", i ? "," : "",
                 a->ch_mult[i]);
    for (int k = 14; k >= 0; k--)
        if (a->attn & (1u << k))
            snprintf(attn + strlen(attn), sizeof attn - strlen(attn), "%s%d", *attn ? "," : "",
                     1 << k);
    fprintf(stderr, "ddpm: %s, %lld images of %dx%dx%d, batch %lld, %lld steps per epoch; "
            "ch %d, ch-mult %s, %d res blocks, attention at %s, dropout %g, %s schedule, T %d, "
            "EMA %g; %lld parameters\n", r->ds.name, (long long)r->ds.count, a->in_ch,
            a->image_size, a->image_size, (long long)r->o->batch, (long long)per_epoch, a->ch,
            mult, a->num_res_blocks, *attn ? attn : "none", a->dropout,
            r->s.kind == CG_SCHED_COSINE ? "cosine" : "linear", r->s.T, r->ema.decay,
            (long long)cg_params_count(&r->m.p));
}

static cg_status diverged(run *r, int64_t s, int64_t epoch, double loss)
{
    char values[64];
    snprintf(values, sizeof values, "loss = %g", loss);
    return cg_run_diverged(r->err, r->errlen, "ddpm", r->o, s, epoch, values,
                           r->saved_step);
}

static cg_status interrupted(run *r, int sig, int64_t steps)
{
    return cg_run_interrupted(r->err, r->errlen, "ddpm", r->o, sig, steps);
}

cg_status cg_ddpm_train(const cg_train_opts *o, const cg_ddpm_opts *d, cg_ddpm_result *res,
                        char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    run R = {.o = o, .d = d, .saved_step = -1, .err = err, .errlen = errlen};
    run *r = &R;
    err[0] = '\0';
    cg_metrics log = {0};
    cg_progress prog;
    int progressing = 0;
    cg_status st = open_all(r);
    if (st != CG_OK)
        goto done;
    int64_t per_epoch = cg_loader_batches_per_epoch(r->loader);
    int64_t total = cg_run_total_steps(o, per_epoch);
    int64_t first = 1;
    char why[1024];
    if (o->resume && (st = resume(r, &first)) != CG_OK)
        goto done;
    if (o->out_dir) {
        st = cg_run_open_log(&log, o, first, why, sizeof why);
        if (st != CG_OK) {
            fail(r, st, "%s", why);
            goto done;
        }
        if (!o->resume && (st = write_real_grid(r)) != CG_OK)
            goto done;
    }
    if (!o->quiet)
        describe(r, per_epoch);
    cg_progress_begin(&prog, total, per_epoch,
                      &(cg_progress_cfg){.tty = -1, .every = o->log_every, .quiet = o->quiet,
                                         .start_step = first - 1, .unit = "img"});
    progressing = 1;
    cg_train_catch_signals();
    int64_t inject = nan_step();
    double t_start = 0;
    int64_t timed = 0;
    const cg_unet_arch *a = &r->m.a;
    for (int64_t s = first; s <= total; s++) {
        cg_batch b;
        cg_loader_next(r->loader, &b);
        cg_ctx *ctx = &r->ctx;
        if (s == inject)
            ((real *)b.x)[0] = NAN;  /* the loader's buffer is ours until the next batch */
        int S = a->image_size;
        cg_tensor *x;
        if (o->device == CG_CPU) {
            x = cg_wrap(ctx, (real *)b.x, CG_SHAPE(b.n, a->in_ch, S, S));
        } else {
            x = cg_new_on(ctx, o->device, CG_SHAPE(b.n, a->in_ch, S, S));
            if (x)
                cg_copy_from_host(ctx, x, b.x);  /* pinned, asynchronous */
        }
        if (!x || ctx->err) {
            st = fail(r, ctx->err, "%s", ctx->errmsg);
            break;
        }
        if (s == first + 1)
            t_start = cg_monotonic_seconds();  /* the first step warms up */
        double loss = 0;
        st = cg_ddpm_step(ctx, &r->m, &r->s, &r->adam, &r->ema, x, &r->noise, &r->drop, &loss);
        if (st != CG_OK) {
            fail(r, st, "step %lld: %s", (long long)s, ctx->errmsg);
            break;
        }
        if (s > first)
            timed++;
        int64_t epoch = b.epoch + 1;
        if (!isfinite(loss)) {
            st = diverged(r, s, epoch, loss);
            break;
        }
        if (s == first)
            res->first_loss = loss;
        res->loss = loss;
        res->steps = s;
        cg_progress_update(&prog, s, epoch, b.n, "loss", loss, (const char *)NULL);
        cg_metrics_write(&log, s, epoch, b.n, "loss", loss, (const char *)NULL);
        if (b.last_in_epoch)
            res->epochs_done = epoch;
        if (cg_metrics_failed(&log, NULL, 0)) {
            /* the log cannot be written (a full disk): the checkpoint first */
            if (o->out_dir)
                save(r, s, epoch);
            st = cg_run_log_failed(err, errlen, "ddpm", o, &log, s, r->saved_step == s);
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
    if (progressing) {
        cg_progress_end(&prog);
        progressing = 0;
    }
    if (st == CG_OK && sig) {
        st = interrupted(r, sig, res->steps);
        res->interrupted = sig;
    }
    if (st == CG_OK && o->out_dir && d->sample_steps > 0) {
        if (!o->quiet)
            fprintf(stderr, "ddpm: sampling %d images with DDIM, %d steps, EMA weights\n",
                    GRID_N, d->sample_steps);
        st = write_grid(r, "samples.png", &res->sample_s);
    }
    if (st == CG_OK)
        cg_metrics_write(&log, res->steps, res->steps ? (res->steps - 1) / per_epoch + 1 : 0,
                         0, "img_per_s", res->img_per_s, "sample_s", res->sample_s,
                         (const char *)NULL);
done:
    if (progressing)
        cg_progress_end(&prog);
    if (cg_metrics_close(&log) != CG_OK && st == CG_OK)
        st = cg_run_log_failed(err, errlen, "ddpm", o, &log, res->steps,
                               r->saved_step == res->steps);
    cg_loader_close(r->loader);
    cg_dataset_free(&r->ds);
    cg_unet_free(&r->m);
    cg_ddpm_sched_free(&r->s);
    cg_ema_free(&r->ema);
    cg_ctx_free(&r->ctx);
    return st;
}
