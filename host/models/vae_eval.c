/*
 * vae_eval.c: a VAE's ELBO and importance-weighted log-likelihood on a data
 * set (cg_vae_evaluate, cugen/vae.h), on the model's device.
 *
 * Not for: the loss of a training step (vae.c), pictures (vae_pictures.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/ops.h"
#include "cugen/tape.h"
#include "cugen/vae.h"
#include "models/vae_internal.h"

#define LOG_2PI 1.8378770664093454836

/* ---- evaluation -----------------------------------------------------------
 * On the model's device: every sum over pixels and latent dimensions is an
 * op (a product with a row of ones), so only the ELBO's two sums per batch
 * and one log-weight per importance sample come back to the host. */

#define EVAL_BATCH 500
/* Importance samples decoded at once. The eps of a chunk is one Philox fill
 * of c * latent values, and 500 * latent is a multiple of 4 (a fill's
 * granularity), so chunks of 500 on the CPU and of 2000 on the GPU draw the
 * same eps for each sample. */
#define IW_CHUNK_CPU 500
#define IW_CHUNK_GPU 2000

typedef struct {
    cg_vae *m;
    cg_device dev;
    cg_ctx ctx;
    cg_rng rng;
    real *images;   /* one batch of loader-range pixels (host) */
    real *mu, *lv;  /* the batch's posteriors (host), EVAL_BATCH * latent */
    double *w;      /* the log-weights of one image, k */
    double dec_lv;  /* Gaussian: the decoder's log-variance */
} evaluator;

/* The images [i0, i0 + n) of ds in [-1, 1], as the loader makes them. */
static void fetch(const cg_dataset *ds, int64_t i0, int n, real *dst)
{
    int64_t D = (int64_t)ds->channels * ds->height * ds->width;
    const uint8_t *src = ds->pixels + i0 * D;
    for (int64_t i = 0; i < (int64_t)n * D; i++)
        dst[i] = (real)((double)src[i] / 127.5 - 1.0);
}

/* a (1, n) row of ones on dev */
static cg_tensor *ones_row(cg_ctx *ctx, cg_device dev, int n)
{
    cg_tensor *t = cg_new_on(ctx, dev, CG_SHAPE(1, n));
    if (t && cg_init_const(t, 1.0) != CG_OK) {
        cg_fail(ctx, CG_ERR_CUDA, "vae: evaluation: %s", cg_cuda_last_error());
        return NULL;
    }
    return t;
}

/* ELBO terms of n images (sums into *rec, *kl); the posteriors into e->mu, e->lv */
static cg_status elbo_batch(evaluator *e, int n, double *rec, double *kl)
{
    cg_ctx *ctx = &e->ctx;
    cg_vae *m = e->m;
    cg_tensor *x = cg_vae_input_on(ctx, e->dev, e->images, n, m->a.x_dim);
    cg_tensor *eps = cg_new_on(ctx, e->dev, CG_SHAPE(n, m->a.latent));
    if (eps && cg_rng_fill_normal(&e->rng, eps, 0.0, 1.0) != CG_OK)
        cg_fail(ctx, CG_ERR_CUDA, "eps: %s", cg_cuda_last_error());
    cg_tensor *tr, *tk;
    real v[2];
    if (!vae_loss_terms(ctx, m, x, eps, &tr, &tk) ||
        vae_read_scalars(ctx, (cg_tensor *const[]){tr, tk}, 2, v) != CG_OK)
        return ctx->err;
    *rec += v[0];
    *kl += v[1];
    cg_ctx_step_end(ctx);
    return CG_OK;
}

/* The log-weights log p(x | h_j) + log p(h_j) - log q(h_j | x) of c samples
 * h_j = mu + sigma eps_j of one image x (D, loader range), mu and lv
 * (latent), into w[0..c). With lq = sum_d -(eps^2 + lv_d + log 2 pi) / 2 and
 * lp = sum_d -(h^2 + log 2 pi) / 2: lp - lq = (sum eps^2 - sum h^2 + sum lv) / 2. */
static cg_status iw_chunk(evaluator *e, const real *img, const real *mu, const real *lv, int c,
                          double *w)
{
    cg_ctx *ctx = &e->ctx;
    cg_vae *m = e->m;
    cg_device dev = e->dev;
    int L = m->a.latent, D = m->a.x_dim;
    cg_tensor *x = cg_vae_input_on(ctx, dev, img, 1, D);          /* (1, D) */
    cg_tensor *mur = cg_new_on(ctx, dev, CG_SHAPE(1, L)), *lvr = cg_new_on(ctx, dev, CG_SHAPE(1, L));
    cg_tensor *eps = cg_new_on(ctx, dev, CG_SHAPE(c, L));
    if (mur && lvr && eps) {
        cg_copy_from_host(ctx, mur, mu);
        cg_copy_from_host(ctx, lvr, lv);
        if (cg_rng_fill_normal(&e->rng, eps, 0.0, 1.0) != CG_OK)
            cg_fail(ctx, CG_ERR_CUDA, "eps: %s", cg_cuda_last_error());
    }
    cg_tensor *h = cg_add(ctx, cg_mul(ctx, eps, cg_exp(ctx, cg_scale(ctx, lvr, 0.5))), mur);
    cg_tensor *out = cg_vae_decode(ctx, m, h);                    /* (c, D) */
    /* per pixel: log p(x_j | out_j) up to what is added on the host below */
    cg_tensor *t;
    if (m->a.lik == CG_VAE_GAUSSIAN) {
        cg_tensor *d = cg_sub(ctx, out, x);
        t = cg_scale(ctx, cg_mul(ctx, d, d), -0.5 * exp(-e->dec_lv));
    } else {
        t = cg_sub(ctx, cg_mul(ctx, out, x), cg_softplus(ctx, out));   /* x l - softplus(l) */
    }
    cg_tensor *logpx = cg_linear(ctx, t, ones_row(ctx, dev, D), NULL);  /* (c, 1) */
    cg_tensor *dh = cg_sub(ctx, cg_mul(ctx, eps, eps), cg_mul(ctx, h, h));
    cg_tensor *wt = cg_add(ctx, logpx,
                           cg_scale(ctx, cg_linear(ctx, dh, ones_row(ctx, dev, L), NULL), 0.5));
    real *v = cg_scratch(ctx, sizeof(real) * (size_t)c);
    if (!wt || !v || cg_copy_to_host(ctx, v, wt) != CG_OK)
        return ctx->err;
    double add = 0;
    for (int d = 0; d < L; d++)
        add += 0.5 * (double)lv[d];
    if (m->a.lik == CG_VAE_GAUSSIAN)
        add -= 0.5 * D * (e->dec_lv + LOG_2PI);
    for (int j = 0; j < c; j++)
        w[j] = (double)v[j] + add;
    cg_ctx_step_end(ctx);
    return CG_OK;
}

