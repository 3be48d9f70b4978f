/*
 * gaussian.c: `cugen train gaussian`, the maximum-likelihood fit of a 2-D
 * Gaussian to the seed notebook's six points by Adam through the tape (a
 * cosine lr schedule), as the trainer runs it (the points are its own data:
 * one full batch per step), checked against the closed-form MLE.
 *
 * NLL(x_i) = 1/2 |L^-1 (x_i - mu)|^2 + log det L + log 2 pi, with L the
 * Cholesky factor of Sigma: L = [[e^a1, 0], [c, e^a2]], so log det L = a1 + a2
 * and z = L^-1 d is  z1 = d1 e^-a1,  z2 = (d2 - c z1) e^-a2.
 * (The seed notebook prints (x-mu)^T Sigma^-1 (x-mu) without the 1/2; we use
 * the true Gaussian NLL, whose minimum over these six points is 18.377.)
 * With an output directory it draws DIR/fit.png: the points and the 1, 2 and
 * 3 sigma ellipses of the fit and of the closed form.
 *
 * Not for: the loop (host/train/trainer.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/io.h"
#include "cugen/metrics.h"
#include "cugen/models.h"
#include "cugen/nn.h"
#include "cugen/ops.h"
#include "cugen/optim.h"
#include "cugen/tape.h"
#include "cugen/trainer.h"

const double cg_gaussian_notebook_points[12] = {
    -0.2997, 0.2965, 0.7500, 0.1307, 2.4024, -1.5569,
    -3.3377, 1.3849, -1.3939, 1.0405, 1.2348, 1.1438,
};

#define N_POINTS 6

/* A Gaussian of the fit or of the closed form: cov row-major; nll over the points */
typedef struct {
    double mean[2], cov[4], nll;
} gaussian_fit;

static cg_tensor *gaussian_nll(cg_ctx *c, cg_tensor *x, cg_tensor *mu, cg_tensor *loga,
                               cg_tensor *off)
{
    int n = x->shape[0];
    cg_tensor *d[2] = {NULL, NULL}, *inv[2] = {NULL, NULL};
    cg_split(c, cg_sub(c, x, mu), (const int[]){1, 1}, 2, d);          /* (n, 1) each */
    cg_split(c, cg_exp(c, cg_scale(c, loga, -1)), (const int[]){1, 1}, 2, inv); /* (1, 1) */
    cg_tensor *z1 = cg_mul(c, d[0], inv[0]);
    cg_tensor *z2 = cg_mul(c, cg_sub(c, d[1], cg_mul(c, z1, off)), inv[1]);
    cg_tensor *quad = cg_add(c, cg_sum(c, cg_mul(c, z1, z1)), cg_sum(c, cg_mul(c, z2, z2)));
    cg_tensor *logdet = cg_scale(c, cg_sum(c, loga), n);
    return cg_affine(c, cg_add(c, cg_scale(c, quad, 0.5), logdet), 1.0, n * log(2 * M_PI));
}

/* DIR/fit.png: the fitted 1/2/3-sigma ellipses as dense blue curves, the
 * closed form's as sparse orange dots over them, the points in black. */
static cg_status draw_fit(const char *dir, const real *xy, int n, const gaussian_fit *fit,
                          const gaussian_fit *mle, char *err, size_t errlen)
{
    /* per ellipse: fitted k sigma gets k * DENSE points, closed-form k * SPARSE */
    enum { DENSE = 480, SPARSE = 36 };
    real *buf = malloc(sizeof(real) * 2 * (6 * DENSE + 6 * SPARSE));
    if (!buf) {
        snprintf(err, errlen, "gaussian: out of memory");
        return CG_ERR_NOMEM;
    }
    real *fit_xy = buf, *mle_xy = buf + 2 * 6 * DENSE;
    for (int k = 1, at = 0; k <= 3; at += k, k++) {  /* at: 0, 1, 3 (times DENSE) */
        cg_plot_ellipse(fit_xy + 2 * DENSE * at, k * DENSE, fit->mean, fit->cov, k);
        cg_plot_ellipse(mle_xy + 2 * SPARSE * at, k * SPARSE, mle->mean, mle->cov, k);
    }
    cg_plot_series s[3] = {
        {.xy = fit_xy, .n = 6 * DENSE, .rgb = CG_PLOT_BLUE, .size = 2,
         .label = "fit: 1, 2, 3 sigma"},
        {.xy = mle_xy, .n = 6 * SPARSE, .rgb = CG_PLOT_ORANGE, .size = 4,
         .marker = CG_MARK_DISC, .label = "closed-form MLE"},
        {.xy = xy, .n = n, .rgb = {0, 0, 0}, .size = 7, .marker = CG_MARK_DISC,
         .label = "data"},
    };
    char title[96], path[4096];
    snprintf(title, sizeof title, "Gaussian fit: NLL %.4f (MLE %.4f)", fit->nll, mle->nll);
    snprintf(path, sizeof path, "%s/fit.png", dir);
    cg_plot_opts o = {.width = 520, .height = 520, .equal_aspect = 1, .title = title};
    char why[512];
    cg_status st = cg_png_plot(path, s, 3, &o, why, sizeof why);
    if (st != CG_OK)
        snprintf(err, errlen, "gaussian: %s", why);
    free(buf);
    return st;
}

