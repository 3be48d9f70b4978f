/*
 * realnvp_train.c: `cugen train realnvp --data moons` as the trainer runs it:
 * the 2-D flow trained by Adam on the mean negative log-likelihood of fresh
 * batches of a toy distribution (every step draws new points: the data set
 * is endless, so the kind draws its own data and has no epochs).
 *
 * At the end it measures the flow's NLL on 20000 fresh points beside that of
 * the maximum-likelihood Gaussian of the same points (the best a single
 * Gaussian can do there), and with --out DIR writes
 *
 *   DIR/samples.png   data (orange) under flow samples (blue), 2000 each
 *   DIR/density.png   the learned density exp(log p) on a 256 x 256 grid
 *                     over the data's range, dark = high
 *   DIR/flow.safetensors (cugen sample draws from it)
 *
 * Random streams of the seed: 1 the initial weights, 2 the training points,
 * 4 the evaluation points, 5 the samples' z.
 *
 * Not for: the flow itself (realnvp.c), the loop (host/train/trainer.c).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/flow.h"
#include "cugen/io.h"
#include "cugen/trainer.h"
#include "cugen/optim.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"

#define STREAM_INIT 1
#define STREAM_DATA 2
#define STREAM_EVAL 4
#define STREAM_Z 5
#define PLOT_N 2000
#define DENSITY_SIDE 256

typedef struct {
    const cg_train_opts *o;
    cg_flow2d m;
    cg_ctx ctx;
    char *err;
    size_t errlen;
} run;

static cg_status fail_ctx(run *r, const char *what)
{
    snprintf(r->err, r->errlen, "realnvp: %s: %s", what, r->ctx.errmsg);
    return r->ctx.err ? r->ctx.err : CG_ERR_STATE;
}

/* mean NLL of the n points xy under the flow */
static cg_status mean_nll(run *r, const real *xy, int64_t n, double *out)
{
    const int64_t chunk = 4096;
    double s = 0;
    for (int64_t i = 0; i < n; i += chunk) {
        int c = (int)(n - i < chunk ? n - i : chunk);
        cg_tensor *x = cg_wrap(&r->ctx, (real *)xy + 2 * i, CG_SHAPE(c, 2));
        double *lp = malloc(sizeof(double) * (size_t)c);
        cg_status st = lp ? cg_flow2d_log_prob(&r->ctx, &r->m, x, lp) : CG_ERR_NOMEM;
        for (int k = 0; st == CG_OK && k < c; k++)
            s -= lp[k];
        free(lp);
        cg_ctx_step_end(&r->ctx);
        if (st != CG_OK)
            return st == CG_ERR_NOMEM ? st : fail_ctx(r, "log-likelihood");
    }
    *out = s / (double)n;
    return CG_OK;
}

static cg_status scatter(run *r, const real *data, uint64_t seed)
{
    cg_ctx *ctx = &r->ctx;
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *z = cg_new(ctx, CG_SHAPE(PLOT_N, 2));
    cg_rng rz;
    cg_rng_init(&rz, seed, STREAM_Z);
    if (z)
        cg_rng_normal(&rz, z->data, z->n, 0.0, 1.0);
    cg_tensor *x = cg_flow2d_inverse(ctx, &r->m, z);
    cg_set_grad(ctx, prev);
    if (!x)
        return fail_ctx(r, "sampling");
    char path[4096];
    snprintf(path, sizeof path, "%s/samples.png", r->o->out_dir);
    cg_plot_opts po = {.equal_aspect = 1, .title = "RealNVP samples (blue) over the data"};
    cg_plot_series s[2] = {{.xy = data, .n = PLOT_N, .rgb = CG_PLOT_ORANGE, .label = "data"},
                           {.xy = x->data, .n = PLOT_N, .rgb = CG_PLOT_BLUE,
                            .label = "RealNVP samples"}};
    cg_plot_auto_range(&po, s, 1);  /* the data's range: stray samples fall outside */
    cg_status st = cg_png_plot(path, s, 2, &po, r->err, r->errlen);
    cg_ctx_step_end(ctx);
    return st;
}

/* exp(log p) over the data's range, normalised to its maximum, as grey
 * levels from white (0) to black (the maximum) */
