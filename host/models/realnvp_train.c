/*
 * realnvp_train.c: `cugen train realnvp --data moons`: the 2-D flow trained
 * by Adam on the mean negative log-likelihood of fresh batches of a toy
 * distribution (every step draws new points: the data set is endless).
 *
 * At the end it measures the flow's NLL on --eval-points fresh points beside
 * that of the maximum-likelihood Gaussian of the same points (the best a
 * single Gaussian can do there), and with --out DIR writes
 *
 *   DIR/samples.png   data (orange) under flow samples (blue), 2000 each
 *   DIR/density.png   the learned density exp(log p) on a 256 x 256 grid
 *                     over the data's range, dark = high
 *   DIR/flow.safetensors, metrics.jsonl, result.json
 *
 * Random streams of the seed: 1 the initial weights, 2 the training points,
 * 4 the evaluation points, 5 the samples' z.
 *
 * Not for: the flow itself (realnvp.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/flow.h"
#include "cugen/io.h"
#include "cugen/optim.h"
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

static cg_status train_loop(run *r, cg_toy toy, cg_flow2d_result *res)
{
    const cg_train_opts *o = r->o;
    cg_adam adam;
    cg_adam_init(&adam, o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    cg_rng data;
    cg_rng_init(&data, o->seed, STREAM_DATA);
    cg_metrics log = {0};
    char why[512];
    cg_status st = CG_OK;
    if (o->out_dir && (st = cg_metrics_open(&log, o->out_dir, 0, why, sizeof why)) != CG_OK) {
        snprintf(r->err, r->errlen, "realnvp: %s", why);
        return st;
    }
    cg_progress prog;
    cg_progress_begin(&prog, o->steps, 0,
                      &(cg_progress_cfg){.tty = -1, .every = o->log_every, .quiet = o->quiet});
    for (int64_t s = 1; s <= o->steps; s++) {
        cg_ctx *ctx = &r->ctx;
        cg_tensor *x = cg_new(ctx, CG_SHAPE((int)o->batch, 2));
        if (x)
            cg_toy_sample(toy, &data, x->data, o->batch);
        cg_tensor *loss = cg_flow2d_nll(ctx, &r->m, x);
        if (!loss || cg_backward(ctx, loss) != CG_OK) {
            st = fail_ctx(r, "step");
            break;
        }
        res->train_nll = loss->data[0];
        if (!isfinite(res->train_nll)) {
            snprintf(r->err, r->errlen, "realnvp: step %lld: NLL = %g: training diverged",
                     (long long)s, res->train_nll);
            st = CG_ERR_NUMERIC;
            break;
        }
        if ((st = cg_adam_step(&adam, &r->m.p)) != CG_OK) {
            snprintf(r->err, r->errlen, "realnvp: Adam step failed");
            break;
        }
        cg_params_zero_grad(&r->m.p);
        cg_ctx_step_end(ctx);
        res->steps = s;
        cg_progress_update(&prog, s, 1, o->batch, "nll", res->train_nll, (const char *)NULL);
        if (cg_metrics_write(&log, s, 1, o->batch, "nll", res->train_nll, (const char *)NULL))
            break;  /* the log cannot be written (a full disk): said below */
    }
    cg_progress_end(&prog);
    if (cg_metrics_close(&log) != CG_OK && st == CG_OK)
        st = cg_run_log_failed(r->err, r->errlen, "realnvp", o, &log, res->steps, 0);
    return st;
}

cg_status cg_flow2d_train(const cg_train_opts *o, const cg_flow2d_opts *f,
                          cg_flow2d_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    run R = {.o = o, .err = err, .errlen = errlen};
    run *r = &R;
    cg_flow2d_arch a = {.layers = f->layers, .hidden = f->hidden};
    cg_status st = cg_flow2d_build(&r->m, &a, err, errlen);
    if (st != CG_OK)
        return st;
    cg_flow2d_init(&r->m, o->seed, STREAM_INIT);
    real *pts = malloc(sizeof(real) * 2 * (size_t)f->eval_points);
    if (!pts || cg_ctx_init(&r->ctx) != CG_OK) {
        free(pts);
        cg_flow2d_free(&r->m);
        snprintf(err, errlen, "realnvp: out of memory");
        return CG_ERR_NOMEM;
    }
    cg_rng ev;
    cg_rng_init(&ev, o->seed, STREAM_EVAL);
    cg_toy_sample(f->toy, &ev, pts, f->eval_points);
    res->gauss_nll = cg_gaussian_mle_nll(pts, f->eval_points);
    if (!o->quiet)
        fprintf(stderr, "realnvp: %s, %d coupling layers of width %d, %lld parameters, batch "
                "%lld\n", cg_toy_name(f->toy), a.layers, a.hidden,
                (long long)cg_params_count(&r->m.p), (long long)o->batch);
    st = mean_nll(r, pts, f->eval_points, &res->nll_start);
    if (st == CG_OK)
        st = train_loop(r, f->toy, res);
    if (st == CG_OK)
        st = mean_nll(r, pts, f->eval_points, &res->nll);
    if (st == CG_OK && o->out_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/flow.safetensors", o->out_dir);
        st = cg_weights_save(path, &r->m.p, err, errlen);
        if (st == CG_OK)
            st = scatter(r, pts, o->seed);
        if (st == CG_OK)
            st = density(r, pts, f->eval_points);
    }
    cg_ctx_free(&r->ctx);
    cg_flow2d_free(&r->m);
    free(pts);
    return st;
}