/* log p(x) of the n images of the batch by k importance samples each,
 * summed into *sum_logp; the posteriors come from e->mu, e->lv */
static cg_status iw_batch(evaluator *e, int n, int k, double *sum_logp)
{
    int L = e->m->a.latent, D = e->m->a.x_dim;
    int chunk = e->dev == CG_CUDA ? IW_CHUNK_GPU : IW_CHUNK_CPU;
    for (int i = 0; i < n; i++) {
        for (int j0 = 0; j0 < k; j0 += chunk) {
            int c = k - j0 < chunk ? k - j0 : chunk;
            cg_status st = iw_chunk(e, e->images + (int64_t)i * D, e->mu + (int64_t)i * L,
                                    e->lv + (int64_t)i * L, c, e->w + j0);
            if (st != CG_OK)
                return st;
        }
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < k; j++)
            mx = fmax(mx, e->w[j]);
        for (int j = 0; j < k; j++)
            s += exp(e->w[j] - mx);
        *sum_logp += mx + log(s) - log((double)k);
    }
    return CG_OK;
}

/* the posteriors of the batch's n images into e->mu, e->lv (host) */
static cg_status posteriors(evaluator *e, int n)
{
    cg_ctx *ctx = &e->ctx;
    cg_vae *m = e->m;
    int64_t nl = (int64_t)n * m->a.latent;
    cg_tensor *mu, *lv;
    if (cg_vae_encode(ctx, m, cg_vae_input_on(ctx, e->dev, e->images, n, m->a.x_dim), &mu,
                      &lv) != CG_OK ||
        cg_memcpy_to_host(ctx, e->mu, mu->data, e->dev, nl) != CG_OK ||
        cg_memcpy_to_host(ctx, e->lv, lv->data, e->dev, nl) != CG_OK)
        return ctx->err;
    cg_ctx_step_end(ctx);
    return CG_OK;
}

cg_status cg_vae_evaluate(cg_vae *m, const cg_dataset *ds, int64_t limit, int k_iw,
                          uint64_t seed, cg_vae_eval *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int64_t D = (int64_t)ds->channels * ds->height * ds->width;
    if (D != m->a.x_dim) {
        snprintf(err, errlen, "vae: the model takes %d values per image, the data set has "
                 "%dx%dx%d = %lld", m->a.x_dim, ds->channels, ds->height, ds->width,
                 (long long)D);
        return CG_ERR_ARG;
    }
    int64_t count = limit > 0 && limit < ds->count ? limit : ds->count;
    evaluator e = {.m = m, .dev = (cg_device)m->p.dev};
    size_t nl = (size_t)EVAL_BATCH * m->a.latent;
    e.images = malloc(sizeof(real) * EVAL_BATCH * (size_t)D);
    e.mu = malloc(sizeof(real) * nl);
    e.lv = malloc(sizeof(real) * nl);
    e.w = malloc(sizeof(double) * (size_t)(k_iw > 0 ? k_iw : 1));
    if (!e.images || !e.mu || !e.lv || !e.w || cg_ctx_init(&e.ctx) != CG_OK) {
        free(e.images), free(e.mu), free(e.lv), free(e.w);
        snprintf(err, errlen, "vae: out of memory");
        return CG_ERR_NOMEM;
    }
    cg_set_grad(&e.ctx, 0);
    cg_rng_init(&e.rng, seed, 0x4556414cu);  /* "EVAL" */
    cg_status st = CG_OK;
    if (m->dec_logvar) {
        real v;
        st = cg_memcpy_to_host(&e.ctx, &v, m->dec_logvar->data, e.dev, 1);
        e.dec_lv = v;
    }
    double rec = 0, kl = 0, logp = 0;
    for (int64_t i0 = 0; i0 < count && st == CG_OK; i0 += EVAL_BATCH) {
        int n = (int)(count - i0 < EVAL_BATCH ? count - i0 : EVAL_BATCH);
        fetch(ds, i0, n, e.images);
        st = elbo_batch(&e, n, &rec, &kl);
        if (st == CG_OK && k_iw > 0 && (st = posteriors(&e, n)) == CG_OK)
            st = iw_batch(&e, n, k_iw, &logp);
    }
    if (st != CG_OK)
        snprintf(err, errlen, "vae: evaluation: %s", e.ctx.errmsg);
    out->images = count;
    out->k = k_iw;
    out->rec = rec / (double)count;
    out->kl = kl / (double)count;
    out->elbo = -(out->rec + out->kl);
    out->nll = k_iw > 0 ? -logp / (double)count : 0;
    cg_ctx_free(&e.ctx);
    free(e.images), free(e.mu), free(e.lv), free(e.w);
    return st;
}
