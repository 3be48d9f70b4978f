/*
 * mlp_gan.c: the networks of the lecture notes' MLP GAN and one iteration of
 * their training loop (architecture and names in cugen/classic.h).
 *
 * The notes' d_train feeds D the output of G without detaching it but steps
 * only D's optimizer, and g_train draws a new z; here the D step runs G with
 * the tape off (same values, no useless backward through G) and the G step
 * freezes D's group so D(G(z)) backpropagates only into G.
 *
 * Not for: files, flags, the loop (mlp_gan_train.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/classic.h"
#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

cg_mlp_gan_arch cg_mlp_gan_defaults(int npix)
{
    return (cg_mlp_gan_arch){.nz = 20, .hidden = 100, .npix = npix, .noise_normal = 0,
                             .leak = 0.01, .dropout = 0.5};
}

cg_status cg_mlp_gan_build(cg_mlp_gan *m, const cg_mlp_gan_arch *a, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cg_params_init(&m->p);
    if (a->nz < 1 || a->nz > 4096 || a->hidden < 1 || a->hidden > 65536 || a->npix < 1 ||
        !(a->dropout >= 0 && a->dropout < 1)) {
        snprintf(err, errlen, "mlp-gan: need 1 <= nz <= 4096, 1 <= hidden <= 65536, pixels "
                 ">= 1 and dropout in [0, 1); got nz %d, hidden %d, %d pixels, dropout %g",
                 a->nz, a->hidden, a->npix, a->dropout);
        return CG_ERR_ARG;
    }
    m->a = *a;
    int H = a->hidden;
    cg_nn *nn = &m->nn;
    cg_nn_begin(nn, &m->p);
    nn->group = CG_MLP_GAN_G;
    cg_nn_linear_declare(nn, &m->fc_g0, "G.fc_g0", a->nz, H, 1);
    cg_nn_linear_declare(nn, &m->fc_g1, "G.fc_g1", H, a->npix, 1);
    nn->group = CG_MLP_GAN_D;
    cg_nn_linear_declare(nn, &m->fc_d0, "D.fc_d0", a->npix, H, 0);
    cg_nn_linear_declare(nn, &m->fc_d1, "D.fc_d1", H, 1, 1);
    return cg_nn_alloc_for(nn, "mlp-gan", err, errlen);
}

void cg_mlp_gan_free(cg_mlp_gan *m)
{
    cg_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

/* nn.Linear's default (cg_nn_init): U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
 * weights and biases, G's layers then D's. */
void cg_mlp_gan_init(cg_mlp_gan *m, uint64_t seed, uint32_t stream)
{
    cg_nn_init_seeded(&m->nn, seed, stream);
}

void cg_mlp_gan_noise(const cg_mlp_gan *m, cg_rng *r, real *z, int64_t n)
{
    if (m->a.noise_normal) {
        cg_rng_normal(r, z, n, 0.0, 1.0);
        return;
    }
    cg_rng_uniform(r, z, n);  /* torch.rand(...) * 2 - 1 */
    for (int64_t i = 0; i < n; i++)
        z[i] = z[i] * 2 - 1;
}

cg_tensor *cg_mlp_gan_generate(cg_ctx *ctx, cg_mlp_gan *m, cg_tensor *z)
{
    if (!z)
        return NULL;
    if (z->ndim != 2 || z->shape[1] != m->a.nz) {
        cg_fail(ctx, CG_ERR_ARG, "mlp-gan: G takes z (N, %d), got %s", m->a.nz, CG_SHAPE_STR(z));
        return NULL;
    }
    cg_tensor *h = cg_leaky_relu(ctx, cg_nn_linear_fwd(ctx, &m->fc_g0, z), m->a.leak);
    return cg_tanh(ctx, cg_nn_linear_fwd(ctx, &m->fc_g1, h));
}

cg_tensor *cg_mlp_gan_discriminate(cg_ctx *ctx, cg_mlp_gan *m, cg_tensor *x, cg_rng *rng,
                                   int training)
{
    if (!x)
        return NULL;
    int N = x->shape[0];
    if (x->n != (int64_t)N * m->a.npix) {
        cg_fail(ctx, CG_ERR_ARG, "mlp-gan: D takes %d values per sample, got shape %s",
                m->a.npix, CG_SHAPE_STR(x));
        return NULL;
    }
    cg_tensor *h = cg_nn_linear_fwd(ctx, &m->fc_d0, cg_reshape(ctx, x, CG_SHAPE(N, m->a.npix)));
    h = cg_dropout(ctx, cg_leaky_relu(ctx, h, m->a.leak), m->a.dropout, rng, training);
    return cg_reshape(ctx, cg_nn_linear_fwd(ctx, &m->fc_d1, h), CG_SHAPE(N));
}

static cg_tensor *labels(cg_ctx *ctx, int n, real v)
{
    cg_tensor *t = cg_new(ctx, CG_SHAPE(n));
    for (int i = 0; t && i < n; i++)
        t->data[i] = v;
    return t;
}

static double mean_sigmoid(const cg_tensor *logits)
{
    double s = 0;
    for (int64_t i = 0; i < logits->n; i++)
        s += 1.0 / (1.0 + exp(-(double)logits->data[i]));
    return s / (double)logits->n;
}

/* Adam on one group, the other frozen so its moments and step count stay. */
static cg_status adam_group(cg_adam *opt, cg_params *p, int other)
{
    cg_params_freeze(p, other, 1);
    cg_status st = cg_adam_step(opt, p);
    cg_params_freeze(p, other, 0);
    return st;
}

