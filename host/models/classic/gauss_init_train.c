/*
 * gauss_init_train.c: `cugen train gauss-init-gan`: the notebook's
 * comparison, then a GAN trained from the Gaussian start.
 *
 *   1. the generator initialised to N(mu, diag(sigma^2)): mean and covariance
 *      of 100,000 outputs against the target; DIR/init.png: 1000 of its
 *      samples (blue) over 1000 samples of the target Gaussian (orange)
 *   2. the same for the Xavier baseline; DIR/xavier.png
 *   3. a GAN from the Gaussian start on a toy 2-D set (--toy): D is an MLP
 *      2 -> hidden -> hidden -> 1 with LeakyReLU(0.2), BCE-with-logits, Adam
 *      (lr, betas 0.5 / 0.999) for each net, a fresh data batch every step;
 *      the notes' MMD score to the data before and after; DIR/gan.png
 *
 * Random streams of the seed: 1 the Gaussian init, 2 the z of the moments,
 * 3 the target's samples, 4 the Xavier init, 5 the data, 6 the z of
 * training, 7 D's init, 8 the points of the MMD score.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/data.h"
#include "cugen/io.h"
#include "cugen/metrics.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

#define PLOT_N 1000
#define SCORE_N 2000

typedef struct {
    cg_params p;
    cg_tensor *w1, *b1, *w2, *b2, *w3, *b3;
} disc;

/* mean and covariance (double) of the rows of x (n, 2) */
static void moments(const real *x, int64_t n, double *mean, double *cov)
{
    double m0 = 0, m1 = 0, c00 = 0, c01 = 0, c11 = 0;
    for (int64_t i = 0; i < n; i++) {
        m0 += x[2 * i];
        m1 += x[2 * i + 1];
    }
    m0 /= (double)n;
    m1 /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        double a = x[2 * i] - m0, b = x[2 * i + 1] - m1;
        c00 += a * a;
        c01 += a * b;
        c11 += b * b;
    }
    mean[0] = m0;
    mean[1] = m1;
    cov[0] = c00 / (double)(n - 1);
    cov[1] = cov[2] = c01 / (double)(n - 1);
    cov[3] = c11 / (double)(n - 1);
}

/* n outputs of g for z ~ N(0, I) from r into out (n, 2) */
static cg_status generate(cg_ctx *ctx, cg_gauss_gen *g, cg_rng *r, real *out, int64_t n)
{
    enum { CH = 10000 };
    int prev = cg_set_grad(ctx, 0);
    for (int64_t at = 0; at < n && cg_ok(ctx); at += CH) {
        int k = (int)(n - at < CH ? n - at : CH);
        cg_tensor *z = cg_new(ctx, CG_SHAPE(k, g->nin));
        if (z)
            cg_rng_normal(r, z->data, z->n, 0.0, 1.0);
        cg_tensor *x = cg_gauss_gen_forward(ctx, g, z);
        if (x)
            memcpy(out + 2 * at, x->data, sizeof(real) * 2 * (size_t)k);
        cg_ctx_step_end(ctx);
    }
    cg_set_grad(ctx, prev);
    return ctx->err;
}

