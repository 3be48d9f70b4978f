/*
 * ddpm.c: the diffusion around the UNet: noise schedules, the forward
 * process q(x_t | x_0), the epsilon-prediction loss and training step, the
 * two samplers (ancestral DDPM, DDIM with eta 0), and reading a checkpoint
 * back into a model.
 *
 * Not for: the network (unet.c), the training run's files (ddpm_train.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/cuda.h"
#include "cugen/ddpm.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

/* ---- schedules -------------------------------------------------------------- */

static double cosine_alpha_bar(double t, int T)
{
    const double s = 0.008;
    double c = cos((t / T + s) / (1 + s) * M_PI / 2);
    return c * c;
}

cg_status cg_ddpm_sched_init(cg_ddpm_sched *s, cg_sched_kind kind, int T)
{
    memset(s, 0, sizeof *s);
    if (T < 1 || T > CG_DDPM_MAX_T || (kind != CG_SCHED_LINEAR && kind != CG_SCHED_COSINE))
        return CG_ERR_ARG;
    s->beta = malloc(sizeof(double) * (size_t)T);
    s->alpha_bar = malloc(sizeof(double) * (size_t)T);
    if (!s->beta || !s->alpha_bar) {
        cg_ddpm_sched_free(s);
        return CG_ERR_NOMEM;
    }
    s->T = T;
    s->kind = kind;
    double ab = 1;
    for (int t = 0; t < T; t++) {
        double b;
        if (kind == CG_SCHED_LINEAR)
            b = T == 1 ? 1e-4 : 1e-4 + (0.02 - 1e-4) * t / (T - 1);
        else
            b = fmin(1 - cosine_alpha_bar(t + 1, T) / cosine_alpha_bar(t, T), 0.999);
        s->beta[t] = b;
        ab *= 1 - b;
        s->alpha_bar[t] = ab;
    }
    return CG_OK;
}

void cg_ddpm_sched_free(cg_ddpm_sched *s)
{
    free(s->beta);
    free(s->alpha_bar);
    memset(s, 0, sizeof *s);
}

void cg_ddpm_q_sample(const cg_ddpm_sched *s, real *xt, const real *x0, const real *eps,
                      const int32_t *t, int N, int64_t D)
{
    for (int i = 0; i < N; i++) {
        double a = sqrt(s->alpha_bar[t[i]]), b = sqrt(1 - s->alpha_bar[t[i]]);
        for (int64_t k = i * D; k < (i + 1) * D; k++)
            xt[k] = (real)(a * x0[k] + b * eps[k]);
    }
}

void cg_ddpm_q_step(const cg_ddpm_sched *s, real *x, const real *z, int t, int64_t n)
{
    double a = sqrt(1 - s->beta[t]), b = sqrt(s->beta[t]);
    for (int64_t k = 0; k < n; k++)
        x[k] = (real)(a * x[k] + b * z[k]);
}

/* ---- training ------------------------------------------------------------------ */

/* x_t on the GPU: sqrt(abar_t) x0 + sqrt(1 - abar_t) eps with the two
 * per-image factors (N, 1, 1, 1) broadcast, off the tape. The CPU forms the
 * sum in double and rounds once; this rounds the two products and the sum
 * to float, a few float ulps apart (relative ~1e-7). */
static cg_tensor *q_sample_on(cg_ctx *ctx, const cg_ddpm_sched *s, cg_tensor *x0,
                              cg_tensor *eps, const int32_t *t, int N)
{
    cg_tensor *sa = cg_new(ctx, CG_SHAPE(N, 1, 1, 1)), *sb = cg_new(ctx, CG_SHAPE(N, 1, 1, 1));
    if (!sa || !sb)
        return NULL;
    for (int i = 0; i < N; i++) {
        sa->data[i] = (real)sqrt(s->alpha_bar[t[i]]);
        sb->data[i] = (real)sqrt(1 - s->alpha_bar[t[i]]);
    }
    cg_device dev = (cg_device)x0->dev;
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *xt = cg_add(ctx, cg_mul(ctx, x0, cg_to_device(ctx, sa, dev)),
                           cg_mul(ctx, eps, cg_to_device(ctx, sb, dev)));
    cg_set_grad(ctx, prev);
    return xt;
}

