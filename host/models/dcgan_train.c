/*
 * dcgan_train.c: `cugen train dcgan`: the example's training loop with the
 * run directory a long GPU run needs.
 *
 *   DIR/checkpoint.safetensors  G and D ("G.", "D."), both Adams' moments,
 *                               the loader position and the RNG offsets:
 *                               everything --resume needs to continue bit
 *                               for bit (and .prev, the one before)
 *   DIR/G.safetensors, D.safetensors  the weights alone, under the example's
 *                               state_dict names (load_state_dict works)
 *   DIR/epoch_NNN.png           64 samples of a fixed z after each epoch
 *   DIR/samples.png             the same after the last step of the run
 *   DIR/real.png                a batch of the training data
 *   DIR/metrics.jsonl           every step: loss_D, loss_G, D(x), D(G(z))
 *                               before (d_g_z1) and after (d_g_z2) the D step
 *
 * Random streams of the seed: 1 the initial weights, 2 the fixed z of the
 * grids, 3 the z of the training steps; the loader has its own.
 *
 * Not for: the networks and the iteration (dcgan.c), flags (cli/train.c).
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/data.h"
#include "cugen/dcgan.h"
#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

#define GRID_N 64
#define STREAM_INIT 1
#define STREAM_FIXED_Z 2
#define STREAM_NOISE 3

enum {
    X_ADAM_G_T, X_NOISE, X_LOADER_EPOCH, X_LOADER_INDEX, X_LOADER_RNG, X_NZ, X_NGF, X_NDF,
    X_SIZE, X_NC, X_BATCH, X_COUNT
};

typedef struct {
    const cg_train_opts *o;
    cg_dcgan m;
    cg_dataset ds;
    cg_loader *loader;
    cg_ctx ctx;
    cg_adam adam_d, adam_g;
    cg_rng noise;
    real *fixed_z;
    real *grid;           /* host copy of a sample grid's images */
    cg_device dev;
    cg_ckpt_int extra[X_COUNT];
    cg_ckpt_state cs;
    int64_t saved_step;   /* of the last checkpoint written or resumed from; -1: none */
    int bn_running;
    char *err;
    size_t errlen;
} run;