static cg_status scatter(const char *dir, const char *name, const char *title,
                         const real *a, const char *la, const real *b, const char *lb,
                         const double *center, char *err, size_t errlen)
{
    char path[4096], why[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cg_plot_opts po = {.width = 520, .height = 520, .equal_aspect = 1, .title = title};
    if (center) {  /* the notebook's view: mu +- 4 */
        po.xmin = center[0] - 4;
        po.xmax = center[0] + 4;
        po.ymin = center[1] - 4;
        po.ymax = center[1] + 4;
    }
    cg_status st = cg_png_scatter(path, a, PLOT_N, b, PLOT_N, la, lb, &po, why, sizeof why);
    if (st != CG_OK)
        snprintf(err, errlen, "gauss-init-gan: %s", why);
    return st;
}

static cg_status disc_build(disc *d, int nh, uint64_t seed)
{
    cg_params_init(&d->p);
    d->w1 = cg_param(&d->p, "fc1.weight", CG_SHAPE(nh, 2), 0);
    d->b1 = cg_param(&d->p, "fc1.bias", CG_SHAPE(nh), 0);
    d->w2 = cg_param(&d->p, "fc2.weight", CG_SHAPE(nh, nh), 0);
    d->b2 = cg_param(&d->p, "fc2.bias", CG_SHAPE(nh), 0);
    d->w3 = cg_param(&d->p, "fc3.weight", CG_SHAPE(1, nh), 0);
    d->b3 = cg_param(&d->p, "fc3.bias", CG_SHAPE(1), 0);
    if (!d->w1 || !d->b1 || !d->w2 || !d->b2 || !d->w3 || !d->b3 ||
        cg_params_alloc(&d->p) != CG_OK)
        return CG_ERR_NOMEM;
    cg_rng r;
    cg_rng_init(&r, seed, 7);
    cg_tensor *w[3] = {d->w1, d->w2, d->w3}, *b[3] = {d->b1, d->b2, d->b3};
    for (int i = 0; i < 3; i++) {  /* nn.Linear's default */
        double bound = 1 / sqrt((double)w[i]->shape[1]);
        cg_init_uniform(w[i], &r, -bound, bound);
        cg_init_uniform(b[i], &r, -bound, bound);
    }
    return CG_OK;
}

static cg_tensor *disc_forward(cg_ctx *ctx, disc *d, cg_tensor *x)
{
    cg_tensor *h = cg_leaky_relu(ctx, cg_linear(ctx, x, d->w1, d->b1), 0.2);
    h = cg_leaky_relu(ctx, cg_linear(ctx, h, d->w2, d->b2), 0.2);
    cg_tensor *o = cg_linear(ctx, h, d->w3, d->b3);
    return o ? cg_reshape(ctx, o, CG_SHAPE(x->shape[0])) : NULL;
}

static cg_tensor *fill(cg_ctx *ctx, int n, real v)
{
    cg_tensor *t = cg_new(ctx, CG_SHAPE(n));
    for (int i = 0; t && i < n; i++)
        t->data[i] = v;
    return t;
}

/* one GAN iteration: D on data (1) and G(z1) (0), then G through frozen D */
static cg_status gan_step(cg_ctx *ctx, cg_gauss_gen *g, disc *d, cg_adam *ag, cg_adam *ad,
                          cg_tensor *x, cg_tensor *z1, cg_tensor *z2, double *ld, double *lg)
{
    int B = x->shape[0];
    cg_tensor *ones = fill(ctx, B, 1), *zeros = fill(ctx, B, 0);
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *fake = cg_gauss_gen_forward(ctx, g, z1);
    cg_set_grad(ctx, prev);
    cg_tensor *loss_d =
        cg_add(ctx, cg_bce_with_logits(ctx, disc_forward(ctx, d, x), ones, CG_REDUCE_MEAN),
               cg_bce_with_logits(ctx, disc_forward(ctx, d, fake), zeros, CG_REDUCE_MEAN));
    if (cg_backward(ctx, loss_d) != CG_OK)
        return ctx->err;
    *ld = loss_d->data[0];
    cg_status st = cg_adam_step(ad, &d->p);
    if (st != CG_OK)
        return cg_fail(ctx, st, "gauss-init-gan: Adam step of D failed");
    cg_params_zero_grad(&d->p);
    cg_params_freeze(&d->p, 0, 1);
    cg_tensor *loss_g = cg_bce_with_logits(
        ctx, disc_forward(ctx, d, cg_gauss_gen_forward(ctx, g, z2)), ones, CG_REDUCE_MEAN);
    st = cg_backward(ctx, loss_g);
    cg_params_freeze(&d->p, 0, 0);
    if (st != CG_OK)
        return ctx->err;
    *lg = loss_g->data[0];
    if ((st = cg_adam_step(ag, &g->p)) != CG_OK)
        return cg_fail(ctx, st, "gauss-init-gan: Adam step of G failed");
    cg_params_zero_grad(&g->p);
    cg_ctx_step_end(ctx);
    return CG_OK;
}

/* the notes' MMD score between SCORE_N outputs of g and SCORE_N data points */
static cg_status score(cg_ctx *ctx, cg_gauss_gen *g, cg_toy toy, uint64_t seed, real *buf,
                       double *mmd2)
{
    cg_rng r;
    cg_rng_init(&r, seed, 8);
    cg_toy_sample(toy, &r, buf, SCORE_N);
    cg_status st = generate(ctx, g, &r, buf + 2 * SCORE_N, SCORE_N);
    double mmd;
    if (st == CG_OK)
        st = cg_mmd_score(buf + 2 * SCORE_N, SCORE_N, buf, SCORE_N, 2, 1.0, mmd2, &mmd);
    return st;
}

static cg_status train_gan(const cg_train_opts *o, const cg_gauss_init_opts *go, cg_ctx *ctx,
                           cg_gauss_gen *g, cg_gauss_init_result *res, real *buf, char *err,
                           size_t errlen)
{
    cg_toy toy;
    char why[512];
    cg_status st = cg_toy_parse(go->toy, &toy, why, sizeof why);
    if (st != CG_OK) {
        snprintf(err, errlen, "gauss-init-gan: --toy: %s", why);
        return st;
    }
    disc d;
    if ((st = disc_build(&d, go->nh, o->seed)) != CG_OK) {
        cg_params_free(&d.p);
        snprintf(err, errlen, "gauss-init-gan: out of memory");
        return st;
    }
    if ((st = score(ctx, g, toy, o->seed, buf, &res->mmd_start)) != CG_OK)
        snprintf(err, errlen, "gauss-init-gan: MMD score failed");
    cg_adam ag, ad;
    cg_adam_init(&ag, o->lr, 0.5, 0.999, 1e-8, 0, 0);
    cg_adam_init(&ad, o->lr, 0.5, 0.999, 1e-8, 0, 0);
    cg_rng data, noise;
    cg_rng_init(&data, o->seed, 5);
    cg_rng_init(&noise, o->seed, 6);
    cg_metrics log = {0};
    if (st == CG_OK && o->out_dir)
        st = cg_metrics_open(&log, o->out_dir, 0, err, errlen);
    int64_t steps = o->steps && o->epochs ? (o->steps < o->epochs ? o->steps : o->epochs)
                                          : (o->steps ? o->steps : o->epochs);
    int B = (int)o->batch;
    cg_progress prog;
    cg_progress_begin(&prog, steps, 0,
                      &(cg_progress_cfg){.tty = -1, .every = o->log_every, .quiet = o->quiet});
    for (int64_t s = 1; s <= steps && st == CG_OK; s++) {
        cg_tensor *x = cg_new(ctx, CG_SHAPE(B, 2)), *z1 = cg_new(ctx, CG_SHAPE(B, g->nin)),
                  *z2 = cg_new(ctx, CG_SHAPE(B, g->nin));
        if (!x || !z1 || !z2) {
            st = ctx->err;
            snprintf(err, errlen, "gauss-init-gan: %s", ctx->errmsg);
            break;
        }
        cg_toy_sample(toy, &data, x->data, B);
        cg_rng_normal(&noise, z1->data, z1->n, 0.0, 1.0);
        cg_rng_normal(&noise, z2->data, z2->n, 0.0, 1.0);
        double ld = NAN, lg = NAN;
        if ((st = gan_step(ctx, g, &d, &ag, &ad, x, z1, z2, &ld, &lg)) != CG_OK) {
            snprintf(err, errlen, "gauss-init-gan: step %lld: %s", (long long)s, ctx->errmsg);
            break;
        }
        res->steps = s;
        cg_progress_update(&prog, s, 1, B, "loss_D", ld, "loss_G", lg, (const char *)NULL);
        if (cg_metrics_write(&log, s, 1, B, "loss_D", ld, "loss_G", lg, (const char *)NULL))
            break;  /* the log cannot be written (a full disk): said below */
    }
    cg_progress_end(&prog);
    if (st == CG_OK && (st = score(ctx, g, toy, o->seed, buf, &res->mmd_end)) != CG_OK)
        snprintf(err, errlen, "gauss-init-gan: MMD score failed");
    cg_metrics_write(&log, res->steps, 1, 0, "mmd2_start", res->mmd_start, "mmd2_end",
                     res->mmd_end, (const char *)NULL);
    if (cg_metrics_close(&log) != CG_OK && st == CG_OK)
        st = cg_run_log_failed(err, errlen, "gauss-init-gan", o, &log, res->steps, 0);
    if (st == CG_OK && o->out_dir) {
        char title[96];
        snprintf(title, sizeof title, "GAN from the Gaussian start, %lld steps on %s",
                 (long long)res->steps, go->toy);
        st = scatter(o->out_dir, "gan.png", title, buf, go->toy, buf + 2 * SCORE_N,
                     "generated", NULL, err, errlen);
    }
    cg_params_free(&d.p);
    return st;
}

cg_status cg_gauss_init_run(const cg_train_opts *o, const cg_gauss_init_opts *go,
                            cg_gauss_init_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    res->mmd_start = res->mmd_end = NAN;
    err[0] = '\0';
    for (int i = 0; i < 2; i++)
        if (!(go->sigma[i] > 0) || !isfinite(go->mu[i])) {
            snprintf(err, errlen, "gauss-init-gan: --sigma must be positive and --mu finite");
            return CG_ERR_ARG;
        }
    if (o->batch < 2) {
        snprintf(err, errlen, "gauss-init-gan: --batch must be at least 2");
        return CG_ERR_ARG;
    }
    cg_gauss_gen g, gx;
    cg_ctx ctx;
    real *buf = malloc(sizeof(real) * 2 * CG_GAUSS_INIT_SAMPLES);
    real *target = malloc(sizeof(real) * 2 * PLOT_N);
    cg_status st = cg_ctx_init(&ctx);
    memset(&gx, 0, sizeof gx);
    cg_params_init(&gx.p);
    if (st == CG_OK)
        st = cg_gauss_gen_build(&g, go->nin, go->nh, 2, err, errlen);
    else
        cg_params_init(&g.p);
    if (st == CG_OK)
        st = cg_gauss_gen_build(&gx, go->nin, go->nh, 2, err, errlen);
    if (st == CG_OK && (!buf || !target)) {
        st = CG_ERR_NOMEM;
        snprintf(err, errlen, "gauss-init-gan: out of memory");
    }
    cg_rng r;
    cg_rng_init(&r, o->seed, 1);
    if (st == CG_OK)
        st = cg_gauss_gen_init(&ctx, &g, &r, 0.25, go->mu, go->sigma, err, errlen);
    cg_rng_init(&r, o->seed, 4);
    if (st == CG_OK)
        cg_gauss_gen_init_xavier(&gx, &r, go->mu);
    /* the desired Gaussian's own samples, for the pictures */
    cg_rng_init(&r, o->seed, 3);
    for (int i = 0; st == CG_OK && i < PLOT_N; i++) {
        real e[2];
        cg_rng_normal(&r, e, 2, 0.0, 1.0);
        target[2 * i] = (real)(go->mu[0] + go->sigma[0] * e[0]);
        target[2 * i + 1] = (real)(go->mu[1] + go->sigma[1] * e[1]);
    }
    for (int pass = 0; pass < 2 && st == CG_OK; pass++) {
        cg_rng_init(&r, o->seed, 2);  /* the same z for both */
        if ((st = generate(&ctx, pass ? &gx : &g, &r, buf, CG_GAUSS_INIT_SAMPLES)) != CG_OK) {
            snprintf(err, errlen, "gauss-init-gan: %s", ctx.errmsg);
            break;
        }
        moments(buf, CG_GAUSS_INIT_SAMPLES, pass ? res->mean_x : res->mean,
                pass ? res->cov_x : res->cov);
        if (o->out_dir)
            st = scatter(o->out_dir, pass ? "xavier.png" : "init.png",
                         pass ? "Xavier init (tanh gain) and the desired Gaussian"
                              : "Gaussian init and the desired Gaussian",
                         target, "desired N(mu, diag sigma^2)", buf,
                         pass ? "Xavier-initialised generator" : "Gaussian-initialised generator",
                         go->mu, err, errlen);
    }
    if (st == CG_OK)
        st = train_gan(o, go, &ctx, &g, res, buf, err, errlen);
    cg_gauss_gen_free(&g);
    cg_gauss_gen_free(&gx);
    cg_ctx_free(&ctx);
    free(buf);
    free(target);
    return st;
}
