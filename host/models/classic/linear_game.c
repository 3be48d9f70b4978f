/*
 * linear_game.c: "the generative modeling game" of the seed notebook, played
 * by gradient descent. True data x = A z + b; the generator x = W z + v is
 * trained to minimise MMD^2 (Gaussian kernels at several bandwidths) between
 * a generated batch and a data batch. Only W W^T is identifiable (W Q for any
 * rotation Q gives the same distribution), so success is W W^T matching the
 * data covariance and v the data mean.
 * With an output directory it draws DIR/start.png before training and
 * DIR/samples.png after: data points in orange, generated ones in blue.
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

/* Kernel bandwidths, spanning the scale of 2-D data with entries of A ~ N(0,1). */
static const double game_sigmas[] = {0.25, 0.5, 1.0, 2.0, 4.0};
#define N_SIGMAS ((int)(sizeof game_sigmas / sizeof game_sigmas[0]))

static void mean_cov(const real *x, int n, double *mean, double *cov)
{
    mean[0] = mean[1] = 0;
    for (int i = 0; i < n; i++) {
        mean[0] += x[2 * i];
        mean[1] += x[2 * i + 1];
    }
    mean[0] /= n;
    mean[1] /= n;
    double c00 = 0, c01 = 0, c11 = 0;
    for (int i = 0; i < n; i++) {
        double a = x[2 * i] - mean[0], b = x[2 * i + 1] - mean[1];
        c00 += a * a;
        c01 += a * b;
        c11 += b * b;
    }
    cov[0] = c00 / n;
    cov[1] = cov[2] = c01 / n;
    cov[3] = c11 / n;
}

static void score(cg_linear_game_result *r, const cg_tensor *W, const cg_tensor *v)
{
    const real *w = W->data;
    r->WWt[0] = (double)w[0] * w[0] + (double)w[1] * w[1];
    r->WWt[1] = r->WWt[2] = (double)w[0] * w[2] + (double)w[1] * w[3];
    r->WWt[3] = (double)w[2] * w[2] + (double)w[3] * w[3];
    double num = 0, den = 0;
    for (int i = 0; i < 4; i++) {
        num += (r->WWt[i] - r->data_cov[i]) * (r->WWt[i] - r->data_cov[i]);
        den += r->data_cov[i] * r->data_cov[i];
    }
    r->cov_rel_err = sqrt(num / den);
    double d0 = v->data[0] - r->data_mean[0], d1 = v->data[1] - r->data_mean[1];
    r->mean_err = sqrt(d0 * d0 + d1 * d1);
    for (int i = 0; i < 4; i++)
        r->W[i] = w[i];
    r->v[0] = v->data[0];
    r->v[1] = v->data[1];
}

/* Points drawn in the pictures, of each set (the notebook's num_samples). */
#define PLOT_POINTS 1000

/* DIR/name: n data points against W z + v for the n latents z, both (n, 2).
 * The first picture fixes the range (o's range unset) for the later ones. */
