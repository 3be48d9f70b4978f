/*
 * rbm_train.c: `cugen train rbm`: an RBM on binarized Fashion-MNIST (a pixel
 * is on when >= 128), trained by CD-k or PCD with SGD and momentum; per epoch
 * the reconstruction error; at the end Gibbs samples, log Z by AIS and the
 * test log-likelihood. The visible biases start at the log-odds of the
 * pixels' training frequencies (Hinton's guide), which is also AIS's base
 * model.
 *
 *   DIR/samples.png   64 chains after --gibbs steps from base-rate noise:
 *                     p(v | h) of the last step
 *   DIR/chains.png    8 of those chains, one per row, at steps 0, 1, 2, 5, ...
 *   DIR/checkpoint.safetensors  the weights (and PCD's chains), SGD's
 *                     momentum, loader and RNG positions, the epoch's sums
 *   DIR/rbm.safetensors  W, v_bias, h_bias (and pcd_chains)
 *   DIR/metrics.jsonl every step: recon (squared error per image); per epoch
 *                     its mean; at the end log Z and the log-likelihoods
 *
 * Random streams of the seed: 1 the weights, 3 the Gibbs sampling of
 * training, 4 the sample chains, 5 AIS; the loader has its own.
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/data.h"
#include "cugen/io.h"
#include "cugen/tape.h"

#define N_CHAINS 64
#define CHAIN_ROWS 8
#define CHAIN_COLS 10
#define EVAL_MAX 10000   /* images of each split whose log-likelihood is averaged */

typedef struct {
    const cg_train_opts *o;
    const cg_rbm_opts *ro;
    cg_dataset train, test;
    cg_loader *loader;
    cg_rbm m;
    cg_ctx ctx;
    real *base;      /* (V) log-odds of the training pixels */
    char *err;
    size_t errlen;
} run;

