/*
 * trainer.c: the one training loop (trainer.h). A model gives its hooks; the
 * trainer owns the data set and loader, resume, the metrics log, progress,
 * signals, the NaN guard, the checkpoint cadence, the arena reset after
 * every step and the result. cg_trainer_bench: the same build and step,
 * timed on a batch made in memory (cugen bench step).
 *
 * Checkpoint values: "loader.epoch", "loader.index", "loader.rng_offset"
 * (the trainer's), then what the model keeps (cg_trainer_keep) and its
 * settings ("run.*", cg_trainer_setting), under the names the model loops
 * of earlier versions used, so their checkpoints still resume.
 *
 * Under mpirun the same loop runs in every process, each on its rows of
 * the global batch (trainer_dist.c).
 *
 * Not for: a model's networks, step or pictures (host/models/), flags
 * (host/cli/train.c).
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/cuda.h"
#include "cugen/rng.h"
#include "cugen/trainer.h"
#include "train/trainer_dist.h"
#include "train/fid.h"

#define GRID_N 64

void cg_scalars_put(cg_scalars *s, const char *name, double value)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0) {
            s->value[i] = value;
            return;
        }
    if (s->n < CG_SCALARS_MAX) {
        s->name[s->n] = name;
        s->value[s->n++] = value;
    }
}

double cg_scalars_get(const cg_scalars *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0)
            return s->value[i];
    return NAN;
}

cg_status cg_trainer_fail(cg_trainer *t, cg_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_run_vfail(t->err, t->errlen, t->kind->name, st, fmt, ap);
    va_end(ap);
    return st;
}

cg_status cg_trainer_fail_model(cg_trainer *t, cg_status st, const char *why)
{
    size_t n = strlen(t->kind->name);
    if (strncmp(why, t->kind->name, n) == 0 && strncmp(why + n, ": ", 2) == 0)
        why += n + 2;
    return cg_trainer_fail(t, st, "%s", why);
}

void cg_trainer_path(const cg_trainer *t, char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", t->o->out_dir ? t->o->out_dir : ".", name);
}

cg_status cg_trainer_save_weights(cg_trainer *t, const cg_params *p, const char *part,
                                  const char *name)
{
    char path[4096], why[1024];
    cg_trainer_path(t, path, sizeof path, name);
    cg_status st = part ? cg_weights_save_part(path, p, part, why, sizeof why)
                        : cg_weights_save(path, p, why, sizeof why);
    return st == CG_OK ? CG_OK : cg_trainer_fail(t, st, "%s", why);
}

cg_status cg_trainer_grid(cg_trainer *t, const char *name, cg_tensor *x, int per_row)
{
    cg_ctx *ctx = &t->ctx;
    real *host = x && !ctx->err ? malloc(sizeof(real) * (size_t)x->n) : NULL;
    cg_status st = ctx->err ? ctx->err : !x ? CG_ERR_STATE : !host ? CG_ERR_NOMEM : CG_OK;
    if (st == CG_OK)
        st = cg_copy_to_host(ctx, host, x);
    if (st != CG_OK) {
        cg_trainer_fail(t, st, "sample grid: %s", ctx->err ? ctx->errmsg : "out of memory");
    } else {
        char path[4096], why[512];
        cg_trainer_path(t, path, sizeof path, name);
        st = cg_png_write_grid(path, host, x->shape[0], t->ds.channels, t->ds.height,
                               t->ds.width, per_row, why, sizeof why);
        if (st != CG_OK)
            cg_trainer_fail(t, st, "%s", why);
    }
    free(host);
    cg_ctx_step_end(ctx);
    return st;
}

void cg_trainer_params(cg_trainer *t, cg_params *p, int64_t *optim_t, cg_ema *ema)
{
    t->params = p;
    t->optim_t = optim_t;
    t->ema = ema;
}

static void add_value(cg_trainer *t, const char *name, int64_t value, int64_t *bound,
                      const char *shown)
{
    if (t->nextra == CG_TRAINER_MAX_STATE) {  /* a model declaring this many is a bug */
        fprintf(stderr, "%s: more than %d checkpoint values\n", t->kind->name,
                CG_TRAINER_MAX_STATE);
        abort();
    }
    t->extra[t->nextra] = (cg_ckpt_int){.name = name, .value = value};
    t->bound[t->nextra] = bound;
    t->shown[t->nextra++] = shown;
}

void cg_trainer_keep(cg_trainer *t, const char *name, int64_t *value)
{
    add_value(t, name, *value, value, NULL);
}

void cg_trainer_keep_new(cg_trainer *t, const char *name, int64_t *value)
{
    add_value(t, name, *value, value, NULL);
    t->extra[t->nextra - 1].optional = 1;
}

void cg_trainer_setting(cg_trainer *t, const char *name, int64_t value, const char *shown)
{
    add_value(t, name, value, NULL, shown);
}