static cg_status draw_game(const char *dir, const char *name, const char *title,
                           const real *data, const real *z, int n, const cg_tensor *W,
                           const cg_tensor *v, cg_plot_opts *o, char *err, size_t errlen)
{
    real *gen = malloc(sizeof(real) * 2 * (size_t)n);
    if (!gen) {
        snprintf(err, errlen, "linear-game: out of memory");
        return CG_ERR_NOMEM;
    }
    const real *w = W->data;
    for (int i = 0; i < n; i++) {
        double z0 = z[2 * i], z1 = z[2 * i + 1];
        gen[2 * i] = (real)(w[0] * z0 + w[1] * z1 + v->data[0]);
        gen[2 * i + 1] = (real)(w[2] * z0 + w[3] * z1 + v->data[1]);
    }
    if (!(o->xmin < o->xmax))
        cg_plot_auto_range(o, (const cg_plot_series[]){{.xy = data, .n = n}, {.xy = gen, .n = n}},
                           2);
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

cg_status cg_linear_game_fit(const cg_train_opts *o, int n_data, cg_linear_game_result *res,
                             char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    err[0] = '\0';
    int B = (int)o->batch;
    if (n_data < 2 || B < 2 || B > n_data) {
        snprintf(err, errlen, "linear-game: --batch must be from 2 to %d (the data set size), "
                 "got %d", n_data, B);
        return CG_ERR_ARG;
    }
    int64_t per_epoch = (n_data + B - 1) / B;
    int64_t steps = o->epochs ? o->epochs * per_epoch : o->steps;
    if (o->steps && o->steps < steps)  /* with both flags the first limit wins */
        steps = o->steps;

    /* the true model and its data: streams 1 (A, b) and 2 (z) of the seed */
    cg_rng truth, noise, order;
    cg_rng_init(&truth, o->seed, 1);
    real ab[6];
    cg_rng_normal(&truth, ab, 6, 0.0, 1.0);
    for (int i = 0; i < 4; i++)
        res->A[i] = ab[i];
    res->b[0] = ab[4];
    res->b[1] = ab[5];
    real *data = malloc(sizeof(real) * 2 * (size_t)n_data);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)n_data);
    if (!data || !perm) {
        free(data);
        free(perm);
        snprintf(err, errlen, "linear-game: out of memory");
        return CG_ERR_NOMEM;
    }
    cg_rng_init(&noise, o->seed, 2);
    cg_rng_normal(&noise, data, 2 * (int64_t)n_data, 0.0, 1.0);
    for (int i = 0; i < n_data; i++) {
        double z0 = data[2 * i], z1 = data[2 * i + 1];
        data[2 * i] = (real)(res->A[0] * z0 + res->A[1] * z1 + res->b[0]);
        data[2 * i + 1] = (real)(res->A[2] * z0 + res->A[3] * z1 + res->b[1]);
        perm[i] = i;
    }
    mean_cov(data, n_data, res->data_mean, res->data_cov);

    /* latents of the generated points in the pictures: stream 5 */
    int n_plot = n_data < PLOT_POINTS ? n_data : PLOT_POINTS;
    real *zplot = malloc(sizeof(real) * 2 * (size_t)n_plot);
    cg_plot_opts view = {.width = 520, .height = 520, .equal_aspect = 1};

    cg_params P;
    cg_params_init(&P);
    cg_tensor *W = cg_param(&P, "weight", CG_SHAPE(2, 2), 0);
    cg_tensor *v = cg_param(&P, "bias", CG_SHAPE(2), 0);
    cg_ctx ctx;
    cg_status st = cg_ctx_init(&ctx);
    if (!zplot || !W || !v || st != CG_OK || cg_params_alloc(&P) != CG_OK) {
        snprintf(err, errlen, "linear-game: out of memory");
        st = CG_ERR_NOMEM;
        goto done;
    }
    /* the notebook's starting sliders: W = I, v = 0 */
    W->data[0] = W->data[3] = 1;

    cg_rng_init(&noise, o->seed, 3);
    cg_rng_init(&order, o->seed, 4);
    cg_adam adam;
    cg_adam_init(&adam, o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    cg_metrics log = {0};
    /* everything a step depends on besides the weights and Adam's state */
    int pos = n_data;         /* position in the current epoch's order */
    uint64_t epoch_order = 0; /* order stream offset before this epoch's shuffle */
    cg_ckpt_int extra[] = {{"rng.noise", 0}, {"rng.order", 0}, {"data.pos", 0},
                           {"run.steps", steps}, {"run.batch", B}};
    cg_ckpt_state cs = {.seed = o->seed, .extra = extra, .nextra = 5};
    int64_t first = 1;
    if (o->resume) {
        int found = 0;
        char msg[1024];
        st = cg_ckpt_resume(o->out_dir, &P, &cs, &found, msg, sizeof msg);
        if (st == CG_OK && !found) {
            snprintf(err, errlen, "linear-game: --resume: no checkpoint in %s", o->out_dir);
            st = CG_ERR_ARG;
        } else if (st != CG_OK) {
            snprintf(err, errlen, "linear-game: --resume: %s", msg);
        } else if (cs.seed != o->seed || extra[3].value != steps || extra[4].value != B) {
            snprintf(err, errlen, "linear-game: --resume: the checkpoint in %s is of a run with "
                     "--seed %llu, %lld steps, --batch %lld; give the same flags", o->out_dir,
                     (unsigned long long)cs.seed, (long long)extra[3].value,
                     (long long)extra[4].value);
            st = CG_ERR_ARG;
        }
        if (st != CG_OK)
            goto done;
        adam.t = cs.optim_t;
        noise.offset = (uint64_t)extra[0].value;
        /* rebuild the current epoch's order by replaying its shuffle; that also
         * leaves the order stream where the uninterrupted run had it */
        order.offset = epoch_order = (uint64_t)extra[1].value;
        for (int i = 0; i < n_data; i++)
            perm[i] = i;
        cg_rng_shuffle(&order, perm, n_data);
        pos = (int)extra[2].value;
        if (pos < 0 || pos > n_data) {
            snprintf(err, errlen, "linear-game: --resume: data position %d out of range", pos);
            st = CG_ERR_IO;
            goto done;
        }
        first = cs.step + 1;
        if (!o->quiet)
            fprintf(stderr, "%s\n", msg);
    }
    if (o->out_dir) {
        cg_rng plot_noise;
        cg_rng_init(&plot_noise, o->seed, 5);
        cg_rng_normal(&plot_noise, zplot, 2 * (int64_t)n_plot, 0.0, 1.0);
        if ((!o->resume &&
             (st = draw_game(o->out_dir, "start.png", "linear game: start, W = I, v = 0", data,
                             zplot, n_plot, W, v, &view, err, errlen)) != CG_OK) ||
            (st = cg_metrics_open(&log, o->out_dir, o->resume, err, errlen)) != CG_OK)
            goto done;
    }
    cg_progress prog;
    cg_progress_begin(&prog, steps, per_epoch,
                      &(cg_progress_cfg){.tty = -1, .every = o->log_every, .quiet = o->quiet});
    int saved = 0;  /* a checkpoint of the last step was written */
    for (int64_t s = first; s <= steps; s++) {
        if (pos + B > n_data) {
            /* each epoch's order depends only on the rng offset (resumable) */
            for (int i = 0; i < n_data; i++)
                perm[i] = i;
            epoch_order = order.offset;
            cg_rng_shuffle(&order, perm, n_data);
            pos = 0;
        }
        cg_tensor *z = cg_new(&ctx, CG_SHAPE(B, 2));
        cg_tensor *y = cg_new(&ctx, CG_SHAPE(B, 2));
        if (!z || !y)
            break;
        cg_rng_normal(&noise, z->data, z->n, 0.0, 1.0);
        for (int i = 0; i < B; i++) {
            y->data[2 * i] = data[2 * perm[pos + i]];
            y->data[2 * i + 1] = data[2 * perm[pos + i] + 1];
        }
        pos += B;
        cg_tensor *loss = cg_mmd2_rbf(&ctx, cg_linear(&ctx, z, W, v), y, game_sigmas, N_SIGMAS);
        if (cg_backward(&ctx, loss) != CG_OK)
            break;
        double mmd2 = loss->data[0];
        adam.lr = cg_lr_cosine(o->lr, s - 1, steps, 0.01);
        if ((st = cg_adam_step(&adam, &P)) != CG_OK) {
            snprintf(err, errlen, "linear-game: optimizer step failed: %s", cg_status_str(st));
            break;
        }
        cg_params_zero_grad(&P);
        cg_ctx_step_end(&ctx);
        score(res, W, v);
        res->steps = s;
        int64_t epoch = (s - 1) / per_epoch + 1;
        cg_progress_update(&prog, s, epoch, B, "mmd2", mmd2, "cov_err", res->cov_rel_err,
                           "mean_err", res->mean_err, (const char *)NULL);
        int log_failed = cg_metrics_write(&log, s, epoch, B, "mmd2", mmd2, "cov_rel_err",
                                          res->cov_rel_err, "mean_err", res->mean_err, "lr",
                                          adam.lr, (const char *)NULL) != CG_OK;
        saved = 0;
        if (o->out_dir && (log_failed || (o->ckpt_every > 0 &&
                                          (s % o->ckpt_every == 0 || s == steps)))) {
            cs.step = s;
            cs.epoch = epoch;
            cs.optim_t = adam.t;
            extra[0].value = (int64_t)noise.offset;
            extra[1].value = (int64_t)epoch_order;
            extra[2].value = pos;
            char why[512];
            if ((st = cg_ckpt_save_dir(o->out_dir, &P, &cs, why, sizeof why)) != CG_OK) {
                snprintf(err, errlen, "linear-game: checkpoint: %s", why);
                break;
            }
            saved = 1;
        }
        if (log_failed)
            break;  /* the log cannot be written (a full disk): the checkpoint first */
    }
    cg_progress_end(&prog);
    if (ctx.err) {
        snprintf(err, errlen, "linear-game: %s", ctx.errmsg);
        st = ctx.err;
    }
    if (st == CG_OK) {
        /* final MMD^2 between n_data generated points and the whole data set */
        cg_set_grad(&ctx, 0);
        cg_tensor *z = cg_new(&ctx, CG_SHAPE(n_data, 2));
        if (z) {
            cg_rng_normal(&noise, z->data, z->n, 0.0, 1.0);
            cg_tensor *full = cg_wrap(&ctx, data, CG_SHAPE(n_data, 2));
            cg_tensor *m = cg_mmd2_rbf(&ctx, cg_linear(&ctx, z, W, v), full, game_sigmas,
                                       N_SIGMAS);
            res->mmd2 = m ? m->data[0] : NAN;
        }
        cg_metrics_write(&log, res->steps, (res->steps - 1) / per_epoch + 1, 0, "final_mmd2",
                         res->mmd2, "final_cov_rel_err", res->cov_rel_err, "final_mean_err",
                         res->mean_err, (const char *)NULL);
        if (o->out_dir) {
            char title[96];
            snprintf(title, sizeof title, "linear game: after %lld steps, MMD^2 %.4f",
                     (long long)res->steps, res->mmd2);
            st = draw_game(o->out_dir, "samples.png", title, data, zplot, n_plot, W, v, &view,
                           err, errlen);
        }
    }
    if (cg_metrics_close(&log) != CG_OK && st == CG_OK)
        st = cg_run_log_failed(err, errlen, "linear-game", o, &log, res->steps, saved);
done:
    cg_params_free(&P);
    cg_ctx_free(&ctx);
    free(data);
    free(perm);
    free(zplot);
    return st;
}
