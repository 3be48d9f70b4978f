/*
 * vae.c: the MLP VAE's networks, its loss and training step, evaluation
 * (ELBO and the importance-weighted log-likelihood) and loading from a file
 * (architecture and naming in cugen/vae.h).
 *
 * Not for: the training loop (vae_train.c), pictures (vae_pictures.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/tape.h"
#include "cugen/vae.h"
#include "models/dense.h"
#include "models/vae_internal.h"
#include "ops/backend.h"

#define LOG_2PI 1.8378770664093454836

static int log2_exact(int v)
{
    int k = 0;
    while (v > 1 && v % 2 == 0) {
        v /= 2;
        k++;
    }
    return v == 1 ? k : -1;
}

static cg_status check_arch(const cg_vae_arch *a, char *err, size_t errlen)
{
    if (a->latent < 1 || a->latent > 4096) {
        snprintf(err, errlen, "vae: need 1 <= latent <= 4096, got %d", a->latent);
        return CG_ERR_ARG;
    }
    if (a->kind == CG_VAE_CONV) {
        if ((a->size != 32 && a->size != 64) || (a->channels != 1 && a->channels != 3) ||
            a->width < 1 || (a->width << (log2_exact(a->size) - 3)) > 4096 ||
            a->x_dim != a->channels * a->size * a->size) {
            snprintf(err, errlen, "vae: the conv architecture takes 32x32 or 64x64 images of 1 "
                     "or 3 channels and a width from 1 to %d; got %dx%dx%d, width %d",
                     a->size == 64 ? 512 : 1024, a->channels, a->size, a->size, a->width);
            return CG_ERR_ARG;
        }
        return CG_OK;
    }
    if (a->x_dim < 1 || a->x_dim > (1 << 20) || a->hidden < 1 || a->hidden > 65536) {
        snprintf(err, errlen, "vae: need 1 <= input size <= 2^20 and 1 <= hidden <= 65536; "
                 "got %d, %d", a->x_dim, a->hidden);
        return CG_ERR_ARG;
    }
    return CG_OK;
}

static int declare_mlp(cg_vae *m)
{
    const cg_vae_arch *a = &m->a;
    cg_params *p = &m->p;
    return dense_declare(p, &m->fc1.w, &m->fc1.b, "fc1", a->x_dim, a->hidden, 0) &&
           dense_declare(p, &m->fc2_mu.w, &m->fc2_mu.b, "fc2_mu", a->hidden, a->latent, 0) &&
           dense_declare(p, &m->fc2_logvar.w, &m->fc2_logvar.b, "fc2_logvar", a->hidden,
                         a->latent, 0) &&
           dense_declare(p, &m->fc3.w, &m->fc3.b, "fc3", a->latent, a->hidden, 0) &&
           dense_declare(p, &m->fc4.w, &m->fc4.b, "fc4", a->hidden, a->x_dim, 0);
}

cg_status cg_vae_build(cg_vae *m, const cg_vae_arch *a, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cg_params_init(&m->p);
    cg_status st = check_arch(a, err, errlen);
    if (st != CG_OK)
        return st;
    m->a = *a;
    cg_params *p = &m->p;
    int ok;
    if (a->kind == CG_VAE_CONV) {
        m->nconv = log2_exact(a->size) - 2;
        ok = vae_conv_declare(m);
    } else {
        ok = declare_mlp(m);
    }
    if (ok && a->lik == CG_VAE_GAUSSIAN)
        ok = (m->dec_logvar = cg_param(p, "dec_logvar", CG_SHAPE(1), 0)) != NULL;
    st = ok ? cg_params_alloc(p) : CG_ERR_NOMEM;
    if (st != CG_OK) {
        snprintf(err, errlen, "vae: out of memory for the parameters");
        cg_params_free(p);
    }
    return st;
}

void cg_vae_free(cg_vae *m)
{
    cg_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

void cg_vae_init(cg_vae *m, uint64_t seed, uint32_t stream)
{
    cg_rng r;
    cg_rng_init(&r, seed, stream);
    if (m->a.kind == CG_VAE_CONV) {
        vae_conv_init(m, &r);
    } else {
        cg_vae_linear *l[5] = {&m->fc1, &m->fc2_mu, &m->fc2_logvar, &m->fc3, &m->fc4};
        for (int i = 0; i < 5; i++)
            dense_init(l[i]->w, l[i]->b, &r);
    }
    if (m->dec_logvar)
        cg_init_const(m->dec_logvar, 0.0);  /* unit variance to start */
}