enum { X_LOADER_EPOCH, X_LOADER_INDEX, X_LOADER_RNG, X_MODEL };

/* the images the loader hands out a step: --batch, times the kind's batches per step */
static int64_t step_images(const cg_trainer *t)
{
    int k = t->kind->batches_per_step ? t->kind->batches_per_step(t->settings) : 1;
    return t->o->batch * (k > 1 ? k : 1);
}

/* where the model's values start: after the loader's three */
static int first_model_value(const cg_trainer *t)
{
    return t->kind->own_data ? 0 : X_MODEL;
}

static void fill_state(cg_trainer *t, int64_t step, int64_t epoch)
{
    cg_loader_state ls = t->loader ? cg_loader_get_state(t->loader) : (cg_loader_state){0};
    t->cs.step = step;
    t->cs.epoch = epoch;
    t->cs.optim_t = t->optim_t ? *t->optim_t : 0;
    if (t->loader) {
        t->extra[X_LOADER_EPOCH].value = ls.epoch;
        t->extra[X_LOADER_INDEX].value = ls.index;
        t->extra[X_LOADER_RNG].value = (int64_t)ls.rng_offset;
    }
    for (int i = first_model_value(t); i < t->nextra; i++)
        if (t->bound[i])
            t->extra[i].value = *t->bound[i];
}

/* The checkpoint (atomically, the previous kept as .prev), then the model's files. */
static cg_status save(cg_trainer *t, void *self, int64_t step, int64_t epoch)
{
    char why[1024];
    fill_state(t, step, epoch);
    cg_status st = cg_ckpt_save_dir(t->o->out_dir, t->params, &t->cs, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "checkpoint at step %lld: %s", (long long)step, why);
    t->saved_step = step;
    return t->kind->on_save ? t->kind->on_save(t, self) : CG_OK;
}

/* The settings, which cg_run_resume checks, must be one run of extras. */
static cg_status order_settings(cg_trainer *t, int *lo, int *hi)
{
    cg_ckpt_int e[CG_TRAINER_MAX_STATE];
    int64_t *b[CG_TRAINER_MAX_STATE];
    const char *s[CG_TRAINER_MAX_STATE];
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < t->nextra; i++)
            if ((pass == 0) == (i < first_model_value(t) || t->bound[i] != NULL)) {
                e[n] = t->extra[i];
                b[n] = t->bound[i];
                s[n++] = t->shown[i];
            }
    memcpy(t->extra, e, sizeof e[0] * (size_t)n);
    memcpy(t->bound, b, sizeof b[0] * (size_t)n);
    memcpy(t->shown, s, sizeof s[0] * (size_t)n);
    *hi = n;
    *lo = n;
    while (*lo > first_model_value(t) && !t->bound[*lo - 1])
        (*lo)--;
    return CG_OK;
}

static cg_status resume(cg_trainer *t, int lo, int hi, int64_t *first)
{
    cg_status st = cg_run_resume(t->o, t->kind->name, t->params, &t->cs, lo, hi, t->shown,
                                 first, t->err, t->errlen);
    if (st != CG_OK)
        return st;
    if (t->loader)
        st = cg_run_restore_loader(t->loader, t->extra[X_LOADER_EPOCH].value,
                                   t->extra[X_LOADER_INDEX].value,
                                   t->extra[X_LOADER_RNG].value, t->kind->name, t->err,
                                   t->errlen);
    if (st != CG_OK)
        return st;
    if (t->optim_t)
        *t->optim_t = t->cs.optim_t;
    for (int i = first_model_value(t); i < t->nextra; i++)
        if (t->bound[i])
            *t->bound[i] = t->extra[i].value;
    t->saved_step = t->cs.step;
    return CG_OK;
}

static cg_status open_data(cg_trainer *t)
{
    const cg_train_opts *o = t->o;
    const cg_model_kind *k = t->kind;
    char why[1024];
    if (k->own_data)
        return CG_OK;
    t->image_size = o->image_size       ? o->image_size
                    : k->default_size ? k->default_size(t->settings)
                                      : k->image_size;
    cg_data_spec spec = {.name = o->data ? o->data : k->data ? k->data : "fashion-mnist",
                         .dir = o->data_dir, .size = t->image_size};
    cg_status st = cg_dataset_open(&spec, &t->ds, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "%s", why);
    if (k->test_split) {
        spec.split = "test";
        if (cg_dataset_open(&spec, &t->test, why, sizeof why) != CG_OK) {
            t->test = t->ds;          /* borrowed: freed once */
            t->test_is_train = 1;
        }
    }
    return CG_OK;
}

