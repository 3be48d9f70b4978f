/*
 * dcgan.c: the DCGAN networks, declared as layers (cugen/layers.h) with the
 * example's weights_init, and one training iteration of the PyTorch example's
 * recipe (architecture and naming in cugen/dcgan.h).
 *
 * The iteration runs on one tape: G(z) is recorded once; the D step
 * backpropagates from D(real) and from D on a detached copy of G(z) (two
 * backward passes, as the example calls backward twice); the G step freezes
 * D's group, so D(G(z)) backpropagates only input gradients through D into
 * G's recorded nodes. Each Adam updates its own group: the other is frozen
 * while it steps, so the two optimizers keep their own step counts.
 *
 * Not for: files, flags, the loop (dcgan_train.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/dcgan.h"
#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/tape.h"
#include "models/model_util.h"

#define LEAK 0.2

/* The example's weights_init, applied to every module: Conv* weights
 * normal(0, 0.02); BatchNorm weight normal(1, 0.02), bias 0 (and the buffers
 * as constructed: running_mean 0, running_var 1, num_batches_tracked 0). */
static cg_status weights_init(cg_nn_layer *l, cg_rng *r)
{
    switch (l->kind) {
    case CG_NN_CONV2D:
        return cg_init_normal(((cg_nn_conv2d *)l)->weight, r, 0.0, 0.02);
    case CG_NN_CONV_TRANSPOSE2D:
        return cg_init_normal(((cg_nn_conv_transpose2d *)l)->weight, r, 0.0, 0.02);
    case CG_NN_BATCHNORM2D: {
        cg_status st = cg_nn_init_default(l, r);   /* draws nothing */
        return st != CG_OK ? st
                           : cg_init_normal(((cg_nn_batchnorm2d *)l)->weight, r, 1.0, 0.02);
    }
    default:
        return cg_nn_init_default(l, r);
    }
}

/* D's projection embedding: N(0, 0.02), the last convolution's scale */
static cg_status projection_init(cg_nn_layer *l, cg_rng *r)
{
    return cg_init_normal(((cg_nn_embedding *)l)->weight, r, 0.0, 0.02);
}

/* channels of the features D's last convolution reads, times its 4 x 4 */
static int d_features(const cg_dcgan *m)
{
    return (m->a.ndf << (m->layers - 2)) * 16;
}

/* G then D, each in the order of its `main` (which is also the order of the
 * flat buffer and of weights_init's draws). */
static void declare(cg_dcgan *m)
{
    const cg_dcgan_arch *a = &m->a;
    int L = m->layers;
    cg_nn *nn = &m->nn;
    char name[32];
    int cond = a->num_classes > 0;
    nn->group = CG_DCGAN_G;
    nn->spectral_norm = (a->sn & CG_DCGAN_SN_G) != 0;
    for (int i = 0; i < L; i++) {
        int cin = i == 0 ? a->nz + (cond ? a->embed_dim : 0) : a->ngf << (L - 1 - i);
        int cout = i == L - 1 ? a->nc : a->ngf << (L - 2 - i);
        int first = i == 0;
        snprintf(name, sizeof name, "G.main.%d", 3 * i);
        cg_nn_conv_transpose2d_declare(nn, &m->g_conv[i], name, cin, cout, 4, first ? 1 : 2,
                                       first ? 0 : 1, 0);
        if (i < L - 1) {
            snprintf(name, sizeof name, "G.main.%d", 3 * i + 1);
            cg_nn_batchnorm2d_declare(nn, &m->g_bn[i], name, cout);
        }
    }
    nn->spectral_norm = 0;
    if (cond)
        cg_nn_embedding_declare(nn, &m->g_embed, "G.embed", a->num_classes, a->embed_dim);
    nn->group = CG_DCGAN_D;
    nn->spectral_norm = (a->sn & CG_DCGAN_SN_D) != 0;
    if (a->critic)   /* the same names, layer norms where D has batch norms */
        cg_wgan_critic_declare(nn, &m->critic, "D.", a->nc, a->ndf, a->image_size, 1);
    for (int i = 0; i < L && !a->critic; i++) {
        int cin = i == 0 ? a->nc : a->ndf << (i - 1);
        int cout = i == L - 1 ? 1 : a->ndf << i;
        int at = i == 0 ? 0 : 3 * i - 1, last = i == L - 1;
        snprintf(name, sizeof name, "D.main.%d", at);
        cg_nn_conv2d_declare(nn, &m->d_conv[i], name, cin, cout, 4, last ? 1 : 2, last ? 0 : 1,
                             0);
        if (i > 0 && !last) {
            snprintf(name, sizeof name, "D.main.%d", at + 1);
            cg_nn_batchnorm2d_declare(nn, &m->d_bn[i], name, cout);
        }
    }
    nn->spectral_norm = 0;
    if (cond)
        cg_nn_embedding_declare(nn, &m->d_embed, "D.embed", a->num_classes, d_features(m));
    for (cg_nn_layer *l = nn->head; l; l = l->next)
        l->init = weights_init;
    if (cond)
        m->d_embed.hdr.init = projection_init;
}

