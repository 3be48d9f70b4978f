/*
 * vae_pictures.c: what a trained VAE looks like: samples from the prior,
 * reconstructions beside their inputs, latent traversals, interpolations and,
 * for a 2-D latent space, the decoded manifold (files listed in cugen/vae.h).
 * Every picture shows pixel means (cg_vae_means).
 *
 * Not for: training, evaluation numbers (vae.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/tape.h"
#include "cugen/vae.h"

#define PIC_STREAM 0x50494353u  /* "PICS" */
#define TRAVERSE_ROWS 16
#define TRAVERSE_STEPS 11
#define INTERP_ROWS 8
#define INTERP_STEPS 10
#define MANIFOLD 20

typedef struct {
    cg_vae *m;
    const cg_dataset *ds;
    const char *dir;
    cg_ctx *ctx;
    char *err;
    size_t errlen;
} pics;

cg_status cg_vae_decode_images(cg_ctx *ctx, cg_vae *m, const real *h, int n, real *out)
{
    cg_tensor *ht = cg_new_on(ctx, (cg_device)m->p.dev, CG_SHAPE(n, m->a.latent));
    if (ht)
        cg_copy_from_host(ctx, ht, h);
    cg_tensor *x = cg_vae_means(ctx, m, cg_vae_decode(ctx, m, ht));
    cg_status st = x ? CG_OK : ctx->err;
    for (int64_t i = 0; x && i < x->n; i++)
        out[i] = 2 * x->data[i] - 1;
    cg_ctx_step_end(ctx);
    return st;
}

void cg_vae_traversal_latents(real *h, int rows, int steps, int latent, const real *base)
{
    for (int d = 0; d < rows; d++)
        for (int j = 0; j < steps; j++) {
            real *row = h + (int64_t)(d * steps + j) * latent;
            for (int e = 0; e < latent; e++)
                row[e] = base ? base[e] : 0;
            row[d] = (real)(-3.0 + 6.0 * j / (steps - 1));
        }
}

/* pixel means of the decodings of h (n, latent), in [-1, 1] for the grid writer,
 * into out (n, D) */
static cg_status decode_to(pics *p, const real *h, int n, real *out)
{
    cg_status st = cg_vae_decode_images(p->ctx, p->m, h, n, out);
    if (st != CG_OK)
        snprintf(p->err, p->errlen, "vae: pictures: %s", p->ctx->errmsg);
    return st;
}

static cg_status grid(pics *p, const char *name, const real *x, int n, int nrow)
{
    char path[4096], why[512];
    snprintf(path, sizeof path, "%s/%s", p->dir, name);
    const cg_dataset *ds = p->ds;
    cg_status st = cg_png_write_grid(path, x, n, ds->channels, ds->height, ds->width, nrow,
                                     why, sizeof why);
    if (st != CG_OK)
        snprintf(p->err, p->errlen, "%s", why);
    return st;
}

/* posterior means of images [0, n) of the data set (taken in a fixed spread
 * over it, so that the rows show different classes), and the images */
static cg_status encode_some(pics *p, int n, real *mu_out, real *img_out)
{
    cg_ctx *ctx = p->ctx;
    int D = p->m->a.x_dim, L = p->m->a.latent;
    int64_t stride = p->ds->count / n > 0 ? p->ds->count / n : 1;
    cg_tensor *x = cg_new(ctx, CG_SHAPE(n, D));  /* host, then to the model's device */
    for (int i = 0; x && i < n; i++) {
        const uint8_t *src = p->ds->pixels + ((int64_t)i * stride % p->ds->count) * D;
        for (int j = 0; j < D; j++) {
            x->data[(int64_t)i * D + j] = (real)(src[j] / 255.0);
            img_out[(int64_t)i * D + j] = (real)(src[j] / 127.5 - 1.0);
        }
    }
    if (x && p->m->p.dev == CG_CUDA)
        x = cg_to_device(ctx, x, CG_CUDA);
    cg_tensor *mu, *lv;
    if (cg_vae_encode(ctx, p->m, x, &mu, &lv) != CG_OK ||
        cg_memcpy_to_host(ctx, mu_out, mu->data, (cg_device)mu->dev, (int64_t)n * L) != CG_OK) {
        snprintf(p->err, p->errlen, "vae: pictures: %s", ctx->errmsg);
        return ctx->err;
    }
    cg_ctx_step_end(ctx);
    return CG_OK;
}

static cg_status samples(pics *p, cg_rng *r, real *h, real *out)
{
    cg_rng_normal(r, h, 64 * (int64_t)p->m->a.latent, 0.0, 1.0);
    cg_status st = decode_to(p, h, 64, out);
    return st != CG_OK ? st : grid(p, "samples.png", out, 64, 8);
}

