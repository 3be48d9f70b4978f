/*
 * rbm_train.c: `cugen train rbm` as the trainer runs it: an RBM on binarized
 * Fashion-MNIST (a pixel is on when >= 128), trained by CD-k or PCD with SGD
 * and momentum; per epoch the reconstruction error; at the end Gibbs
 * samples, log Z by AIS and the test log-likelihood. The visible biases
 * start at the log-odds of the pixels' training frequencies (Hinton's
 * guide), which is also AIS's base model.
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
 * The CD update is not a gradient of the tape: the step hook computes it
 * (cg_rbm_cd_step) and SGD's step count is the checkpoint's optim_t.
 *
 * Random streams of the seed: 1 the weights, 3 the Gibbs sampling of
 * training, 4 the sample chains, 5 AIS, 6 the persistent chains' start;
 * the loader has its own.
 *
 * Not for: the machine, CD and AIS (rbm.c), the loop (host/train/trainer.c).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/data.h"
#include "cugen/dist.h"
#include "cugen/io.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"
#include "cugen/trainer.h"

#define N_CHAINS 64
#define CHAIN_ROWS 8
#define CHAIN_COLS 10
#define EVAL_MAX 10000   /* images of each split whose log-likelihood is averaged */
#define STREAM_INIT 1
#define STREAM_GIBBS 3
#define STREAM_SAMPLES 4
#define STREAM_AIS 5
#define STREAM_CHAINS 6

typedef struct {
    int64_t hidden, k;
    int pcd;
    int64_t gibbs, ais_betas, ais_runs;
} rbm_flags;

typedef struct {
    cg_rbm m;
    cg_sgd sgd;
    cg_rng gibbs;
    real *base;                  /* (V) log-odds of the training pixels */
    cg_kept_double sum;          /* reconstruction errors of the epoch so far */
    int64_t nsum;
    cg_kept_double recon_first, recon_last;  /* epoch means, the run's first and last */
} rbm_run;

static void binarize_u8(const uint8_t *px, real *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = px[i] >= 128 ? 1 : 0;
}

/* the persistent chains start at base-rate noise */
static void init_chains(rbm_run *r, uint64_t seed)
{
    cg_rng c0;
    cg_rng_init(&c0, seed, STREAM_CHAINS);
    int V = r->m.nv;
    for (int b = 0; b < r->m.chains->shape[0]; b++)
        for (int i = 0; i < V; i++) {
            real u;
            cg_rng_uniform(&c0, &u, 1);
            r->m.chains->data[(int64_t)b * V + i] =
                u < 1 / (1 + exp(-(double)r->base[i])) ? 1 : 0;
        }
}