/* NLL there = n log 2pi + n/2 log det Sigma + n d/2 (d = 2). */
cg_status cg_gaussian_closed_form(const double *xy, int n, double mean[2], double cov[4],
                                  double *nll, char *err, size_t errlen)
{
    if (n < 3) {  /* two points: a singular covariance */
        snprintf(err, errlen, "gaussian: need at least 3 points, got %d", n);
        return CG_ERR_ARG;
    }
    cg_moments2_f64(xy, n, 0, mean, cov);
    *nll = n * log(2 * M_PI) + 0.5 * n * log(cov[0] * cov[3] - cov[1] * cov[1]) + n;
    return CG_OK;
}

/* ---- the run, as the trainer runs it ------------------------------------------ */

typedef struct {
    cg_params p;
    cg_tensor *mean;       /* (1, 2) */
    cg_tensor *log_diag;   /* (1, 2): a1, a2 */
    cg_tensor *offdiag;    /* (1, 1): c */
    cg_adam adam;
    real xy[2 * N_POINTS];
    gaussian_fit mle;
} gaussian_run;

static cg_status build(cg_trainer *t, void *self)
{
    gaussian_run *g = self;
    const double *xy = cg_gaussian_notebook_points;
    cg_status st = cg_gaussian_closed_form(xy, N_POINTS, g->mle.mean, g->mle.cov, &g->mle.nll,
                                           t->err, t->errlen);
    if (st != CG_OK)
        return st;
    for (int i = 0; i < 2 * N_POINTS; i++)
        g->xy[i] = (real)xy[i];
    cg_params_init(&g->p);
    g->mean = cg_param(&g->p, "mean", CG_SHAPE(1, 2), 0);
    g->log_diag = cg_param(&g->p, "log_diag", CG_SHAPE(1, 2), 0);
    g->offdiag = cg_param(&g->p, "offdiag", CG_SHAPE(1, 1), 0);
    if (!g->mean || !g->log_diag || !g->offdiag || cg_params_alloc(&g->p) != CG_OK)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    /* parameters start at zero: mean 0, Sigma = I (the notebook's initial sliders) */
    cg_adam_init(&g->adam, t->o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    t->per_epoch = 1;  /* full batch: one step is one epoch */
    t->total = cg_run_total_steps(t->o, 1);
    cg_trainer_params(t, &g->p, &g->adam.t, NULL);
    return CG_OK;
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    (void)t;
    (void)self;
    snprintf(buf, len, "the seed notebook's %d points, Adam on the full NLL", N_POINTS);
}

/* One Adam step on the NLL of the points, the lr on a cosine over the run */
static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    gaussian_run *g = self;
    cg_ctx *ctx = &t->ctx;
    (void)x;
    (void)b;
    cg_tensor *pts = cg_wrap(ctx, g->xy, CG_SHAPE(N_POINTS, 2));
    cg_tensor *loss = gaussian_nll(ctx, pts, g->mean, g->log_diag, g->offdiag);
    if (!loss || cg_backward(ctx, loss) != CG_OK)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    g->adam.lr = cg_lr_cosine(t->o->lr, t->step - 1, t->total, 0.01);
    cg_scalars_put(out, "nll", loss->data[0]);
    cg_scalars_put(out, "lr", g->adam.lr);
    cg_status st = cg_adam_step(&g->adam, &g->p);
    if (st != CG_OK)
        return cg_fail(ctx, st, "Adam step failed");
    cg_params_zero_grad(&g->p);
    return CG_OK;
}

