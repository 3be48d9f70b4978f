/*
 * sample_classic.c: `cugen sample` for the models of the lecture notes and
 * the article's small ones: the MLP GAN (a grid of G(z)), the RBM (a grid
 * of Gibbs chains' last visible probabilities) and the 2-D RealNVP (a
 * scatter of samples), each from a run directory or its weights file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cugen/classic.h"
#include "cugen/flow.h"
#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

#define PER_ROW 8
#define SAMPLE_STREAM 0x53414d50u  /* "SAMP", as sample.c */

/* path, or path/name when path is a directory */
static void file_in(const char *path, const char *name, char *out, size_t len)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(out, len, "%s/%s", path, name);
    else
        snprintf(out, len, "%s", path);
}

/* Does the file hold a tensor of that name? (0 when it cannot be read) */
static int holds(const char *file, const char *tensor)
{
    cg_st_file f;
    char why[256];
    if (cg_st_load(&f, file, why, sizeof why) != CG_OK)
        return 0;
    int yes = cg_st_find(&f, tensor) != NULL;
    cg_st_free(&f);
    return yes;
}

static int side_of(int npix)
{
    int s = (int)lround(sqrt((double)npix));
    return s * s == npix ? s : 0;
}

int cli_sample_classic_kind(const char *path)
{
    char file[4096];
    file_in(path, "G.safetensors", file, sizeof file);
    if (holds(file, "fc_g0.weight"))
        return CLI_SAMPLE_MLP_GAN;
    file_in(path, "rbm.safetensors", file, sizeof file);
    if (holds(file, "W") && holds(file, "v_bias"))
        return CLI_SAMPLE_RBM;
    file_in(path, "flow.safetensors", file, sizeof file);
    if (holds(file, "layers.0.net.0.weight"))
        return CLI_SAMPLE_FLOW2D;
    return 0;
}

static int fail(const char *what, const char *msg, int code)
{
    fprintf(stderr, "cugen sample: %s: %s\n", what, msg);
    return code;
}

/* A context and room for `values` reals, for images of npix pixels (a
 * square): 0, or an exit code after the message (*buf and the context then
 * need no freeing). */
static int begin(const char *path, int npix, int64_t values, cg_ctx *ctx, real **buf, int *S)
{
    *S = side_of(npix);
    *buf = *S ? malloc(sizeof(real) * (size_t)values) : NULL;
    if (*buf && cg_ctx_init(ctx) == CG_OK)
        return 0;
    free(*buf);
    return fail(path, *S ? "out of memory" : "the images are not square", 1);
}

/* x (n, S S) in [-1, 1] as the grid `out`, and the line saying what it
 * is; frees the context and buf. 0, or 1 after the message. */
static int finish_grid(const char *path, const char *out, const real *x, int n, int S,
                       cg_ctx *ctx, real *buf, const char *what)
{
    char err[1024];
    int code = 0;
    if (!x)
        code = fail(path, ctx->errmsg, 1);
    else if (cg_png_write_grid(out, x, n, 1, S, S, PER_ROW, err, sizeof err) != CG_OK)
        code = fail(out, err, 1);
    else
        printf("cugen sample: %s -> %s\n", what, out);
    cg_ctx_free(ctx);
    free(buf);
    return code;
}

static int mlp_gan(const char *path, int n, uint64_t seed, const char *out)
{
    cg_mlp_gan m;
    char err[1024], what[160];
    cg_status st = cg_mlp_gan_load_generator(path, &m, err, sizeof err);
    if (st != CG_OK)
        return fail(path, err, st == CG_ERR_ARG ? 2 : 1);
    cg_ctx ctx;
    real *z;
    int S, code = begin(path, m.a.npix, (int64_t)n * m.a.nz, &ctx, &z, &S);
    if (code == 0) {
        cg_rng r;
        cg_rng_init(&r, seed, SAMPLE_STREAM);
        cg_mlp_gan_noise(&m, &r, z, (int64_t)n * m.a.nz);  /* U[-1, 1] or N(0, 1), as trained */
        cg_set_grad(&ctx, 0);
        cg_tensor *x = cg_mlp_gan_generate(&ctx, &m, cg_wrap(&ctx, z, CG_SHAPE(n, m.a.nz)));
        snprintf(what, sizeof what, "%d samples of an MLP GAN (z %d, %s noise, %d hidden)", n,
                 m.a.nz, m.a.noise_normal ? "normal" : "uniform", m.a.hidden);
        code = finish_grid(path, out, x ? x->data : NULL, n, S, &ctx, z, what);
    }
    cg_mlp_gan_free(&m);
    return code;
}

/* W (H, V), v_bias, h_bias from the file; the chains are not needed */
static cg_status rbm_load(const char *file, cg_rbm *m, char *err, size_t len)
{
    cg_st_file f;
    cg_status st = cg_st_load(&f, file, err, len);
    if (st != CG_OK)
        return st;
    const cg_st_tensor *w = cg_st_find(&f, "W");
    int nh = w && w->ndim == 2 ? (int)w->shape[0] : 0, nv = w && w->ndim == 2 ? (int)w->shape[1]
                                                                              : 0;
    cg_st_free(&f);
    if (nh < 1 || nv < 1) {
        snprintf(err, len, "%s: no RBM weight W (hidden, visible)", file);
        return CG_ERR_ARG;
    }
    char why[512];
    if ((st = cg_rbm_build(m, nv, nh, 0, why, sizeof why)) != CG_OK) {
        snprintf(err, len, "%s: %s", file, why);
        return st;
    }
    if ((st = cg_weights_load(file, &m->p, why, sizeof why)) != CG_OK) {
        snprintf(err, len, "%s", why);
        cg_rbm_free(m);
    }
    return st;
}

