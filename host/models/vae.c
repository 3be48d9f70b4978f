/*
 * vae.c: the MLP VAE's networks, its loss and training step, and loading
 * from a file (architecture and naming in cugen/vae.h).
 *
 * Not for: the training loop (vae_train.c), evaluation (vae_eval.c),
 * pictures (vae_pictures.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/cuda.h"
#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/tape.h"
#include "cugen/vae.h"
#include "models/model_util.h"
#include "models/vae_internal.h"

static cg_status check_arch(const cg_vae_arch *a, char *err, size_t errlen)
{
    if (a->latent < 1 || a->latent > 4096) {
        snprintf(err, errlen, "vae: need 1 <= latent <= 4096, got %d", a->latent);
        return CG_ERR_ARG;
    }
    if (a->kind == CG_VAE_CONV) {
        if ((a->size != 32 && a->size != 64) || (a->channels != 1 && a->channels != 3) ||
            a->width < 1 || (a->width << (model_log2_exact(a->size) - 3)) > 4096 ||
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

static void declare_mlp(cg_vae *m)
{
    const cg_vae_arch *a = &m->a;
    cg_nn *nn = &m->nn;
    cg_nn_linear_declare(nn, &m->mlp.fc1, "fc1", a->x_dim, a->hidden, 1);
    cg_nn_linear_declare(nn, &m->mlp.fc2_mu, "fc2_mu", a->hidden, a->latent, 1);
    cg_nn_linear_declare(nn, &m->mlp.fc2_logvar, "fc2_logvar", a->hidden, a->latent, 1);
    cg_nn_linear_declare(nn, &m->mlp.fc3, "fc3", a->latent, a->hidden, 1);
    cg_nn_linear_declare(nn, &m->mlp.fc4, "fc4", a->hidden, a->x_dim, 1);
}

cg_status cg_vae_build(cg_vae *m, const cg_vae_arch *a, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cg_params_init(&m->p);
    cg_status st = check_arch(a, err, errlen);
    if (st != CG_OK)
        return st;
    m->a = *a;
    cg_nn_begin(&m->nn, &m->p);
    if (a->kind == CG_VAE_CONV) {
        m->nconv = model_log2_exact(a->size) - 2;
        vae_conv_declare(m);
    } else {
        declare_mlp(m);
    }
    int ok = 1;
    if (a->lik == CG_VAE_GAUSSIAN)
        ok = (m->dec_logvar = cg_param(&m->p, "dec_logvar", CG_SHAPE(1), 0)) != NULL;
    if (!ok) {
        snprintf(err, errlen, "vae: out of memory for the parameters");
        cg_params_free(&m->p);
        return CG_ERR_NOMEM;
    }
    return cg_nn_alloc_for(&m->nn, "vae", err, errlen);
}

void cg_vae_free(cg_vae *m)
{
    cg_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

void cg_vae_init(cg_vae *m, uint64_t seed, uint32_t stream)
{
    cg_nn_init_seeded(&m->nn, seed, stream);
    if (m->dec_logvar)
        cg_init_const(m->dec_logvar, 0.0);  /* unit variance to start */
}

