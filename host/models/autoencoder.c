/*
 * autoencoder.c: the plain autoencoder's networks, its loss and training
 * step, the codes of a data set, and loading from a file (architecture and
 * names in cugen/autoencoder.h).
 *
 * Not for: the run (autoencoder_train.c), the code statistics and pictures
 * (autoencoder_pictures.c), `cugen sample` (autoencoder_sample.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/autoencoder.h"
#include "cugen/cuda.h"
#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

#define SET_CHUNK 500   /* images encoded at a time by cg_ae_encode_set */
#define FILE_NAME "autoencoder.safetensors"   /* in a run directory */

cg_status cg_ae_build(cg_ae *m, const cg_ae_arch *a, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cg_params_init(&m->p);
    if (a->x_dim < 1 || a->x_dim > (1 << 20) || a->h1 < 1 || a->h1 > 65536 || a->h2 < 1 ||
        a->h2 > 65536 || a->latent < 1 || a->latent > 65536) {
        snprintf(err, errlen, "autoencoder: need 1 <= input size <= 2^20 and hidden widths and "
                 "latent from 1 to 65536; got %d-%d-%d-%d", a->x_dim, a->h1, a->h2, a->latent);
        return CG_ERR_ARG;
    }
    m->a = *a;
    cg_nn *nn = &m->nn;
    cg_nn_begin(nn, &m->p);
    cg_nn_linear_declare(nn, &m->enc1, "encoder.1", a->x_dim, a->h1, 1);
    cg_nn_linear_declare(nn, &m->enc3, "encoder.3", a->h1, a->h2, 1);
    cg_nn_linear_declare(nn, &m->enc5, "encoder.5", a->h2, a->latent, 1);
    cg_nn_linear_declare(nn, &m->dec0, "decoder.0", a->latent, a->h2, 1);
    cg_nn_linear_declare(nn, &m->dec2, "decoder.2", a->h2, a->h1, 1);
    cg_nn_linear_declare(nn, &m->dec4, "decoder.4", a->h1, a->x_dim, 1);
    char why[256];
    cg_status st = cg_nn_alloc(nn, why, sizeof why);
    if (st != CG_OK) {
        snprintf(err, errlen, "autoencoder: %s", why);
        cg_params_free(&m->p);
    }
    return st;
}

void cg_ae_init(cg_ae *m, uint64_t seed, uint32_t stream)
{
    cg_nn_init_seeded(&m->nn, seed, stream);
}

