/*
 * gmm_train.c: `cugen train gmm`: the article's noisy disc, a Gaussian
 * mixture fitted by EM beside the box model, their log-likelihoods on the
 * training points and on fresh test points, and two pictures:
 *   DIR/gmm.png  the data (orange), 500 samples of the mixture (blue) and the
 *                1 and 2 sigma ellipses of each component (black)
 *   DIR/box.png  the data, 500 samples of the box model and the box
 * Random streams of the seed: 1 training points, 2 test points, 3 the
 * k-means++ seeding, 4 the mixture's samples, 5 the box's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/io.h"

#define N_POINTS 500   /* the article's num_points */
#define ELLIPSE_PTS 360

/* n points on the ellipse at Mahalanobis distance s around mu for cov. */
static void ellipse(real *xy, int n, const double *mu, const double *cov, double s)
{
    double l11 = sqrt(cov[0]), l21 = cov[2] / l11, l22 = sqrt(cov[3] - l21 * l21);
    for (int i = 0; i < n; i++) {
        double t = 2 * M_PI * i / n, c = cos(t), si = sin(t);
        xy[2 * i] = (real)(mu[0] + s * l11 * c);
        xy[2 * i + 1] = (real)(mu[1] + s * (l21 * c + l22 * si));
    }
}

static void to_real(real *dst, const double *src, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = (real)src[i];
}

