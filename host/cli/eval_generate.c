/*
 * eval_generate.c: a VAE, DDPM or image RealNVP run as the fake set of
 * `cugen eval --metric mmd|fid`: n images in [-1, 1] drawn in chunks, so
 * that 10,000 of them fit in memory whatever the model.
 *
 *   vae      decodings of z ~ N(0, I) (an MLP VAE: square gray images)
 *   ddpm     DDIM with --ddim-steps steps (eta 0) from the EMA weights, on
 *            the GPU when eval runs there
 *   realnvp  the inverse flow of z ~ N(0, I) (temperature 1)
 *
 * Not for: the mlp-gan and dcgan generators (eval_samples.c), pictures.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cugen/ddpm.h"
#include "cugen/flow.h"
#include "cugen/tape.h"
#include "cugen/train.h"
#include "cugen/vae.h"

#define GEN_STREAM 0x4745454eu  /* "GEEN" */

/* "generating 640/10000 images" on stderr, every chunk, when it takes a while */
static void progress(const char *kind, int64_t done, int64_t n, double t0)
{
    double secs = cg_monotonic_seconds() - t0;
    if (n > 64)
        fprintf(stderr, "cugen eval: %s: %lld/%lld images generated (%.0f s)\n", kind,
                (long long)done, (long long)n, secs);
}

static cg_status from_vae(const char *path, int64_t n, uint64_t seed, eval_images *s,
                          char *err, size_t errlen)
{
    cg_vae m;
    cg_status st = cg_vae_load(path, &m, err, errlen);
    if (st != CG_OK)
        return st;
    int C = m.a.channels, S = m.a.size, L = m.a.latent;
    if (m.a.kind == CG_VAE_MLP) {
        C = 1;
        for (S = 1; S * S < m.a.x_dim; S++)
            ;
        if (S * S != m.a.x_dim) {
            snprintf(err, errlen, "%s: an MLP VAE of %d inputs is not a square gray image",
                     path, m.a.x_dim);
            cg_vae_free(&m);
            return CG_ERR_ARG;
        }
    }
    enum { CH = 500 };
    int64_t P = m.a.x_dim;
    s->x = malloc(sizeof(real) * (size_t)(n * P));
    real *h = malloc(sizeof(real) * (size_t)CH * L);
    cg_ctx ctx;
    if (!s->x || !h || cg_ctx_init(&ctx) != CG_OK) {
        free(h);
        cg_vae_free(&m);
        snprintf(err, errlen, "out of memory for %lld images", (long long)n);
        return CG_ERR_NOMEM;
    }
    cg_rng r;
    cg_rng_init(&r, seed, GEN_STREAM);
    cg_set_grad(&ctx, 0);
    for (int64_t at = 0; at < n && st == CG_OK; at += CH) {
        int k = (int)(n - at < CH ? n - at : CH);
        cg_rng_normal(&r, h, (int64_t)k * L, 0.0, 1.0);
        if ((st = cg_vae_decode_images(&ctx, &m, h, k, s->x + at * P)) != CG_OK)
            snprintf(err, errlen, "%s", ctx.errmsg);
        cg_ctx_step_end(&ctx);
    }
    cg_ctx_free(&ctx);
    free(h);
    cg_vae_free(&m);
    s->n = n, s->c = C, s->h = s->w = S;
    return st;
}