void cg_ae_free(cg_ae *m)
{
    cg_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

cg_status cg_ae_to_device(cg_ae *m, cg_device dev, char *err, size_t errlen)
{
    return dev == CG_CUDA ? cg_params_to_device(&m->p, err, errlen)
                          : cg_params_to_host(&m->p, err, errlen);
}

cg_tensor *cg_ae_encode(cg_ctx *ctx, cg_ae *m, cg_tensor *x)
{
    if (x && (x->ndim != 2 || x->shape[1] != m->a.x_dim)) {
        cg_fail(ctx, CG_ERR_ARG, "autoencoder: the encoder takes x (N, %d), got %s",
                m->a.x_dim, CG_SHAPE_STR(x));
        return NULL;
    }
    cg_tensor *h = cg_relu(ctx, cg_nn_linear_fwd(ctx, &m->enc1, x));
    h = cg_relu(ctx, cg_nn_linear_fwd(ctx, &m->enc3, h));
    return cg_nn_linear_fwd(ctx, &m->enc5, h);
}

cg_tensor *cg_ae_decode(cg_ctx *ctx, cg_ae *m, cg_tensor *z)
{
    if (z && (z->ndim != 2 || z->shape[1] != m->a.latent)) {
        cg_fail(ctx, CG_ERR_ARG, "autoencoder: the decoder takes codes (N, %d), got %s",
                m->a.latent, CG_SHAPE_STR(z));
        return NULL;
    }
    cg_tensor *h = cg_relu(ctx, cg_nn_linear_fwd(ctx, &m->dec0, z));
    h = cg_relu(ctx, cg_nn_linear_fwd(ctx, &m->dec2, h));
    return cg_tanh(ctx, cg_nn_linear_fwd(ctx, &m->dec4, h));
}

cg_tensor *cg_ae_loss(cg_ctx *ctx, cg_ae *m, cg_tensor *x, cg_tensor **recon)
{
    cg_tensor *y = cg_ae_decode(ctx, m, cg_ae_encode(ctx, m, x));
    if (recon)
        *recon = y;
    return cg_mse(ctx, y, x, CG_REDUCE_MEAN);
}

cg_status cg_ae_step(cg_ctx *ctx, cg_ae *m, cg_adam *opt, cg_tensor *x, double *loss)
{
    *loss = 0;
    if (ctx->err)
        return ctx->err;
    if (x && x->dev != m->p.dev)
        return cg_fail(ctx, CG_ERR_ARG, "autoencoder: the batch and the parameters must be on "
                       "one device");
    cg_tensor *l = cg_ae_loss(ctx, m, x, NULL);
    if (!l || cg_backward(ctx, l) != CG_OK)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    cg_status st = cg_adam_step(opt, &m->p);
    if (st != CG_OK)
        return cg_fail(ctx, st, "autoencoder: Adam step failed: %s", cg_cuda_last_error());
    if (cg_params_zero_grad(&m->p) != CG_OK)
        return cg_fail(ctx, CG_ERR_CUDA, "autoencoder: zeroing gradients: %s",
                       cg_cuda_last_error());
    real v;  /* the step's one wait on the GPU: after the update is queued */
    if (cg_memcpy_to_host(ctx, &v, l->data, (cg_device)l->dev, 1) != CG_OK)
        return ctx->err;
    *loss = v;
    cg_ctx_step_end(ctx);
    return CG_OK;
}

/* images [at, at + k) of ds as the loader gives them, (k, D) on dev */
static cg_tensor *set_images(cg_ctx *ctx, cg_device dev, const cg_dataset *ds, int64_t at,
                             int k, real *host)
{
    int64_t D = (int64_t)ds->channels * ds->height * ds->width;
    const uint8_t *src = ds->pixels + at * D;
    for (int64_t i = 0; i < k * D; i++)
        host[i] = (real)(src[i] / 127.5 - 1.0);
    cg_tensor *x = cg_new_on(ctx, dev, CG_SHAPE(k, (int)D));
    if (x && cg_copy_from_host(ctx, x, host) != CG_OK)
        return NULL;
    return x;
}

cg_status cg_ae_encode_set(cg_ae *m, const cg_dataset *ds, int64_t n, real *codes,
                           double *mse, char *err, size_t errlen)
{
    int D = m->a.x_dim, Z = m->a.latent;
    if ((int64_t)ds->channels * ds->height * ds->width != D || ds->count < 1) {
        snprintf(err, errlen, "autoencoder: %s: need images of %d values, got %dx%dx%d",
                 ds->name, D, ds->channels, ds->height, ds->width);
        return CG_ERR_ARG;
    }
    if (n <= 0 || n > ds->count)
        n = ds->count;
    real *host = malloc(sizeof(real) * SET_CHUNK * (size_t)D);
    cg_ctx ctx;
    if (!host || cg_ctx_init(&ctx) != CG_OK) {
        free(host);
        snprintf(err, errlen, "autoencoder: out of memory");
        return CG_ERR_NOMEM;
    }
    cg_set_grad(&ctx, 0);
    cg_device dev = (cg_device)m->p.dev;
    double sum = 0;
    cg_status st = CG_OK;
    for (int64_t at = 0; at < n && st == CG_OK; at += SET_CHUNK) {
        int k = (int)(n - at < SET_CHUNK ? n - at : SET_CHUNK);
        cg_tensor *x = set_images(&ctx, dev, ds, at, k, host);
        cg_tensor *z = cg_ae_encode(&ctx, m, x);
        if (z && codes)
            cg_memcpy_to_host(&ctx, codes + at * Z, z->data, dev, (int64_t)k * Z);
        if (mse) {
            /* the sum over the chunk, so that the mean is over every value */
            cg_tensor *e = cg_mse(&ctx, cg_ae_decode(&ctx, m, z), x, CG_REDUCE_SUM);
            real v;
            if (e && cg_memcpy_to_host(&ctx, &v, e->data, dev, 1) == CG_OK)
                sum += v;
        }
        if ((st = ctx.err) != CG_OK)
            snprintf(err, errlen, "autoencoder: %s: %s", ds->name, ctx.errmsg);
        cg_ctx_step_end(&ctx);
    }
    if (mse)
        *mse = sum / ((double)n * D);
    cg_ctx_free(&ctx);
    free(host);
    return st;
}

cg_status cg_ae_decode_host(cg_ctx *ctx, cg_ae *m, const real *z, int n, real *out)
{
    cg_device dev = (cg_device)m->p.dev;
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *zt = cg_new_on(ctx, dev, CG_SHAPE(n, m->a.latent));
    if (zt)
        cg_copy_from_host(ctx, zt, z);
    cg_tensor *y = cg_ae_decode(ctx, m, zt);
    if (y)
        cg_memcpy_to_host(ctx, out, y->data, dev, y->n);
    cg_status st = ctx->err;
    cg_set_grad(ctx, prev);
    cg_ctx_step_end(ctx);
    return st;
}

/* ---- loading ---------------------------------------------------------------- */

/* The sizes from the names and shapes; 0 when it is no autoencoder. */
static int arch_of(const cg_st_file *f, cg_ae_arch *a)
{
    const cg_st_tensor *e1 = cg_st_find(f, "encoder.1.weight");
    const cg_st_tensor *e3 = cg_st_find(f, "encoder.3.weight");
    const cg_st_tensor *e5 = cg_st_find(f, "encoder.5.weight");
    const cg_st_tensor *d4 = cg_st_find(f, "decoder.4.weight");
    if (!e1 || !e3 || !e5 || !d4 || e1->ndim != 2 || e3->ndim != 2 || e5->ndim != 2)
        return 0;
    a->x_dim = (int)e1->shape[1];
    a->h1 = (int)e1->shape[0];
    a->h2 = (int)e3->shape[0];
    a->latent = (int)e5->shape[0];
    return 1;
}

cg_status cg_ae_load(const char *path, cg_ae *m, char *err, size_t errlen)
{
    char file[4096], why[1024];
    cg_st_file f;
    cg_status st = cg_st_load_run(&f, path, FILE_NAME, file, sizeof file, err, errlen);
    if (st != CG_OK)
        return st;
    cg_ae_arch a = {0};
    int ok = arch_of(&f, &a);
    cg_st_free(&f);
    if (!ok) {
        snprintf(err, errlen, "%s: not an autoencoder (no 2-D encoder.1.weight, encoder.3.weight, "
                 "encoder.5.weight and decoder.4.weight)", file);
        return CG_ERR_ARG;
    }
    if ((st = cg_ae_build(m, &a, why, sizeof why)) != CG_OK) {
        snprintf(err, errlen, "%s: %s", file, why);
        return st;
    }
    if ((st = cg_weights_load(file, &m->p, err, errlen)) != CG_OK)
        cg_ae_free(m);
    return st;
}

int cg_ae_is_checkpoint(const char *path)
{
    char file[4096];
    cg_st_file f;
    if (cg_st_load_run(&f, path, FILE_NAME, file, sizeof file, NULL, 0) != CG_OK)
        return 0;
    cg_ae_arch a;
    int yes = arch_of(&f, &a);
    cg_st_free(&f);
    return yes;
}