cg_status cg_dcgan_build(cg_dcgan *m, const cg_dcgan_arch *a, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cg_params_init(&m->p);
    if (a->image_size != 32 && a->image_size != 64) {
        snprintf(err, errlen, "dcgan: image size must be 32 or 64, got %d", a->image_size);
        return CG_ERR_ARG;
    }
    if (a->nz < 1 || a->nz > 4096 || a->ngf < 1 || a->ngf > 1024 || a->ndf < 1 ||
        a->ndf > 1024 || (a->nc != 1 && a->nc != 3)) {
        snprintf(err, errlen, "dcgan: need 1 <= nz <= 4096, 1 <= ngf, ndf <= 1024 and 1 or 3 "
                 "channels; got nz %d, ngf %d, ndf %d, %d channels", a->nz, a->ngf, a->ndf,
                 a->nc);
        return CG_ERR_ARG;
    }
    if (a->num_classes < 0 || a->num_classes > CG_DCGAN_MAX_CLASSES ||
        (a->num_classes > 0 && (a->embed_dim < 1 || a->embed_dim > 4096)) ||
        (a->sn & ~(CG_DCGAN_SN_D | CG_DCGAN_SN_G))) {
        snprintf(err, errlen, "dcgan: need 0 <= classes <= %d, 1 <= embed dim <= 4096 when "
                 "conditional; got %d classes, embed dim %d", CG_DCGAN_MAX_CLASSES,
                 a->num_classes, a->embed_dim);
        return CG_ERR_ARG;
    }
    if (a->critic && (a->sn & CG_DCGAN_SN_D)) {
        snprintf(err, errlen, "dcgan: the WGAN-GP critic takes no spectral normalisation");
        return CG_ERR_ARG;
    }
    m->a = *a;
    m->layers = model_log2_exact(a->image_size) - 1;
    cg_nn_begin(&m->nn, &m->p);
    declare(m);
    return cg_nn_alloc_for(&m->nn, "dcgan", err, errlen);
}