static cg_status open_all(cg_trainer *t, void *self)
{
    const cg_train_opts *o = t->o;
    char why[1024];
    cg_status st = open_data(t);
    if (st != CG_OK)
        return st;
    if (!t->kind->own_data && t->kind->data_ready && (st = t->kind->data_ready(t, self)) != CG_OK)
        return st;
    if ((st = cg_ctx_init(&t->ctx)) != CG_OK)
        return cg_trainer_fail(t, st, "out of memory");
    if (o->device == CG_CUDA) {
        cg_cuda_set_deterministic(o->deterministic);
        cg_cuda_set_tf32(o->tf32);
    }
    static const char *const loader_names[X_MODEL] = {"loader.epoch", "loader.index",
                                                      "loader.rng_offset"};
    for (int i = 0; i < first_model_value(t); i++)  /* a kind with its own data has none */
        add_value(t, loader_names[i], 0, NULL, NULL);
    /* the loader first, so that build knows the run's length; a batch larger
     * than the data set is refused after build, whose flag errors come first */
    int64_t images = step_images(t);
    cg_loader_opts lo = cg_loader_defaults((int)images, o->seed);
    if (t->kind->own_data) {
        t->total = o->steps;  /* no epochs */
    } else if (t->ds.count >= images) {
        if ((st = cg_loader_open(&t->loader, &t->ds, &lo, why, sizeof why)) != CG_OK)
            return cg_trainer_fail(t, st, "%s", why);
        t->per_epoch = cg_loader_batches_per_epoch(t->loader);
        t->total = cg_run_total_steps(o, t->per_epoch);
    }
    if ((st = t->kind->build(t, self)) != CG_OK)
        return st;
    if (!t->params && (t->kind->checkpoints || !t->kind->own_data))
        return cg_trainer_fail(t, CG_ERR_STATE, "the model declared no parameters");
    if (!t->kind->own_data && t->ds.count < o->batch)
        return cg_trainer_fail(t, CG_ERR_ARG, "--batch %lld is larger than the data set "
                               "(%lld images)", (long long)o->batch, (long long)t->ds.count);
    if (!t->kind->own_data && t->ds.count < images)
        return cg_trainer_fail(t, CG_ERR_ARG, "a step takes %lld batches of %lld, more than "
                               "the data set's %lld images", (long long)(images / o->batch),
                               (long long)o->batch, (long long)t->ds.count);
    t->cs = (cg_ckpt_state){.seed = o->seed, .extra = t->extra, .nextra = t->nextra,
                            .ema = t->ema, .settings = o->settings};
    return CG_OK;
}

/* DIR/real.png: the first batch, which training then gets as if none was taken. */
static cg_status write_real_grid(cg_trainer *t)
{
    cg_batch b;
    cg_loader_state keep = cg_loader_get_state(t->loader);
    cg_loader_next(t->loader, &b);
    int n = b.n < GRID_N ? b.n : GRID_N;
    char path[4096], why[512];
    cg_trainer_path(t, path, sizeof path, "real.png");
    cg_status st = cg_png_write_grid(path, b.x, n, t->ds.channels, t->ds.height, t->ds.width, 8,
                                     why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "%s", why);
    if ((st = cg_loader_restore(t->loader, &keep, why, sizeof why)) != CG_OK)
        return cg_trainer_fail(t, st, "%s", why);
    return CG_OK;
}

/* A test hook: CUGEN_FAULT_NAN_STEP=N puts a NaN into the batch of step N,
 * so the NaN guard is exercised by a genuinely diverged step. */
static int64_t nan_step(void)
{
    const char *s = getenv("CUGEN_FAULT_NAN_STEP");
    return s ? strtoll(s, NULL, 10) : -1;
}

/* The batch as an (n, C, H, W) tensor on the model's device. */
static cg_tensor *batch_tensor(cg_trainer *t, const cg_batch *b)
{
    cg_ctx *ctx = &t->ctx;
    int shape[4] = {b->n, t->ds.channels, t->ds.height, t->ds.width};
    if (t->o->device == CG_CPU)
        return cg_wrap(ctx, (real *)b->x, shape, 4);
    cg_tensor *x = cg_new_on(ctx, t->o->device, shape, 4);
    if (x)
        cg_copy_from_host(ctx, x, b->x);  /* pinned, asynchronous */
    return x;
}

static void scalars_text(const cg_scalars *s, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->n && k < len; i++)
        if (!isfinite(s->value[i]))
            k += (size_t)snprintf(buf + k, len - k, "%s%s = %g", k ? ", " : "", s->name[i],
                                  s->value[i]);
}

static int all_finite(const cg_scalars *s)
{
    for (int i = 0; i < s->n; i++)
        if (!isfinite(s->value[i]))
            return 0;
    return 1;
}

static void merge(cg_scalars *into, const cg_scalars *from)
{
    for (int i = 0; i < from->n; i++)
        cg_scalars_put(into, from->name[i], from->value[i]);
}

typedef struct {
    cg_metrics log;
    cg_progress prog;
    int progressing;
    cg_fid_watch fid;       /* --fid-every */
} run_io;