static int check_x(cg_ctx *ctx, cg_vae *m, cg_tensor *x)
{
    if (!x)
        return 0;
    if (x->ndim != 2 || x->shape[1] != m->a.x_dim) {
        cg_fail(ctx, CG_ERR_ARG, "vae: the encoder takes x (N, %d), got %s", m->a.x_dim,
                SHAPE_STR(x));
        return 0;
    }
    return 1;
}

cg_status cg_vae_encode(cg_ctx *ctx, cg_vae *m, cg_tensor *x, cg_tensor **mu,
                        cg_tensor **logvar)
{
    *mu = *logvar = NULL;
    if (!check_x(ctx, m, x))
        return ctx->err ? ctx->err : CG_ERR_ARG;
    if (m->a.kind == CG_VAE_CONV)
        return vae_conv_encode(ctx, m, x, mu, logvar);
    cg_tensor *h = cg_relu(ctx, cg_linear(ctx, x, m->fc1.w, m->fc1.b));
    *mu = cg_linear(ctx, h, m->fc2_mu.w, m->fc2_mu.b);
    *logvar = cg_linear(ctx, h, m->fc2_logvar.w, m->fc2_logvar.b);
    return ctx->err;
}

cg_tensor *cg_vae_decode(cg_ctx *ctx, cg_vae *m, cg_tensor *h)
{
    if (h && (h->ndim != 2 || h->shape[1] != m->a.latent)) {
        cg_fail(ctx, CG_ERR_ARG, "vae: the decoder takes h (N, %d), got %s", m->a.latent,
                SHAPE_STR(h));
        return NULL;
    }
    if (m->a.kind == CG_VAE_CONV)
        return vae_conv_decode(ctx, m, h);
    cg_tensor *g = cg_relu(ctx, cg_linear(ctx, h, m->fc3.w, m->fc3.b));
    return cg_linear(ctx, g, m->fc4.w, m->fc4.b);
}

cg_tensor *cg_vae_loss(cg_ctx *ctx, cg_vae *m, cg_tensor *x, cg_tensor *eps, double *rec_sum,
                       double *kl)
{
    cg_tensor *mu, *logvar;
    if (cg_vae_encode(ctx, m, x, &mu, &logvar) != CG_OK)
        return NULL;
    if (!eps || !cg_same_shape(eps, mu)) {
        if (eps)
            cg_fail(ctx, CG_ERR_ARG, "vae: eps %s must have mu's shape %s", SHAPE_STR(eps),
                    SHAPE_STR(mu));
        return NULL;
    }
    /* reparameterisation: h = mu + exp(logvar / 2) * eps */
    cg_tensor *sigma = cg_exp(ctx, cg_scale(ctx, logvar, 0.5));
    cg_tensor *h = cg_add(ctx, mu, cg_mul(ctx, sigma, eps));
    cg_tensor *out = cg_vae_decode(ctx, m, h);
    cg_tensor *rec = m->a.lik == CG_VAE_GAUSSIAN
                         ? cg_gaussian_nll(ctx, x, out, m->dec_logvar, CG_REDUCE_SUM)
                         : cg_bernoulli_nll(ctx, out, x, CG_REDUCE_SUM);
    cg_tensor *div = cg_gaussian_kl(ctx, mu, logvar, CG_REDUCE_SUM);
    cg_tensor *loss = cg_add(ctx, rec, div);
    if (loss) {
        if (rec_sum)
            *rec_sum = rec->data[0];
        if (kl)
            *kl = div->data[0];
    }
    return loss;
}

