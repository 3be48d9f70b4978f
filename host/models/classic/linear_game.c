/*
 * linear_game.c: "the generative modeling game" of the seed notebook, played
 * by gradient descent. True data x = A z + b; the generator x = W z + v is
 * trained to minimise MMD^2 (Gaussian kernels at several bandwidths) between
 * a generated batch and a data batch. Only W W^T is identifiable (W Q for any
 * rotation Q gives the same distribution), so success is W W^T matching the
 * data covariance and v the data mean.
 * With an output directory it draws DIR/start.png before training and
 * DIR/samples.png after: data points in orange, generated ones in blue.
 *
 * As the trainer runs it, the data set of N_DATA points is the kind's own:
 * each epoch visits it in a fresh order, batches of --batch, the remainder
 * of an epoch left out. Its checkpoints keep the names of the loop of
 * earlier versions (weight, bias, rng.noise, rng.order, data.pos, run.steps,
 * run.batch), whose runs still resume.
 *
 * Random streams of the seed: 1 the true A and b, 2 the data's z, 3 the
 * generator's z in training, 4 the epochs' order, 5 the latents of the
 * pictures.
 *
 * Not for: the loop (host/train/trainer.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/io.h"
#include "cugen/layers.h"
#include "cugen/metrics.h"
#include "cugen/models.h"
#include "cugen/ops.h"
#include "cugen/optim.h"
#include "cugen/tape.h"
#include "cugen/trainer.h"

/* Kernel bandwidths, spanning the scale of 2-D data with entries of A ~ N(0,1). */
static const double game_sigmas[] = {0.25, 0.5, 1.0, 2.0, 4.0};
#define N_SIGMAS ((int)(sizeof game_sigmas / sizeof game_sigmas[0]))

#define N_DATA 1000  /* the notebook's num_samples, also the points drawn of each set */

/* The true model (A, b) and the data x = A z + b, (N_DATA, 2), of the seed */
static void game_data(uint64_t seed, double *A, double *b, real *data)
{
    cg_rng truth, noise;
    cg_rng_init(&truth, seed, 1);
    real ab[6];
    cg_rng_normal(&truth, ab, 6, 0.0, 1.0);
    for (int i = 0; i < 4; i++)
        A[i] = ab[i];
    b[0] = ab[4];
    b[1] = ab[5];
    cg_rng_init(&noise, seed, 2);
    cg_rng_normal(&noise, data, 2 * N_DATA, 0.0, 1.0);
    for (int i = 0; i < N_DATA; i++) {
        double z0 = data[2 * i], z1 = data[2 * i + 1];
        data[2 * i] = (real)(A[0] * z0 + A[1] * z1 + b[0]);
        data[2 * i + 1] = (real)(A[2] * z0 + A[3] * z1 + b[1]);
    }
}

/* DIR/name: n data points against G(z) = W z + v for the n latents z, both
 * (n, 2), in the range of o. */
