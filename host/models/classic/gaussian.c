/*
 * gaussian.c: maximum-likelihood fit of a 2-D Gaussian by gradient descent
 * through the tape, checked against the closed-form MLE.
 *
 * NLL(x_i) = 1/2 |L^-1 (x_i - mu)|^2 + log det L + log 2 pi, with L the
 * Cholesky factor of Sigma: L = [[e^a1, 0], [c, e^a2]], so log det L = a1 + a2
 * and z = L^-1 d is  z1 = d1 e^-a1,  z2 = (d2 - c z1) e^-a2.
 * (The seed notebook prints (x-mu)^T Sigma^-1 (x-mu) without the 1/2; we use
 * the true Gaussian NLL, whose minimum over these six points is 18.377.)
 * With an output directory it draws DIR/fit.png: the points and the 1, 2 and
 * 3 sigma ellipses of the fit and of the closed form.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/io.h"
#include "cugen/models.h"
#include "cugen/nn.h"
#include "cugen/ops.h"
#include "cugen/optim.h"
#include "cugen/tape.h"

const double cg_gaussian_notebook_points[12] = {
    -0.2997, 0.2965, 0.7500, 0.1307, 2.4024, -1.5569,
    -3.3377, 1.3849, -1.3939, 1.0405, 1.2348, 1.1438,
};

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

/* n points (x, y) on the ellipse at Mahalanobis distance k around mean for
 * covariance cov: mean + k L (cos t, sin t), L the Cholesky factor of cov. */
static void ellipse(real *xy, int n, const double *mean, const double *cov, double k)
{
    double l11 = sqrt(cov[0]), l21 = cov[2] / l11, l22 = sqrt(cov[3] - l21 * l21);
    for (int i = 0; i < n; i++) {
        double t = 2 * M_PI * i / n, c = cos(t), s = sin(t);
        xy[2 * i] = (real)(mean[0] + k * l11 * c);
        xy[2 * i + 1] = (real)(mean[1] + k * (l21 * c + l22 * s));
    }
}

/* DIR/fit.png: the fitted 1/2/3-sigma ellipses as dense blue curves, the
 * closed form's as sparse orange dots over them, the points in black. */
static cg_status draw_fit(const char *dir, const double *xy, int n, const cg_gaussian_result *r,
                          char *err, size_t errlen)
{
    /* per ellipse: fitted k sigma gets k * DENSE points, closed-form k * SPARSE */
    enum { DENSE = 480, SPARSE = 36 };
    real *buf = malloc(sizeof(real) * 2 * (6 * DENSE + 6 * SPARSE + (size_t)n));
    if (!buf) {
        snprintf(err, errlen, "gaussian: out of memory");
        return CG_ERR_NOMEM;
    }
    real *fit = buf, *mle = buf + 2 * 6 * DENSE, *pts = mle + 2 * 6 * SPARSE;
    for (int k = 1, at = 0; k <= 3; at += k, k++) {  /* at: 0, 1, 3 (times DENSE) */
        ellipse(fit + 2 * DENSE * at, k * DENSE, r->mean, r->cov, k);
        ellipse(mle + 2 * SPARSE * at, k * SPARSE, r->mean_mle, r->cov_mle, k);
    }
    for (int i = 0; i < 2 * n; i++)
        pts[i] = (real)xy[i];
    cg_plot_series s[3] = {
        {.xy = fit, .n = 6 * DENSE, .rgb = CG_PLOT_BLUE, .size = 2,
         .label = "fit: 1, 2, 3 sigma"},
        {.xy = mle, .n = 6 * SPARSE, .rgb = CG_PLOT_ORANGE, .size = 4, .marker = CG_MARK_DISC,
         .label = "closed-form MLE"},
        {.xy = pts, .n = n, .rgb = {0, 0, 0}, .size = 7, .marker = CG_MARK_DISC,
         .label = "data"},
    };
    char title[96], path[4096];
    snprintf(title, sizeof title, "Gaussian fit: NLL %.4f (MLE %.4f)", r->nll, r->nll_mle);
    snprintf(path, sizeof path, "%s/fit.png", dir);
    cg_plot_opts o = {.width = 520, .height = 520, .equal_aspect = 1, .title = title};
    char why[512];
    cg_status st = cg_png_plot(path, s, 3, &o, why, sizeof why);
    if (st != CG_OK)
        snprintf(err, errlen, "gaussian: %s", why);
    free(buf);
    return st;
}

/* Closed form: mean, biased covariance, and the NLL there,
 * n log 2pi + n/2 log det Sigma + n d/2 (d = 2). */
static void closed_form(const double *xy, int n, cg_gaussian_result *r)
{
    double m0 = 0, m1 = 0;
    for (int i = 0; i < n; i++) {
        m0 += xy[2 * i];
        m1 += xy[2 * i + 1];
    }
    m0 /= n;
    m1 /= n;
    double s00 = 0, s01 = 0, s11 = 0;
    for (int i = 0; i < n; i++) {
        double a = xy[2 * i] - m0, b = xy[2 * i + 1] - m1;
        s00 += a * a;
        s01 += a * b;
        s11 += b * b;
    }
    s00 /= n;
    s01 /= n;
    s11 /= n;
    r->mean_mle[0] = m0;
    r->mean_mle[1] = m1;
    r->cov_mle[0] = s00;
    r->cov_mle[1] = r->cov_mle[2] = s01;
    r->cov_mle[3] = s11;
    r->nll_mle = n * log(2 * M_PI) + 0.5 * n * log(s00 * s11 - s01 * s01) + n;
}

