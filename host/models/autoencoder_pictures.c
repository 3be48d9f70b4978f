/*
 * autoencoder_pictures.c: the autoencoder's code space: the statistics of a
 * run's codes (codes.safetensors) and draws from their Gaussian, and the
 * pictures of a trained model: reconstructions, decoded samples and, with a
 * 2-D code, the article's two views of the code space, the test codes
 * coloured by class and the decoded grid over them (cugen/autoencoder.h).
 *
 * Not for: the networks (autoencoder.c), the run (autoencoder_train.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/autoencoder.h"
#include "cugen/io.h"
#include "cugen/metrics.h"
#include "cugen/tape.h"

#define PIC_STREAM 0x50494353u  /* "PICS": the codes of samples.png, of the seed */
#define RECON_N 32
#define SAMPLES_N 64
#define MANIFOLD 15             /* the article's torch.linspace(-3, 3, 15), over the codes */
#define MAX_CLASSES 10          /* coloured apart; more share the last colour */

/* ---- the codes' statistics ------------------------------------------------ */

void cg_ae_codes_free(cg_ae_codes *c)
{
    free(c->mean);
    free(c->cov);
    free(c->lo);
    free(c->hi);
    memset(c, 0, sizeof *c);
}

static cg_status codes_alloc(cg_ae_codes *c, int latent, char *err, size_t errlen)
{
    size_t Z = (size_t)latent;
    memset(c, 0, sizeof *c);
    c->latent = latent;
    c->mean = calloc(Z, sizeof(double));
    c->cov = calloc(Z * Z, sizeof(double));
    c->lo = calloc(Z, sizeof(double));
    c->hi = calloc(Z, sizeof(double));
    if (c->mean && c->cov && c->lo && c->hi)
        return CG_OK;
    cg_ae_codes_free(c);
    snprintf(err, errlen, "autoencoder: out of memory for the codes' statistics");
    return CG_ERR_NOMEM;
}

cg_status cg_ae_codes_fit(cg_ae_codes *c, int latent, const real *codes, int64_t n,
                          const real *range, int64_t nr, char *err, size_t errlen)
{
    if (n < 1 || nr < 1) {
        snprintf(err, errlen, "autoencoder: no codes to fit");
        return CG_ERR_ARG;
    }
    cg_status st = codes_alloc(c, latent, err, errlen);
    if (st != CG_OK)
        return st;
    int Z = latent;
    for (int64_t i = 0; i < n; i++)
        for (int d = 0; d < Z; d++)
            c->mean[d] += codes[i * Z + d];
    for (int d = 0; d < Z; d++)
        c->mean[d] /= (double)n;
    for (int64_t i = 0; i < n; i++)  /* around the mean: no cancellation */
        for (int d = 0; d < Z; d++)
            for (int e = 0; e <= d; e++)
                c->cov[d * Z + e] += (codes[i * Z + d] - c->mean[d]) *
                                     (codes[i * Z + e] - c->mean[e]);
    for (int d = 0; d < Z; d++)
        for (int e = 0; e <= d; e++)
            c->cov[e * Z + d] = c->cov[d * Z + e] /= (double)n;
    for (int d = 0; d < Z; d++) {
        c->lo[d] = c->hi[d] = range[d];
        for (int64_t i = 1; i < nr; i++) {
            double v = range[i * Z + d];
            c->lo[d] = v < c->lo[d] ? v : c->lo[d];
            c->hi[d] = v > c->hi[d] ? v : c->hi[d];
        }
    }
    return CG_OK;
}

static const char *const CODE_NAMES[4] = {"mean", "cov", "lo", "hi"};

static double *codes_field(const cg_ae_codes *c, int k)
{
    return k == 0 ? c->mean : k == 1 ? c->cov : k == 2 ? c->lo : c->hi;
}