cg_status cg_vae_step(cg_ctx *ctx, cg_vae *m, cg_adam *opt, cg_tensor *x, cg_tensor *eps,
                      cg_vae_stats *out)
{
    memset(out, 0, sizeof *out);
    if (ctx->err)
        return ctx->err;
    double rec = 0, kl = 0;
    cg_tensor *loss = cg_vae_loss(ctx, m, x, eps, &rec, &kl);
    if (!loss || cg_backward(ctx, loss) != CG_OK)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    double n = x->shape[0];
    out->loss = loss->data[0] / n;
    out->rec = rec / n;
    out->kl = kl / n;
    cg_status st = cg_adam_step(opt, &m->p);
    if (st != CG_OK)
        return cg_fail(ctx, st, "vae: Adam step failed");
    cg_params_zero_grad(&m->p);
    cg_ctx_step_end(ctx);
    return CG_OK;
}

cg_tensor *cg_vae_means(cg_ctx *ctx, cg_vae *m, cg_tensor *out)
{
    cg_tensor *p = out ? cg_new(ctx, out->shape, out->ndim) : NULL;
    if (p && cg_memcpy_to_host(ctx, p->data, out->data, (cg_device)out->dev, out->n) != CG_OK)
        return NULL;
    for (int64_t i = 0; p && i < p->n; i++) {
        double v = p->data[i];
        if (m->a.lik == CG_VAE_GAUSSIAN)
            p->data[i] = (real)(v < 0 ? 0 : v > 1 ? 1 : v);
        else
            p->data[i] = (real)(1.0 / (1.0 + exp(-v)));
    }
    return p;
}

cg_tensor *cg_vae_input(cg_ctx *ctx, const real *images, int n, int x_dim)
{
    cg_tensor *x = cg_new(ctx, CG_SHAPE(n, x_dim));
    for (int64_t i = 0; x && i < x->n; i++)
        x->data[i] = (real)(0.5 * ((double)images[i] + 1.0));
    return x;
}

/* ---- evaluation ----------------------------------------------------------- */

/* log p(x | logits) under independent Bernoullis, for one row of D pixels:
 * sum x l - softplus(l), softplus computed stably */
static double bernoulli_logp(const real *logits, const real *x, int D)
{
    double s = 0;
    for (int j = 0; j < D; j++) {
        double l = logits[j];
        double sp = l > 0 ? l + log1p(exp(-l)) : log1p(exp(l));
        s += (double)x[j] * l - sp;
    }
    return s;
}

/* log N(x; mean, exp(lv)) of one row */
static double gaussian_logp(const real *mean, const real *x, int D, double lv)
{
    double s = 0, iv = exp(-lv);
    for (int j = 0; j < D; j++) {
        double d = (double)x[j] - mean[j];
        s += d * d * iv;
    }
    return -0.5 * (s + D * (lv + LOG_2PI));
}

static double row_logp(const cg_vae *m, const real *out, const real *x)
{
    if (m->a.lik == CG_VAE_GAUSSIAN)
        return gaussian_logp(out, x, m->a.x_dim, m->dec_logvar->data[0]);
    return bernoulli_logp(out, x, m->a.x_dim);
}

#define EVAL_BATCH 500
#define IW_CHUNK 500

typedef struct {
    cg_vae *m;
    cg_ctx ctx;
    cg_rng rng;
    real *images;   /* one batch of loader-range pixels */
} evaluator;

/* The images [i0, i0 + n) of ds in [-1, 1], as the loader makes them. */
static void fetch(const cg_dataset *ds, int64_t i0, int n, real *dst)
{
    int64_t D = (int64_t)ds->channels * ds->height * ds->width;
    const uint8_t *src = ds->pixels + i0 * D;
    for (int64_t i = 0; i < (int64_t)n * D; i++)
        dst[i] = (real)((double)src[i] / 127.5 - 1.0);
}