cg_tensor *cg_ddpm_loss(cg_ctx *ctx, cg_unet *m, const cg_ddpm_sched *s, cg_tensor *x0,
                        const int32_t *t, cg_tensor *eps, cg_rng *drop, cg_tensor **pred)
{
    if (!x0 || !eps)
        return NULL;
    int N = x0->shape[0];
    if (!cg_same_shape(x0, eps)) {
        cg_fail(ctx, CG_ERR_ARG, "ddpm: x0 %s and eps %s differ in shape", CG_SHAPE_STR(x0),
                CG_SHAPE_STR(eps));
        return NULL;
    }
    cg_device dev = (cg_device)x0->dev;
    if (eps->dev != dev || m->p.dev != (int)dev) {
        cg_fail(ctx, CG_ERR_ARG, "ddpm: x0, eps and the UNet's parameters must be on one "
                "device");
        return NULL;
    }
    for (int i = 0; i < N; i++)
        if (t[i] < 0 || t[i] >= s->T) {
            cg_fail(ctx, CG_ERR_ARG, "ddpm: timestep %d outside [0, %d)", t[i], s->T);
            return NULL;
        }
    /* t (N) as reals, formed on the host (uploaded for the GPU) */
    cg_tensor *xt, *tt = cg_new(ctx, CG_SHAPE(N));
    if (!tt)
        return NULL;
    for (int i = 0; i < N; i++)
        tt->data[i] = (real)t[i];
    if (dev == CG_CPU) {
        if (!(xt = cg_new_like(ctx, x0)))
            return NULL;
        cg_ddpm_q_sample(s, xt->data, x0->data, eps->data, t, N, x0->n / N);
    } else {
        xt = q_sample_on(ctx, s, x0, eps, t, N);
        tt = cg_to_device(ctx, tt, dev);
    }
    cg_tensor *p = cg_unet_forward(ctx, m, xt, tt, drop, 1);
    if (pred)
        *pred = p;
    return cg_mse(ctx, p, eps, CG_REDUCE_MEAN);
}

cg_status cg_ddpm_step(cg_ctx *ctx, cg_unet *m, const cg_ddpm_sched *s, cg_adam *opt,
                       cg_ema *ema, cg_tensor *x0, cg_rng *noise, cg_rng *drop, double *loss)
{
    if (ctx->err)
        return ctx->err;
    if (!x0)
        return cg_fail(ctx, CG_ERR_ARG, "ddpm: no batch");
    int N = x0->shape[0];
    /* t on the host, eps where x0 is: the same stream, so the same values
     * on either device (the GPU's Philox fill is the CPU's bit for bit) */
    int32_t *t = cg_arena_alloc(&ctx->arena, sizeof(int32_t) * (size_t)N);
    cg_tensor *eps = cg_new_like(ctx, x0);
    if (!t || !eps)
        return cg_fail(ctx, CG_ERR_NOMEM, "ddpm: step arena: out of memory");
    for (int i = 0; i < N; i++)
        t[i] = (int32_t)cg_rng_below(noise, (uint32_t)s->T);
    if (cg_rng_fill_normal(noise, eps, 0.0, 1.0) != CG_OK)
        return cg_fail(ctx, CG_ERR_CUDA, "ddpm: noise: %s", cg_cuda_last_error());
    cg_tensor *l = cg_ddpm_loss(ctx, m, s, x0, t, eps, drop, NULL);
    if (cg_backward(ctx, l) != CG_OK)
        return ctx->err;
    cg_status st = cg_adam_step(opt, &m->p);
    if (st != CG_OK)
        return cg_fail(ctx, st, "ddpm: Adam step failed: %s", cg_cuda_last_error());
    if (ema && (st = cg_ema_update(ema, &m->p)) != CG_OK)
        return cg_fail(ctx, st, "ddpm: EMA update failed: %s", cg_cuda_last_error());
    if ((st = cg_params_zero_grad(&m->p)) != CG_OK)
        return cg_fail(ctx, st, "ddpm: zeroing gradients: %s", cg_cuda_last_error());
    /* the one read-back of the step (waits for the GPU's queue) */
    real lv = 0;
    if (cg_copy_to_host(ctx, &lv, l) != CG_OK)
        return ctx->err;
    *loss = lv;
    cg_ctx_step_end(ctx);
    return CG_OK;
}

/* ---- sampling -------------------------------------------------------------------- */

/* eps(x, t) for all N images, x and e host memory, the UNet on its
 * parameters' device (x uploaded, e read back); resets the arena. */
