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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/data.h"
#include "cugen/io.h"
#include "cugen/metrics.h"
#include "cugen/ops.h"
#include "cugen/tape.h"
#include "cugen/trainer.h"

#define PLOT_N 1000
#define SCORE_N 2000

/* the notebook's D: Linear(2, nh) LeakyReLU(0.2) Linear(nh, nh) LeakyReLU(0.2) Linear(nh, 1) */
typedef struct {
    cg_params p;
    cg_nn nn;
    cg_nn_linear fc1;   /* fc1: (nh, 2) + (nh) */
    cg_nn_linear fc2;   /* fc2: (nh, nh) + (nh) */
    cg_nn_linear fc3;   /* fc3: (1, nh) + (1) */
} disc;

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
    cg_nn_begin(&d->nn, &d->p);
    cg_nn_linear_declare(&d->nn, &d->fc1, "fc1", 2, nh, 1);
    cg_nn_linear_declare(&d->nn, &d->fc2, "fc2", nh, nh, 1);
    cg_nn_linear_declare(&d->nn, &d->fc3, "fc3", nh, 1, 1);
    char why[256];
    if (cg_nn_alloc(&d->nn, why, sizeof why) != CG_OK)
        return CG_ERR_NOMEM;
    cg_rng r;
    cg_rng_init(&r, seed, 7);
    return cg_nn_init(&d->nn, &r);  /* nn.Linear's default */
}