static cg_status build(cg_trainer *t, void *self)
{
    rbm_run *r = self;
    const rbm_flags *f = t->settings;
    const cg_train_opts *o = t->o;
    char why[1024];
    int V = t->ds.channels * t->ds.height * t->ds.width;
    cg_status st = cg_rbm_build(&r->m, V, (int)f->hidden, f->pcd ? (int)o->batch : 0, why,
                                sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail_model(t, st, why);
    cg_rbm_init(&r->m, o->seed, STREAM_INIT);
    r->base = malloc(sizeof(real) * (size_t)V);
    if (!r->base)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    /* base rates with add-one smoothing, so no pixel has log-odds +-inf */
    for (int i = 0; i < V; i++) {
        int64_t on = 0;
        for (int64_t k = 0; k < t->ds.count; k++)
            on += t->ds.pixels[k * V + i] >= 128;
        double p = (on + 1.0) / (t->ds.count + 2.0);
        r->base[i] = (real)log(p / (1 - p));
        r->m.vb->data[i] = r->base[i];
    }
    if (r->m.chains)
        init_chains(r, o->seed);
    /* SGD with momentum 0.5 (Hinton's guide for the start of training) */
    cg_sgd_init(&r->sgd, o->lr, 0.5, 0.0, 0.0, 0);
    cg_rng_init(&r->gibbs, o->seed, STREAM_GIBBS);
    cg_trainer_per_sample(t, &r->gibbs);
    r->recon_first.d = r->recon_last.d = NAN;
    cg_trainer_params(t, &r->m.p, &r->sgd.t, NULL);
    cg_trainer_keep(t, "rng.gibbs", (int64_t *)&r->gibbs.offset);
    cg_trainer_keep(t, "epoch.sum_recon", &r->sum.bits);
    cg_trainer_keep(t, "epoch.steps", &r->nsum);
    cg_trainer_keep_new(t, "recon.first", &r->recon_first.bits);
    cg_trainer_keep_new(t, "recon.last", &r->recon_last.bits);
    cg_trainer_setting(t, "run.hidden", r->m.nh, NULL);
    cg_trainer_setting(t, "run.k", f->k, NULL);
    cg_trainer_setting(t, "run.pcd", f->pcd, NULL);
    cg_trainer_setting(t, "run.batch", o->batch, NULL);
    return CG_OK;
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    const rbm_flags *f = t->settings;
    snprintf(buf, len, "binarized, %d hidden units, %s-%lld", ((rbm_run *)self)->m.nh,
             f->pcd ? "PCD" : "CD", (long long)f->k);
}

/* Under mpirun each rank runs the chains of its rows of the batch, then
 * every rank takes the others' rows (a sum in which each row is one rank's
 * and zero on the others: exact), so all keep the whole state and rank 0
 * checkpoints it. */
static cg_status share_chains(cg_trainer *t, rbm_run *r, int n)
{
    int64_t row = (int64_t)n * r->m.nv, lo = t->rank * row;
    real *c = r->m.chains->data;
    memset(c, 0, sizeof(real) * (size_t)lo);
    memset(c + lo + row, 0, sizeof(real) * (size_t)(r->m.chains->n - lo - row));
    if (cg_dist_sum_real(c, r->m.chains->n) != CG_OK)
        return cg_fail(&t->ctx, CG_ERR_IO, "the PCD chains of the ranks: MPI failed");
    return CG_OK;
}

static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    (void)x;
    rbm_run *r = self;
    const rbm_flags *f = t->settings;
    cg_ctx *ctx = &t->ctx;
    cg_tensor *v = cg_new(ctx, CG_SHAPE(b->n, r->m.nv));
    if (!v)
        return ctx->err;
    for (int64_t i = 0; i < v->n; i++)
        v->data[i] = b->x[i] > 0 ? 1 : 0;  /* x = px / 127.5 - 1 > 0  <=>  px >= 128 */
    double recon;
    /* this rank's rows of the chains (a single process: all of them) */
    real *chains = r->m.chains ? r->m.chains->data + (int64_t)t->rank * b->n * r->m.nv : NULL;
    cg_status st = cg_rbm_cd_step(ctx, &r->m, &r->sgd, v, (int)f->k, chains, &r->gibbs, &recon);
    if (st == CG_OK && chains && t->ranks > 1)
        st = share_chains(t, r, b->n);
    recon /= b->n;
    cg_scalars_put(out, "recon", recon);
    r->sum.d += recon;
    r->nsum++;
    return st;
}

static void note_recon(rbm_run *r, double mean)
{
    if (isnan(r->recon_first.d))
        r->recon_first.d = mean;
    r->recon_last.d = mean;
}

static cg_status epoch_end(cg_trainer *t, void *self, int64_t epoch, cg_scalars *out)
{
    rbm_run *r = self;
    double mean = r->sum.d / (double)r->nsum;
    cg_scalars_put(out, "epoch_recon", mean);
    printf("Epoch %03lld | reconstruction error %.4f per image (squared, %d pixels)\n",
           (long long)epoch, mean, r->m.nv);
    fflush(stdout);
    note_recon(r, mean);
    r->sum.d = 0;
    r->nsum = 0;
    return CG_OK;
}

static cg_status on_save(cg_trainer *t, void *self)
{
    return cg_trainer_save_weights(t, &((rbm_run *)self)->m.p, NULL, "rbm.safetensors");
}

