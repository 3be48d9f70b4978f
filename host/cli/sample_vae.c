/*
 * sample_vae.c: `cugen sample RUN` for a VAE (cugen train vae, either
 * architecture, or the article's module saved by PyTorch): pixel means of
 * decoded latents as one PNG grid.
 *
 *   default        --n decodings of h ~ N(0, I) (Philox, --seed), 8 per row
 *   --interpolate  rows of 8 on straight lines between two random latent
 *                  points (the latents of the DCGAN's --interpolate)
 *   --traverse     one row per latent dimension (at most MAX_ROWS): that
 *                  dimension swept over [-3, 3] in TRAVERSE_STEPS steps, the
 *                  others fixed at one draw from the prior (--seed)
 *
 * Sampling runs on the CPU: a grid is a few hundred decodings.
 *
 * Not for: flags shared with the other samplers and the dispatch (sample.c),
 * the pictures of a training run (models/vae_pictures.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cugen/io.h"
#include "cugen/tape.h"
#include "cugen/vae.h"

#define PER_ROW 8
#define TRAVERSE_STEPS 11
#define MAX_ROWS 64
#define SAMPLE_STREAM 0x53414d50u  /* "SAMP", as the DCGAN's latents */

/* a flag of the other samplers, or a combination without a meaning: the
 * message, else NULL */
static const char *refused(const arg_opt *opts, int nopts, int interpolate, int traverse,
                           char *buf, size_t len)
{
    static const char *const dcgan[] = {"bn"}, *const ddpm[] = {"sampler", "ddim-steps", "progress",
                                                                "no-clip"};
    for (int i = 0; i < nopts; i++) {
        if (!opts[i].seen)
            continue;
        for (size_t j = 0; j < sizeof dcgan / sizeof *dcgan; j++)
            if (strcmp(opts[i].name, dcgan[j]) == 0)
                snprintf(buf, len, "--%s is for DCGAN generators", opts[i].name);
        for (size_t j = 0; j < sizeof ddpm / sizeof *ddpm; j++)
            if (strcmp(opts[i].name, ddpm[j]) == 0)
                snprintf(buf, len, "--%s is for DDPM checkpoints", opts[i].name);
        if (strcmp(opts[i].name, "device") == 0 &&
            strcmp(*(const char *const *)opts[i].dst, "cuda") == 0)
            snprintf(buf, len, "--device cuda: VAEs sample on the CPU only");
        if (traverse && strcmp(opts[i].name, "n") == 0)
            snprintf(buf, len, "--n does not apply to --traverse (one row per latent "
                     "dimension)");
        if (buf[0])
            return buf;
    }
    if (traverse && interpolate)
        return "--traverse and --interpolate exclude each other";
    return NULL;
}

int cli_sample_vae(const char *ckpt, const arg_opt *opts, int nopts, int n, uint64_t seed,
                   const char *out, int interpolate, int traverse, const char *dump)
{
    const char *cmd = "cugen sample";
    char why[128] = "";
    const char *no = refused(opts, nopts, interpolate, traverse, why, sizeof why);
    if (no) {
        fprintf(stderr, "%s: %s; %s is a VAE\n", cmd, no, ckpt);
        return 2;
    }
    cg_vae m;
    char err[4600];
    cg_status st = cg_vae_load(ckpt, &m, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return st == CG_ERR_ARG || st == CG_ERR_IO ? 2 : 1;
    }
    int L = m.a.latent, rows = L < MAX_ROWS ? L : MAX_ROWS, C = m.a.channels, S = m.a.size;
    if (m.a.kind == CG_VAE_MLP) {
        /* the MLP knows only its input size: square gray images (28 x 28 for the article) */
        C = 1;
        for (S = 1; S * S < m.a.x_dim; S++)
            ;
        if (S * S != m.a.x_dim) {
            fprintf(stderr, "%s: %s: an MLP VAE of %d inputs is not a square gray image\n",
                    cmd, ckpt, m.a.x_dim);
            cg_vae_free(&m);
            return 2;
        }
    }
    if (traverse)
        n = rows * TRAVERSE_STEPS;
    real *h = malloc(sizeof(real) * (size_t)(n + 1) * L);
    real *x = malloc(sizeof(real) * (size_t)n * m.a.x_dim);
    cg_ctx ctx;
    int code = 0;
    if (!h || !x || cg_ctx_init(&ctx) != CG_OK) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        free(h);
        free(x);
        cg_vae_free(&m);
        return 1;
    }
    if (traverse) {
        real *base = h + (size_t)n * L;  /* one draw from the prior, after the rows */
        cg_rng r;
        cg_rng_init(&r, seed, SAMPLE_STREAM);
        cg_rng_normal(&r, base, L, 0.0, 1.0);
        cg_vae_traversal_latents(h, rows, TRAVERSE_STEPS, L, base);
    } else {
        draw_z(h, n, L, seed, interpolate);
    }
    cg_set_grad(&ctx, 0);
    st = cg_vae_decode_images(&ctx, &m, h, n, x);
    if (st != CG_OK)
        snprintf(err, sizeof err, "%s", ctx.errmsg);
    if (st == CG_OK)
        st = cg_png_write_grid(out, x, n, C, S, S, traverse ? TRAVERSE_STEPS : PER_ROW, err,
                               sizeof err);
    if (st == CG_OK && dump &&
        (!dump_raw(dump, "z", h, (int64_t)n * L, err, sizeof err) ||
         !dump_raw(dump, "images", x, (int64_t)n * m.a.x_dim, err, sizeof err)))
        st = CG_ERR_IO;
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        code = 1;
    } else {
        const char *what = traverse      ? "latent traversals"
                           : interpolate ? "images on straight latent lines"
                                         : "samples";
        printf("wrote %s: %d %s of %s VAE (%s pixels, latent %d, %dx%dx%d) from %s, "
               "seed %llu\n", out, n, what, m.a.kind == CG_VAE_CONV ? "a conv" : "an MLP",
               m.a.lik == CG_VAE_GAUSSIAN ? "Gaussian" : "Bernoulli", L, C, S, S, ckpt,
               (unsigned long long)seed);
        if (traverse && rows < L)
            printf("  the first %d of %d latent dimensions\n", rows, L);
    }
    cg_ctx_free(&ctx);
    free(h);
    free(x);
    cg_vae_free(&m);
    return code;
}