static cg_status predict(cg_ctx *ctx, cg_unet *m, const real *x, int t, int N, real *e)
{
    int C = m->a.in_ch, S = m->a.image_size;
    cg_device dev = (cg_device)m->p.dev;
    cg_tensor *xt;
    if (dev == CG_CPU) {
        xt = cg_wrap(ctx, (real *)x, CG_SHAPE(N, C, S, S));
    } else {
        xt = cg_new_on(ctx, dev, CG_SHAPE(N, C, S, S));
        if (xt)
            cg_copy_from_host(ctx, xt, x);
    }
    cg_tensor *tt = cg_new(ctx, CG_SHAPE(N));
    for (int i = 0; tt && i < N; i++)
        tt->data[i] = (real)t;
    if (dev != CG_CPU)
        tt = cg_to_device(ctx, tt, dev);
    cg_tensor *y = cg_unet_forward(ctx, m, xt, tt, NULL, 0);
    if (y)
        cg_copy_to_host(ctx, e, y);
    cg_ctx_step_end(ctx);
    return ctx->err;
}

/* Frame f of nframes falls after chain step k of n (0: the start) when
 * f = round(k (nframes - 1) / n); each frame is written once. */
static void snapshot(real *frames, int nframes, const real *x, int64_t n, int k, int nsteps,
                     int *next)
{
    if (!frames)
        return;
    while (*next < nframes &&
           (int64_t)*next * nsteps <= (int64_t)k * (nframes - 1)) {
        memcpy(frames + (size_t)*next * (size_t)n, x, sizeof(real) * (size_t)n);
        (*next)++;
    }
}

static double clamp1(double v)
{
    return v < -1 ? -1 : v > 1 ? 1 : v;
}

/* DDIM (eta 0) from t to tp (-1: the end) given eps e: x_0 predicted (and
 * clipped, the noise then re-derived from it), moved to tp's noise level */
static void ddim_step(const cg_ddpm_sched *s, real *x, const real *e, int64_t n, int t, int tp,
                      int clip)
{
    double ab = s->alpha_bar[t], abp = tp >= 0 ? s->alpha_bar[tp] : 1.0;
    for (int64_t i = 0; i < n; i++) {
        double x0 = (x[i] - sqrt(1 - ab) * e[i]) / sqrt(ab), ei = e[i];
        if (clip) {
            x0 = clamp1(x0);
            ei = (x[i] - sqrt(ab) * x0) / sqrt(1 - ab);
        }
        x[i] = (real)(sqrt(abp) * x0 + sqrt(1 - abp) * ei);
    }
}

/* Ancestral step at t: x <- mean + sqrt(beta_t) z (no noise at t = 0). The
 * mean is Ho et al.'s 1 / sqrt(alpha_t) (x - beta_t / sqrt(1 - abar_t) eps),
 * or with clip, the posterior mean of q(x_{t-1} | x_t, x_0) at the clipped
 * x_0 prediction (the same value when nothing is clipped) */
static void ancestral_step(const cg_ddpm_sched *s, real *x, const real *e, const real *z,
                           int64_t n, int t, int clip)
{
    double b = s->beta[t], ab = s->alpha_bar[t], abp = t > 0 ? s->alpha_bar[t - 1] : 1.0;
    double sd = t > 0 ? sqrt(b) : 0.0;
    double c0 = sqrt(abp) * b / (1 - ab), ct = sqrt(1 - b) * (1 - abp) / (1 - ab);
    for (int64_t i = 0; i < n; i++) {
        double mean;
        if (clip) {
            double x0 = clamp1((x[i] - sqrt(1 - ab) * e[i]) / sqrt(ab));
            mean = c0 * x0 + ct * x[i];
        } else {
            mean = (x[i] - b / sqrt(1 - ab) * e[i]) / sqrt(1 - b);
        }
        x[i] = (real)(mean + (t > 0 ? sd * z[i] : 0.0));
    }
}