/* ELBO terms of n images (sums into *rec, *kl) */
static cg_status elbo_batch(evaluator *e, int n, double *rec, double *kl)
{
    cg_ctx *ctx = &e->ctx;
    cg_vae *m = e->m;
    cg_tensor *x = cg_vae_input(ctx, e->images, n, m->a.x_dim);
    cg_tensor *eps = cg_new(ctx, CG_SHAPE(n, m->a.latent));
    if (eps)
        cg_rng_normal(&e->rng, eps->data, eps->n, 0.0, 1.0);
    double b = 0, k = 0;
    cg_tensor *loss = cg_vae_loss(ctx, m, x, eps, &b, &k);
    cg_status st = loss ? CG_OK : ctx->err;
    *rec += b;
    *kl += k;
    cg_ctx_step_end(ctx);
    return st;
}

/* log p(x) of one image x (D) by k importance samples, given its posterior
 * mu, logvar (latent) */
static cg_status iw_image(evaluator *e, const real *x, const real *mu, const real *lv, int k,
                          double *logp)
{
    cg_ctx *ctx = &e->ctx;
    cg_vae *m = e->m;
    int L = m->a.latent, D = m->a.x_dim;
    double *w = op_scratch(ctx, sizeof(double) * (size_t)k);
    if (!w)
        return ctx->err;
    for (int j0 = 0; j0 < k; j0 += IW_CHUNK) {
        int c = k - j0 < IW_CHUNK ? k - j0 : IW_CHUNK;
        cg_tensor *h = cg_new(ctx, CG_SHAPE(c, L));
        if (!h)
            return ctx->err;
        cg_rng_normal(&e->rng, h->data, h->n, 0.0, 1.0);
        for (int j = 0; j < c; j++) {
            double lq = 0, lp = 0;
            for (int d = 0; d < L; d++) {
                double eps = h->data[(int64_t)j * L + d];
                double hv = (double)mu[d] + exp(0.5 * (double)lv[d]) * eps;
                h->data[(int64_t)j * L + d] = (real)hv;
                lq += -0.5 * (eps * eps + (double)lv[d] + LOG_2PI);
                lp += -0.5 * (hv * hv + LOG_2PI);
            }
            w[j0 + j] = lp - lq;
        }
        cg_tensor *logits = cg_vae_decode(ctx, m, h);
        if (!logits)
            return ctx->err;
        for (int j = 0; j < c; j++)
            w[j0 + j] += row_logp(m, logits->data + (int64_t)j * D, x);
    }
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < k; j++)
        mx = fmax(mx, w[j]);
    for (int j = 0; j < k; j++)
        s += exp(w[j] - mx);
    *logp = mx + log(s) - log((double)k);
    return CG_OK;
}

static cg_status iw_batch(evaluator *e, int n, int k, double *sum_logp)
{
    cg_ctx *ctx = &e->ctx;
    cg_vae *m = e->m;
    cg_tensor *x = cg_vae_input(ctx, e->images, n, m->a.x_dim);
    cg_tensor *mu, *lv;
    if (cg_vae_encode(ctx, m, x, &mu, &lv) != CG_OK)
        return ctx->err;
    for (int i = 0; i < n; i++) {
        double lp = 0;
        int64_t L = m->a.latent;
        cg_status st = iw_image(e, x->data + (int64_t)i * m->a.x_dim, mu->data + i * L,
                                lv->data + i * L, k, &lp);
        if (st != CG_OK)
            return st;
        *sum_logp += lp;
    }
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
    evaluator e = {.m = m};
    e.images = malloc(sizeof(real) * EVAL_BATCH * (size_t)D);
    if (!e.images || cg_ctx_init(&e.ctx) != CG_OK) {
        free(e.images);
        snprintf(err, errlen, "vae: out of memory");
        return CG_ERR_NOMEM;
    }
    cg_set_grad(&e.ctx, 0);
    cg_rng_init(&e.rng, seed, 0x4556414cu);  /* "EVAL" */
    double rec = 0, kl = 0, logp = 0;
    cg_status st = CG_OK;
    for (int64_t i0 = 0; i0 < count && st == CG_OK; i0 += EVAL_BATCH) {
        int n = (int)(count - i0 < EVAL_BATCH ? count - i0 : EVAL_BATCH);
        fetch(ds, i0, n, e.images);
        st = elbo_batch(&e, n, &rec, &kl);
        if (st == CG_OK && k_iw > 0)
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
    free(e.images);
    return st;
}

/* ---- loading ---------------------------------------------------------------- */

static const cg_st_tensor *find(const cg_st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->t[i].name, name) == 0)
            return &f->t[i];
    return NULL;
}