/* --fid-every: FID after step s, into the log and the result's final scalars */
static cg_status measure_fid(cg_trainer *t, void *self, run_io *io, int64_t s,
                             cg_train_result *res)
{
    static const char *const name[1] = {"fid"};
    double fid = 0;
    cg_status st = cg_fid_measure(t, self, &io->fid, &fid);
    if (st == CG_OK) {
        cg_metrics_write_n(&io->log, s, t->epoch, 0, 1, name, &fid);
        cg_scalars_put(&res->final, name[0], fid);
    }
    return st;
}

/* The steps first..total; the status of the first failure. */
static cg_status loop(cg_trainer *t, void *self, run_io *io, int64_t first, cg_train_result *res)
{
    const cg_train_opts *o = t->o;
    const cg_model_kind *k = t->kind;
    int64_t inject = nan_step();
    /* test hooks: CUGEN_FAULT_DRIFT_STEP=N moves a weight of rank 1 at step N;
     * CUGEN_FAULT_KILL_STEP=N kills rank 1 (rank 0 of a single process) there */
    const char *d = getenv("CUGEN_FAULT_DRIFT_STEP"), *kill_at = getenv("CUGEN_FAULT_KILL_STEP");
    int64_t killed = kill_at ? strtoll(kill_at, NULL, 10) : -1;
    int64_t drift = d && t->params && t->params->dev == CG_CPU ? strtoll(d, NULL, 10) : -1;
    double t_start = 0, fid_before = 0;  /* the FID's seconds are not the steps' */
    double t_loop = cg_monotonic_seconds();
    int64_t timed = 0;
    cg_status st = CG_OK;
    for (int64_t s = first; s <= t->total; s++) {
        cg_batch b = {.n = (int)o->batch};
        if (t->loader)
            cg_loader_next(t->loader, &b);
        else if (t->per_epoch)  /* a fixed set of the kind's own: its epochs */
            b.epoch = (s - 1) / t->per_epoch;
        if (s == inject && b.x)
            ((real *)b.x)[0] = NAN;  /* the loader's buffer is ours until the next batch */
        dist_slice(t, &b);
        if (s == drift && t->rank == 1)
            t->params->w[0] += 1;  /* the parameters of rank 1 out of step (a test) */
        if (s == killed && t->rank == (t->ranks > 1))
            raise(SIGKILL);  /* a rank that dies with no handler run (a test) */
        if (s == first + 1) {
            t_start = cg_monotonic_seconds();  /* the first step warms up */
            fid_before = io->fid.seconds;
        }
        t->step = s;
        t->epoch = b.epoch + 1;
        cg_scalars out = {0};
        cg_tensor *x = b.x ? batch_tensor(t, &b) : NULL;
        t->ctx.bn = t->bn.slices > 1 || t->bn.parts > 1 ? &t->bn : NULL;  /* the step's only */
        st = (x || !b.x) && !t->ctx.err ? k->step(t, self, x, &b, &out) : t->ctx.err;
        t->ctx.bn = NULL;
        if (st == CG_OK && t->ctx.err)
            st = t->ctx.err;
        if (st != CG_OK)
            cg_trainer_fail(t, st, "step %lld: %s", (long long)s, t->ctx.errmsg);
        cg_ctx_step_end(&t->ctx);
        if (st != CG_OK)
            break;
        if (o->max_minutes > 0 && s < t->total &&
            cg_monotonic_seconds() - t_loop >= 60 * o->max_minutes)
            t->stop = 1;  /* by any rank's clock: dist_agree stops them all */
        int sig = cg_train_signal();
        if ((st = dist_agree(t, &out, &sig)) != CG_OK)
            break;
        t->signalled = sig;
        if (s > first)
            timed++;
        if (!all_finite(&out)) {
            char values[512];
            scalars_text(&out, values, sizeof values);
            st = cg_run_diverged(t->err, t->errlen, k->name, o, s, t->epoch, values,
                                 t->saved_step);
            break;
        }
        if (s == first)
            res->first = out;
        res->last = out;
        res->steps = s;
        cg_progress_update_n(&io->prog, s, t->epoch, b.n, out.n, out.name, out.value);
        cg_metrics_write_n(&io->log, s, t->epoch, b.n, out.n, out.name, out.value);
        if (b.last_in_epoch) {
            res->epochs_done = t->epoch;
            if (k->epoch_end) {
                cg_scalars ep = {0};
                if ((st = k->epoch_end(t, self, t->epoch, &ep)) != CG_OK)
                    break;
                merge(&res->final, &ep);
                cg_metrics_write_n(&io->log, s, t->epoch, 0, ep.n, ep.name, ep.value);
            }
        }
        if (o->fid_every && (s % o->fid_every == 0 || s == t->total || t->stop) &&
            !cg_train_signal() && (st = measure_fid(t, self, io, s, res)) != CG_OK)
            break;
        if (cg_metrics_failed(&io->log, NULL, 0)) {
            /* the log cannot be written (a full disk): the checkpoint first */
            if (o->out_dir)
                save(t, self, s, t->epoch);
            st = cg_run_log_failed(t->err, t->errlen, k->name, o, &io->log, s,
                                   t->saved_step == s);
            break;
        }
        int end = s == t->total || sig || t->stop;
        int saving = k->checkpoints &&
            (end || b.last_in_epoch || (o->ckpt_every > 0 && s % o->ckpt_every == 0));
        /* every rank checks, rank 0 saves: the checkpoint is of parameters all share */
        if ((saving || s % DIST_CHECK_EVERY == 0) && (st = dist_check_params(t, s)) != CG_OK)
            break;
        if (o->out_dir && saving && (st = save(t, self, s, t->epoch)) != CG_OK)
            break;
        if (sig || t->stop)
            break;
    }
    res->out_of_time = st == CG_OK && t->stop && o->max_minutes > 0 && res->steps < t->total;
    if (timed > 0)
        res->img_per_s = (double)timed * (double)step_images(t) /
                         (cg_monotonic_seconds() - t_start - (io->fid.seconds - fid_before));
    return st;
}