cg_status cg_ddpm_sample(cg_ctx *ctx, cg_unet *m, const cg_ddpm_sched *s, real *x, int N,
                         int steps, int clip, cg_rng *noise, real *frames, int nframes,
                         char *err, size_t errlen)
{
    int64_t n = (int64_t)N * m->a.in_ch * m->a.image_size * m->a.image_size;
    if (steps < 0 || steps > s->T) {
        snprintf(err, errlen, "ddpm: sampling steps must be in 0..%d (0: ancestral over all "
                 "T), got %d", s->T, steps);
        return CG_ERR_ARG;
    }
    real *e = malloc(sizeof(real) * (size_t)n), *z = malloc(sizeof(real) * (size_t)n);
    if (!e || !z) {
        free(e);
        free(z);
        snprintf(err, errlen, "ddpm: out of memory for %d samples", N);
        return CG_ERR_NOMEM;
    }
    int prev = cg_set_grad(ctx, 0), next = 0;
    int nsteps = steps ? steps : s->T;
    cg_status st = CG_OK;
    snapshot(frames, nframes, x, n, 0, nsteps, &next);
    for (int k = 0; k < nsteps && st == CG_OK; k++) {
        /* DDIM visits tau_i = i T / steps, from the top */
        int t = steps ? (int)((int64_t)(nsteps - 1 - k) * s->T / steps) : s->T - 1 - k;
        if ((st = predict(ctx, m, x, t, N, e)) != CG_OK) {
            snprintf(err, errlen, "ddpm: sampling at t = %d: %s", t, ctx->errmsg);
            break;
        }
        if (steps) {
            int tp = k + 1 < nsteps ? (int)((int64_t)(nsteps - 2 - k) * s->T / steps) : -1;
            ddim_step(s, x, e, n, t, tp, clip);
        } else {
            if (t > 0)
                cg_rng_normal(noise, z, n, 0.0, 1.0);
            ancestral_step(s, x, e, z, n, t, clip);
        }
        snapshot(frames, nframes, x, n, k + 1, nsteps, &next);
    }
    cg_set_grad(ctx, prev);
    free(e);
    free(z);
    return st;
}

/* ---- checkpoints ------------------------------------------------------------------ */

static const char *const extra_names[CG_DX_COUNT] = {
    [CG_DX_NOISE] = "rng.noise", [CG_DX_DROP] = "rng.dropout",
    [CG_DX_LOADER_EPOCH] = "loader.epoch", [CG_DX_LOADER_INDEX] = "loader.index",
    [CG_DX_LOADER_RNG] = "loader.rng_offset", [CG_DX_CH] = "run.ch",
    [CG_DX_MULT] = "run.ch_mult", [CG_DX_LEVELS] = "run.levels",
    [CG_DX_NRB] = "run.num_res_blocks", [CG_DX_ATTN] = "run.attn",
    [CG_DX_GROUPS] = "run.groups", [CG_DX_SIZE] = "run.image_size",
    [CG_DX_CHANNELS] = "run.channels", [CG_DX_T] = "run.timesteps",
    [CG_DX_SCHEDULE] = "run.schedule", [CG_DX_DROPOUT] = "run.dropout_ppm",
    [CG_DX_BATCH] = "run.batch",
};

void cg_ddpm_extras(cg_ckpt_int *x, const cg_unet_arch *a, const cg_ddpm_sched *s, int batch)
{
    int64_t mult = 0;
    /* one byte per level, level 0 lowest (ch_mult <= 64) */
    for (int i = a->nlevels - 1; i >= 0; i--)
        mult = mult * 256 + a->ch_mult[i];
    for (int i = 0; i < CG_DX_COUNT; i++)
        x[i] = (cg_ckpt_int){.name = extra_names[i]};
    x[CG_DX_CH].value = a->ch;
    x[CG_DX_MULT].value = mult;
    x[CG_DX_LEVELS].value = a->nlevels;
    x[CG_DX_NRB].value = a->num_res_blocks;
    x[CG_DX_ATTN].value = a->attn;
    x[CG_DX_GROUPS].value = a->groups ? a->groups : 32;
    x[CG_DX_SIZE].value = a->image_size;
    x[CG_DX_CHANNELS].value = a->in_ch;
    x[CG_DX_T].value = s->T;
    x[CG_DX_SCHEDULE].value = s->kind;
    x[CG_DX_DROPOUT].value = llround(a->dropout * 1e6);
    x[CG_DX_BATCH].value = batch;
}

/* The I64 scalar train.extra.<name> of f into *v; 0 when absent. */
static int read_extra(const cg_st_file *f, const char *name, int64_t *v)
{
    char full[96];
    snprintf(full, sizeof full, "train.extra.%s", name);
    const cg_st_tensor *t = cg_st_find(f, full);
    if (!t || t->dtype != CG_ST_I64 || t->nbytes != 8)
        return 0;
    memcpy(v, t->data, 8);
    return 1;
}