static cg_tensor *disc_forward(cg_ctx *ctx, disc *d, cg_tensor *x)
{
    cg_tensor *h = cg_leaky_relu(ctx, cg_nn_linear_fwd(ctx, &d->fc1, x), 0.2);
    h = cg_leaky_relu(ctx, cg_nn_linear_fwd(ctx, &d->fc2, h), 0.2);
    cg_tensor *o = cg_nn_linear_fwd(ctx, &d->fc3, h);
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

/* ---- the run, as the trainer runs it (a toy set: its own data) ----------------- */

typedef struct {
    cg_gauss_gen g, gx;        /* Gaussian init (trained), Xavier baseline */
    disc d;
    cg_adam ag, ad;
    cg_rng data, noise;
    cg_toy toy;
    double mu[2], sigma[2];
    double mean[2], cov[4], mean_x[2], cov_x[4], mmd_start;
    real *buf, *target;
} gi_run;

/* "a,b": two finite numbers into v; 0 when s is not that */
static int parse_pair(const char *s, double *v)
{
    char *end;
    v[0] = strtod(s, &end);
    if (end == s || *end != ',')
        return 0;
    const char *t = end + 1;
    v[1] = strtod(t, &end);
    return end != t && *end == '\0' && isfinite(v[0]) && isfinite(v[1]);
}

static cg_status check(const void *settings, const cg_train_opts *o, char *err, size_t len)
{
    const cg_gauss_init_flags *f = settings;
    double v[2];
    const char *const flag[2] = {"mu", "sigma"}, *const text[2] = {f->mu, f->sigma};
    for (int i = 0; i < 2; i++)
        if (!parse_pair(text[i], v)) {
            snprintf(err, len, "--%s expects two numbers as a,b (the toy sets are 2-D), got "
                     "'%s'", flag[i], text[i]);
            return CG_ERR_ARG;
        }
    if (!(v[0] > 0 && v[1] > 0)) {
        snprintf(err, len, "--sigma must be positive, got %g,%g", v[0], v[1]);
        return CG_ERR_ARG;
    }
    if (o->batch < 2) {
        snprintf(err, len, "--batch must be at least 2");
        return CG_ERR_ARG;
    }
    return CG_OK;
}

/* The notebook's comparison: moments of 100,000 outputs of each
 * initialisation (the same z), and their pictures against the target */
static cg_status compare_inits(cg_trainer *t, gi_run *r)
{
    cg_rng rng;
    cg_rng_init(&rng, t->o->seed, 3);  /* the desired Gaussian's own samples */
    for (int i = 0; i < PLOT_N; i++) {
        real e[2];
        cg_rng_normal(&rng, e, 2, 0.0, 1.0);
        r->target[2 * i] = (real)(r->mu[0] + r->sigma[0] * e[0]);
        r->target[2 * i + 1] = (real)(r->mu[1] + r->sigma[1] * e[1]);
    }
    cg_status st = CG_OK;
    for (int pass = 0; pass < 2 && st == CG_OK; pass++) {
        cg_rng_init(&rng, t->o->seed, 2);  /* the same z for both */
        if (generate(&t->ctx, pass ? &r->gx : &r->g, &rng, r->buf, CG_GAUSS_INIT_SAMPLES))
            return cg_trainer_fail(t, t->ctx.err, "%s", t->ctx.errmsg);
        cg_moments2(r->buf, CG_GAUSS_INIT_SAMPLES, 1, pass ? r->mean_x : r->mean,
                    pass ? r->cov_x : r->cov);
        if (t->o->out_dir)
            st = scatter(t->o->out_dir, pass ? "xavier.png" : "init.png",
                         pass ? "Xavier init (tanh gain) and the desired Gaussian"
                              : "Gaussian init and the desired Gaussian",
                         r->target, "desired N(mu, diag sigma^2)", r->buf,
                         pass ? "Xavier-initialised generator" : "Gaussian-initialised generator",
                         r->mu, t->err, t->errlen);
    }
    return st;
}

static cg_status build(cg_trainer *t, void *self)
{
    gi_run *r = self;
    const cg_gauss_init_flags *f = t->settings;
    parse_pair(f->mu, r->mu);  /* checked by check() */
    parse_pair(f->sigma, r->sigma);
    char why[512];
    cg_status st = cg_toy_parse(f->toy, &r->toy, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "--toy: %s", why);
    cg_params_init(&r->g.p);
    cg_params_init(&r->gx.p);
    cg_params_init(&r->d.p);
    r->buf = malloc(sizeof(real) * 2 * CG_GAUSS_INIT_SAMPLES);
    r->target = malloc(sizeof(real) * 2 * PLOT_N);
    if (!r->buf || !r->target)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    int nin = (int)f->z_size, nh = (int)f->hidden;
    if ((st = cg_gauss_gen_build(&r->g, nin, nh, 2, t->err, t->errlen)) != CG_OK ||
        (st = cg_gauss_gen_build(&r->gx, nin, nh, 2, t->err, t->errlen)) != CG_OK)
        return st;
    cg_rng rng;
    cg_rng_init(&rng, t->o->seed, 1);
    if ((st = cg_gauss_gen_init(&t->ctx, &r->g, &rng, 0.25, r->mu, r->sigma, t->err,
                                t->errlen)) != CG_OK)
        return st;
    cg_rng_init(&rng, t->o->seed, 4);
    cg_gauss_gen_init_xavier(&r->gx, &rng, r->mu);
    if ((st = compare_inits(t, r)) != CG_OK)
        return st;
    if (disc_build(&r->d, nh, t->o->seed) != CG_OK)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    if (score(&t->ctx, &r->g, r->toy, t->o->seed, r->buf, &r->mmd_start) != CG_OK)
        return cg_trainer_fail(t, CG_ERR_STATE, "MMD score failed");
    cg_adam_init(&r->ag, t->o->lr, 0.5, 0.999, 1e-8, 0, 0);
    cg_adam_init(&r->ad, t->o->lr, 0.5, 0.999, 1e-8, 0, 0);
    cg_rng_init(&r->data, t->o->seed, 5);
    cg_rng_init(&r->noise, t->o->seed, 6);
    cg_trainer_params(t, &r->g.p, &r->ag.t, NULL);
    return CG_OK;
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    const gi_run *r = self;
    (void)t;
    snprintf(buf, len, "G z %d -> %d -> %d -> 2 (tanh) from N(mu, diag sigma^2), a GAN on %s",
             r->g.nin, r->g.nh, r->g.nh, cg_toy_name(r->toy));
}

static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    gi_run *r = self;
    cg_ctx *ctx = &t->ctx;
    (void)x;
    int B = b->n;
    cg_tensor *pts = cg_new(ctx, CG_SHAPE(B, 2)), *z1 = cg_new(ctx, CG_SHAPE(B, r->g.nin)),
              *z2 = cg_new(ctx, CG_SHAPE(B, r->g.nin));
    if (!pts || !z1 || !z2)
        return ctx->err;
    cg_toy_sample(r->toy, &r->data, pts->data, B);
    cg_rng_normal(&r->noise, z1->data, z1->n, 0.0, 1.0);
    cg_rng_normal(&r->noise, z2->data, z2->n, 0.0, 1.0);
    double ld = NAN, lg = NAN;
    cg_status st = gan_step(ctx, &r->g, &r->d, &r->ag, &r->ad, pts, z1, z2, &ld, &lg);
    cg_scalars_put(out, "loss_D", ld);
    cg_scalars_put(out, "loss_G", lg);
    return st;
}

/* The MMD score after training and the GAN's picture; the comparison's
 * numbers for the report */