static int may_change(const cg_train_opts *o, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = o->may_change; p && (p = strstr(p, key)) != NULL; p += n)
        if ((p == o->may_change || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

static cg_status setting_differs(void *arg, const char *key, const char *was, const char *now)
{
    cg_trainer *t = arg;
    if (!may_change(t->o, key))
        return cg_trainer_fail(t, CG_ERR_ARG, "--resume: the run in %s has --%s %s, this "
                               "command %s; give the same flags", t->o->out_dir, key,
                               *was ? was : "(none)", *now ? now : "(none)");
    if (!t->o->quiet)
        fprintf(stderr, "%s: --resume: --%s was %s, now %s\n", t->kind->name, key,
                *was ? was : "(none)", *now ? now : "(none)");
    return CG_OK;
}

/* This command's settings against those of the run's latest checkpoint
 * (one written before settings were recorded has none: its run.* values are
 * still checked by the resume). */
static cg_status same_settings(cg_trainer *t)
{
    char path[4096], why[512];
    snprintf(path, sizeof path, "%s/%s", t->o->out_dir, CG_CKPT_LATEST);
    cg_st_file f;
    if (cg_st_load(&f, path, why, sizeof why) != CG_OK)
        return CG_OK;  /* the resume says what is wrong with it, or uses .prev */
    const char *was = cg_st_meta_get(&f, CG_CKPT_SETTINGS_KEY);
    cg_status st = CG_OK;
    if (was && (st = cg_settings_diff(was, t->o->settings, setting_differs, t, why,
                                      sizeof why)) == CG_ERR_IO)
        st = cg_trainer_fail(t, CG_ERR_IO, "--resume: %s: %s", path, why);
    cg_st_free(&f);
    return st;
}

/* DIR/settings.json: the flags of the run, as this command gave them */
static cg_status write_settings(cg_trainer *t)
{
    char path[4096], why[1024];
    cg_trainer_path(t, path, sizeof path, "settings.json");
    cg_io_piece pieces[2] = {{t->o->settings, strlen(t->o->settings)}, {"\n", 1}};
    cg_status st = cg_write_atomic(path, pieces, 2, why, sizeof why);
    return st == CG_OK ? CG_OK : cg_trainer_fail(t, st, "%s", why);
}

/* The lines of the last step of a run whose end is written again: the
 * step's scalars, then those of its epoch's end */
static void last_lines(void *arg, int index, int64_t epoch, int n, const char *const *names,
                       const double *values)
{
    cg_train_result *res = arg;
    cg_scalars *to = index == 0 ? &res->last : &res->final;
    (void)epoch;
    for (int i = 0; i < n && res->nnames < CG_TRAIN_NAMES; i++) {
        char *name = res->names[res->nnames++];
        snprintf(name, sizeof res->names[0], "%s", names[i]);
        cg_scalars_put(to, name, values[i]);
    }
}

static int has_result(const cg_train_opts *o)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/result.json", o->out_dir);
    return stat(path, &sb) == 0;
}

static cg_status start(cg_trainer *t, void *self, run_io *io, int64_t *first,
                       cg_train_result *res)
{
    const cg_train_opts *o = t->o;
    char why[1024];
    cg_status st = open_all(t, self);
    if (st != CG_OK)
        return st;
    int lo, hi;
    order_settings(t, &lo, &hi);
    if (o->resume && t->kind->resume_check) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", o->out_dir, CG_CKPT_LATEST);
        if ((st = t->kind->resume_check(t, self, path)) != CG_OK)
            return st;
    }
    if (o->resume && (st = resume(t, lo, hi, first)) != CG_OK)
        return st;
    if (o->resume && o->settings && (st = same_settings(t)) != CG_OK)
        return st;
    if ((st = dist_share_state(t, first)) != CG_OK)
        return st;
    if (t->kind->ready && (st = t->kind->ready(t, self)) != CG_OK)
        return st;
    /* killed after its last checkpoint, before its end (result.json) was written:
     * the end again, with the last step's scalars from the log */
    t->ending = o->resume && o->out_dir && *first - 1 == t->total && !has_result(o);
    /* the network and real statistics of --fid-every, when there are steps to train */
    if (o->fid_every && !t->ending && *first <= t->total &&
        (st = cg_fid_open(t, &io->fid)) != CG_OK)
        return st;
    if (t->ending)
        st = cg_metrics_open_end(&io->log, o->out_dir, t->total, last_lines, res, why,
                                 sizeof why);
    else
        st = cg_run_open_log(&io->log, o, *first, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "%s", why);
    if (o->out_dir && o->settings && (st = write_settings(t)) != CG_OK)
        return st;
    if (o->out_dir && !o->resume && t->kind->real_grid && (st = write_real_grid(t)) != CG_OK)
        return st;
    if (!o->quiet) {
        char desc[1024] = "", ranks[160];
        dist_describe(t, ranks, sizeof ranks);
        if (t->kind->describe)
            t->kind->describe(t, self, desc, sizeof desc);
        if (t->kind->own_data && !t->params)  /* describe counts them */
            fprintf(stderr, "%s: batch %lld; %s\n", t->kind->name, (long long)o->batch, desc);
        else if (t->kind->own_data)
            fprintf(stderr, "%s: batch %lld; %s%s%lld parameters\n", t->kind->name,
                    (long long)o->batch, desc, *desc ? ", " : "",
                    (long long)cg_params_count(t->params));
        else
            fprintf(stderr, "%s: %s, %lld images of %dx%dx%d, batch %lld, %lld steps per "
                    "epoch; %s%s%s%lld parameters%s\n", t->kind->name, t->ds.name,
                    (long long)t->ds.count, t->ds.channels, t->ds.height, t->ds.width,
                    (long long)o->batch, (long long)t->per_epoch, ranks, desc, *desc ? ", " : "",
                    (long long)cg_params_count(t->params),
                    t->kind->test_split && t->test_is_train
                        ? "; no test split: measured on the training set" : "");
    }
    return CG_OK;
}