static cg_status from_flow(const char *path, int64_t n, uint64_t seed, eval_images *s,
                           char *err, size_t errlen)
{
    cg_flowimg m;
    cg_status st = cg_flowimg_load(path, &m, err, errlen);
    if (st != CG_OK)
        return st;
    m.training = 0;
    enum { CH = 64 };
    int C = m.a.channels, S = m.a.size;
    int64_t D = (int64_t)C * S * S;
    s->x = malloc(sizeof(real) * (size_t)(n * D));
    cg_ctx ctx;
    if (!s->x || cg_ctx_init(&ctx) != CG_OK) {
        cg_flowimg_free(&m);
        snprintf(err, errlen, "out of memory for %lld images", (long long)n);
        return CG_ERR_NOMEM;
    }
    cg_rng r;
    cg_rng_init(&r, seed, GEN_STREAM);
    cg_rng_normal(&r, s->x, n * D, 0.0, 1.0);
    cg_set_grad(&ctx, 0);
    double t0 = cg_monotonic_seconds();
    for (int64_t at = 0; at < n && st == CG_OK; at += CH) {
        int k = (int)(n - at < CH ? n - at : CH);
        cg_tensor *y = cg_flowimg_inverse(&ctx, &m, cg_wrap(&ctx, s->x + at * D,
                                                            CG_SHAPE(k, (int)D)));
        if (!y) {
            snprintf(err, errlen, "%s", ctx.errmsg);
            st = ctx.err ? ctx.err : CG_ERR_NUMERIC;
        } else {
            memcpy(s->x + at * D, y->data, sizeof(real) * (size_t)(k * D));
        }
        cg_ctx_step_end(&ctx);
        if ((at / CH) % 16 == 15)
            progress("realnvp", at + k, n, t0);
    }
    cg_ctx_free(&ctx);
    cg_flowimg_free(&m);
    int64_t bad = 0;
    for (int64_t i = 0; st == CG_OK && i < n * D; i++)
        bad += !isfinite(s->x[i]);
    if (bad) {
        snprintf(err, errlen, "%s: %lld of the generated values are not finite (the inverse "
                 "flow overflowed)", path, (long long)bad);
        st = CG_ERR_NUMERIC;
    }
    if (st == CG_OK)
        cg_flowimg_to_pixels(s->x, n * D);
    s->n = n, s->c = C, s->h = s->w = S;
    return st;
}

static cg_status from_ddpm(const char *path, int64_t n, uint64_t seed, int steps,
                           cg_device dev, eval_images *s, char *err, size_t errlen)
{
    cg_unet m;
    cg_ddpm_sched sc;
    cg_status st = cg_ddpm_load(path, &m, &sc, 1, err, errlen);
    if (st != CG_OK)
        return st;
    if (steps > sc.T) {
        snprintf(err, errlen, "--ddim-steps %d: the model has only %d timesteps", steps, sc.T);
        st = CG_ERR_ARG;
    } else if (dev == CG_CUDA) {
        char why[1024];
        if ((st = cg_params_to_device(&m.p, why, sizeof why)) != CG_OK)
            snprintf(err, errlen, "parameters to the GPU: %s", why);
    }
    enum { CH = 64 };
    int64_t P = (int64_t)m.a.in_ch * m.a.image_size * m.a.image_size;
    cg_ctx ctx;
    if (st == CG_OK) {
        s->x = malloc(sizeof(real) * (size_t)(n * P));
        if (!s->x || cg_ctx_init(&ctx) != CG_OK) {
            snprintf(err, errlen, "out of memory for %lld images", (long long)n);
            st = CG_ERR_NOMEM;
        }
    }
    if (st != CG_OK) {
        cg_unet_free(&m);
        cg_ddpm_sched_free(&sc);
        return st;
    }
    cg_rng r;
    cg_rng_init(&r, seed, GEN_STREAM);
    cg_set_grad(&ctx, 0);
    double t0 = cg_monotonic_seconds();
    for (int64_t at = 0; at < n && st == CG_OK; at += CH) {
        int k = (int)(n - at < CH ? n - at : CH);
        real *x = s->x + at * P;
        cg_rng_normal(&r, x, (int64_t)k * P, 0.0, 1.0);
        st = cg_ddpm_sample(&ctx, &m, &sc, x, k, steps, 1, &r, NULL, 0, err, errlen);
        progress("ddpm", at + k, n, t0);
    }
    cg_ctx_free(&ctx);
    s->n = n, s->c = m.a.in_ch, s->h = s->w = m.a.image_size;
    cg_unet_free(&m);
    cg_ddpm_sched_free(&sc);
    return st;
}

cg_status eval_generate(const char *path, int64_t n, uint64_t seed, int ddim_steps,
                        cg_device dev, eval_images *s, int *handled, char *err, size_t errlen)
{
    *handled = 1;
    memset(s, 0, sizeof *s);
    cg_status st;
    const char *kind;
    if (cg_vae_is_checkpoint(path))
        kind = "vae", st = from_vae(path, n, seed, s, err, errlen);
    else if (cg_ddpm_is_checkpoint(path))
        kind = "ddpm", st = from_ddpm(path, n, seed, ddim_steps, dev, s, err, errlen);
    else if (cli_is_flow_file(path))
        kind = "realnvp", st = from_flow(path, n, seed, s, err, errlen);
    else
        return *handled = 0, CG_OK;
    if (st != CG_OK) {
        free(s->x);
        s->x = NULL;
        return st;
    }
    snprintf(s->what, sizeof s->what, "%.100s (%s, generated, seed %llu)", path, kind,
             (unsigned long long)seed);
    return CG_OK;
}