void cg_dcgan_free(cg_dcgan *m)
{
    cg_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

void cg_dcgan_init(cg_dcgan *m, uint64_t seed, uint32_t stream)
{
    cg_nn_init_seeded(&m->nn, seed, stream);
}

/* the labels a conditional net needs, or none for one that is not */
static int labels_ok(cg_ctx *ctx, const cg_dcgan *m, const int32_t *y, const char *net)
{
    if ((m->a.num_classes > 0) == (y != NULL))
        return 1;
    cg_fail(ctx, CG_ERR_ARG, "dcgan: %s %s", net, y ? "is not conditional but got labels"
                                                    : "is conditional and got no labels");
    return 0;
}

cg_tensor *cg_dcgan_generate(cg_ctx *ctx, cg_dcgan *m, cg_tensor *z, const int32_t *y,
                             int bn_running, int update_running)
{
    if (!z || !labels_ok(ctx, m, y, "G"))
        return NULL;
    int N = z->shape[0];
    if (z->n != (int64_t)N * m->a.nz) {
        cg_fail(ctx, CG_ERR_ARG, "dcgan: G takes z of %d values per sample, got shape %s",
                m->a.nz, CG_SHAPE_STR(z));
        return NULL;
    }
    /* netG.eval(), or netG.train() with the running statistics left alone unless asked */
    for (int i = 0; i < m->layers - 1; i++) {
        m->g_bn[i].hdr.training = !bn_running;
        m->g_bn[i].track_running_stats = update_running;
    }
    for (int i = 0; i < m->layers; i++)
        m->g_conv[i].hdr.training = update_running;   /* spectral norm's power iteration */
    cg_tensor *h = cg_reshape(ctx, z, CG_SHAPE(N, m->a.nz));
    if (y) {
        /* torch.cat([z, embed(y)], 1) */
        cg_tensor *parts[2] = {h, cg_nn_embedding_fwd(ctx, &m->g_embed, y, N)};
        h = cg_concat(ctx, parts, 2);
    }
    h = cg_reshape(ctx, h, CG_SHAPE(N, m->g_conv[0].cin, 1, 1));
    for (int i = 0; i < m->layers; i++) {
        h = cg_nn_conv_transpose2d_fwd(ctx, &m->g_conv[i], h);
        if (i < m->layers - 1)
            h = cg_relu(ctx, cg_nn_batchnorm2d_fwd(ctx, &m->g_bn[i], h));
    }
    return cg_tanh(ctx, h);
}

cg_tensor *cg_dcgan_discriminate(cg_ctx *ctx, cg_dcgan *m, cg_tensor *x, const int32_t *y)
{
    if (!x || !labels_ok(ctx, m, y, "D"))
        return NULL;
    int S = m->a.image_size;
    if (x->ndim != 4 || x->shape[1] != m->a.nc || x->shape[2] != S || x->shape[3] != S) {
        cg_fail(ctx, CG_ERR_ARG, "dcgan: D takes images (N, %d, %d, %d), got %s", m->a.nc, S,
                S, CG_SHAPE_STR(x));
        return NULL;
    }
    cg_tensor *h = x;
    int L = m->layers, N = x->shape[0];
    cg_nn_conv2d *conv = m->a.critic ? m->critic.conv : m->d_conv;
    for (int i = 0; i < L - 1; i++) {
        h = cg_nn_conv2d_fwd(ctx, &conv[i], h);
        if (i > 0)
            h = m->a.critic ? cg_nn_layernorm_fwd(ctx, &m->critic.ln[i], h)
                            : cg_nn_batchnorm2d_fwd(ctx, &m->d_bn[i], h);
        h = cg_leaky_relu(ctx, h, LEAK);
    }
    cg_tensor *out = cg_reshape(ctx, cg_nn_conv2d_fwd(ctx, &conv[L - 1], h), CG_SHAPE(N));
    if (!y)
        return out;
    /* the projection: (embed(y) * h.flatten(1)).sum(1), as a batch of (1, F) (F, 1) products */
    int F = d_features(m);
    cg_tensor *e = cg_nn_embedding_fwd(ctx, &m->d_embed, y, N);
    cg_tensor *proj = cg_bmm(ctx, cg_reshape(ctx, h, CG_SHAPE(N, 1, F)),
                             cg_reshape(ctx, e, CG_SHAPE(N, F, 1)), 0, 0);
    return cg_add(ctx, out, cg_reshape(ctx, proj, CG_SHAPE(N)));
}

/* ---- one iteration ------------------------------------------------------- */

static cg_tensor *labels(cg_ctx *ctx, cg_device dev, int n, real v)
{
    cg_tensor *t = cg_new_on(ctx, dev, CG_SHAPE(n));
    if (t && cg_init_const(t, v) != CG_OK) {
        cg_fail(ctx, CG_ERR_CUDA, "dcgan: labels: %s", cg_cuda_last_error());
        return NULL;
    }
    return t;
}

/* mean of sigmoid(logits) (raw: of the logits) over n host values; each
 * also into keep[] when not NULL */
static double mean_sigmoid(const real *logits, int n, int raw, real *keep)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        double p = raw ? (double)logits[i] : 1.0 / (1.0 + exp(-(double)logits[i]));
        s += p;
        if (keep)
            keep[i] = (real)p;
    }
    return s / n;
}

/* D's loss on its outputs for real (1) or fake (0) images: BCE-with-logits
 * against that label; hinge: mean relu(1 - out) for real, mean relu(1 + out)
 * for fake. (G's BCE loss is D's real one on its images.) */
static cg_tensor *d_loss(cg_ctx *ctx, cg_dcgan_loss loss, cg_tensor *out, int is_real)
{
    if (!out)
        return NULL;
    if (loss == CG_DCGAN_HINGE)
        return cg_mean(ctx, cg_relu(ctx, cg_affine(ctx, out, is_real ? -1.0 : 1.0, 1.0)));
    cg_tensor *target = labels(ctx, (cg_device)out->dev, out->shape[0], is_real ? 1 : 0);
    return cg_bce_with_logits(ctx, out, target, CG_REDUCE_MEAN);
}

/* The step's numbers, read back once at its end: on the GPU that is the
 * step's only wait, after everything (both Adam updates) is queued. */
typedef struct {
    cg_tensor *out_real, *out_fake, *out_g;   /* D's logits (B) */
    cg_tensor *err_real, *err_fake, *err_g;   /* losses (1) */
} step_values;