static cg_status draw_game(const char *dir, const char *name, const char *title,
                           const real *data, const real *z, int n, const cg_nn_linear *G,
                           cg_plot_opts *o, char *err, size_t errlen)
{
    real *gen = malloc(sizeof(real) * 2 * (size_t)n);
    if (!gen) {
        snprintf(err, errlen, "linear-game: out of memory");
        return CG_ERR_NOMEM;
    }
    const real *w = G->weight->data, *v = G->bias->data;
    for (int i = 0; i < n; i++) {
        double z0 = z[2 * i], z1 = z[2 * i + 1];
        gen[2 * i] = (real)(w[0] * z0 + w[1] * z1 + v[0]);
        gen[2 * i + 1] = (real)(w[2] * z0 + w[3] * z1 + v[1]);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    o->title = title;
    char why[512];
    cg_status st = cg_png_scatter(path, data, n, gen, n, "data  x = A z + b",
                                  "generated  x = W z + v", o, why, sizeof why);
    if (st != CG_OK)
        snprintf(err, errlen, "linear-game: %s", why);
    free(gen);
    return st;
}

/* ---- the run, as the trainer runs it ------------------------------------------ */

typedef struct {
    cg_params p;
    cg_nn nn;
    cg_nn_linear gen;        /* nn.Linear(2, 2), a bare module: weight (2, 2) W, bias (2) v */
    cg_adam adam;
    cg_rng noise, order;
    real *data;              /* (N_DATA, 2) */
    int32_t *perm;           /* (N_DATA): this epoch's order */
    real *zplot;             /* (N_DATA, 2): the latents of the pictures */
    int64_t pos;             /* position in this epoch's order */
    int64_t epoch_order;     /* order stream offset before this epoch's shuffle */
    double data_mean[2], data_cov[4];
    cg_plot_opts view;       /* both pictures' range: the data and the start's samples */
} game_run;

static cg_status build(cg_trainer *t, void *self)
{
    game_run *g = self;
    const cg_train_opts *o = t->o;
    int B = (int)o->batch;
    if (B < 2 || B > N_DATA)
        return cg_trainer_fail(t, CG_ERR_ARG, "--batch must be from 2 to %d (the data set "
                               "size), got %d", N_DATA, B);
    g->data = malloc(sizeof(real) * 2 * N_DATA);
    g->zplot = malloc(sizeof(real) * 2 * N_DATA);
    g->perm = malloc(sizeof(int32_t) * N_DATA);
    cg_params_init(&g->p);
    cg_nn_begin(&g->nn, &g->p);
    cg_nn_linear_declare(&g->nn, &g->gen, "", 2, 2, 1);
    char why[256];
    if (!g->data || !g->zplot || !g->perm || cg_nn_alloc(&g->nn, why, sizeof why) != CG_OK)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    double A[4], b[2];
    game_data(o->seed, A, b, g->data);
    cg_moments2(g->data, N_DATA, 0, g->data_mean, g->data_cov);
    cg_rng zp;
    cg_rng_init(&zp, o->seed, 5);
    cg_rng_normal(&zp, g->zplot, 2 * N_DATA, 0.0, 1.0);
    /* the start W = I, v = 0 generates the latents themselves */
    g->view = (cg_plot_opts){.width = 520, .height = 520, .equal_aspect = 1};
    cg_plot_auto_range(&g->view, (const cg_plot_series[]){{.xy = g->data, .n = N_DATA},
                                                           {.xy = g->zplot, .n = N_DATA}}, 2);
    /* the notebook's starting sliders: W = I, v = 0 */
    g->gen.weight->data[0] = g->gen.weight->data[3] = 1;
    cg_rng_init(&g->noise, o->seed, 3);
    cg_rng_init(&g->order, o->seed, 4);
    cg_adam_init(&g->adam, o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    g->pos = N_DATA;  /* the first step shuffles */
    t->per_epoch = (N_DATA + B - 1) / B;
    t->total = cg_run_total_steps(o, t->per_epoch);
    cg_trainer_params(t, &g->p, &g->adam.t, NULL);
    cg_trainer_keep(t, "rng.noise", (int64_t *)&g->noise.offset);
    cg_trainer_keep(t, "rng.order", &g->epoch_order);
    cg_trainer_keep(t, "data.pos", &g->pos);
    cg_trainer_setting(t, "run.steps", t->total, "--steps");
    cg_trainer_setting(t, "run.batch", B, "--batch");
    return CG_OK;
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    (void)t;
    (void)self;
    snprintf(buf, len, "%d points of x = A z + b, MMD^2 at %d bandwidths", N_DATA, N_SIGMAS);
}

/* Fresh: start.png. Resumed: the epoch's order again, by replaying its
 * shuffle, which also leaves the order stream where the run had it. */
static cg_status ready(cg_trainer *t, void *self)
{
    game_run *g = self;
    if (!t->o->resume)
        return t->o->out_dir ? draw_game(t->o->out_dir, "start.png",
                                         "linear game: start, W = I, v = 0", g->data, g->zplot,
                                         N_DATA, &g->gen, &g->view, t->err, t->errlen)
                             : CG_OK;
    if (g->pos < 0 || g->pos > N_DATA)
        return cg_trainer_fail(t, CG_ERR_IO, "--resume: data position %lld out of range",
                               (long long)g->pos);
    for (int i = 0; i < N_DATA; i++)
        g->perm[i] = i;
    g->order.offset = (uint64_t)g->epoch_order;
    cg_rng_shuffle(&g->order, g->perm, N_DATA);
    return CG_OK;
}

/* |W W^T - cov| / |cov| (Frobenius) and |v - mean| */
static void game_errors(const game_run *g, double *cov_rel_err, double *mean_err)
{
    const real *w = g->gen.weight->data, *v = g->gen.bias->data;
    double wwt[4] = {(double)w[0] * w[0] + (double)w[1] * w[1], 0, 0,
                     (double)w[2] * w[2] + (double)w[3] * w[3]};
    wwt[1] = wwt[2] = (double)w[0] * w[2] + (double)w[1] * w[3];
    double num = 0, den = 0;
    for (int i = 0; i < 4; i++) {
        num += (wwt[i] - g->data_cov[i]) * (wwt[i] - g->data_cov[i]);
        den += g->data_cov[i] * g->data_cov[i];
    }
    *cov_rel_err = sqrt(num / den);
    double d0 = v[0] - g->data_mean[0], d1 = v[1] - g->data_mean[1];
    *mean_err = sqrt(d0 * d0 + d1 * d1);
}

/* One Adam step on MMD^2 between W z + v and the next batch of the data */
static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    game_run *g = self;
    cg_ctx *ctx = &t->ctx;
    int B = b->n;
    (void)x;
    if (g->pos + B > N_DATA) {
        /* each epoch's order depends only on the rng offset (resumable) */
        for (int i = 0; i < N_DATA; i++)
            g->perm[i] = i;
        g->epoch_order = (int64_t)g->order.offset;
        cg_rng_shuffle(&g->order, g->perm, N_DATA);
        g->pos = 0;
    }
    cg_tensor *z = cg_new(ctx, CG_SHAPE(B, 2));
    cg_tensor *y = cg_new(ctx, CG_SHAPE(B, 2));
    if (!z || !y)
        return ctx->err;
    cg_rng_normal(&g->noise, z->data, z->n, 0.0, 1.0);
    for (int i = 0; i < B; i++) {
        y->data[2 * i] = g->data[2 * g->perm[g->pos + i]];
        y->data[2 * i + 1] = g->data[2 * g->perm[g->pos + i] + 1];
    }
    g->pos += B;
    cg_tensor *loss = cg_mmd2_rbf(ctx, cg_nn_linear_fwd(ctx, &g->gen, z), y, game_sigmas,
                                  N_SIGMAS);
    if (!loss || cg_backward(ctx, loss) != CG_OK)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    double mmd2 = loss->data[0];
    g->adam.lr = cg_lr_cosine(t->o->lr, t->step - 1, t->total, 0.01);
    cg_status st = cg_adam_step(&g->adam, &g->p);
    if (st != CG_OK)
        return cg_fail(ctx, st, "Adam step failed");
    cg_params_zero_grad(&g->p);
    double cov_rel_err, mean_err;
    game_errors(g, &cov_rel_err, &mean_err);
    cg_scalars_put(out, "mmd2", mmd2);
    cg_scalars_put(out, "cov_rel_err", cov_rel_err);
    cg_scalars_put(out, "mean_err", mean_err);
    cg_scalars_put(out, "lr", g->adam.lr);
    return CG_OK;
}

/* MMD^2 between N_DATA generated points and the whole data set, W and v,
 * and samples.png */
static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    game_run *g = self;
    cg_ctx *ctx = &t->ctx;
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *z = cg_new(ctx, CG_SHAPE(N_DATA, 2));
    if (z)
        cg_rng_normal(&g->noise, z->data, z->n, 0.0, 1.0);
    cg_tensor *m = cg_mmd2_rbf(ctx, cg_nn_linear_fwd(ctx, &g->gen, z),
                               cg_wrap(ctx, g->data, CG_SHAPE(N_DATA, 2)), game_sigmas,
                               N_SIGMAS);
    double mmd2 = m ? m->data[0] : NAN;
    cg_set_grad(ctx, prev);
    cg_ctx_step_end(ctx);
    static const char *const names[6] = {"W_00", "W_01", "W_10", "W_11", "v_0", "v_1"};
    const real *w = g->gen.weight->data, *v = g->gen.bias->data;
    cg_scalars_put(out, "final_mmd2", mmd2);
    for (int i = 0; i < 6; i++)
        cg_scalars_put(out, names[i], i < 4 ? w[i] : v[i - 4]);
    if (!t->o->out_dir)
        return CG_OK;
    char title[96];
    snprintf(title, sizeof title, "linear game: after %lld steps, MMD^2 %.4f",
             (long long)t->step, mmd2);
    return draw_game(t->o->out_dir, "samples.png", title, g->data, g->zplot, N_DATA, &g->gen,
                     &g->view, t->err, t->errlen);
}