cg_status cg_ae_codes_save(const cg_ae_codes *c, const char *path, char *err, size_t errlen)
{
    int64_t Z = c->latent;
    float *buf = malloc(sizeof(float) * (size_t)(Z * Z + 3 * Z));
    if (!buf) {
        snprintf(err, errlen, "autoencoder: out of memory");
        return CG_ERR_NOMEM;
    }
    cg_st_tensor t[4];
    float *at = buf;
    for (int k = 0; k < 4; k++) {
        int64_t n = k == 1 ? Z * Z : Z;
        for (int64_t i = 0; i < n; i++)
            at[i] = (float)codes_field(c, k)[i];
        t[k] = (cg_st_tensor){.name = CODE_NAMES[k], .dtype = CG_ST_F32, .ndim = k == 1 ? 2 : 1,
                              .shape = {Z, Z}, .data = at, .nbytes = sizeof(float) * (size_t)n};
        at += n;
    }
    cg_status st = cg_st_save(path, t, 4, NULL, 0, err, errlen);
    free(buf);
    return st;
}

cg_status cg_ae_codes_load(cg_ae_codes *c, int latent, const char *path, char *err,
                           size_t errlen)
{
    memset(c, 0, sizeof *c);
    cg_st_file f;
    char why[1024];
    if (cg_st_load(&f, path, why, sizeof why) != CG_OK) {
        snprintf(err, errlen, "%s (the statistics of the codes, written at the end of a "
                 "training run: end the run with --resume)", why);
        return CG_ERR_ARG;
    }
    cg_status st = codes_alloc(c, latent, err, errlen);
    for (int k = 0; k < 4 && st == CG_OK; k++) {
        const cg_st_tensor *t = cg_st_find(&f, CODE_NAMES[k]);
        int64_t n = k == 1 ? (int64_t)latent * latent : latent;
        if (!t || t->dtype != CG_ST_F32 || cg_st_numel(t) != n) {
            snprintf(err, errlen, "%s: no F32 tensor %s of %lld values (a latent of %d)", path,
                     CODE_NAMES[k], (long long)n, latent);
            st = CG_ERR_ARG;
            break;
        }
        for (int64_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, (const char *)t->data + i * sizeof v, sizeof v);
            codes_field(c, k)[i] = v;
        }
    }
    cg_st_free(&f);
    if (st != CG_OK)
        cg_ae_codes_free(c);
    return st;
}

cg_status cg_ae_codes_draw(const cg_ae_codes *c, cg_rng *r, real *z, int n, char *err,
                           size_t errlen)
{
    int Z = c->latent;
    double *v = malloc(sizeof(double) * (size_t)Z * Z), *w = malloc(sizeof(double) * Z);
    real *eps = malloc(sizeof(real) * (size_t)Z);
    cg_status st = v && w && eps ? CG_OK : CG_ERR_NOMEM;
    if (st == CG_OK) {
        memcpy(v, c->cov, sizeof(double) * (size_t)Z * Z);
        st = cg_sym_eig(Z, v, w);
    }
    for (int i = 0; i < n && st == CG_OK; i++) {
        cg_rng_normal(r, eps, Z, 0.0, 1.0);
        for (int d = 0; d < Z; d++) {
            double s = c->mean[d];
            for (int k = 0; k < Z; k++)
                s += v[d * Z + k] * sqrt(w[k] > 0 ? w[k] : 0) * eps[k];
            z[(int64_t)i * Z + d] = (real)s;
        }
    }
    if (st != CG_OK)
        snprintf(err, errlen, "autoencoder: the codes' covariance: %s",
                 st == CG_ERR_NOMEM ? "out of memory" : "no eigen-decomposition");
    free(v);
    free(w);
    free(eps);
    return st;
}

void cg_ae_grid_codes(const cg_ae_codes *c, int k, real *z)
{
    for (int r = 0; r < k; r++)
        for (int j = 0; j < k; j++) {
            z[2 * (r * k + j)] = (real)(c->lo[0] + (c->hi[0] - c->lo[0]) * j / (k - 1));
            z[2 * (r * k + j) + 1] = (real)(c->hi[1] - (c->hi[1] - c->lo[1]) * r / (k - 1));
        }
}

/* ---- pictures ------------------------------------------------------------ */

