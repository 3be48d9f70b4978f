/*
 * gmm_train.c: `cugen train gmm` as the trainer runs it: the article's noisy
 * disc (the kind's own data, one full batch), a Gaussian mixture fitted by
 * EM, one iteration per step, stopping early once an iteration gains under
 * 1e-10 nats per point; then the box model beside it, their
 * log-likelihoods on the training points and on fresh test points, and two
 * pictures:
 *   DIR/gmm.png  the data (orange), 500 samples of the mixture (blue) and the
 *                1 and 2 sigma ellipses of each component (black)
 *   DIR/box.png  the data, 500 samples of the box model and the box
 * Random streams of the seed: 1 training points, 2 test points, 3 the
 * k-means++ seeding, 4 the mixture's samples, 5 the box's.
 *
 * Not for: EM itself (gmm.c), the loop (host/train/trainer.c).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/io.h"
#include "cugen/trainer.h"

#define N_POINTS 500   /* the article's num_points */
#define ELLIPSE_PTS 360

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
                cg_plot_ellipse(line + 2 * ELLIPSE_PTS * (2 * j + sig - 1), ELLIPSE_PTS,
                                g->mu[j], g->cov[j], sig);
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

/* ---- the run, as the trainer runs it ------------------------------------------ */

typedef struct {
    int64_t k;
} gmm_flags;

typedef struct {
    cg_gmm g;
    double *train, *test;   /* (N_POINTS, 2) each */
    double prev;            /* the log-likelihood the last iteration started from */
    int converged;
} gmm_run;

static cg_status build(cg_trainer *t, void *self)
{
    gmm_run *r = self;
    const gmm_flags *f = t->settings;
    r->train = malloc(sizeof(double) * 2 * 2 * N_POINTS);
    if (!r->train)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    r->test = r->train + 2 * N_POINTS;
    cg_rng rng;
    cg_rng_init(&rng, t->o->seed, 1);
    cg_noisy_disc(&rng, r->train, N_POINTS);
    cg_rng_init(&rng, t->o->seed, 2);
    cg_noisy_disc(&rng, r->test, N_POINTS);
    cg_rng_init(&rng, t->o->seed, 3);
    cg_status st = cg_gmm_init(&r->g, (int)f->k, r->train, N_POINTS, &rng, t->err, t->errlen);
    if (st != CG_OK)
        return st;
    r->prev = -INFINITY;
    t->per_epoch = 1;  /* full batch: one EM iteration is one step and one epoch */
    t->total = cg_run_total_steps(t->o, 1);
    return CG_OK;      /* no tensors and no checkpoints: nothing for cg_trainer_params */
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    const gmm_run *r = self;
    (void)t;
    /* per component: a weight, a mean, a symmetric covariance; the weights sum to 1 */
    snprintf(buf, len, "EM, %d components on %d points of the noisy disc, %d parameters",
             r->g.k, N_POINTS, 6 * r->g.k - 1);
}

/* One EM iteration; a line per iteration on stdout unless --quiet */
static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    gmm_run *r = self;
    (void)x;
    (void)b;
    double ll;
    char why[512];
    cg_status st = cg_gmm_em_step(&r->g, r->train, N_POINTS, &ll, why, sizeof why);
    if (st != CG_OK)
        return cg_fail(&t->ctx, st, "%s", strncmp(why, "gmm: ", 5) == 0 ? why + 5 : why);
    /* ll is the likelihood of the parameters this iteration started from */
    if (!t->o->quiet)
        printf("  iteration %3lld  log-likelihood %.6f  (%.6f per point)\n",
               (long long)t->step, ll, ll / N_POINTS);
    cg_scalars_put(out, "loglik", ll);
    cg_scalars_put(out, "loglik_per_point", ll / N_POINTS);
    if (ll - r->prev < 1e-10 * N_POINTS) {
        r->converged = 1;
        t->stop = 1;
    }
    r->prev = ll;
    return CG_OK;
}