/* The signal that stops the run: on every rank the one a rank caught (dist_agree) */
static int signalled(const cg_trainer *t)
{
    return t->ranks > 1 ? t->signalled : cg_train_signal();
}

cg_status cg_trainer_run(const cg_model_kind *kind, const void *settings, const cg_train_opts *o,
                         cg_train_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    err[0] = '\0';
    cg_trainer T = {.kind = kind, .o = o, .settings = settings, .saved_step = -1, .err = err,
                    .errlen = errlen};
    cg_trainer *t = &T;
    run_io io = {0};
    cg_status st = dist_open(t);
    if (st == CG_OK)
        st = dist_bn_open(t);
    if (st != CG_OK)
        return st;
    o = t->o;  /* a rank other than 0: its own, without files */
    void *self = calloc(1, kind->state_size ? kind->state_size : 1);
    if (!self)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    int64_t first = 1;
    st = start(t, self, &io, &first, res);
    if (st == CG_OK && t->ending) {
        res->steps = t->total;
        res->epochs_done = t->per_epoch ? t->total / t->per_epoch : 0;
        res->ended_again = 1;
        /* a kill between the last checkpoint and the files its save writes beside it
         * (the weights for PyTorch) left those of the save before: written again */
        if (kind->on_save)
            st = kind->on_save(t, self);
    } else if (st == CG_OK && first > t->total) {
        res->done_before = first - 1;  /* nothing to do: the run keeps what it has */
        res->asked = t->total;
    } else if (st == CG_OK) {
        cg_progress_begin(&io.prog, t->total, t->per_epoch,
                          &(cg_progress_cfg){.tty = -1, .every = o->log_every,
                                             .quiet = o->quiet, .start_step = first - 1,
                                             .unit = "img"});
        io.progressing = 1;
        cg_train_catch_signals();
        st = loop(t, self, &io, first, res);
        cg_progress_end(&io.prog);
        io.progressing = 0;
    }
    /* the end: a signal before it or during finish stops the run before its result is
     * written; the checkpoint of the last step is there, and --resume writes the end */
    if (st == CG_OK && !res->done_before) {
        if (t->ending)
            cg_train_catch_signals();
        if (kind->finish && !signalled(t)) {
            cg_scalars fin = {0};
            if ((st = kind->finish(t, self, &fin)) == CG_OK)
                merge(&res->final, &fin);
        }
        int sig = signalled(t);
        if (st == CG_OK && sig) {
            st = cg_run_interrupted(err, errlen, kind->name, o, sig, res->steps);
            res->interrupted = sig;
        }
        if (st == CG_OK) {
            cg_scalars end = res->final;
            cg_scalars_put(&end, "img_per_s", res->img_per_s);
            cg_metrics_write_n(&io.log, res->steps,
                               res->steps && t->per_epoch ? (res->steps - 1) / t->per_epoch + 1 : 1, 0, end.n,
                               end.name, end.value);
        }
    }
    cg_train_release_signals();
    dist_close(t, st);
    if (io.progressing)
        cg_progress_end(&io.prog);
    if (io.fid.count && !o->quiet)
        fprintf(stderr, "%s: FID of %lld images (%s): %d measurements, %.2f s each; the "
                "network and real statistics %.2f s\n", kind->name, (long long)o->fid_n,
                io.fid.net.name, io.fid.count,
                (io.fid.seconds - io.fid.open_seconds) / io.fid.count, io.fid.open_seconds);
    if (cg_metrics_close(&io.log) != CG_OK && st == CG_OK)
        st = cg_run_log_failed(err, errlen, kind->name, o, &io.log, res->steps,
                               t->saved_step == res->steps);
    char why[1024];
    if ((st == CG_OK || res->interrupted) && o->out_dir && res->steps > 0 &&
        cg_metrics_plot(o->out_dir, why, sizeof why) != CG_OK && st == CG_OK)
        st = cg_trainer_fail(t, CG_ERR_IO, "%s", why);
    cg_fid_close(&io.fid);
    if (kind->free)
        kind->free(self);
    free(self);
    cg_loader_close(t->loader);
    if (kind->test_split && !t->test_is_train)
        cg_dataset_free(&t->test);
    cg_dataset_free(&t->ds);
    cg_ctx_free(&t->ctx);
    return st;
}