/* gmm.png (ellipses) or box.png (the box outline), samples over data. */
static cg_status draw(const char *dir, const char *name, const char *title, const double *data,
                      const double *samples, const cg_gmm *g, const cg_box *b, char *err,
                      size_t errlen)
{
    int nline = g ? 2 * ELLIPSE_PTS * g->k : 4 * ELLIPSE_PTS;
    real *buf = malloc(sizeof(real) * 2 * (size_t)(2 * N_POINTS + nline));
    if (!buf) {
        snprintf(err, errlen, "gmm: out of memory");
        return CG_ERR_NOMEM;
    }
    real *d = buf, *s = buf + 2 * N_POINTS, *line = s + 2 * N_POINTS;
    to_real(d, data, 2 * N_POINTS);
    to_real(s, samples, 2 * N_POINTS);
    if (g) {
        for (int j = 0; j < g->k; j++)
            for (int sig = 1; sig <= 2; sig++)
                ellipse(line + 2 * ELLIPSE_PTS * (2 * j + sig - 1), ELLIPSE_PTS, g->mu[j],
                        g->cov[j], sig);
    } else {
        for (int i = 0; i < ELLIPSE_PTS; i++) {
            double t = (double)i / ELLIPSE_PTS;
            double xs[4] = {b->lo[0] + t * (b->hi[0] - b->lo[0]), b->hi[0],
                            b->hi[0] - t * (b->hi[0] - b->lo[0]), b->lo[0]};
            double ys[4] = {b->lo[1], b->lo[1] + t * (b->hi[1] - b->lo[1]), b->hi[1],
                            b->hi[1] - t * (b->hi[1] - b->lo[1])};
            for (int e = 0; e < 4; e++) {
                line[2 * (e * ELLIPSE_PTS + i)] = (real)xs[e];
                line[2 * (e * ELLIPSE_PTS + i) + 1] = (real)ys[e];
            }
        }
    }
    cg_plot_series ser[3] = {
        {.xy = d, .n = N_POINTS, .rgb = CG_PLOT_ORANGE, .size = 4, .label = "data"},
        {.xy = s, .n = N_POINTS, .rgb = CG_PLOT_BLUE, .size = 4,
         .label = g ? "mixture samples" : "box samples"},
        {.xy = line, .n = nline, .rgb = {0, 0, 0}, .size = 2,
         .label = g ? "1 and 2 sigma" : "the box"},
    };
    cg_plot_opts po = {.width = 560, .height = 560, .equal_aspect = 1, .title = title,
                       .xmin = -16, .xmax = 16, .ymin = -16, .ymax = 16};
    char path[4096], why[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cg_status st = cg_png_plot(path, ser, 3, &po, why, sizeof why);
    if (st != CG_OK)
        snprintf(err, errlen, "gmm: %s", why);
    free(buf);
    return st;
}

cg_status cg_gmm_fit(const cg_train_opts *o, int k, cg_gmm_result *res, char *err,
                     size_t errlen)
{
    memset(res, 0, sizeof *res);
    err[0] = '\0';
    double *train = malloc(sizeof(double) * 2 * 4 * N_POINTS);
    if (!train) {
        snprintf(err, errlen, "gmm: out of memory");
        return CG_ERR_NOMEM;
    }
    double *test = train + 2 * N_POINTS, *gs = test + 2 * N_POINTS, *bs = gs + 2 * N_POINTS;
    cg_rng r;
    cg_rng_init(&r, o->seed, 1);
    cg_noisy_disc(&r, train, N_POINTS);
    cg_rng_init(&r, o->seed, 2);
    cg_noisy_disc(&r, test, N_POINTS);
    cg_rng_init(&r, o->seed, 3);
    cg_status st = cg_gmm_init(&res->gmm, k, train, N_POINTS, &r, err, errlen);
    if (st != CG_OK) {
        free(train);
        return st;
    }
    cg_metrics log = {0};
    if (o->out_dir && (st = cg_metrics_open(&log, o->out_dir, 0, err, errlen)) != CG_OK) {
        free(train);
        return st;
    }
    /* full batch: one EM iteration is one step and one epoch; the first limit wins */
    int64_t iters = o->steps && o->epochs ? (o->steps < o->epochs ? o->steps : o->epochs)
                                          : (o->steps ? o->steps : o->epochs);
    if (!o->quiet)
        printf("EM, %d components, %d points of the noisy disc:\n", k, N_POINTS);
    double prev = -INFINITY, ll = 0;
    for (int64_t it = 1; it <= iters; it++) {
        if ((st = cg_gmm_em_step(&res->gmm, train, N_POINTS, &ll, err, errlen)) != CG_OK)
            break;
        res->iterations = (int)it;
        /* ll is the likelihood of the parameters this iteration started from */
        if (!o->quiet)
            printf("  iteration %3lld  log-likelihood %.6f  (%.6f per point)\n", (long long)it,
                   ll, ll / N_POINTS);
        if (cg_metrics_write(&log, it, it, N_POINTS, "loglik", ll, "loglik_per_point",
                             ll / N_POINTS, (const char *)NULL) != CG_OK)
            break;  /* the log cannot be written (a full disk): said below */
        if (ll - prev < 1e-10 * N_POINTS) {
            res->converged = 1;
            break;
        }
        prev = ll;
    }
    if (st == CG_OK) {
        res->ll_train = cg_gmm_loglik(&res->gmm, train, N_POINTS) / N_POINTS;
        res->ll_test = cg_gmm_loglik(&res->gmm, test, N_POINTS) / N_POINTS;
        cg_box_fit(&res->box, train, N_POINTS);
        res->box_train = cg_box_loglik(&res->box, train, N_POINTS, NULL) / N_POINTS;
        res->box_test = cg_box_loglik(&res->box, test, N_POINTS, &res->box_test_outside) /
                        N_POINTS;
        cg_metrics_write(&log, res->iterations, res->iterations, 0, "gmm_loglik_train",
                         res->ll_train, "gmm_loglik_test", res->ll_test, "box_loglik_train",
                         res->box_train, "box_loglik_test", res->box_test, (const char *)NULL);
        if (o->out_dir) {
            cg_rng_init(&r, o->seed, 4);
            cg_gmm_sample(&res->gmm, &r, gs, N_POINTS);
            cg_rng_init(&r, o->seed, 5);
            cg_box_sample(&res->box, &r, bs, N_POINTS);
            char title[128];
            snprintf(title, sizeof title, "GMM, %d components: test log-lik %.3f per point", k,
                     res->ll_test);
            st = draw(o->out_dir, "gmm.png", title, train, gs, &res->gmm, NULL, err, errlen);
            snprintf(title, sizeof title, "box model: %d of %d test points outside",
                     res->box_test_outside, N_POINTS);
            if (st == CG_OK)
                st = draw(o->out_dir, "box.png", title, train, bs, NULL, &res->box, err,
                          errlen);
        }
    }
    if (cg_metrics_close(&log) != CG_OK && st == CG_OK)
        st = cg_run_log_failed(err, errlen, "gmm", o, &log, res->iterations, 0);
    free(train);
    return st;
}