static int check_x(cg_ctx *ctx, cg_vae *m, cg_tensor *x)
{
    if (!x)
        return 0;
    if (x->ndim != 2 || x->shape[1] != m->a.x_dim) {
        cg_fail(ctx, CG_ERR_ARG, "vae: the encoder takes x (N, %d), got %s", m->a.x_dim,
                CG_SHAPE_STR(x));
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
    cg_tensor *h = cg_relu(ctx, cg_nn_linear_fwd(ctx, &m->mlp.fc1, x));
    *mu = cg_nn_linear_fwd(ctx, &m->mlp.fc2_mu, h);
    *logvar = cg_nn_linear_fwd(ctx, &m->mlp.fc2_logvar, h);
    return ctx->err;
}

cg_tensor *cg_vae_decode(cg_ctx *ctx, cg_vae *m, cg_tensor *h)
{
    if (h && (h->ndim != 2 || h->shape[1] != m->a.latent)) {
        cg_fail(ctx, CG_ERR_ARG, "vae: the decoder takes h (N, %d), got %s", m->a.latent,
                CG_SHAPE_STR(h));
        return NULL;
    }
    if (m->a.kind == CG_VAE_CONV)
        return vae_conv_decode(ctx, m, h);
    cg_tensor *g = cg_relu(ctx, cg_nn_linear_fwd(ctx, &m->mlp.fc3, h));
    return cg_nn_linear_fwd(ctx, &m->mlp.fc4, g);
}

/* The loss of x with noise eps, and its two terms, as (1) tensors on the
 * model's device (nothing read back). */
cg_tensor *vae_loss_terms(cg_ctx *ctx, cg_vae *m, cg_tensor *x, cg_tensor *eps,
                          cg_tensor **rec, cg_tensor **div)
{
    *rec = *div = NULL;
    cg_tensor *mu, *logvar;
    if (cg_vae_encode(ctx, m, x, &mu, &logvar) != CG_OK)
        return NULL;
    if (!eps || !cg_same_shape(eps, mu)) {
        if (eps)
            cg_fail(ctx, CG_ERR_ARG, "vae: eps %s must have mu's shape %s", CG_SHAPE_STR(eps),
                    CG_SHAPE_STR(mu));
        return NULL;
    }
    /* reparameterisation: h = mu + exp(logvar / 2) * eps */
    cg_tensor *sigma = cg_exp(ctx, cg_scale(ctx, logvar, 0.5));
    cg_tensor *h = cg_add(ctx, mu, cg_mul(ctx, sigma, eps));
    cg_tensor *out = cg_vae_decode(ctx, m, h);
    *rec = m->a.lik == CG_VAE_GAUSSIAN
               ? cg_gaussian_nll(ctx, x, out, m->dec_logvar, CG_REDUCE_SUM)
               : cg_bernoulli_nll(ctx, out, x, CG_REDUCE_SUM);
    *div = cg_gaussian_kl(ctx, mu, logvar, CG_REDUCE_SUM);
    return cg_add(ctx, *rec, *div);
}

/* The values of k one-element tensors of one device into v, with one wait
 * for the GPU: gathered into one device buffer, then one copy. */
cg_status vae_read_scalars(cg_ctx *ctx, cg_tensor *const *t, int k, real *v)
{
    int dev = t[0]->dev;
    cg_tensor *buf = dev == CG_CUDA ? cg_new_on(ctx, CG_CUDA, CG_SHAPE(k)) : NULL;
    for (int i = 0; i < k; i++) {
        if (dev == CG_CPU)
            v[i] = t[i]->data[0];
        else if (!buf || cg_copy(ctx, buf, i, t[i]) != CG_OK)
            return ctx->err;
    }
    return dev == CG_CPU ? CG_OK : cg_copy_to_host(ctx, v, buf);
}

cg_tensor *cg_vae_loss(cg_ctx *ctx, cg_vae *m, cg_tensor *x, cg_tensor *eps, double *rec_sum,
                       double *kl)
{
    cg_tensor *rec, *div;
    cg_tensor *loss = vae_loss_terms(ctx, m, x, eps, &rec, &div);
    real v[2];
    if (loss && (rec_sum || kl)) {
        if (vae_read_scalars(ctx, (cg_tensor *const[]){rec, div}, 2, v) != CG_OK)
            return NULL;
        if (rec_sum)
            *rec_sum = v[0];
        if (kl)
            *kl = v[1];
    }
    return loss;
}

cg_status cg_vae_step(cg_ctx *ctx, cg_vae *m, cg_adam *opt, cg_tensor *x, cg_tensor *eps,
                      cg_vae_stats *out)
{
    memset(out, 0, sizeof *out);
    if (ctx->err)
        return ctx->err;
    if (x && eps && (x->dev != m->p.dev || eps->dev != m->p.dev))
        return cg_fail(ctx, CG_ERR_ARG, "vae: the batch, eps and the parameters must be on "
                       "one device");
    cg_tensor *rec, *div;
    cg_tensor *loss = vae_loss_terms(ctx, m, x, eps, &rec, &div);
    if (!loss || cg_backward(ctx, loss) != CG_OK)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    cg_status st = cg_adam_step(opt, &m->p);
    if (st != CG_OK)
        return cg_fail(ctx, st, "vae: Adam step failed: %s", cg_cuda_last_error());
    if (cg_params_zero_grad(&m->p) != CG_OK)
        return cg_fail(ctx, CG_ERR_CUDA, "vae: zeroing gradients: %s", cg_cuda_last_error());
    /* the step's one wait on the GPU: after the update is queued */
    real v[3];
    if (vae_read_scalars(ctx, (cg_tensor *const[]){loss, rec, div}, 3, v) != CG_OK)
        return ctx->err;
    double n = x->shape[0];
    out->loss = v[0] / n;
    out->rec = v[1] / n;
    out->kl = v[2] / n;
    cg_ctx_step_end(ctx);
    return CG_OK;
}

cg_status cg_vae_train_step(cg_ctx *ctx, cg_vae *m, cg_adam *opt, const real *images, int n,
                            cg_rng *noise, cg_vae_stats *out)
{
    memset(out, 0, sizeof *out);
    cg_device dev = (cg_device)m->p.dev;
    cg_tensor *x = cg_vae_input_on(ctx, dev, images, n, m->a.x_dim);
    cg_tensor *eps = cg_new_on(ctx, dev, CG_SHAPE(n, m->a.latent));
    if (eps && cg_rng_fill_normal(noise, eps, 0.0, 1.0) != CG_OK)
        cg_fail(ctx, CG_ERR_CUDA, "vae: eps: %s", cg_cuda_last_error());
    if (!x || !eps || ctx->err)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    return cg_vae_step(ctx, m, opt, x, eps, out);
}

cg_status cg_vae_to_device(cg_vae *m, cg_device dev, char *err, size_t errlen)
{
    return dev == CG_CUDA ? cg_params_to_device(&m->p, err, errlen)
                          : cg_params_to_host(&m->p, err, errlen);
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

cg_tensor *cg_vae_input_on(cg_ctx *ctx, cg_device dev, const real *images, int n, int x_dim)
{
    cg_tensor *raw = cg_new_on(ctx, dev, CG_SHAPE(n, x_dim));
    if (raw && cg_copy_from_host(ctx, raw, images) != CG_OK)
        return NULL;
    /* (x + 1) / 2 as 0.5 x + 0.5 in double: exact before the one rounding to
     * float, so the same bits on both devices */
    return cg_affine(ctx, raw, 0.5, 0.5);
}

cg_tensor *cg_vae_input(cg_ctx *ctx, const real *images, int n, int x_dim)
{
    return cg_vae_input_on(ctx, CG_CPU, images, n, x_dim);
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
    char file[4096], why[1024];
    cg_st_file f;
    cg_status st = cg_st_load_run(&f, path, "vae.safetensors", file, sizeof file, err, errlen);
    if (st != CG_OK)
        return st;
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
    if ((st = cg_weights_load(file, &m->p, err, errlen)) != CG_OK)
        cg_vae_free(m);
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