/* ---- one step, timed (cugen bench step) ------------------------------------------ */

/* The data set of the bench: n random 8-bit images of C x S x S with random
 * labels of 10 classes (a classifier's step needs them), owned. */
#define BENCH_CLASSES 10
static cg_status bench_data(cg_trainer *t, int n, int C, int S)
{
    int64_t count = (int64_t)n * C * S * S;
    uint8_t *px = malloc((size_t)count);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    real *u = malloc(sizeof(real) * (size_t)(count > n ? count : n));
    if (!px || !y || !u) {
        free(px);
        free(y);
        free(u);
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory for %d images", n);
    }
    cg_rng r;
    cg_rng_init(&r, 7, 0);
    cg_rng_uniform(&r, u, count);
    for (int64_t i = 0; i < count; i++) {
        int v = (int)(u[i] * 256);
        px[i] = (uint8_t)(v > 255 ? 255 : v);
    }
    cg_rng_uniform(&r, u, n);
    for (int i = 0; i < n; i++) {
        int c = (int)(u[i] * BENCH_CLASSES);
        y[i] = c < BENCH_CLASSES ? c : BENCH_CLASSES - 1;
    }
    free(u);
    t->ds = (cg_dataset){.count = n, .channels = C, .height = S, .width = S, .pixels = px,
                         .owned_pixels = px, .labels = y, .num_classes = BENCH_CLASSES,
                         .owned_labels = y};
    snprintf(t->ds.name, sizeof t->ds.name, "random");
    t->test = t->ds;
    t->test_is_train = 1;
    t->image_size = S;
    return CG_OK;
}

/* The timed steps: the first, the warm-up, then b->repeat into res->step_ms. */
static cg_status bench_steps(cg_trainer *t, void *self, const cg_bench_opts *b,
                             const cg_batch *batch, cg_bench_result *res)
{
    const cg_device dev = t->o->device;
    for (int it = 0; it < 1 + b->warmup + b->repeat; it++) {
        t->step = it + 1;
        double t0 = 0, ms = 0;
        cg_status st = CG_OK;
        if (dev == CG_CUDA && (cg_cuda_sync() != CG_OK || cg_cuda_timer_start() != CG_OK))
            st = CG_ERR_CUDA;
        t0 = cg_monotonic_seconds();
        cg_scalars out = {0};
        cg_tensor *x = st == CG_OK ? batch_tensor(t, batch) : NULL;
        if (st == CG_OK)
            st = x && !t->ctx.err ? t->kind->step(t, self, x, batch, &out) : t->ctx.err;
        if (st == CG_OK && t->ctx.err)
            st = t->ctx.err;
        ms = (cg_monotonic_seconds() - t0) * 1e3;
        if (st == CG_OK && dev == CG_CUDA && cg_cuda_timer_stop(&ms) != CG_OK)
            st = CG_ERR_CUDA;
        cg_ctx_step_end(&t->ctx);
        if (st == CG_ERR_CUDA && !t->ctx.err)
            return cg_trainer_fail(t, st, "CUDA timer: %s", cg_cuda_last_error());
        if (st != CG_OK)
            return cg_trainer_fail(t, st, "step %d: %s", it + 1, t->ctx.errmsg);
        if (!all_finite(&out)) {
            char values[512];
            scalars_text(&out, values, sizeof values);
            return cg_trainer_fail(t, CG_ERR_NUMERIC, "step %d is not finite: %s", it + 1,
                                   values);
        }
        if (it >= 1 + b->warmup)
            res->step_ms[it - 1 - b->warmup] = ms;
    }
    return CG_OK;
}