/* 32 images and their reconstructions (from the posterior means), in pairs */
static cg_status recon(pics *p, real *h, real *img, real *out, real *pairs)
{
    int n = 32, D = p->m->a.x_dim;
    cg_status st = encode_some(p, n, h, img);
    if (st == CG_OK)
        st = decode_to(p, h, n, out);
    if (st != CG_OK)
        return st;
    for (int i = 0; i < n; i++) {
        memcpy(pairs + (int64_t)(2 * i) * D, img + (int64_t)i * D, sizeof(real) * D);
        memcpy(pairs + (int64_t)(2 * i + 1) * D, out + (int64_t)i * D, sizeof(real) * D);
    }
    return grid(p, "recon.png", pairs, 2 * n, 16);
}

static cg_status traversal(pics *p, real *h, real *out)
{
    int L = p->m->a.latent, rows = L < TRAVERSE_ROWS ? L : TRAVERSE_ROWS;
    int n = rows * TRAVERSE_STEPS;
    cg_vae_traversal_latents(h, rows, TRAVERSE_STEPS, L, NULL);
    cg_status st = decode_to(p, h, n, out);
    return st != CG_OK ? st : grid(p, "traversal.png", out, n, TRAVERSE_STEPS);
}

static cg_status interpolation(pics *p, real *h, real *img, real *out)
{
    int L = p->m->a.latent, n = INTERP_ROWS * INTERP_STEPS;
    real *ends = h + (int64_t)n * L;  /* 2 * INTERP_ROWS posterior means after the rows */
    cg_status st = encode_some(p, 2 * INTERP_ROWS, ends, img);
    if (st != CG_OK)
        return st;
    for (int r = 0; r < INTERP_ROWS; r++)
        for (int j = 0; j < INTERP_STEPS; j++) {
            double t = (double)j / (INTERP_STEPS - 1);
            const real *a = ends + (int64_t)(2 * r) * L, *b = ends + (int64_t)(2 * r + 1) * L;
            for (int d = 0; d < L; d++)
                h[(int64_t)(r * INTERP_STEPS + j) * L + d] = (real)((1 - t) * a[d] + t * b[d]);
        }
    st = decode_to(p, h, n, out);
    return st != CG_OK ? st : grid(p, "interp.png", out, n, INTERP_STEPS);
}

/* rows from h2 = +3 (top) to -3, columns from h1 = -3 to +3 */
static cg_status manifold(pics *p, real *h, real *out)
{
    int n = MANIFOLD * MANIFOLD;
    for (int r = 0; r < MANIFOLD; r++)
        for (int c = 0; c < MANIFOLD; c++) {
            h[2 * (r * MANIFOLD + c)] = (real)(-3.0 + 6.0 * c / (MANIFOLD - 1));
            h[2 * (r * MANIFOLD + c) + 1] = (real)(3.0 - 6.0 * r / (MANIFOLD - 1));
        }
    cg_status st = decode_to(p, h, n, out);
    return st != CG_OK ? st : grid(p, "manifold.png", out, n, MANIFOLD);
}

cg_status cg_vae_pictures(cg_vae *m, const cg_dataset *ds, const char *dir, uint64_t seed,
                          char *err, size_t errlen)
{
    int D = m->a.x_dim, L = m->a.latent;
    if ((int64_t)ds->channels * ds->height * ds->width != D || ds->count < 1) {
        snprintf(err, errlen, "vae: pictures need images of %d values", D);
        return CG_ERR_ARG;
    }
    const int most = MANIFOLD * MANIFOLD;  /* the largest batch drawn */
    real *h = malloc(sizeof(real) * (size_t)most * (L > 2 ? L : 2));
    real *img = malloc(sizeof(real) * 32 * (size_t)D);
    real *out = malloc(sizeof(real) * (size_t)most * D);
    real *pairs = malloc(sizeof(real) * 64 * (size_t)D);
    cg_ctx ctx;
    int have_ctx = cg_ctx_init(&ctx) == CG_OK;
    cg_status st = CG_OK;
    if (!h || !img || !out || !pairs || !have_ctx) {
        snprintf(err, errlen, "vae: pictures: out of memory");
        st = CG_ERR_NOMEM;
    }
    pics p = {.m = m, .ds = ds, .dir = dir, .ctx = &ctx, .err = err, .errlen = errlen};
    cg_rng r;
    cg_rng_init(&r, seed, PIC_STREAM);
    if (st == CG_OK) {
        cg_set_grad(&ctx, 0);
        st = samples(&p, &r, h, out);
    }
    if (st == CG_OK)
        st = recon(&p, h, img, out, pairs);
    if (st == CG_OK)
        st = traversal(&p, h, out);
    if (st == CG_OK)
        st = interpolation(&p, h, img, out);
    if (st == CG_OK && L == 2)
        st = manifold(&p, h, out);
    if (have_ctx)
        cg_ctx_free(&ctx);
    free(h);
    free(img);
    free(out);
    free(pairs);
    return st;
}