static cg_status fail(run *r, cg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cg_status fail(run *r, cg_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_run_vfail(r->err, r->errlen, "dcgan", st, fmt, ap);
    va_end(ap);
    return st;
}

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

/* 64 samples of the fixed z into DIR/name: G with batch statistics (as the
 * example draws them, but without touching the running ones) or running. */
static cg_status write_grid(run *r, const char *name)
{
    cg_ctx *ctx = &r->ctx;
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *z = cg_new_on(ctx, r->dev, CG_SHAPE(GRID_N, r->m.a.nz));
    if (z)
        cg_copy_from_host(ctx, z, r->fixed_z);
    cg_tensor *x = cg_dcgan_generate(ctx, &r->m, z, r->bn_running, 0);
    cg_set_grad(ctx, prev);
    if (x)
        cg_copy_to_host(ctx, r->grid, x);
    cg_status st = ctx->err;
    if (st != CG_OK) {
        st = fail(r, st, "sample grid: %s", ctx->errmsg);
    } else {
        char path[4096], why[512];
        path_in(path, sizeof path, r->o->out_dir, name);
        int S = r->m.a.image_size;
        st = cg_png_write_grid(path, r->grid, GRID_N, r->m.a.nc, S, S, 8, why, sizeof why);
        if (st != CG_OK)
            fail(r, st, "%s", why);
    }
    cg_ctx_step_end(ctx);
    return st;
}

static void fill_state(run *r, int64_t step, int64_t epoch)
{
    cg_loader_state ls = cg_loader_get_state(r->loader);
    r->cs.step = step;
    r->cs.epoch = epoch;
    r->cs.optim_t = r->adam_d.t;
    r->extra[X_ADAM_G_T].value = r->adam_g.t;
    r->extra[X_NOISE].value = (int64_t)r->noise.offset;
    r->extra[X_LOADER_EPOCH].value = ls.epoch;
    r->extra[X_LOADER_INDEX].value = ls.index;
    r->extra[X_LOADER_RNG].value = (int64_t)ls.rng_offset;
}

/* The checkpoint (atomically, the previous kept as .prev), then the two
 * weight files for PyTorch. */
static cg_status save(run *r, int64_t step, int64_t epoch)
{
    char why[1024], path[4096];
    fill_state(r, step, epoch);
    cg_status st = cg_ckpt_save_dir(r->o->out_dir, &r->m.p, &r->cs, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "checkpoint at step %lld: %s", (long long)step, why);
    r->saved_step = step;
    path_in(path, sizeof path, r->o->out_dir, "G.safetensors");
    if ((st = cg_weights_save_part(path, &r->m.p, "G.", why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    path_in(path, sizeof path, r->o->out_dir, "D.safetensors");
    if ((st = cg_weights_save_part(path, &r->m.p, "D.", why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    return CG_OK;
}

static cg_status resume(run *r, int64_t *first_step)
{
    cg_status st = cg_run_resume(r->o, "dcgan", &r->m.p, &r->cs, X_NZ, X_BATCH + 1, NULL,
                                 first_step, r->err, r->errlen);
    if (st != CG_OK)
        return st;
    if ((st = cg_run_restore_loader(r->loader, r->extra[X_LOADER_EPOCH].value,
                                    r->extra[X_LOADER_INDEX].value,
                                    r->extra[X_LOADER_RNG].value, "dcgan", r->err,
                                    r->errlen)) != CG_OK)
        return st;
    r->adam_d.t = r->cs.optim_t;
    r->adam_g.t = r->extra[X_ADAM_G_T].value;
    r->noise.offset = (uint64_t)r->extra[X_NOISE].value;
    r->saved_step = r->cs.step;
    return CG_OK;
}

/* A test hook: CUGEN_FAULT_NAN_STEP=N puts a NaN into the real batch of step
 * N, so the NaN guard is exercised by a genuinely diverged step. */
static int64_t nan_step(void)
{
    const char *s = getenv("CUGEN_FAULT_NAN_STEP");
    return s ? strtoll(s, NULL, 10) : -1;
}

static cg_status open_all(run *r, const cg_dcgan_opts *d)
{
    const cg_train_opts *o = r->o;
    char why[1024];
    int size = o->image_size ? o->image_size : d->a.image_size;
    cg_data_spec spec = {.name = o->data ? o->data : "fashion-mnist", .dir = o->data_dir,
                         .size = size};
    cg_status st = cg_dataset_open(&spec, &r->ds, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "%s", why);
    cg_dcgan_arch a = d->a;
    a.image_size = size;
    a.nc = r->ds.channels;
    if ((st = cg_dcgan_build(&r->m, &a, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why + (strncmp(why, "dcgan: ", 7) == 0 ? 7 : 0));
    cg_dcgan_init(&r->m, o->seed, STREAM_INIT);
    r->dev = o->device;
    if (r->dev == CG_CUDA) {
        cg_cuda_set_deterministic(o->deterministic);
        cg_cuda_set_tf32(o->tf32);
        if ((st = cg_dcgan_to_device(&r->m, CG_CUDA, why, sizeof why)) != CG_OK)
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
    r->fixed_z = malloc(sizeof(real) * GRID_N * (size_t)a.nz);
    r->grid = malloc(sizeof(real) * GRID_N * (size_t)a.nc * a.image_size * a.image_size);
    if (!r->fixed_z || !r->grid)
        return fail(r, CG_ERR_NOMEM, "out of memory");
    cg_rng fz;
    cg_rng_init(&fz, o->seed, STREAM_FIXED_Z);
    cg_rng_normal(&fz, r->fixed_z, GRID_N * (int64_t)a.nz, 0.0, 1.0);
    cg_rng_init(&r->noise, o->seed, STREAM_NOISE);
    /* the example's optimizers: Adam(lr, betas = (0.5, 0.999)) for each net */
    cg_adam_init(&r->adam_d, o->lr, 0.5, 0.999, 1e-8, 0.0, 0);
    cg_adam_init(&r->adam_g, o->lr, 0.5, 0.999, 1e-8, 0.0, 0);
    static const char *const names[X_COUNT] = {
        "adam_g.t", "rng.noise", "loader.epoch", "loader.index", "loader.rng_offset",
        "run.nz", "run.ngf", "run.ndf", "run.image_size", "run.channels", "run.batch"};
    for (int i = 0; i < X_COUNT; i++)
        r->extra[i].name = names[i];
    r->extra[X_NZ].value = a.nz;
    r->extra[X_NGF].value = a.ngf;
    r->extra[X_NDF].value = a.ndf;
    r->extra[X_SIZE].value = a.image_size;
    r->extra[X_NC].value = a.nc;
    r->extra[X_BATCH].value = o->batch;
    r->cs = (cg_ckpt_state){.seed = o->seed, .extra = r->extra, .nextra = X_COUNT};
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
    cg_status st = cg_png_write_grid(path, b.x, n, r->m.a.nc, S, S, 8, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "%s", why);
    /* hand the same batches to training as if none was taken */
    if ((st = cg_loader_restore(r->loader, &keep, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    return CG_OK;
}

cg_status cg_dcgan_train(const cg_train_opts *o, const cg_dcgan_opts *d, cg_dcgan_result *res,
                         char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    run R = {.o = o, .saved_step = -1, .bn_running = d->bn_running, .err = err,
             .errlen = errlen};
    run *r = &R;
    err[0] = '\0';
    cg_metrics log = {0};
    cg_progress prog;
    int progressing = 0;
    cg_status st = open_all(r, d);
    if (st != CG_OK)
        goto done;
    int64_t per_epoch = cg_loader_batches_per_epoch(r->loader);
    int64_t total = cg_run_total_steps(o, per_epoch);
    int64_t first = 1;
    char why[1024];
    if (o->resume && (st = resume(r, &first)) != CG_OK)
        goto done;
    if ((st = cg_run_open_log(&log, o, first, why, sizeof why)) != CG_OK) {
        fail(r, st, "%s", why);
        goto done;
    }
    if (o->out_dir && !o->resume && (st = write_real_grid(r)) != CG_OK)
        goto done;
    if (!o->quiet) {
        char dims[64];
        snprintf(dims, sizeof dims, "%dx%dx%d", r->m.a.nc, r->m.a.image_size,
                 r->m.a.image_size);
        fprintf(stderr, "dcgan: %s, %lld images of %s, batch %lld, %lld steps per epoch; "
                "nz %d, ngf %d, ndf %d, %lld parameters\n", r->ds.name, (long long)r->ds.count,
                dims, (long long)o->batch, (long long)per_epoch, r->m.a.nz, r->m.a.ngf,
                r->m.a.ndf, (long long)cg_params_count(&r->m.p));
    }
    cg_progress_begin(&prog, total, per_epoch,
                      &(cg_progress_cfg){.tty = -1, .every = o->log_every, .quiet = o->quiet,
                                         .start_step = first - 1, .unit = "img"});
    progressing = 1;
    cg_train_catch_signals();
    int64_t inject = nan_step();
    double t_start = 0;
    int64_t timed = 0;
    int64_t s = first;
    for (; s <= total; s++) {
        cg_batch b;
        cg_loader_next(r->loader, &b);
        cg_ctx *ctx = &r->ctx;
        if (s == inject)
            ((real *)b.x)[0] = NAN;  /* the loader's buffer is ours until the next batch */
        int S = r->m.a.image_size;
        cg_tensor *x;
        if (r->dev == CG_CPU) {
            x = cg_wrap(ctx, (real *)b.x, CG_SHAPE(b.n, r->m.a.nc, S, S));
        } else {
            x = cg_new_on(ctx, r->dev, CG_SHAPE(b.n, r->m.a.nc, S, S));
            if (x)
                cg_copy_from_host(ctx, x, b.x);  /* pinned, asynchronous */
        }
        cg_tensor *z = cg_new_on(ctx, r->dev, CG_SHAPE(b.n, r->m.a.nz));
        if (z && cg_rng_fill_normal(&r->noise, z, 0.0, 1.0) != CG_OK)
            cg_fail(ctx, CG_ERR_CUDA, "z: %s", cg_cuda_last_error());
        if (!x || !z || ctx->err) {
            st = fail(r, ctx->err, "%s", ctx->errmsg);
            break;
        }
        if (s == first + 1)
            t_start = cg_monotonic_seconds();  /* the first step warms up */
        cg_dcgan_stats ds;
        if ((st = cg_dcgan_step(ctx, &r->m, &r->adam_d, &r->adam_g, x, z, &ds)) != CG_OK) {
            fail(r, st, "step %lld: %s", (long long)s, ctx->errmsg);
            break;
        }
        if (s > first)
            timed++;
        int64_t epoch = b.epoch + 1;
        res->last = ds;
        if (!isfinite(ds.loss_d) || !isfinite(ds.loss_g)) {
            char values[96];
            snprintf(values, sizeof values, "loss_D = %g, loss_G = %g", ds.loss_d, ds.loss_g);
            st = cg_run_diverged(err, errlen, "dcgan", o, s, epoch, values, r->saved_step);
            break;
        }
        res->steps = s;
        cg_progress_update(&prog, s, epoch, b.n, "loss_D", ds.loss_d, "loss_G", ds.loss_g,
                           "D(x)", ds.d_x, "D(G(z))", ds.d_g_z1, (const char *)NULL);
        cg_metrics_write(&log, s, epoch, b.n, "loss_D", ds.loss_d, "loss_G", ds.loss_g,
                         "D_x", ds.d_x, "D_G_z1", ds.d_g_z1, "D_G_z2", ds.d_g_z2,
                         (const char *)NULL);
        if (b.last_in_epoch)
            res->epochs_done = epoch;
        if (cg_metrics_failed(&log, NULL, 0)) {
            /* the log cannot be written (a full disk): the checkpoint first */
            if (o->out_dir)
                save(r, s, epoch);
            st = cg_run_log_failed(err, errlen, "dcgan", o, &log, s, r->saved_step == s);
            break;
        }
        if (!o->out_dir)
            continue;
        int end = s == total || cg_train_signal();
        if (b.last_in_epoch) {
            char name[32];
            snprintf(name, sizeof name, "epoch_%03lld.png", (long long)epoch);
            if ((st = write_grid(r, name)) != CG_OK)
                break;
        }
        if (end || b.last_in_epoch || (o->ckpt_every > 0 && s % o->ckpt_every == 0))
            if ((st = save(r, s, epoch)) != CG_OK)
                break;
        if (end && (st = write_grid(r, "samples.png")) != CG_OK)
            break;
        if (cg_train_signal())
            break;
    }
    if (timed > 0)
        res->img_per_s = (double)timed * (double)o->batch / (cg_monotonic_seconds() - t_start);
    int sig = cg_train_signal();
    cg_train_release_signals();
    if (st == CG_OK && sig) {
        st = cg_run_interrupted(err, errlen, "dcgan", o, sig, res->steps);
        res->interrupted = sig;
    }
    if (st == CG_OK)
        cg_metrics_write(&log, res->steps, res->steps ? (res->steps - 1) / per_epoch + 1 : 0,
                         0, "img_per_s", res->img_per_s, (const char *)NULL);
done:
    if (progressing)
        cg_progress_end(&prog);
    if (cg_metrics_close(&log) != CG_OK && st == CG_OK)
        st = cg_run_log_failed(err, errlen, "dcgan", o, &log, res->steps,
                               r->saved_step == res->steps);
    cg_loader_close(r->loader);
    cg_dataset_free(&r->ds);
    cg_dcgan_free(&r->m);
    cg_ctx_free(&r->ctx);
    free(r->fixed_z);
    free(r->grid);
    return st;
}