static cg_status density(run *r, const real *data, int64_t n)
{
    cg_plot_opts po = {0};
    cg_plot_series s = {.xy = data, .n = (int)n};
    cg_plot_auto_range(&po, &s, 1);
    const int S = DENSITY_SIDE;
    double *lp = malloc(sizeof(double) * S * S);
    real *xy = malloc(sizeof(real) * 2 * S * S);
    uint8_t *px = malloc((size_t)S * S);
    cg_status st = lp && xy && px ? CG_OK : CG_ERR_NOMEM;
    for (int row = 0; st == CG_OK && row < S; row++)
        for (int c = 0; c < S; c++) {
            xy[2 * (row * S + c)] = (real)(po.xmin + (po.xmax - po.xmin) * (c + 0.5) / S);
            xy[2 * (row * S + c) + 1] = (real)(po.ymax - (po.ymax - po.ymin) * (row + 0.5) / S);
        }
    if (st == CG_OK) {
        cg_tensor *x = cg_wrap(&r->ctx, xy, CG_SHAPE(S * S, 2));
        if (cg_flow2d_log_prob(&r->ctx, &r->m, x, lp) != CG_OK)
            st = fail_ctx(r, "density");
        cg_ctx_step_end(&r->ctx);
    }
    if (st == CG_OK) {
        double mx = -INFINITY;
        for (int i = 0; i < S * S; i++)
            mx = fmax(mx, lp[i]);
        for (int i = 0; i < S * S; i++)
            px[i] = (uint8_t)lround(255.0 * (1.0 - exp(lp[i] - mx)));
        char path[4096];
        snprintf(path, sizeof path, "%s/density.png", r->o->out_dir);
        st = cg_png_write(path, px, S, S, 1, r->err, r->errlen);
    } else if (st == CG_ERR_NOMEM) {
        snprintf(r->err, r->errlen, "realnvp: out of memory");
    }
    free(lp);
    free(xy);
    free(px);
    return st;
}

/* ---- the run, as the trainer runs it ------------------------------------------ */

typedef struct {
    run r;                /* the flow and what the pictures need */
    cg_toy toy;
    cg_adam adam;
    cg_rng data;
    real *eval;           /* EVAL_POINTS fresh points of the toy set */
    double nll_start, gauss_nll;
} flow2d_run;

#define EVAL_POINTS 20000

static cg_status build(cg_trainer *t, void *self)
{
    flow2d_run *f = self;
    const cg_realnvp_flags *fl = t->settings;
    char why[256];
    cg_status st = cg_toy_parse(t->o->data ? t->o->data : "moons", &f->toy, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "--data: %s", why);
    cg_flow2d_arch a = {.layers = fl->layers ? (int)fl->layers : 8,
                        .hidden = fl->hidden ? (int)fl->hidden : 64};
    f->r = (run){.o = t->o, .err = t->err, .errlen = t->errlen};
    if ((st = cg_flow2d_build(&f->r.m, &a, t->err, t->errlen)) != CG_OK)
        return st;
    cg_flow2d_init(&f->r.m, t->o->seed, STREAM_INIT);
    f->eval = malloc(sizeof(real) * 2 * EVAL_POINTS);
    if (!f->eval || cg_ctx_init(&f->r.ctx) != CG_OK)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    cg_rng ev;
    cg_rng_init(&ev, t->o->seed, STREAM_EVAL);
    cg_toy_sample(f->toy, &ev, f->eval, EVAL_POINTS);
    f->gauss_nll = cg_gaussian_mle_nll(f->eval, EVAL_POINTS);
    if ((st = mean_nll(&f->r, f->eval, EVAL_POINTS, &f->nll_start)) != CG_OK)
        return st;
    cg_adam_init(&f->adam, t->o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    cg_rng_init(&f->data, t->o->seed, STREAM_DATA);
    cg_trainer_params(t, &f->r.m.p, &f->adam.t, NULL);
    return CG_OK;
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    const flow2d_run *f = self;
    (void)t;
    snprintf(buf, len, "%s, %d coupling layers of width %d", cg_toy_name(f->toy),
             f->r.m.a.layers, f->r.m.a.hidden);
}

/* One Adam step on the mean NLL of a fresh batch of the toy set */
static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    flow2d_run *f = self;
    cg_ctx *ctx = &t->ctx;
    (void)x;
    cg_tensor *pts = cg_new(ctx, CG_SHAPE(b->n, 2));
    if (pts)
        cg_toy_sample(f->toy, &f->data, pts->data, b->n);
    cg_tensor *loss = cg_flow2d_nll(ctx, &f->r.m, pts);
    if (!loss || cg_backward(ctx, loss) != CG_OK)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    cg_scalars_put(out, "nll", loss->data[0]);
    cg_status st = cg_adam_step(&f->adam, &f->r.m.p);
    if (st != CG_OK)
        return cg_fail(ctx, st, "Adam step failed");
    cg_params_zero_grad(&f->r.m.p);
    return CG_OK;
}

/* The NLL on the fresh points against the best single Gaussian's, the
 * weights and the pictures */