/* Mean log p*(v) over the first EVAL_MAX images of d. */
static cg_status mean_log_pstar(cg_trainer *t, rbm_run *r, const cg_dataset *d, double *out)
{
    enum { CH = 500 };
    int V = r->m.nv;
    int64_t n = d->count < EVAL_MAX ? d->count : EVAL_MAX;
    real *v = malloc(sizeof(real) * CH * (size_t)V);
    double *lp = malloc(sizeof(double) * CH);
    if (!v || !lp) {
        free(v);
        free(lp);
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    }
    double sum = 0;
    cg_status st = CG_OK;
    for (int64_t at = 0; at < n && st == CG_OK; at += CH) {
        int k = (int)(n - at < CH ? n - at : CH);
        binarize_u8(d->pixels + at * V, v, (int64_t)k * V);
        if ((st = cg_rbm_log_pstar(&t->ctx, &r->m, v, k, lp)) != CG_OK)
            cg_trainer_fail(t, st, "%s", t->ctx.errmsg);
        for (int i = 0; i < k; i++)
            sum += lp[i];
    }
    *out = sum / (double)n;
    free(v);
    free(lp);
    return st;
}

/* samples.png and chains.png: N_CHAINS Gibbs chains from base-rate noise. */
static cg_status draw_samples(cg_trainer *t, rbm_run *r, int gibbs)
{
    const int V = r->m.nv, C = t->ds.channels, H = t->ds.height, W = t->ds.width;
    real *v = malloc(sizeof(real) * N_CHAINS * (size_t)V);
    real *p0 = malloc(sizeof(real) * (size_t)V);
    real *grid = malloc(sizeof(real) * CHAIN_ROWS * CHAIN_COLS * (size_t)V);
    real *last = malloc(sizeof(real) * N_CHAINS * (size_t)V);
    if (!v || !p0 || !grid || !last) {
        free(v), free(p0), free(grid), free(last);
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    }
    cg_rng rng;
    cg_rng_init(&rng, t->o->seed, STREAM_SAMPLES);
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
    cg_ctx *ctx = &t->ctx;
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
                st = cg_trainer_fail(t, ctx->err, "%s", ctx->errmsg);
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
        cg_trainer_path(t, path, sizeof path, "samples.png");
        st = cg_png_write_grid(path, last, N_CHAINS, C, H, W, 8, why, sizeof why);
        if (st == CG_OK) {
            cg_trainer_path(t, path, sizeof path, "chains.png");
            st = cg_png_write_grid(path, grid, CHAIN_ROWS * CHAIN_COLS, C, H, W, CHAIN_COLS,
                                   why, sizeof why);
        }
        if (st != CG_OK)
            cg_trainer_fail(t, st, "%s", why);
    }
    free(v), free(p0), free(grid), free(last);
    return st;
}

/* log Z by AIS and the log-likelihoods per image into out */
static cg_status evaluate(cg_trainer *t, rbm_run *r, cg_scalars *out)
{
    const rbm_flags *f = t->settings;
    cg_rng rng;
    cg_rng_init(&rng, t->o->seed, STREAM_AIS);
    cg_rbm_ais_opts ao = {.nbetas = (int)f->ais_betas, .runs = (int)f->ais_runs,
                          .base = r->base};
    char why[512];
    double t0 = cg_monotonic_seconds(), logz, lo, hi;
    cg_status st = cg_rbm_ais(&t->ctx, &r->m, &ao, &rng, &logz, &lo, &hi, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail_model(t, st, why);
    double lp_test, lp_train;
    if ((st = mean_log_pstar(t, r, &t->test, &lp_test)) != CG_OK ||
        (st = mean_log_pstar(t, r, &t->ds, &lp_train)) != CG_OK)
        return st;
    double logz_base = 0;
    for (int i = 0; i < r->m.nv; i++)
        logz_base += log1p(exp((double)r->base[i]));
    /* the independent-pixel base model on the same test images, for scale */
    int V = r->m.nv;
    int64_t n = t->test.count < EVAL_MAX ? t->test.count : EVAL_MAX;
    double on = 0;
    for (int64_t k = 0; k < n; k++)
        for (int i = 0; i < V; i++)
            if (t->test.pixels[k * V + i] >= 128)
                on += r->base[i];
    if (!t->o->quiet)
        fprintf(stderr, "rbm: AIS with %d temperatures and %d runs took %.1f s\n", ao.nbetas,
                ao.runs, cg_monotonic_seconds() - t0);
    cg_scalars_put(out, "ais_logz", logz);
    cg_scalars_put(out, "ais_logz_lo", lo);
    cg_scalars_put(out, "ais_logz_hi", hi);
    cg_scalars_put(out, "loglik_test", lp_test - logz);
    cg_scalars_put(out, "loglik_train", lp_train - logz);
    cg_scalars_put(out, "loglik_test_base", on / (double)n - logz_base);
    cg_scalars_put(out, "logz_base", logz_base);
    return CG_OK;
}

/* The reconstruction error of the first and last epoch (the last one may
 * be a part), AIS, the pictures */
static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    rbm_run *r = self;
    if (r->nsum > 0)
        note_recon(r, r->sum.d / (double)r->nsum);
    cg_scalars_put(out, "recon_first", r->recon_first.d);
    cg_scalars_put(out, "recon_last", r->recon_last.d);
    cg_status st = evaluate(t, r, out);
    if (st == CG_OK && t->o->out_dir)
        st = draw_samples(t, r, (int)((const rbm_flags *)t->settings)->gibbs);
    return st;
}