cg_status cg_mlp_gan_step(cg_ctx *ctx, cg_mlp_gan *m, cg_adam *opt_d, cg_adam *opt_g,
                          cg_tensor *x, cg_tensor *z1, cg_tensor *z2, cg_rng *drop,
                          cg_mlp_gan_stats *out)
{
    memset(out, 0, sizeof *out);
    if (ctx->err)
        return ctx->err;
    int B = x ? x->shape[0] : 0;
    cg_tensor *ones = labels(ctx, B, 1), *zeros = labels(ctx, B, 0);

    /* d_train: BCE(D(x), 1) + BCE(D(G(z1)), 0) */
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *fake = cg_mlp_gan_generate(ctx, m, z1);
    cg_set_grad(ctx, prev);
    cg_tensor *out_real = cg_mlp_gan_discriminate(ctx, m, x, drop, 1);
    cg_tensor *out_fake = cg_mlp_gan_discriminate(ctx, m, fake, drop, 1);
    cg_tensor *d_loss = cg_add(ctx, cg_bce_with_logits(ctx, out_real, ones, CG_REDUCE_MEAN),
                               cg_bce_with_logits(ctx, out_fake, zeros, CG_REDUCE_MEAN));
    if (cg_backward(ctx, d_loss) != CG_OK)
        return ctx->err;
    out->loss_d = d_loss->data[0];
    out->d_x = mean_sigmoid(out_real);
    out->d_g_z = mean_sigmoid(out_fake);
    cg_status st = adam_group(opt_d, &m->p, CG_MLP_GAN_G);
    if (st != CG_OK)
        return cg_fail(ctx, st, "mlp-gan: Adam step of D failed");

    /* g_train: BCE(D(G(z2)), 1), through D without D's weight gradients */
    cg_params_freeze(&m->p, CG_MLP_GAN_D, 1);
    cg_tensor *out_g = cg_mlp_gan_discriminate(ctx, m, cg_mlp_gan_generate(ctx, m, z2), drop, 1);
    cg_tensor *g_loss = cg_bce_with_logits(ctx, out_g, ones, CG_REDUCE_MEAN);
    st = cg_backward(ctx, g_loss);
    cg_params_freeze(&m->p, CG_MLP_GAN_D, 0);
    if (st != CG_OK)
        return ctx->err;
    out->loss_g = g_loss->data[0];
    st = adam_group(opt_g, &m->p, CG_MLP_GAN_D);
    if (st != CG_OK)
        return cg_fail(ctx, st, "mlp-gan: Adam step of G failed");
    cg_params_zero_grad(&m->p);
    cg_ctx_step_end(ctx);
    return CG_OK;
}

/* ---- a generator from a file --------------------------------------------------- */

static const cg_st_tensor *find2(const cg_st_file *f, const char *name, int *prefixed)
{
    char full[96];
    snprintf(full, sizeof full, "G.%s", name);
    const cg_st_tensor *t = cg_st_find(f, full);
    *prefixed = t != NULL;
    return t ? t : cg_st_find(f, name);
}

/* run.noise_normal of DIR/checkpoint.safetensors, or 0 */
static int run_noise_normal(const char *dir)
{
    char path[4096], why[256];
    snprintf(path, sizeof path, "%s/%s", dir, CG_CKPT_LATEST);
    cg_st_file f;
    if (cg_st_load(&f, path, why, sizeof why) != CG_OK)
        return 0;
    const cg_st_tensor *t = cg_st_find(&f, "train.extra.run.noise_normal");
    int64_t v = 0;
    if (t && t->dtype == CG_ST_I64 && t->nbytes == 8)
        memcpy(&v, t->data, 8);
    cg_st_free(&f);
    return v != 0;
}

cg_status cg_mlp_gan_load_generator(const char *path, cg_mlp_gan *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cg_params_init(&m->p);
    char file[4096];
    cg_st_file f;
    cg_status st = cg_st_load_run(&f, path, "G.safetensors", file, sizeof file, err, errlen);
    if (st != CG_OK)
        return st;
    int pre0, pre1;
    const cg_st_tensor *w0 = find2(&f, "fc_g0.weight", &pre0), *w1 = find2(&f, "fc_g1.weight",
                                                                          &pre1);
    if (pre0 || pre1) {
        snprintf(err, errlen, "%s: a checkpoint; give the run directory or its G.safetensors",
                 file);
        cg_st_free(&f);
        return CG_ERR_ARG;
    }
    if (!w0 || !w1 || w0->ndim != 2 || w1->ndim != 2 || w1->shape[1] != w0->shape[0]) {
        snprintf(err, errlen, "%s: not an mlp-gan generator (no fc_g0.weight (hidden, z) and "
                 "fc_g1.weight (pixels, hidden))", file);
        cg_st_free(&f);
        return CG_ERR_ARG;
    }
    cg_mlp_gan_arch a = cg_mlp_gan_defaults((int)w1->shape[0]);
    a.nz = (int)w0->shape[1];
    a.hidden = (int)w0->shape[0];
    a.noise_normal = strcmp(file, path) != 0 ? run_noise_normal(path) : 0;  /* a run dir */
    cg_st_free(&f);
    if ((st = cg_mlp_gan_build(m, &a, err, errlen)) != CG_OK)
        return st;
    if ((st = cg_weights_load_part(file, &m->p, "G.", err, errlen)) != CG_OK)
        cg_mlp_gan_free(m);
    return st;
}