static cg_status read_back(cg_ctx *ctx, const step_values *v, int B, cg_dcgan_loss loss,
                           cg_dcgan_stats *out)
{
    real *h = cg_scratch(ctx, sizeof(real) * (3 * (size_t)B + 3));
    if (!h)
        return ctx->err;
    const cg_tensor *t[6] = {v->out_real, v->out_fake, v->out_g, v->err_real, v->err_fake,
                             v->err_g};
    size_t at = 0;
    for (int i = 0; i < 6; i++) {
        if (cg_copy_to_host(ctx, h + at, t[i]) != CG_OK)
            return ctx->err ? ctx->err : cg_fail(ctx, CG_ERR_CUDA, "dcgan: reading results: %s",
                                                 cg_cuda_last_error());
        at += (size_t)t[i]->n;
    }
    real *keep = out->outputs;
    int raw = loss != CG_DCGAN_BCE;
    out->d_x = mean_sigmoid(h, B, raw, keep);
    out->d_g_z1 = mean_sigmoid(h + B, B, raw, keep ? keep + B : NULL);
    out->d_g_z2 = mean_sigmoid(h + 2 * B, B, raw, keep ? keep + 2 * B : NULL);
    out->loss_d = (double)h[3 * B] + (double)h[3 * B + 1];
    out->loss_g = h[3 * B + 2];
    return CG_OK;
}

static cg_status adam_on(cg_adam *opt, cg_params *p, int group, int other)
{
    cg_params_freeze(p, other, 1);
    cg_status st = cg_adam_step(opt, p);
    cg_params_freeze(p, other, 0);
    (void)group;
    return st;
}

cg_status cg_dcgan_step(cg_ctx *ctx, cg_dcgan *m, cg_adam *opt_d, cg_adam *opt_g,
                        cg_tensor *real_x, cg_tensor *z, cg_dcgan_stats *out)
{
    real *keep = out->outputs;
    const int32_t *y = out->y;
    memset(out, 0, sizeof *out);
    out->outputs = keep;
    out->y = y;
    if (ctx->err)
        return ctx->err;
    if (!real_x || !z)
        return cg_fail(ctx, CG_ERR_STATE, "dcgan: step without a batch or z");
    cg_device dev = (cg_device)real_x->dev;
    if (z->dev != dev || m->p.dev != (int)dev)
        return cg_fail(ctx, CG_ERR_ARG, "dcgan: the batch, z and the parameters must be on "
                       "one device");
    int B = real_x->shape[0];
    step_values v = {0};

    /* D step: log D(x) + log(1 - D(G(z))) */
    v.out_real = cg_dcgan_discriminate(ctx, m, real_x, y);
    v.err_real = d_loss(ctx, m->loss, v.out_real, 1);
    if (cg_backward(ctx, v.err_real) != CG_OK)
        return ctx->err;
    cg_tensor *fake = cg_dcgan_generate(ctx, m, z, y, 0, 1);
    v.out_fake = cg_dcgan_discriminate(ctx, m, cg_detach(ctx, fake), y);
    v.err_fake = d_loss(ctx, m->loss, v.out_fake, 0);
    if (cg_backward(ctx, v.err_fake) != CG_OK)
        return ctx->err;
    cg_status st = adam_on(opt_d, &m->p, CG_DCGAN_D, CG_DCGAN_G);
    if (st != CG_OK)
        return cg_fail(ctx, st, "dcgan: Adam step of D failed: %s", cg_cuda_last_error());

    /* G step: log D(G(z)), through D without D's weight gradients */
    cg_params_freeze(&m->p, CG_DCGAN_D, 1);
    v.out_g = cg_dcgan_discriminate(ctx, m, fake, y);
    v.err_g = m->loss == CG_DCGAN_HINGE ? cg_scale(ctx, cg_mean(ctx, v.out_g), -1.0)
                                        : d_loss(ctx, m->loss, v.out_g, 1);
    st = cg_backward(ctx, v.err_g);
    cg_params_freeze(&m->p, CG_DCGAN_D, 0);
    if (st != CG_OK)
        return ctx->err;
    st = adam_on(opt_g, &m->p, CG_DCGAN_G, CG_DCGAN_D);
    if (st != CG_OK)
        return cg_fail(ctx, st, "dcgan: Adam step of G failed: %s", cg_cuda_last_error());
    if (cg_params_zero_grad(&m->p) != CG_OK)
        return cg_fail(ctx, CG_ERR_CUDA, "dcgan: zeroing gradients: %s", cg_cuda_last_error());
    st = read_back(ctx, &v, B, m->loss, out);
    cg_ctx_step_end(ctx);
    return st;
}