static void report(const cg_train_opts *o, const void *settings, const cg_train_result *r)
{
    (void)settings;
    double A[4], b[2], mean[2], cov[4], W[4], v[2], wwt[4];
    real *data = malloc(sizeof(real) * 2 * N_DATA);
    if (!data)
        return;
    game_data(o->seed, A, b, data);  /* the run's, again: the same seed */
    cg_moments2(data, N_DATA, 0, mean, cov);
    free(data);
    static const char *const names[6] = {"W_00", "W_01", "W_10", "W_11", "v_0", "v_1"};
    for (int i = 0; i < 6; i++)
        *(i < 4 ? &W[i] : &v[i - 4]) = cg_scalars_get(&r->final, names[i]);
    wwt[0] = W[0] * W[0] + W[1] * W[1];
    wwt[1] = wwt[2] = W[0] * W[2] + W[1] * W[3];
    wwt[3] = W[2] * W[2] + W[3] * W[3];
    printf("Linear generative game, %d data points, %lld steps:\n", N_DATA, (long long)r->steps);
    printf("  true model  A [[%.4f, %.4f], [%.4f, %.4f]]  b (%.4f, %.4f)\n", A[0], A[1], A[2],
           A[3], b[0], b[1]);
    printf("  learnt      W [[%.4f, %.4f], [%.4f, %.4f]]  v (%.4f, %.4f)\n", W[0], W[1], W[2],
           W[3], v[0], v[1]);
    printf("  W W^T       [[%.4f, %.4f], [%.4f, %.4f]]\n", wwt[0], wwt[1], wwt[2], wwt[3]);
    printf("  data cov    [[%.4f, %.4f], [%.4f, %.4f]]  (A A^T = [[%.4f, %.4f], [%.4f, %.4f]])\n",
           cov[0], cov[1], cov[2], cov[3], A[0] * A[0] + A[1] * A[1],
           A[0] * A[2] + A[1] * A[3], A[0] * A[2] + A[1] * A[3], A[2] * A[2] + A[3] * A[3]);
    printf("  data mean   (%.4f, %.4f)\n", mean[0], mean[1]);
    printf("  |W W^T - cov| / |cov| = %.4f,  |v - mean| = %.4f,  final MMD^2 = %.5f\n",
           cg_scalars_get(&r->last, "cov_rel_err"), cg_scalars_get(&r->last, "mean_err"),
           cg_scalars_get(&r->final, "final_mmd2"));
    if (o->out_dir)
        printf("  pictures: %s/start.png (before), %s/samples.png (after); data orange, "
               "generated blue\n", o->out_dir, o->out_dir);
}

static void free_run(void *self)
{
    game_run *g = self;
    cg_params_free(&g->p);
    free(g->data);
    free(g->perm);
    free(g->zplot);
}

const cg_model_kind cg_kind_linear_game = {
    .name = "linear-game", .title = "linear game",
    .summary = "linear generator x = Wz + v matched to x = Az + b by MMD",
    .steps = 600, .batch = 128, .lr = 0.02, .checkpoints = 1, .ckpt_every = 100,
    .own_data = 1, .state_size = sizeof(game_run), .build = build, .ready = ready,
    .describe = describe, .step = step, .finish = finish, .report = report, .free = free_run,
};