/* The NLL at the final parameters (a step's is one step behind), the fitted
 * Gaussian beside the closed form's, and fit.png */
static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    gaussian_run *g = self;
    cg_ctx *ctx = &t->ctx;
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *loss = gaussian_nll(ctx, cg_wrap(ctx, g->xy, CG_SHAPE(N_POINTS, 2)), g->mean,
                                   g->log_diag, g->offdiag);
    gaussian_fit fit = {.nll = loss ? loss->data[0] : NAN};
    cg_set_grad(ctx, prev);
    cg_ctx_step_end(ctx);
    double l11 = exp(g->log_diag->data[0]), l22 = exp(g->log_diag->data[1]);
    double c = g->offdiag->data[0];
    fit.mean[0] = g->mean->data[0];
    fit.mean[1] = g->mean->data[1];
    fit.cov[0] = l11 * l11;
    fit.cov[1] = fit.cov[2] = c * l11;
    fit.cov[3] = c * c + l22 * l22;
    const gaussian_fit *both[2] = {&fit, &g->mle};
    static const char *const names[2][6] = {
        {"final_nll", "mean_x", "mean_y", "cov_xx", "cov_xy", "cov_yy"},
        {"mle_nll", "mle_mean_x", "mle_mean_y", "mle_cov_xx", "mle_cov_xy", "mle_cov_yy"}};
    for (int j = 0; j < 2; j++) {
        const double v[6] = {both[j]->nll, both[j]->mean[0], both[j]->mean[1], both[j]->cov[0],
                             both[j]->cov[1], both[j]->cov[3]};
        for (int i = 0; i < 6; i++)
            cg_scalars_put(out, names[j][i], v[i]);
    }
    if (!t->o->out_dir)
        return CG_OK;
    return draw_fit(t->o->out_dir, g->xy, N_POINTS, &fit, &g->mle, t->err, t->errlen);
}

static void report(const cg_train_opts *o, const void *settings, const cg_train_result *r)
{
    (void)settings;
    const cg_scalars *f = &r->final;
    double nll = cg_scalars_get(f, "final_nll"), mle = cg_scalars_get(f, "mle_nll");
    double gap = nll - mle;
    printf("Gaussian MLE on the notebook's %d points, %lld Adam steps:\n", N_POINTS,
           (long long)r->steps);
    static const char *const who[2] = {"fitted    ", "closed form"};
    static const char *const names[2][5] = {
        {"mean_x", "mean_y", "cov_xx", "cov_xy", "cov_yy"},
        {"mle_mean_x", "mle_mean_y", "mle_cov_xx", "mle_cov_xy", "mle_cov_yy"}};
    for (int j = 0; j < 2; j++) {
        double v[5];
        for (int i = 0; i < 5; i++)
            v[i] = cg_scalars_get(f, names[j][i]);
        printf("  %s mean (%.5f, %.5f)  cov [[%.5f, %.5f], [%.5f, %.5f]]\n", who[j], v[0],
               v[1], v[2], v[3], v[3], v[4]);
    }
    printf("  NLL reached %.6f, closed-form MLE %.6f, difference %.2e (%s 1e-4)\n", nll, mle,
           gap, fabs(gap) < 1e-4 ? "within" : "NOT within");
    printf("  notebook challenge: NLL < 23 ... %s\n", nll < 23 ? "yes" : "no");
    if (o->out_dir)
        printf("  picture: %s/fit.png (points, fitted and closed-form 1/2/3-sigma ellipses)\n",
               o->out_dir);
}

static void free_run(void *self)
{
    gaussian_run *g = self;
    cg_params_free(&g->p);
}

const cg_model_kind cg_kind_gaussian = {
    .name = "gaussian", .title = "Gaussian MLE",
    .summary = "2-D Gaussian MLE by Adam on the seed notebook's six points",
    .steps = 2000, .batch = N_POINTS, .lr = 0.05, .ignores = "batch", .own_data = 1,
    .state_size = sizeof(gaussian_run), .build = build, .describe = describe, .step = step,
    .finish = finish, .report = report, .free = free_run,
};