cg_status cg_dcgan_to_device(cg_dcgan *m, cg_device dev, char *err, size_t errlen)
{
    return dev == CG_CUDA ? cg_params_to_device(&m->p, err, errlen)
                          : cg_params_to_host(&m->p, err, errlen);
}

/* ---- a generator from a file --------------------------------------------- */

/* The shape of tensor `name` (prefixed) in f, or NULL. */
static const cg_st_tensor *find(const cg_st_file *f, const char *prefix, const char *name)
{
    char full[96];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->t[i].name, full) == 0)
            return &f->t[i];
    return NULL;
}

cg_status cg_dcgan_load_generator(const char *path, cg_dcgan *m, cg_dcgan_arch *a, char *err,
                                  size_t errlen)
{
    char file[4096], why[512];
    cg_st_file f;
    cg_status st = cg_st_load_run(&f, path, "G.safetensors", file, sizeof file, err, errlen);
    if (st != CG_OK)
        return st;
    /* a checkpoint holds G under "G."; an exported G.safetensors has no prefix;
     * spectrally normalised convolutions hold "weight_orig" instead of "weight" */
    memset(a, 0, sizeof *a);
    const char *prefix = find(&f, "G.", "main.0.weight") || find(&f, "G.", "main.0.weight_orig")
                             ? "G." : "";
    const char *wname = find(&f, prefix, "main.0.weight_orig") ? "weight_orig" : "weight";
    if (strcmp(wname, "weight_orig") == 0)
        a->sn |= CG_DCGAN_SN_G;
    char name[32];
    snprintf(name, sizeof name, "main.0.%s", wname);
    const cg_st_tensor *first = find(&f, prefix, name);
    int L = 0;
    const cg_st_tensor *last = NULL;
    for (int i = 0; i < CG_DCGAN_MAX_LAYERS + 1; i++) {
        snprintf(name, sizeof name, "main.%d.%s", 3 * i, wname);
        const cg_st_tensor *t = find(&f, prefix, name);
        if (!t)
            break;
        last = t;
        L = i + 1;
    }
    /* conditional: G's label embedding (classes, embed_dim), read with z */
    const cg_st_tensor *emb = find(&f, prefix, "embed.weight");
    if (emb && emb->ndim == 2) {
        a->num_classes = (int)emb->shape[0];
        a->embed_dim = (int)emb->shape[1];
    }
    if (!first || first->ndim != 4 || !last || last->ndim != 4 || L < 4 ||
        L > CG_DCGAN_MAX_LAYERS || first->shape[2] != 4 || first->shape[3] != 4) {
        snprintf(err, errlen, "%s: not a DCGAN generator (no ConvTranspose2d weights main.0, "
                 "main.3, ... of 4x4 kernels of a 32x32 or 64x64 DCGAN)", file);
        cg_st_free(&f);
        return CG_ERR_ARG;
    }
    a->nz = (int)first->shape[0] - a->embed_dim;
    a->ngf = (int)(first->shape[1] >> (L - 2));
    a->nc = (int)last->shape[1];
    a->image_size = 4 << (L - 1);
    /* a checkpoint also holds D, loaded too (its width from D's first conv) */
    const cg_st_tensor *d0 = *prefix ? find(&f, "D.", "main.0.weight") : NULL;
    if (*prefix && !d0 && (d0 = find(&f, "D.", "main.0.weight_orig")))
        a->sn |= CG_DCGAN_SN_D;
    a->ndf = d0 && d0->ndim == 4 ? (int)d0->shape[0] : a->ngf;
    /* the WGAN-GP critic: a LayerNorm([C, H, W]) where D has a BatchNorm2d(C) */
    const cg_st_tensor *norm = *prefix ? find(&f, "D.", "main.3.weight") : NULL;
    a->critic = norm && norm->ndim == 3;
    cg_st_free(&f);
    if (!m)
        return CG_OK;
    st = cg_dcgan_build(m, a, why, sizeof why);
    if (st != CG_OK) {
        snprintf(err, errlen, "%s: %s", file, why);
        return st;
    }
    st = *prefix ? cg_weights_load(file, &m->p, why, sizeof why)
                 : cg_weights_load_part(file, &m->p, "G.", why, sizeof why);
    if (st != CG_OK) {
        snprintf(err, errlen, "%s", why);
        cg_dcgan_free(m);
    }
    return st;
}