/* The mixture (printed), both models' log-likelihoods and the pictures */
static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    gmm_run *r = self;
    const cg_gmm *g = &r->g;
    printf("\nGaussian mixture, %d components, EM %s after %lld iterations:\n", g->k,
           r->converged ? "converged" : "stopped", (long long)t->step);
    for (int j = 0; j < g->k; j++) {
        const double *c = g->cov[j];
        printf("  component %d: weight %.4f  mean (%.4f, %.4f)  cov [[%.4f, %.4f], [%.4f, "
               "%.4f]]\n", j + 1, g->w[j], g->mu[j][0], g->mu[j][1], c[0], c[1], c[2], c[3]);
    }
    cg_box box;
    cg_box_fit(&box, r->train, N_POINTS);
    int outside = 0;
    double ll_test = cg_gmm_loglik(g, r->test, N_POINTS) / N_POINTS;
    double box_test = cg_box_loglik(&box, r->test, N_POINTS, &outside) / N_POINTS;
    cg_scalars_put(out, "k", g->k);
    cg_scalars_put(out, "iterations", (double)t->step);
    cg_scalars_put(out, "converged", r->converged);
    cg_scalars_put(out, "loglik_train", cg_gmm_loglik(g, r->train, N_POINTS) / N_POINTS);
    cg_scalars_put(out, "loglik_test", ll_test);
    cg_scalars_put(out, "box_loglik_train", cg_box_loglik(&box, r->train, N_POINTS, NULL) /
                                                N_POINTS);
    cg_scalars_put(out, "box_loglik_test", box_test);
    cg_scalars_put(out, "box_test_outside", outside);
    cg_scalars_put(out, "box_x_lo", box.lo[0]);
    cg_scalars_put(out, "box_x_hi", box.hi[0]);
    cg_scalars_put(out, "box_y_lo", box.lo[1]);
    cg_scalars_put(out, "box_y_hi", box.hi[1]);
    const char *dir = t->o->out_dir;
    if (!dir)
        return CG_OK;
    double *samples = malloc(sizeof(double) * 2 * N_POINTS);
    if (!samples)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    cg_rng rng;
    cg_rng_init(&rng, t->o->seed, 4);
    cg_gmm_sample(g, &rng, samples, N_POINTS);
    char title[128];
    snprintf(title, sizeof title, "GMM, %d components: test log-lik %.3f per point", g->k,
             ll_test);
    cg_status st = draw(dir, "gmm.png", title, r->train, samples, g, NULL, t->err, t->errlen);
    if (st == CG_OK) {
        cg_rng_init(&rng, t->o->seed, 5);
        cg_box_sample(&box, &rng, samples, N_POINTS);
        snprintf(title, sizeof title, "box model: %d of %d test points outside", outside,
                 N_POINTS);
        st = draw(dir, "box.png", title, r->train, samples, NULL, &box, t->err, t->errlen);
    }
    free(samples);
    return st;
}

static void report(const cg_train_opts *o, const void *settings, const cg_train_result *r)
{
    (void)settings;
    const cg_scalars *f = &r->final;
#define V(name) cg_scalars_get(f, name)
    printf("  log-likelihood per point (nats):   train      test\n");
    printf("    Gaussian mixture              %9.4f %9.4f\n", V("loglik_train"),
           V("loglik_test"));
    printf("    box model                     %9.4f %9.4f  (%d of %d test points outside "
           "the box [%.2f, %.2f] x [%.2f, %.2f])\n", V("box_loglik_train"),
           V("box_loglik_test"), (int)V("box_test_outside"), N_POINTS, V("box_x_lo"),
           V("box_x_hi"), V("box_y_lo"), V("box_y_hi"));
#undef V
    if (o->out_dir)
        printf("  pictures: %s/gmm.png (samples, 1 and 2 sigma ellipses), %s/box.png\n",
               o->out_dir, o->out_dir);
}

static void free_run(void *self)
{
    free(((gmm_run *)self)->train);
}

#define F(field) offsetof(gmm_flags, field)
static const cg_flag flags[] = {
    {"k", CG_FLAG_INT, F(k), "3", 1, 1000, "N", "mixture components", NULL},
};

const cg_model_kind cg_kind_gmm = {
    .name = "gmm", .title = "GMM",
    .summary = "Gaussian mixture by EM beside the box model on the article's noisy disc",
    .steps = 200, .batch = N_POINTS, .lr = 1, .ignores = "lr batch", .own_data = 1,
    .flags = flags, .nflags = 1, .settings_size = sizeof(gmm_flags),
    .state_size = sizeof(gmm_run), .build = build, .describe = describe, .step = step,
    .finish = finish, .report = report, .free = free_run,
};