typedef struct {
    cg_ae *m;
    const cg_dataset *ds;
    const char *dir;
    cg_ctx *ctx;
    real *z, *out;   /* MANIFOLD^2 codes and images at most */
    char *err;
    size_t errlen;
} pics;

static cg_status grid(pics *p, const char *name, const real *x, int n, int nrow)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", p->dir, name);
    const cg_dataset *ds = p->ds;
    return cg_png_write_grid(path, x, n, ds->channels, ds->height, ds->width, nrow, p->err,
                             p->errlen);
}

static cg_status decode(pics *p, int n)
{
    cg_status st = cg_ae_decode_host(p->ctx, p->m, p->z, n, p->out);
    if (st != CG_OK)
        snprintf(p->err, p->errlen, "autoencoder: pictures: %s", p->ctx->errmsg);
    return st;
}

/* RECON_N test images spread over the set, each followed by its reconstruction */
static cg_status recon(pics *p)
{
    int D = p->m->a.x_dim;
    int64_t stride = p->ds->count / RECON_N > 0 ? p->ds->count / RECON_N : 1;
    real *pairs = malloc(sizeof(real) * 2 * RECON_N * (size_t)D);
    cg_ctx *ctx = p->ctx;
    cg_tensor *x = pairs ? cg_new(ctx, CG_SHAPE(RECON_N, D)) : NULL;
    for (int i = 0; x && i < RECON_N; i++) {
        const uint8_t *src = p->ds->pixels + (i * stride % p->ds->count) * D;
        for (int j = 0; j < D; j++)
            x->data[(int64_t)i * D + j] = (real)(src[j] / 127.5 - 1.0);
    }
    cg_status st = CG_ERR_NOMEM;
    if (!x) {
        snprintf(p->err, p->errlen, "autoencoder: pictures: out of memory");
    } else {
        int prev = cg_set_grad(ctx, 0);
        cg_tensor *xd = p->m->p.dev == CG_CUDA ? cg_to_device(ctx, x, CG_CUDA) : x;
        cg_tensor *z = cg_ae_encode(ctx, p->m, xd);
        if (z)
            cg_memcpy_to_host(ctx, p->z, z->data, (cg_device)z->dev, z->n);
        cg_set_grad(ctx, prev);
        for (int i = 0; i < RECON_N && !ctx->err; i++)
            memcpy(pairs + (int64_t)2 * i * D, x->data + (int64_t)i * D, sizeof(real) * D);
        st = ctx->err ? ctx->err : CG_OK;
        if (st != CG_OK)
            snprintf(p->err, p->errlen, "autoencoder: pictures: %s", ctx->errmsg);
        cg_ctx_step_end(ctx);
    }
    if (st == CG_OK)
        st = decode(p, RECON_N);
    for (int i = 0; st == CG_OK && i < RECON_N; i++)
        memcpy(pairs + (int64_t)(2 * i + 1) * D, p->out + (int64_t)i * D, sizeof(real) * D);
    if (st == CG_OK)
        st = grid(p, "recon.png", pairs, 2 * RECON_N, 16);
    free(pairs);
    return st;
}

static cg_status samples(pics *p, const cg_ae_codes *codes, uint64_t seed)
{
    cg_rng r;
    cg_rng_init(&r, seed, PIC_STREAM);
    cg_status st = cg_ae_codes_draw(codes, &r, p->z, SAMPLES_N, p->err, p->errlen);
    if (st == CG_OK)
        st = decode(p, SAMPLES_N);
    return st == CG_OK ? grid(p, "samples.png", p->out, SAMPLES_N, 8) : st;
}

static cg_status manifold(pics *p, const cg_ae_codes *codes)
{
    cg_ae_grid_codes(codes, MANIFOLD, p->z);
    cg_status st = decode(p, MANIFOLD * MANIFOLD);
    return st == CG_OK ? grid(p, "manifold.png", p->out, MANIFOLD * MANIFOLD, MANIFOLD) : st;
}