/* The architecture from the names and shapes; 0 when it is no VAE. */
static int arch_of(const cg_st_file *f, cg_vae_arch *a)
{
    a->lik = find(f, "dec_logvar") ? CG_VAE_GAUSSIAN : CG_VAE_BERNOULLI;
    const cg_st_tensor *e0 = find(f, "enc.0.weight"), *fmu = find(f, "fc_mu.weight");
    if (e0 && fmu && e0->ndim == 4 && fmu->ndim == 2) {
        int L = 1;
        while (L < CG_VAE_MAX_CONV + 1) {
            char name[32];
            snprintf(name, sizeof name, "enc.%d.weight", 2 * L);
            if (!find(f, name))
                break;
            L++;
        }
        a->kind = CG_VAE_CONV;
        a->channels = (int)e0->shape[1];
        a->width = (int)e0->shape[0];
        a->size = 4 << L;
        a->x_dim = a->channels * a->size * a->size;
        a->latent = (int)fmu->shape[0];
        return L <= CG_VAE_MAX_CONV;
    }
    const cg_st_tensor *w1 = find(f, "fc1.weight"), *wmu = find(f, "fc2_mu.weight");
    if (!w1 || !wmu || w1->ndim != 2 || wmu->ndim != 2)
        return 0;
    a->kind = CG_VAE_MLP;
    a->x_dim = (int)w1->shape[1];
    a->hidden = (int)w1->shape[0];
    a->latent = (int)wmu->shape[0];
    return 1;
}

cg_status cg_vae_load(const char *path, cg_vae *m, char *err, size_t errlen)
{
    char file[4096];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(file, sizeof file, "%s/vae.safetensors", path);
    else
        snprintf(file, sizeof file, "%s", path);
    cg_st_file f;
    char why[1024];
    cg_status st = cg_st_load(&f, file, why, sizeof why);
    if (st != CG_OK) {
        snprintf(err, errlen, "%s", why);
        return st;
    }
    cg_vae_arch a = {0};
    int ok = arch_of(&f, &a);
    cg_st_free(&f);
    if (!ok) {
        snprintf(err, errlen, "%s: not a cugen VAE (neither the MLP's 2-D fc1.weight and "
                 "fc2_mu.weight nor the conv VAE's enc.0.weight and fc_mu.weight)", file);
        return CG_ERR_ARG;
    }
    if ((st = cg_vae_build(m, &a, why, sizeof why)) != CG_OK) {
        snprintf(err, errlen, "%s: %s", file, why);
        return st;
    }
    if ((st = cg_weights_load(file, &m->p, why, sizeof why)) != CG_OK) {
        snprintf(err, errlen, "%s", why);
        cg_vae_free(m);
    }
    return st;
}

int cg_vae_is_checkpoint(const char *path)
{
    char file[4096];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(file, sizeof file, "%s/vae.safetensors", path);
        return stat(file, &sb) == 0;
    }
    cg_st_file f;
    if (cg_st_load(&f, path, NULL, 0) != CG_OK)
        return 0;
    cg_vae_arch a = {0};
    int yes = arch_of(&f, &a);
    cg_st_free(&f);
    return yes;
}