static cg_status bench_sample(cg_trainer *t, void *self, const cg_bench_opts *b,
                              cg_bench_result *res)
{
    const cg_device dev = t->o->device;
    if (!t->kind->sample)
        return cg_trainer_fail(t, CG_ERR_ARG, "this model has no sampler to time");
    if (dev == CG_CUDA && (cg_cuda_sync() != CG_OK || cg_cuda_timer_start() != CG_OK))
        return cg_trainer_fail(t, CG_ERR_CUDA, "CUDA timer: %s", cg_cuda_last_error());
    double t0 = cg_monotonic_seconds();
    cg_status st = t->kind->sample(t, self, b->sample_n, res->sample_what,
                                   sizeof res->sample_what);
    double ms = (cg_monotonic_seconds() - t0) * 1e3;
    if (st != CG_OK)
        return st;
    if (dev == CG_CUDA && cg_cuda_timer_stop(&ms) != CG_OK)
        return cg_trainer_fail(t, CG_ERR_CUDA, "CUDA timer: %s", cg_cuda_last_error());
    res->sample_s = ms / 1e3;
    return CG_OK;
}

/* Built, described and, with b->torch, matched by its PyTorch script */
static cg_status bench_build(cg_trainer *t, void *self, const cg_bench_opts *b,
                             cg_bench_result *res)
{
    cg_status st = t->kind->build(t, self);
    if (st == CG_OK && !t->params)
        st = cg_trainer_fail(t, CG_ERR_STATE, "the model declared no parameters");
    if (st == CG_OK && t->kind->ready)
        st = t->kind->ready(t, self);
    if (st != CG_OK)
        return st;
    res->params = cg_params_count(t->params);
    if (t->kind->describe)
        t->kind->describe(t, self, res->describe, sizeof res->describe);
    if (b->torch && t->kind->torch_args &&
        t->kind->torch_args(t, self, res->torch_args, sizeof res->torch_args) != 0)
        return cg_trainer_fail(t, CG_ERR_ARG, "no PyTorch side: %s; add --no-torch",
                               res->torch_args);
    return CG_OK;
}

cg_status cg_trainer_bench(const cg_model_kind *kind, const void *settings,
                           const cg_train_opts *o, const cg_bench_opts *b, cg_bench_result *res,
                           char *err, size_t errlen)
{
    err[0] = '\0';
    res->params = 0;
    res->describe[0] = res->torch_args[0] = res->sample_what[0] = '\0';
    res->sample_s = 0;
    cg_trainer T = {.kind = kind, .o = o, .settings = settings, .saved_step = -1, .err = err,
                    .errlen = errlen, .total = 1 + b->warmup + b->repeat, .per_epoch = 1,
                    .epoch = 1};
    cg_trainer *t = &T;
    void *self = calloc(1, kind->state_size ? kind->state_size : 1);
    real *x = NULL;
    int have_ctx = 0;
    int64_t first = 1;
    cg_status st = self ? dist_open(t) : cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    if (st == CG_OK)
        st = bench_data(t, (int)step_images(t), b->channels, b->image_size);
    if (st == CG_OK && (st = cg_ctx_init(&t->ctx)) != CG_OK)
        cg_trainer_fail(t, st, "out of memory");
    have_ctx = st == CG_OK;
    if (st == CG_OK && o->device == CG_CUDA) {
        cg_cuda_set_deterministic(o->deterministic);
        cg_cuda_set_tf32(o->tf32);
    }
    if (st == CG_OK)
        st = bench_build(t, self, b, res);
    if (st == CG_OK)  /* under mpirun: rank 0's weights, the gradients all-reduced */
        st = dist_share_state(t, &first);
    /* the batch as the loader hands it over: 8-bit values in [-1, 1] */
    int64_t count = t->ds.count * t->ds.channels * t->ds.height * t->ds.width;
    if (st == CG_OK && !(x = malloc(sizeof(real) * (size_t)count)))
        st = cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    if (st == CG_OK) {
        for (int64_t i = 0; i < count; i++)
            x[i] = (real)(t->ds.pixels[i] / 127.5 - 1.0);
        if (b->built)
            b->built(res, b->arg);
        cg_batch batch = {.x = x, .y = t->ds.labels, .n = (int)t->ds.count,
                          .last_in_epoch = 0};
        dist_slice(t, &batch);
        st = bench_steps(t, self, b, &batch, res);
    }
    if (st == CG_OK && b->sample_n > 0)
        st = bench_sample(t, self, b, res);
    dist_close(t, st);
    if (self && kind->free)
        kind->free(self);
    free(self);
    free(x);
    cg_dataset_free(&t->ds);
    if (have_ctx)
        cg_ctx_free(&t->ctx);
    return st;
}