/* matplotlib's tab10 colours */
static const uint8_t TAB10[MAX_CLASSES][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
    {140, 86, 75}, {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};
static const char *const FASHION[MAX_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

/* the test codes, one series per class (the last colour for every class from
 * MAX_CLASSES - 1 on), or one series without labels */
static cg_status scatter(pics *p, const real *codes)
{
    const cg_dataset *ds = p->ds;
    int64_t n = ds->count;
    int K = ds->labels && ds->num_classes > 0 ? ds->num_classes : 1;
    int S = K < MAX_CLASSES ? K : MAX_CLASSES;
    real *xy = malloc(sizeof(real) * 2 * (size_t)n);
    if (!xy) {
        snprintf(p->err, p->errlen, "autoencoder: pictures: out of memory");
        return CG_ERR_NOMEM;
    }
    cg_plot_series s[MAX_CLASSES];
    char names[MAX_CLASSES][32];
    int fashion = strncmp(ds->name, "fashion-mnist", 13) == 0 && K == MAX_CLASSES;
    int64_t at = 0;
    for (int k = 0; k < S; k++) {
        int64_t first = at;
        for (int64_t i = 0; i < n; i++) {
            int y = K > 1 ? ds->labels[i] : 0;
            if (y == k || (k == S - 1 && y > k)) {
                xy[2 * at] = codes[2 * i];
                xy[2 * at + 1] = codes[2 * i + 1];
                at++;
            }
        }
        if (K == 1)
            snprintf(names[k], sizeof names[k], "test codes");
        else if (fashion)
            snprintf(names[k], sizeof names[k], "%s", FASHION[k]);
        else if (k == S - 1 && K > S)
            snprintf(names[k], sizeof names[k], "%d-%d", k, K - 1);
        else
            snprintf(names[k], sizeof names[k], "%d", k);
        s[k] = (cg_plot_series){.xy = xy + 2 * first, .n = (int)(at - first), .size = 2,
                                .label = names[k]};
        memcpy(s[k].rgb, TAB10[k], 3);
    }
    char path[4096], title[96];
    snprintf(path, sizeof path, "%s/codes.png", p->dir);
    snprintf(title, sizeof title, "codes of %lld test images", (long long)n);
    cg_plot_opts o = {.width = 640, .height = 640, .title = title};
    cg_status st = cg_png_plot(path, s, S, &o, p->err, p->errlen);
    free(xy);
    return st;
}

cg_status cg_ae_pictures(cg_ae *m, const cg_dataset *test, const real *test_codes,
                         const cg_ae_codes *codes, const char *dir, uint64_t seed, char *err,
                         size_t errlen)
{
    int D = m->a.x_dim;
    if ((int64_t)test->channels * test->height * test->width != D || test->count < 1) {
        snprintf(err, errlen, "autoencoder: pictures need images of %d values", D);
        return CG_ERR_ARG;
    }
    int most = MANIFOLD * MANIFOLD > SAMPLES_N ? MANIFOLD * MANIFOLD : SAMPLES_N;
    pics p = {.m = m, .ds = test, .dir = dir, .err = err, .errlen = errlen};
    p.z = malloc(sizeof(real) * (size_t)most * m->a.latent);
    p.out = malloc(sizeof(real) * (size_t)most * D);
    cg_ctx ctx;
    int have_ctx = cg_ctx_init(&ctx) == CG_OK;
    p.ctx = &ctx;
    cg_status st = CG_OK;
    if (!p.z || !p.out || !have_ctx) {
        snprintf(err, errlen, "autoencoder: pictures: out of memory");
        st = CG_ERR_NOMEM;
    }
    if (st == CG_OK)
        st = recon(&p);
    if (st == CG_OK)
        st = samples(&p, codes, seed);
    if (st == CG_OK && m->a.latent == 2)
        st = manifold(&p, codes);
    if (st == CG_OK && m->a.latent == 2)
        st = scatter(&p, test_codes);
    if (have_ctx)
        cg_ctx_free(&ctx);
    free(p.z);
    free(p.out);
    return st;
}