static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    flow2d_run *f = self;
    double nll;
    cg_status st = mean_nll(&f->r, f->eval, EVAL_POINTS, &nll);
    if (st != CG_OK)
        return st;
    cg_scalars_put(out, "eval_nll", nll);
    cg_scalars_put(out, "eval_nll_start", f->nll_start);
    cg_scalars_put(out, "gauss_nll", f->gauss_nll);
    if (!t->o->out_dir)
        return CG_OK;
    if ((st = cg_trainer_save_weights(t, &f->r.m.p, NULL, "flow.safetensors")) == CG_OK &&
        (st = scatter(&f->r, f->eval, t->o->seed)) == CG_OK)
        st = density(&f->r, f->eval, EVAL_POINTS);
    return st;
}

static void report(const cg_train_opts *o, const void *settings, const cg_train_result *r)
{
    (void)settings;
    printf("  NLL on %d fresh points: flow %.4f nats (before training %.4f), best single "
           "Gaussian %.4f\n", EVAL_POINTS, cg_scalars_get(&r->final, "eval_nll"),
           cg_scalars_get(&r->final, "eval_nll_start"), cg_scalars_get(&r->final, "gauss_nll"));
    if (o->out_dir)
        printf("  pictures: %s/samples.png (samples over the data), %s/density.png\n",
               o->out_dir, o->out_dir);
}

static void free_run(void *self)
{
    flow2d_run *f = self;
    cg_ctx_free(&f->r.ctx);
    cg_flow2d_free(&f->r.m);
    free(f->eval);
}

/* The flags of `cugen train realnvp`: the 2-D flow takes the first two, the
 * image flow all but the first. */
#define F(field) offsetof(cg_realnvp_flags, field)
const cg_flag cg_realnvp_flag_table[CG_REALNVP_NFLAGS] = {
    {"hidden", CG_FLAG_INT, F(hidden), NULL, 1, 65536, "N",
     "2-D: hidden layer width (default 64)", NULL},
    {"layers", CG_FLAG_INT, F(layers), NULL, 1, CG_FLOW2D_MAX_LAYERS, "N",
     "coupling layers (2-D, default 8; images: per stage, default 3, the last stage one "
     "more)", NULL},
    {"width", CG_FLAG_INT, F(width), NULL, 1, 512, "N",
     "images: the s/t nets' width (default 32)", NULL},
    {"temperature", CG_FLAG_REAL, F(temperature), NULL, 0.01, 10, "T",
     "images: samples drawn from N(0, T^2) (default 1)", NULL},
    {"scales", CG_FLAG_INT, F(scales), NULL, 1, CG_FLOWIMG_MAX_SCALES, "N",
     "images: scales, each but the last ending in a squeeze and a factor-out (default 2; the "
     "side must be a multiple of 2^(N-1))", NULL},
    {"norm", CG_FLAG_CHOICE, F(norm), NULL, 0, 0, "actnorm|batchnorm",
     "images: normalisation after each coupling (default actnorm)", NULL},
};
#undef F

extern const cg_sampler cg_sampler_realnvp_2d;  /* realnvp_sample.c: cugen sample and eval */

/* Reached through cg_kind_realnvp for a toy --data. */
const cg_model_kind cg_kind_realnvp_2d = {
    .name = "realnvp", .title = "RealNVP (2-D)", .summary = "RealNVP flow on a 2-D toy set",
    .steps = 3000, .batch = 256, .lr = 1e-3, .shared = "data", .ignores = "epochs",
    .flags = cg_realnvp_flag_table, .nflags = 2, .settings_size = sizeof(cg_realnvp_flags),
    .own_data = 1, .state_size = sizeof(flow2d_run), .build = build, .describe = describe,
    .step = step, .finish = finish, .report = report, .free = free_run,
    .files = "weights: %s/flow.safetensors",
    .sampler = &cg_sampler_realnvp_2d,
};

static const cg_model_kind *variant(const cg_train_opts *o, const void *settings)
{
    (void)settings;
    cg_toy toy;
    char why[256];
    int is_toy = !o->data || cg_toy_parse(o->data, &toy, why, sizeof why) == CG_OK;
    return is_toy ? &cg_kind_realnvp_2d : &cg_kind_realnvp_images;
}

/* `cugen train realnvp`: its help shows every flag of both */
const cg_model_kind cg_kind_realnvp = {
    .name = "realnvp", .title = "RealNVP",
    .summary = "RealNVP flow: 2-D on a toy set (--data moons) or on images",
    .steps = 3000, .batch = 256, .lr = 1e-3, .checkpoints = 1, .ckpt_every = 500, .gpu = 1,
    .shared = "data data-dir image-size deterministic", .flags = cg_realnvp_flag_table,
    .nflags = CG_REALNVP_NFLAGS, .settings_size = sizeof(cg_realnvp_flags),
    .may_change = "temperature", .variant = variant, .bench = &cg_kind_realnvp_images,
    .hands_to = (const cg_model_kind *const[]){&cg_kind_realnvp_2d, &cg_kind_realnvp_images,
                                               NULL},
};