/* n chains from uniform random binary images, `steps` Gibbs steps; the grid
 * shows p(v | h) of the last step, as the training run's samples.png */
static int rbm(const char *path, int n, uint64_t seed, int steps, const char *out)
{
    char file[4096], err[5000];
    file_in(path, "rbm.safetensors", file, sizeof file);
    cg_rbm m;
    cg_status st = rbm_load(file, &m, err, sizeof err);
    if (st != CG_OK)
        return fail(path, err, st == CG_ERR_ARG ? 2 : 1);
    cg_ctx ctx;
    real *v;
    int S, code = begin(path, m.nv, (int64_t)n * m.nv, &ctx, &v, &S);
    if (code != 0) {
        cg_rbm_free(&m);
        return code;
    }
    cg_rng r;
    cg_rng_init(&r, seed, SAMPLE_STREAM);
    cg_rng_uniform(&r, v, (int64_t)n * m.nv);
    for (int64_t i = 0; i < (int64_t)n * m.nv; i++)
        v[i] = v[i] < 0.5 ? 0 : 1;
    cg_set_grad(&ctx, 0);
    cg_tensor *pv = NULL;
    for (int s = 0; s < steps; s++) {
        cg_tensor *ph = cg_rbm_hidden_probs(&ctx, &m, cg_wrap(&ctx, v, CG_SHAPE(n, m.nv)), 1.0);
        if (ph)
            cg_rbm_bernoulli(&r, ph->data, ph->data, ph->n);
        pv = ph ? cg_rbm_visible_probs(&ctx, &m, ph, 1.0, NULL) : NULL;
        if (!pv)
            break;
        if (s + 1 < steps) {
            cg_rbm_bernoulli(&r, pv->data, v, pv->n);
            cg_ctx_step_end(&ctx);
        }
    }
    for (int64_t i = 0; pv && i < pv->n; i++)
        pv->data[i] = 2 * pv->data[i] - 1;   /* [0, 1] -> the grid's [-1, 1] */
    char what[160];
    snprintf(what, sizeof what, "%d Gibbs chains of an RBM (%d hidden units), %d steps from "
             "random images", n, m.nh, steps);
    code = finish_grid(path, out, pv ? pv->data : NULL, n, S, &ctx, v, what);
    cg_rbm_free(&m);
    return code;
}

/* the 2-D flow's layers and width from its tensor names and shapes */
static cg_status flow2d_load(const char *file, cg_flow2d *m, char *err, size_t len)
{
    cg_st_file f;
    cg_status st = cg_st_load(&f, file, err, len);
    if (st != CG_OK)
        return st;
    cg_flow2d_arch a = {0};
    char name[64];
    for (;;) {
        snprintf(name, sizeof name, "layers.%d.net.0.weight", a.layers);
        const cg_st_tensor *t = cg_st_find(&f, name);
        if (!t || a.layers == CG_FLOW2D_MAX_LAYERS)
            break;
        if (a.layers == 0 && t->ndim == 2)
            a.hidden = (int)t->shape[0];
        a.layers++;
    }
    cg_st_free(&f);
    char why[512];
    if ((st = cg_flow2d_build(m, &a, why, sizeof why)) != CG_OK) {
        snprintf(err, len, "%s: %s", file, why);
        return st;
    }
    if ((st = cg_weights_load(file, &m->p, why, sizeof why)) != CG_OK) {
        snprintf(err, len, "%s", why);
        cg_flow2d_free(m);
    }
    return st;
}

static int flow2d(const char *path, int n, uint64_t seed, const char *out)
{
    char file[4096], err[5000];
    file_in(path, "flow.safetensors", file, sizeof file);
    cg_flow2d m;
    cg_status st = flow2d_load(file, &m, err, sizeof err);
    if (st != CG_OK)
        return fail(path, err, st == CG_ERR_ARG ? 2 : 1);
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK) {
        cg_flow2d_free(&m);
        return fail(path, "out of memory", 1);
    }
    int code = 0;
    cg_set_grad(&ctx, 0);
    cg_tensor *z = cg_new(&ctx, CG_SHAPE(n, 2));
    cg_rng r;
    cg_rng_init(&r, seed, SAMPLE_STREAM);
    if (z)
        cg_rng_normal(&r, z->data, z->n, 0.0, 1.0);
    cg_tensor *x = z ? cg_flow2d_inverse(&ctx, &m, z) : NULL;
    if (!x)
        code = fail(path, ctx.errmsg, 1);
    else if (cg_png_scatter(out, NULL, 0, x->data, n, NULL, "samples", NULL, err,
                            sizeof err) != CG_OK)
        code = fail(out, err, 1);
    else
        printf("cugen sample: %d points of a 2-D RealNVP (%d couplings of width %d) -> %s\n",
               n, m.a.layers, m.a.hidden, out);
    cg_ctx_free(&ctx);
    cg_flow2d_free(&m);
    return code;
}

int cli_sample_classic(int kind, const char *path, int n, uint64_t seed, int steps,
                       const char *out)
{
    switch (kind) {
    case CLI_SAMPLE_MLP_GAN:
        return mlp_gan(path, n, seed, out);
    case CLI_SAMPLE_RBM:
        return rbm(path, n, seed, steps, out);
    default:
        return flow2d(path, n, seed, out);
    }
}