static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    gi_run *r = self;
    double mmd_end;
    if (score(&t->ctx, &r->g, r->toy, t->o->seed, r->buf, &mmd_end) != CG_OK)
        return cg_trainer_fail(t, CG_ERR_STATE, "MMD score failed");
    static const char *const names[12] = {
        "init_mean_x", "init_mean_y", "init_cov_xx", "init_cov_xy", "init_cov_yx",
        "init_cov_yy", "xavier_mean_x", "xavier_mean_y", "xavier_cov_xx", "xavier_cov_xy",
        "xavier_cov_yx", "xavier_cov_yy"};
    const double v[12] = {r->mean[0], r->mean[1], r->cov[0], r->cov[1], r->cov[2], r->cov[3],
                          r->mean_x[0], r->mean_x[1], r->cov_x[0], r->cov_x[1], r->cov_x[2],
                          r->cov_x[3]};
    for (int i = 0; i < 12; i++)
        cg_scalars_put(out, names[i], v[i]);
    cg_scalars_put(out, "mmd2_start", r->mmd_start);
    cg_scalars_put(out, "mmd2_end", mmd_end);
    if (!t->o->out_dir)
        return CG_OK;
    char title[96];
    snprintf(title, sizeof title, "GAN from the Gaussian start, %lld steps on %s",
             (long long)t->step, cg_toy_name(r->toy));
    return scatter(t->o->out_dir, "gan.png", title, r->buf, cg_toy_name(r->toy),
                   r->buf + 2 * SCORE_N, "generated", NULL, t->err, t->errlen);
}

static void report(const cg_train_opts *o, const void *settings, const cg_train_result *res)
{
    const cg_gauss_init_flags *f = settings;
    double mu[2], sg[2];
    parse_pair(f->mu, mu);
    parse_pair(f->sigma, sg);
    const cg_scalars *s = &res->final;
#define V(name) cg_scalars_get(s, name)
    printf("  Gaussian-initialised MLP generator (z %lld -> %lld -> %lld -> 2, tanh, alpha "
           "0.25), %d outputs:\n", (long long)f->z_size, (long long)f->hidden,
           (long long)f->hidden, CG_GAUSS_INIT_SAMPLES);
    printf("  target         mean (%.4f, %.4f)  cov [[%.4f, %.4f], [%.4f, %.4f]]\n", mu[0],
           mu[1], sg[0] * sg[0], 0.0, 0.0, sg[1] * sg[1]);
    printf("  Gaussian init  mean (%.4f, %.4f)  cov [[%.4f, %.4f], [%.4f, %.4f]]\n",
           V("init_mean_x"), V("init_mean_y"), V("init_cov_xx"), V("init_cov_xy"),
           V("init_cov_yx"), V("init_cov_yy"));
    printf("  Xavier init    mean (%.4f, %.4f)  cov [[%.4f, %.4f], [%.4f, %.4f]]\n",
           V("xavier_mean_x"), V("xavier_mean_y"), V("xavier_cov_xx"), V("xavier_cov_xy"),
           V("xavier_cov_yx"), V("xavier_cov_yy"));
    printf("  GAN from the Gaussian start on %s, %lld steps: MMD^2 (the notes' score) to the "
           "data %.5f before, %.5f after\n", f->toy, (long long)res->steps, V("mmd2_start"),
           V("mmd2_end"));
#undef V
    if (o->out_dir)
        printf("  pictures: %s/init.png, %s/xavier.png (against the desired Gaussian), "
               "%s/gan.png (after training)\n", o->out_dir, o->out_dir, o->out_dir);
}

static void free_run(void *self)
{
    gi_run *r = self;
    cg_gauss_gen_free(&r->g);
    cg_gauss_gen_free(&r->gx);
    cg_params_free(&r->d.p);
    free(r->buf);
    free(r->target);
}

#define F(field) offsetof(cg_gauss_init_flags, field)
static const cg_flag flags[] = {
    {"z-size", CG_FLAG_INT, F(z_size), "4", 1, 4096, "N", "input size", NULL},
    {"hidden", CG_FLAG_INT, F(hidden), "64", 1, 65536, "N", "hidden layer width", NULL},
    {"mu", CG_FLAG_STR, F(mu), "2,4", 0, 0, "A,B", "target mean", NULL},
    {"sigma", CG_FLAG_STR, F(sigma), "1.5,0.8", 0, 0, "A,B", "target standard deviations",
     NULL},
    {"toy", CG_FLAG_CHOICE, F(toy), "8gaussians", 0, 0,
     "8gaussians|moons|swissroll|checkerboard|gaussian", "the 2-D set the GAN learns", NULL},
};
#undef F

const cg_model_kind cg_kind_gauss_init = {
    .name = "gauss-init-gan", .title = "Gaussian-initialised GAN",
    .summary = "MLP generator initialised to N(mu, diag sigma^2), then a GAN on a toy set",
    .steps = 2000, .batch = 256, .lr = 1e-3, .flags = flags,
    .nflags = sizeof flags / sizeof flags[0], .settings_size = sizeof(cg_gauss_init_flags),
    .check = check, .own_data = 1, .state_size = sizeof(gi_run), .build = build,
    .describe = describe, .step = step, .finish = finish, .report = report, .free = free_run,
};