cg_status cg_gaussian_fit(const cg_train_opts *o, const double *xy, int n,
                          cg_gaussian_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    err[0] = '\0';
    if (n < 3) {
        snprintf(err, errlen, "gaussian: need at least 3 points, got %d", n);
        return CG_ERR_ARG;
    }
    closed_form(xy, n, res);

    cg_params P;
    cg_params_init(&P);
    cg_tensor *mu = cg_param(&P, "mean", CG_SHAPE(1, 2), 0);
    cg_tensor *loga = cg_param(&P, "log_diag", CG_SHAPE(1, 2), 0);
    cg_tensor *off = cg_param(&P, "offdiag", CG_SHAPE(1, 1), 0);
    cg_ctx ctx;
    cg_status st = cg_ctx_init(&ctx);
    if (!mu || !loga || !off || st != CG_OK || cg_params_alloc(&P) != CG_OK) {
        snprintf(err, errlen, "gaussian: out of memory");
        cg_params_free(&P);
        cg_ctx_free(&ctx);
        return CG_ERR_NOMEM;
    }
    /* parameters start at zero: mean 0, Sigma = I (the notebook's initial sliders) */
    real *xbuf = malloc(sizeof(real) * 2 * (size_t)n);
    if (!xbuf) {
        snprintf(err, errlen, "gaussian: out of memory");
        cg_params_free(&P);
        cg_ctx_free(&ctx);
        return CG_ERR_NOMEM;
    }
    for (int i = 0; i < 2 * n; i++)
        xbuf[i] = (real)xy[i];

    cg_adam adam;
    cg_adam_init(&adam, o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    /* full batch: one step is one epoch; with both flags the first limit wins */
    int64_t steps = o->steps && o->epochs ? (o->steps < o->epochs ? o->steps : o->epochs)
                                          : (o->steps ? o->steps : o->epochs);
    cg_metrics log = {0};
    if (o->out_dir)
        cg_metrics_open(&log, o->out_dir, 0, err, errlen);  /* a failure leaves err set */
    cg_progress prog;
    cg_progress_begin(&prog, steps, 0,
                      &(cg_progress_cfg){.tty = -1, .every = o->log_every, .quiet = o->quiet});
    double nll = 0;
    for (int64_t s = 1; s <= steps && !err[0]; s++) {
        cg_tensor *x = cg_wrap(&ctx, xbuf, CG_SHAPE(n, 2));
        cg_tensor *loss = gaussian_nll(&ctx, x, mu, loga, off);
        if (cg_backward(&ctx, loss) != CG_OK)
            break;
        nll = loss->data[0];
        adam.lr = cg_lr_cosine(o->lr, s - 1, steps, 0.01);
        if ((st = cg_adam_step(&adam, &P)) != CG_OK) {
            snprintf(err, errlen, "gaussian: optimizer step failed: %s", cg_status_str(st));
            break;
        }
        cg_params_zero_grad(&P);
        cg_ctx_step_end(&ctx);
        cg_progress_update(&prog, s, s, n, "nll", nll, "mle", res->nll_mle, (const char *)NULL);
        res->steps = s;
        if (cg_metrics_write(&log, s, s, n, "nll", nll, "lr", adam.lr, (const char *)NULL))
            break;  /* the log cannot be written (a full disk): said below */
    }
    cg_progress_end(&prog);
    if (ctx.err && !err[0])
        snprintf(err, errlen, "gaussian: %s", ctx.errmsg);
    st = err[0] ? (ctx.err ? ctx.err : CG_ERR_IO) : CG_OK;

    if (st == CG_OK) {
        /* NLL at the final parameters (the loop's value is one step behind) */
        cg_set_grad(&ctx, 0);
        cg_tensor *x = cg_wrap(&ctx, xbuf, CG_SHAPE(n, 2));
        cg_tensor *loss = gaussian_nll(&ctx, x, mu, loga, off);
        res->nll = loss ? loss->data[0] : NAN;
        double l11 = exp(loga->data[0]), l22 = exp(loga->data[1]), c = off->data[0];
        res->mean[0] = mu->data[0];
        res->mean[1] = mu->data[1];
        res->cov[0] = l11 * l11;
        res->cov[1] = res->cov[2] = c * l11;
        res->cov[3] = c * c + l22 * l22;
        cg_metrics_write(&log, res->steps, res->steps, 0, "final_nll", res->nll, "mle_nll",
                         res->nll_mle, (const char *)NULL);
        if (o->out_dir)
            st = draw_fit(o->out_dir, xy, n, res, err, errlen);
    }
    if (cg_metrics_close(&log) != CG_OK && st == CG_OK)
        st = cg_run_log_failed(err, errlen, "gaussian", o, &log, res->steps, 0);
    free(xbuf);
    cg_params_free(&P);
    cg_ctx_free(&ctx);
    return st;
}