static cg_status fail(run *r, cg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cg_status fail(run *r, cg_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_run_vfail(r->err, r->errlen, "rbm", st, fmt, ap);
    va_end(ap);
    return st;
}

static void binarize_u8(const uint8_t *px, real *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = px[i] >= 128 ? 1 : 0;
}

static cg_status open_all(run *r)
{
    const cg_train_opts *o = r->o;
    char why[1024];
    cg_data_spec spec = {.name = o->data ? o->data : "fashion-mnist", .dir = o->data_dir};
    cg_status st = cg_dataset_open(&spec, &r->train, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "%s", why);
    spec.split = "test";
    if ((st = cg_dataset_open(&spec, &r->test, why, sizeof why)) != CG_OK)
        return fail(r, st, "test split: %s", why);
    int V = r->train.channels * r->train.height * r->train.width;
    if (r->train.count < o->batch)
        return fail(r, CG_ERR_ARG, "--batch %lld is larger than the data set (%lld images)",
                    (long long)o->batch, (long long)r->train.count);
    if ((st = cg_rbm_build(&r->m, V, r->ro->hidden, r->ro->pcd ? (int)o->batch : 0, why,
                           sizeof why)) != CG_OK)
        return fail(r, st, "%s", why + (strncmp(why, "rbm: ", 5) == 0 ? 5 : 0));
    cg_rbm_init(&r->m, o->seed, 1);
    cg_loader_opts lo = cg_loader_defaults((int)o->batch, o->seed);
    if ((st = cg_loader_open(&r->loader, &r->train, &lo, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    if ((st = cg_ctx_init(&r->ctx)) != CG_OK)
        return fail(r, st, "out of memory");
    r->base = malloc(sizeof(real) * (size_t)V);
    if (!r->base)
        return fail(r, CG_ERR_NOMEM, "out of memory");
    /* base rates with add-one smoothing, so no pixel has log-odds +-inf */
    for (int i = 0; i < V; i++) {
        int64_t on = 0;
        for (int64_t k = 0; k < r->train.count; k++)
            on += r->train.pixels[k * V + i] >= 128;
        double p = (on + 1.0) / (r->train.count + 2.0);
        r->base[i] = (real)log(p / (1 - p));
        r->m.vb->data[i] = r->base[i];
    }
    return CG_OK;
}

/* Mean log p*(v) over the first EVAL_MAX images of d. */
static cg_status mean_log_pstar(run *r, const cg_dataset *d, double *out)
{
    enum { CH = 500 };
    int V = r->m.nv;
    int64_t n = d->count < EVAL_MAX ? d->count : EVAL_MAX;
    real *v = malloc(sizeof(real) * CH * (size_t)V);
    double *lp = malloc(sizeof(double) * CH);
    if (!v || !lp) {
        free(v);
        free(lp);
        return fail(r, CG_ERR_NOMEM, "out of memory");
    }
    double sum = 0;
    cg_status st = CG_OK;
    for (int64_t at = 0; at < n && st == CG_OK; at += CH) {
        int k = (int)(n - at < CH ? n - at : CH);
        binarize_u8(d->pixels + at * V, v, (int64_t)k * V);
        if ((st = cg_rbm_log_pstar(&r->ctx, &r->m, v, k, lp)) != CG_OK)
            fail(r, st, "%s", r->ctx.errmsg);
        for (int i = 0; i < k; i++)
            sum += lp[i];
    }
    *out = sum / (double)n;
    free(v);
    free(lp);
    return st;
}

/* samples.png and chains.png: N_CHAINS Gibbs chains from base-rate noise. */
static cg_status draw_samples(run *r, int gibbs)
{
    const int V = r->m.nv, C = r->train.channels, H = r->train.height, W = r->train.width;
    real *v = malloc(sizeof(real) * N_CHAINS * (size_t)V);
    real *p0 = malloc(sizeof(real) * (size_t)V);
    real *grid = malloc(sizeof(real) * CHAIN_ROWS * CHAIN_COLS * (size_t)V);
    real *last = malloc(sizeof(real) * N_CHAINS * (size_t)V);
    if (!v || !p0 || !grid || !last) {
        free(v), free(p0), free(grid), free(last);
        return fail(r, CG_ERR_NOMEM, "out of memory");
    }
    cg_rng rng;
    cg_rng_init(&rng, r->o->seed, 4);
    for (int i = 0; i < V; i++)
        p0[i] = (real)(1 / (1 + exp(-(double)r->base[i])));
    for (int c = 0; c < N_CHAINS; c++)
        cg_rbm_bernoulli(&rng, p0, v + (int64_t)c * V, V);
    /* snapshot columns at steps 0 and then roughly geometric up to gibbs */
    int at[CHAIN_COLS], col = 0;
    for (int j = 0; j < CHAIN_COLS; j++)
        at[j] = j == 0 ? 0 : (int)lround(pow(gibbs, (double)j / (CHAIN_COLS - 1)));
    for (int j = 1; j < CHAIN_COLS; j++)
        if (at[j] <= at[j - 1])
            at[j] = at[j - 1] + 1;
    cg_ctx *ctx = &r->ctx;
    cg_status st = CG_OK;
    int prev = cg_set_grad(ctx, 0);
    for (int s = 0; s <= at[CHAIN_COLS - 1] && st == CG_OK; s++) {
        /* p(v | h) of this step (step 0: the noise itself) is what is shown */
        const real *show = v;
        cg_tensor *pv = NULL;
        if (s > 0) {
            cg_tensor *ph = cg_rbm_hidden_probs(ctx, &r->m,
                                                cg_wrap(ctx, v, CG_SHAPE(N_CHAINS, V)), 1);
            cg_tensor *h = ph ? cg_new_like(ctx, ph) : NULL;
            if (h)
                cg_rbm_bernoulli(&rng, ph->data, h->data, h->n);
            pv = cg_rbm_visible_probs(ctx, &r->m, h, 1, NULL);
            if (!pv) {
                st = fail(r, ctx->err, "%s", ctx->errmsg);
                break;
            }
            show = pv->data;
            memcpy(last, pv->data, sizeof(real) * N_CHAINS * (size_t)V);
            cg_rbm_bernoulli(&rng, pv->data, v, pv->n);
        }
        while (col < CHAIN_COLS && at[col] == s) {
            for (int row = 0; row < CHAIN_ROWS; row++)
                for (int i = 0; i < V; i++)
                    grid[((int64_t)row * CHAIN_COLS + col) * V + i] =
                        2 * show[(int64_t)row * V + i] - 1;
            col++;
        }
        cg_ctx_step_end(ctx);
    }
    cg_set_grad(ctx, prev);
    char path[4096], why[512];
    if (st == CG_OK) {
        for (int64_t i = 0; i < N_CHAINS * (int64_t)V; i++)
            last[i] = 2 * last[i] - 1;
        snprintf(path, sizeof path, "%s/samples.png", r->o->out_dir);
        st = cg_png_write_grid(path, last, N_CHAINS, C, H, W, 8, why, sizeof why);
        if (st == CG_OK) {
            snprintf(path, sizeof path, "%s/chains.png", r->o->out_dir);
            st = cg_png_write_grid(path, grid, CHAIN_ROWS * CHAIN_COLS, C, H, W, CHAIN_COLS,
                                   why, sizeof why);
        }
        if (st != CG_OK)
            fail(r, st, "%s", why);
    }
    free(v), free(p0), free(grid), free(last);
    return st;
}

static cg_status evaluate(run *r, cg_rbm_result *res, cg_metrics *log)
{
    const cg_rbm_opts *ro = r->ro;
    cg_rng rng;
    cg_rng_init(&rng, r->o->seed, 5);
    cg_rbm_ais_opts ao = {.nbetas = ro->ais_betas, .runs = ro->ais_runs, .base = r->base};
    char why[512];
    double t0 = cg_monotonic_seconds();
    cg_status st = cg_rbm_ais(&r->ctx, &r->m, &ao, &rng, &res->logz, &res->logz_lo,
                              &res->logz_hi, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "%s", why + (strncmp(why, "rbm: ", 5) == 0 ? 5 : 0));
    double lp_test, lp_train;
    if ((st = mean_log_pstar(r, &r->test, &lp_test)) != CG_OK ||
        (st = mean_log_pstar(r, &r->train, &lp_train)) != CG_OK)
        return st;
    res->ll_test = lp_test - res->logz;
    res->ll_train = lp_train - res->logz;
    res->logz_base = 0;
    for (int i = 0; i < r->m.nv; i++)
        res->logz_base += log1p(exp((double)r->base[i]));
    /* the independent-pixel base model on the same test images, for scale */
    int V = r->m.nv;
    int64_t n = r->test.count < EVAL_MAX ? r->test.count : EVAL_MAX;
    double on = 0;
    for (int64_t k = 0; k < n; k++)
        for (int i = 0; i < V; i++)
            if (r->test.pixels[k * V + i] >= 128)
                on += r->base[i];
    res->ll_test_base = on / (double)n - res->logz_base;
    if (!r->o->quiet)
        fprintf(stderr, "rbm: AIS with %d temperatures and %d runs took %.1f s\n", ao.nbetas,
                ao.runs, cg_monotonic_seconds() - t0);
    cg_metrics_write(log, res->steps, res->epochs_done, 0, "ais_logz", res->logz,
                     "ais_logz_lo", res->logz_lo, "ais_logz_hi", res->logz_hi, "loglik_test",
                     res->ll_test, "loglik_train", res->ll_train, "loglik_test_base",
                     res->ll_test_base, (const char *)NULL);
    return CG_OK;
}

enum { X_LOADER_EPOCH, X_LOADER_INDEX, X_LOADER_RNG, X_GIBBS, X_SUM, X_NSUM, X_HIDDEN, X_K,
       X_PCD, X_BATCH, X_COUNT };
#define X_FIRST_FLAG X_HIDDEN

typedef struct {
    double sum;      /* reconstruction errors of the epoch so far */
    int64_t nsum;
} epoch_sums;

static void ckpt_fill(run *r, cg_ckpt_int *x, const cg_rng *gibbs, const epoch_sums *e)
{
    static const char *const names[X_COUNT] = {
        "loader.epoch", "loader.index", "loader.rng_offset", "rng.gibbs", "epoch.sum_recon",
        "epoch.steps", "run.hidden", "run.k", "run.pcd", "run.batch"};
    cg_loader_state ls = cg_loader_get_state(r->loader);
    int64_t bits;
    memcpy(&bits, &e->sum, sizeof bits);
    const int64_t v[X_COUNT] = {ls.epoch, ls.index, (int64_t)ls.rng_offset,
                                (int64_t)gibbs->offset, bits, e->nsum, r->m.nh, r->ro->k,
                                r->ro->pcd, r->o->batch};
    for (int i = 0; i < X_COUNT; i++) {
        x[i].name = names[i];
        x[i].value = v[i];
    }
}

static cg_status save(run *r, const cg_sgd *sgd, const cg_rng *gibbs, const epoch_sums *e,
                      int64_t step, int64_t epoch)
{
    cg_ckpt_int x[X_COUNT];
    ckpt_fill(r, x, gibbs, e);
    cg_ckpt_state cs = {.step = step, .epoch = epoch, .seed = r->o->seed, .optim_t = sgd->t,
                        .extra = x, .nextra = X_COUNT};
    char why[1024];
    cg_status st = cg_ckpt_save_dir(r->o->out_dir, &r->m.p, &cs, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "checkpoint at step %lld: %s", (long long)step, why);
    return CG_OK;
}

static cg_status resume(run *r, cg_sgd *sgd, cg_rng *gibbs, epoch_sums *e, int64_t *first)
{
    cg_ckpt_int x[X_COUNT];
    ckpt_fill(r, x, gibbs, e);
    cg_ckpt_state cs = {.seed = r->o->seed, .extra = x, .nextra = X_COUNT};
    cg_status st = cg_run_resume(r->o, "rbm", &r->m.p, &cs, X_FIRST_FLAG, X_COUNT, NULL, first,
                                 r->err, r->errlen);
    if (st != CG_OK)
        return st;
    if ((st = cg_run_restore_loader(r->loader, x[X_LOADER_EPOCH].value,
                                    x[X_LOADER_INDEX].value, x[X_LOADER_RNG].value, "rbm",
                                    r->err, r->errlen)) != CG_OK)
        return st;
    sgd->t = cs.optim_t;
    gibbs->offset = (uint64_t)x[X_GIBBS].value;
    memcpy(&e->sum, &x[X_SUM].value, sizeof e->sum);
    e->nsum = x[X_NSUM].value;
    return CG_OK;
}

/* the persistent chains start at base-rate noise */
static void init_chains(run *r)
{
    cg_rng c0;
    cg_rng_init(&c0, r->o->seed, 6);
    int V = r->m.nv;
    for (int b = 0; b < r->m.chains->shape[0]; b++)
        for (int i = 0; i < V; i++) {
            real u;
            cg_rng_uniform(&c0, &u, 1);
            r->m.chains->data[(int64_t)b * V + i] =
                u < 1 / (1 + exp(-(double)r->base[i])) ? 1 : 0;
        }
}

static cg_status one_step(run *r, const cg_batch *b, cg_sgd *sgd, cg_rng *gibbs, int64_t s,
                          double *recon)
{
    cg_ctx *ctx = &r->ctx;
    cg_tensor *v = cg_new(ctx, CG_SHAPE(b->n, r->m.nv));
    if (!v)
        return fail(r, ctx->err, "%s", ctx->errmsg);
    for (int64_t i = 0; i < v->n; i++)
        v->data[i] = b->x[i] > 0 ? 1 : 0;  /* x = px / 127.5 - 1 > 0  <=>  px >= 128 */
    cg_status st = cg_rbm_cd_step(ctx, &r->m, sgd, v, r->ro->k,
                                  r->m.chains ? r->m.chains->data : NULL, gibbs, recon);
    if (st != CG_OK)
        return fail(r, st, "step %lld: %s", (long long)s, ctx->errmsg);
    *recon /= b->n;
    if (!isfinite(*recon))
        return fail(r, CG_ERR_NUMERIC, "step %lld: reconstruction error %g: training "
                    "diverged (try a smaller --lr)", (long long)s, *recon);
    return CG_OK;
}

cg_status cg_rbm_train(const cg_train_opts *o, const cg_rbm_opts *ro, cg_rbm_result *res,
                       char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    res->recon_first = res->recon_last = NAN;
    run R = {.o = o, .ro = ro, .err = err, .errlen = errlen};
    run *r = &R;
    err[0] = '\0';
    cg_metrics log = {0};
    cg_progress prog;
    int progressing = 0;
    cg_status st = open_all(r);
    if (st != CG_OK)
        goto done;
    int64_t per_epoch = cg_loader_batches_per_epoch(r->loader);
    int64_t total = cg_run_total_steps(o, per_epoch);
    if (r->m.chains)
        init_chains(r);
    /* SGD with momentum 0.5 (Hinton's guide for the start of training) */
    cg_sgd sgd;
    cg_sgd_init(&sgd, o->lr, 0.5, 0.0, 0.0, 0);
    cg_rng gibbs;
    cg_rng_init(&gibbs, o->seed, 3);
    epoch_sums e = {0};
    int64_t first = 1;
    if (o->resume && (st = resume(r, &sgd, &gibbs, &e, &first)) != CG_OK)
        goto done;
    char why[1024];
    if (o->out_dir) {
        st = cg_run_open_log(&log, o, first, why, sizeof why);
        if (st != CG_OK) {
            fail(r, st, "%s", why);
            goto done;
        }
    }
    if (!o->quiet)
        fprintf(stderr, "rbm: %s binarized, %lld images of %d pixels, %d hidden units, %s-%d, "
                "batch %lld, %lld steps per epoch\n", r->train.name, (long long)r->train.count,
                r->m.nv, r->m.nh, ro->pcd ? "PCD" : "CD", ro->k, (long long)o->batch,
                (long long)per_epoch);
    cg_progress_begin(&prog, total, per_epoch,
                      &(cg_progress_cfg){.tty = -1, .every = o->log_every, .quiet = o->quiet,
                                         .start_step = first - 1, .unit = "img"});
    progressing = 1;
    cg_train_catch_signals();
    for (int64_t s = first; s <= total; s++) {
        cg_batch b;
        cg_loader_next(r->loader, &b);
        double recon;
        if ((st = one_step(r, &b, &sgd, &gibbs, s, &recon)) != CG_OK)
            break;
        e.sum += recon;
        e.nsum++;
        int64_t epoch = b.epoch + 1;
        res->steps = s;
        cg_progress_update(&prog, s, epoch, b.n, "recon", recon, (const char *)NULL);
        cg_metrics_write(&log, s, epoch, b.n, "recon", recon, (const char *)NULL);
        if (b.last_in_epoch || s == total) {
            double mean = e.sum / (double)e.nsum;
            if (b.last_in_epoch) {
                res->epochs_done = epoch;
                cg_metrics_write(&log, s, epoch, 0, "epoch_recon", mean, (const char *)NULL);
                printf("Epoch %03lld | reconstruction error %.4f per image (squared, %d "
                       "pixels)\n", (long long)epoch, mean, r->m.nv);
                fflush(stdout);
                e = (epoch_sums){0};
            }
            if (isnan(res->recon_first))
                res->recon_first = mean;
            res->recon_last = mean;
        }
        if (cg_metrics_failed(&log, NULL, 0)) {
            /* the log cannot be written (a full disk): the checkpoint first */
            int saved = o->out_dir && save(r, &sgd, &gibbs, &e, s, epoch) == CG_OK;
            st = cg_run_log_failed(r->err, r->errlen, "rbm", o, &log, s, saved);
            break;
        }
        int end = s == total || cg_train_signal();
        if (o->out_dir && (end || b.last_in_epoch ||
                           (o->ckpt_every > 0 && s % o->ckpt_every == 0)) &&
            (st = save(r, &sgd, &gibbs, &e, s, epoch)) != CG_OK)
            break;
        if (cg_train_signal())
            break;
    }
    cg_progress_end(&prog);
    progressing = 0;
    int sig = cg_train_signal();
    cg_train_release_signals();
    if (st == CG_OK && sig) {
        st = fail(r, CG_ERR_STATE, "interrupted by %s after step %lld%s%s%s",
                  sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)res->steps,
                  o->out_dir ? ": checkpoint saved in " : " (no --out: nothing saved)",
                  o->out_dir ? o->out_dir : "",
                  o->out_dir ? "; continue with the same command and --resume" : "");
        res->interrupted = sig;
    }
    if (st != CG_OK)
        goto done;
    if ((st = evaluate(r, res, &log)) != CG_OK)
        goto done;
    if (o->out_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/rbm.safetensors", o->out_dir);
        if ((st = cg_weights_save(path, &r->m.p, why, sizeof why)) != CG_OK) {
            fail(r, st, "%s", why);
            goto done;
        }
        st = draw_samples(r, ro->gibbs);
    }
done:
    if (progressing)
        cg_progress_end(&prog);
    /* a run that got this far has its checkpoint of the last step */
    if (cg_metrics_close(&log) != CG_OK && st == CG_OK)
        st = cg_run_log_failed(r->err, r->errlen, "rbm", o, &log, res->steps, 1);
    cg_loader_close(r->loader);
    cg_dataset_free(&r->train);
    cg_dataset_free(&r->test);
    cg_rbm_free(&r->m);
    cg_ctx_free(&r->ctx);
    free(r->base);
    return st;
}