int cg_ddpm_is_checkpoint(const char *path)
{
    char file[4096];
    cg_st_file f;
    if (cg_st_load_run(&f, path, CG_CKPT_LATEST, file, sizeof file, NULL, 0) != CG_OK)
        return 0;
    int yes = cg_st_find(&f, "temb.dense.0.weight") && cg_st_find(&f, "conv_in.weight");
    cg_st_free(&f);
    return yes;
}

/* The architecture and schedule from the run.* extras of f. */
static cg_status arch_from(const cg_st_file *f, const char *file, cg_unet_arch *a, int *T,
                           int *kind, char *err, size_t errlen)
{
    int64_t v[CG_DX_COUNT];
    for (int i = CG_DX_FIRST_RUN; i < CG_DX_COUNT; i++)
        if (!read_extra(f, extra_names[i], &v[i])) {
            snprintf(err, errlen, "%s: not a DDPM checkpoint of cugen train ddpm (no "
                     "train.extra.%s)", file, extra_names[i]);
            return CG_ERR_ARG;
        }
    memset(a, 0, sizeof *a);
    a->ch = (int)v[CG_DX_CH];
    a->nlevels = (int)v[CG_DX_LEVELS];
    if (a->nlevels < 1 || a->nlevels > CG_UNET_MAX_LEVELS || v[CG_DX_MULT] < 0) {
        snprintf(err, errlen, "%s: run.levels %lld out of range", file,
                 (long long)v[CG_DX_LEVELS]);
        return CG_ERR_ARG;
    }
    for (int i = 0; i < a->nlevels; i++)
        a->ch_mult[i] = (int)((v[CG_DX_MULT] >> (8 * i)) & 255);
    a->num_res_blocks = (int)v[CG_DX_NRB];
    a->attn = (unsigned)v[CG_DX_ATTN];
    a->groups = (int)v[CG_DX_GROUPS];
    a->image_size = (int)v[CG_DX_SIZE];
    a->in_ch = (int)v[CG_DX_CHANNELS];
    a->dropout = (double)v[CG_DX_DROPOUT] * 1e-6;
    *T = (int)v[CG_DX_T];
    *kind = (int)v[CG_DX_SCHEDULE];
    return CG_OK;
}

cg_status cg_ddpm_load(const char *path, cg_unet *m, cg_ddpm_sched *s, int use_ema, char *err,
                       size_t errlen)
{
    char file[4096], why[1024];
    cg_st_file f;
    cg_status st = cg_st_load_run(&f, path, CG_CKPT_LATEST, file, sizeof file, err, errlen);
    if (st != CG_OK)
        return st;
    cg_unet_arch a;
    int T = 0, kind = 0;
    st = arch_from(&f, file, &a, &T, &kind, err, errlen);
    int has_ema = cg_st_find(&f, "ema.conv_in.weight") != NULL;
    cg_st_free(&f);
    if (st != CG_OK)
        return st;
    if (cg_ddpm_sched_init(s, (cg_sched_kind)kind, T) != CG_OK) {
        snprintf(err, errlen, "%s: schedule %d with %d timesteps is not one cugen makes", file,
                 kind, T);
        return CG_ERR_ARG;
    }
    if (!m)
        return CG_OK;
    if ((st = cg_unet_build(m, &a, why, sizeof why)) != CG_OK) {
        snprintf(err, errlen, "%s: %s", file, why);
        cg_ddpm_sched_free(s);
        return st;
    }
    /* the strict checkpoint reader: every tensor of the model, its m and v,
     * the EMA when there is one, and exactly these extras */
    cg_ckpt_int x[CG_DX_COUNT];
    cg_ddpm_extras(x, &a, s, 0);
    cg_ema ema = {0};
    if (has_ema && (st = cg_ema_init(&ema, &m->p, 0.5)) != CG_OK) {
        snprintf(err, errlen, "out of memory");
    } else {
        cg_ckpt_state cs = {.extra = x, .nextra = CG_DX_COUNT, .ema = has_ema ? &ema : NULL};
        st = cg_ckpt_load(file, &m->p, &cs, why, sizeof why);
        if (st != CG_OK)
            snprintf(err, errlen, "%s", why);
        else if (use_ema && has_ema)
            cg_ema_swap(&ema, &m->p);
    }
    cg_ema_free(&ema);
    if (st != CG_OK) {
        cg_unet_free(m);
        cg_ddpm_sched_free(s);
    }
    return st;
}