static void report(const cg_train_opts *o, const void *settings, const cg_train_result *res)
{
    (void)o;
    const rbm_flags *f = settings;
    const cg_scalars *s = &res->final;
#define V(name) cg_scalars_get(s, name)
    printf("  %lld hidden units, %s-%lld; reconstruction error per image: %.4f in the first "
           "epoch, %.4f in the last\n", (long long)f->hidden, f->pcd ? "PCD" : "CD",
           (long long)f->k, V("recon_first"), V("recon_last"));
    printf("  AIS (%lld temperatures, %lld runs): log Z = %.4f  (-3 / +3 standard errors: "
           "%.4f / %.4f; base model %.4f)\n", (long long)f->ais_betas, (long long)f->ais_runs,
           V("ais_logz"), V("ais_logz_lo"), V("ais_logz_hi"), V("logz_base"));
    printf("  average log-likelihood per image (nats): test %.4f, train %.4f (independent "
           "pixels: test %.4f); samples after %lld Gibbs steps\n", V("loglik_test"),
           V("loglik_train"), V("loglik_test_base"), (long long)f->gibbs);
#undef V
}

static void free_run(void *self)
{
    rbm_run *r = self;
    cg_rbm_free(&r->m);
    free(r->base);
}

#define F(field) offsetof(rbm_flags, field)
static const cg_flag flags[] = {
    {"hidden", CG_FLAG_INT, F(hidden), "200", 1, 65536, "N", "hidden units", NULL},
    {"k", CG_FLAG_INT, F(k), "1", 1, 1000, "N", "Gibbs steps of CD-k", NULL},
    {"pcd", CG_FLAG_BOOL, F(pcd), NULL, 0, 0, NULL,
     "persistent contrastive divergence (chains kept across updates)", NULL},
    {"gibbs", CG_FLAG_INT, F(gibbs), "1000", 1, 1e7, "N", "Gibbs steps of the sample chains",
     NULL},
    {"ais-betas", CG_FLAG_INT, F(ais_betas), "10000", 3, 1e7, "N", "AIS temperatures", NULL},
    {"ais-runs", CG_FLAG_INT, F(ais_runs), "100", 2, 100000, "N", "AIS runs", NULL},
};
#undef F

extern const cg_sampler cg_sampler_rbm;  /* rbm_sample.c: cugen sample and eval */

const cg_model_kind cg_kind_rbm = {
    .name = "rbm", .title = "RBM",
    .summary = "restricted Boltzmann machine by CD-k or PCD on binarized Fashion-MNIST, AIS",
    .batch = 64, .lr = 0.05, .checkpoints = 1, .ckpt_every = 1000, .shared = "data data-dir",
    .flags = flags, .nflags = sizeof flags / sizeof flags[0], .settings_size = sizeof(rbm_flags),
    .may_change = "gibbs ais-betas ais-runs", .state_size = sizeof(rbm_run), .test_split = 1,
    .build = build, .describe = describe, .step = step, .epoch_end = epoch_end,
    .on_save = on_save, .finish = finish, .report = report, .free = free_run,
    .files = "samples: %s/samples.png, %s/chains.png; weights: %s/rbm.safetensors",
    .sampler = &cg_sampler_rbm,
};
