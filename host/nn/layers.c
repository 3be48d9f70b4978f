/*
 * layers.c: the layers of cugen/layers.h. Each declares its parameters under
 * PyTorch's state_dict names, initialises them as torch.nn does, and runs
 * its forward through the ops (so the tape, both devices and every shape
 * check come from there).
 *
 * Not for: ops (host/ops), the flat buffer (host/core/params.c), models.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/layers.h"
#include "cugen/tape.h"

#define NORM_EPS 1e-5
#define BN_MOMENTUM 0.1
#define SN_EPS 1e-12   /* torch.nn.utils.spectral_norm's */
/* a layer that fails to declare is all zeros (its forward then says so) */
#define ZERO(l) do { if (l) memset((l), 0, sizeof *(l)); } while (0)

static const char *const KIND_NAME[] = {"Linear", "Conv2d", "ConvTranspose2d",
                                        "BatchNorm2d", "GroupNorm", "LayerNorm",
                                        "Embedding"};

/* The prefix, or a stand-in for a bare module's empty one or an undeclared layer. */
static const char *label(const cg_nn_layer *l)
{
    return l->name[0] ? l->name : "(unnamed layer)";
}

/* ---- the declaration ------------------------------------------------------------ */

void cg_nn_begin(cg_nn *nn, cg_params *p)
{
    memset(nn, 0, sizeof *nn);
    nn->p = p;
}

__attribute__((format(printf, 3, 4)))
static void nn_fail(cg_nn *nn, cg_status st, const char *fmt, ...)
{
    if (nn->err != CG_OK)
        return;
    nn->err = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(nn->errmsg, sizeof nn->errmsg, fmt, ap);
    va_end(ap);
}

/* Start a layer: 0 (nothing declared) after an earlier error or a bad name. */
static int layer_begin(cg_nn *nn, cg_nn_layer *l, cg_nn_kind kind, const char *name)
{
    if (!nn || !l)
        return 0;
    if (nn->err != CG_OK)
        return 0;
    if (!name)
        name = "";
    if (strlen(name) + sizeof ".num_batches_tracked" > CG_NN_NAME_MAX) {
        nn_fail(nn, CG_ERR_ARG, "%.40s...: %s prefix longer than %d characters", name,
                KIND_NAME[kind], CG_NN_NAME_MAX - (int)sizeof ".num_batches_tracked");
        return 0;
    }
    if (nn->p->allocated) {
        nn_fail(nn, CG_ERR_STATE, "%s: %s declared after the parameters were allocated",
                name, KIND_NAME[kind]);
        return 0;
    }
    l->kind = kind;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->init = cg_nn_init_default;
    l->training = 1;  /* torch.nn modules start in training mode */
    return 1;
}

static void layer_link(cg_nn *nn, cg_nn_layer *l)
{
    if (nn->tail)
        nn->tail->next = l;
    else
        nn->head = l;
    nn->tail = l;
}

/* "<prefix>.<field>" (or "<field>" for an empty prefix), refused if taken. */
static cg_tensor *declare(cg_nn *nn, const cg_nn_layer *l, const char *field, int buffer,
                          const int *shape, int ndim)
{
    if (nn->err != CG_OK)
        return NULL;
    char full[CG_NN_NAME_MAX + 32];
    snprintf(full, sizeof full, "%s%s%s", l->name, l->name[0] ? "." : "", field);
    if (cg_params_find(nn->p, full)) {
        nn_fail(nn, CG_ERR_ARG, "%s: %s declares \"%s\", a name already declared", label(l),
                KIND_NAME[l->kind], full);
        return NULL;
    }
    cg_tensor *t = buffer ? cg_buffer(nn->p, full, shape, ndim)
                          : cg_param(nn->p, full, shape, ndim, nn->group);
    if (!t)
        nn_fail(nn, CG_ERR_NOMEM, "%s: out of memory declaring \"%s\"", label(l), full);
    return t;
}

static int sizes_ok(cg_nn *nn, const cg_nn_layer *l, const char *what, int v)
{
    if (v >= 1)
        return 1;
    nn_fail(nn, CG_ERR_ARG, "%s: %s needs %s >= 1, got %d", label(l), KIND_NAME[l->kind], what,
            v);
    return 0;
}

cg_status cg_nn_alloc(cg_nn *nn, char *err, size_t errlen)
{
    if (nn->err != CG_OK) {
        snprintf(err, errlen, "%s", nn->errmsg);
        return nn->err;
    }
    cg_status st = cg_params_alloc(nn->p);
    if (st != CG_OK)
        snprintf(err, errlen, "out of memory for %lld parameters",
                 (long long)cg_params_count(nn->p));
    return st;
}

/* ---- spectral normalisation ---------------------------------------------------------- */

/* The u and v buffers of a layer (NULL, NULL when it has none), and the dim
 * of its weight that holds the matrix's rows. */
static int sn_vectors(cg_nn_layer *l, cg_tensor **u, cg_tensor **v)
{
    *u = *v = NULL;
    switch (l->kind) {
    case CG_NN_LINEAR:
        *u = ((cg_nn_linear *)l)->weight_u, *v = ((cg_nn_linear *)l)->weight_v;
        return 0;
    case CG_NN_CONV2D:
        *u = ((cg_nn_conv2d *)l)->weight_u, *v = ((cg_nn_conv2d *)l)->weight_v;
        return 0;
    case CG_NN_CONV_TRANSPOSE2D:
        *u = ((cg_nn_conv_transpose2d *)l)->weight_u, *v = ((cg_nn_conv_transpose2d *)l)->weight_v;
        return 1;
    default:
        return 0;
    }
}

/* t / max(|t|, eps) in place, where t lives */
static cg_status normalize_buffer(cg_tensor *t)
{
    real *h = t->data;
    if (t->dev == CG_CUDA) {
        if (!(h = malloc(sizeof(real) * (size_t)t->n)))
            return CG_ERR_NOMEM;
        if (cg_cuda_download(h, t->data, sizeof(real) * (size_t)t->n) != CG_OK) {
            free(h);
            return CG_ERR_CUDA;
        }
    }
    double s = 0;
    for (int64_t i = 0; i < t->n; i++)
        s += (double)h[i] * h[i];
    double norm = fmax(sqrt(s), SN_EPS);
    for (int64_t i = 0; i < t->n; i++)
        h[i] = (real)(h[i] / norm);
    cg_status st = CG_OK;
    if (t->dev == CG_CUDA) {
        st = cg_cuda_upload(t->data, h, sizeof(real) * (size_t)t->n);
        free(h);
    }
    return st;
}

/* spectral_norm's u = normalize(N(0, 1)), v = normalize(N(0, 1)) */
static cg_status sn_init(cg_nn_layer *l, cg_rng *r)
{
    cg_tensor *u, *v;
    sn_vectors(l, &u, &v);
    if (!u)
        return CG_OK;
    cg_status st = cg_init_normal(u, r, 0.0, 1.0);
    if (st == CG_OK)
        st = cg_init_normal(v, r, 0.0, 1.0);
    if (st == CG_OK)
        st = normalize_buffer(u);
    return st == CG_OK ? normalize_buffer(v) : st;
}

/* Declares "weight" (or, spectrally normalised, "weight_orig" and the
 * buffers u (shape[dim]), v (the rest)). */
static cg_tensor *declare_weight(cg_nn *nn, const cg_nn_layer *l, const int *shape, int ndim,
                                 int dim, cg_tensor **u, cg_tensor **v)
{
    if (!nn->spectral_norm)
        return declare(nn, l, "weight", 0, shape, ndim);
    cg_tensor *w = declare(nn, l, "weight_orig", 0, shape, ndim);
    int rows = shape[dim];
    int rest = (int)(cg_shape_numel(ndim, shape) / rows);
    *u = declare(nn, l, "weight_u", 1, CG_SHAPE(rows));
    *v = declare(nn, l, "weight_v", 1, CG_SHAPE(rest));
    return w;
}

/* The weight a forward uses: weight_orig / sigma under spectral
 * normalisation (a power iteration first in training), else the weight. */
static cg_tensor *layer_weight(cg_ctx *ctx, cg_nn_layer *l, cg_tensor *w)
{
    cg_tensor *u, *v;
    int dim = sn_vectors(l, &u, &v);
    return u ? cg_spectral_norm(ctx, w, u, v, dim, l->training) : w;
}

cg_status cg_nn_init(cg_nn *nn, cg_rng *r)
{
    if (nn->err != CG_OK || !nn->p->allocated)
        return CG_ERR_STATE;
    for (cg_nn_layer *l = nn->head; l; l = l->next) {
        cg_status st = l->init ? l->init(l, r) : CG_OK;
        if (st == CG_OK)
            st = sn_init(l, r);
        if (st != CG_OK)
            return st;
    }
    return CG_OK;
}

cg_status cg_nn_alloc_for(cg_nn *nn, const char *who, char *err, size_t errlen)
{
    char why[256];
    cg_status st = cg_nn_alloc(nn, why, sizeof why);
    if (st != CG_OK) {
        snprintf(err, errlen, "%s: %s", who, why);
        cg_params_free(nn->p);
    }
    return st;
}

cg_status cg_nn_init_seeded(cg_nn *nn, uint64_t seed, uint32_t stream)
{
    cg_rng r;
    cg_rng_init(&r, seed, stream);
    return cg_nn_init(nn, &r);
}

cg_status cg_nn_init_zeros(cg_nn_layer *l, cg_rng *r)
{
    (void)r;
    cg_tensor *w, *b;
    if (l->kind == CG_NN_LINEAR) {
        w = ((cg_nn_linear *)l)->weight;
        b = ((cg_nn_linear *)l)->bias;
    } else if (l->kind == CG_NN_CONV2D) {
        w = ((cg_nn_conv2d *)l)->weight;
        b = ((cg_nn_conv2d *)l)->bias;
    } else if (l->kind == CG_NN_CONV_TRANSPOSE2D) {
        w = ((cg_nn_conv_transpose2d *)l)->weight;
        b = ((cg_nn_conv_transpose2d *)l)->bias;
    } else {
        return CG_ERR_ARG;
    }
    cg_status st = cg_init_const(w, 0.0);
    return st != CG_OK || !b ? st : cg_init_const(b, 0.0);
}

void cg_nn_train(cg_nn *nn, int training)
{
    for (cg_nn_layer *l = nn->head; l; l = l->next)
        l->training = training != 0;
}

/* ---- PyTorch's default initialisation ---------------------------------------------- */

/* weight then bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)); fan_in = weight.size(1) k k */
static cg_status init_fan_in(cg_tensor *w, cg_tensor *b, cg_rng *r)
{
    double fan_in = (double)(w->n / w->shape[0]);
    double bound = 1.0 / sqrt(fan_in);
    cg_status st = cg_init_uniform(w, r, -bound, bound);
    if (st == CG_OK && b)
        st = cg_init_uniform(b, r, -bound, bound);
    return st;
}

static cg_status init_affine(cg_tensor *w, cg_tensor *b)
{
    cg_status st = cg_init_const(w, 1.0);
    return st != CG_OK ? st : cg_init_const(b, 0.0);
}

cg_status cg_nn_init_default(cg_nn_layer *l, cg_rng *r)
{
    switch (l->kind) {
    case CG_NN_LINEAR: {
        cg_nn_linear *d = (cg_nn_linear *)l;
        return init_fan_in(d->weight, d->bias, r);
    }
    case CG_NN_CONV2D: {
        cg_nn_conv2d *c = (cg_nn_conv2d *)l;
        return init_fan_in(c->weight, c->bias, r);
    }
    case CG_NN_CONV_TRANSPOSE2D: {
        cg_nn_conv_transpose2d *c = (cg_nn_conv_transpose2d *)l;
        return init_fan_in(c->weight, c->bias, r);
    }
    case CG_NN_BATCHNORM2D: {
        cg_nn_batchnorm2d *b = (cg_nn_batchnorm2d *)l;
        cg_status st = init_affine(b->weight, b->bias);
        if (st == CG_OK)
            st = cg_init_const(b->running_mean, 0.0);
        if (st == CG_OK)
            st = cg_init_const(b->running_var, 1.0);
        if (st == CG_OK)
            st = cg_init_const(b->num_batches_tracked, 0.0);
        return st;
    }
    case CG_NN_GROUPNORM: {
        cg_nn_groupnorm *g = (cg_nn_groupnorm *)l;
        return init_affine(g->weight, g->bias);
    }
    case CG_NN_LAYERNORM: {
        cg_nn_layernorm *n = (cg_nn_layernorm *)l;
        return init_affine(n->weight, n->bias);
    }
    case CG_NN_EMBEDDING:
        return cg_init_normal(((cg_nn_embedding *)l)->weight, r, 0.0, 1.0);
    }
    return CG_ERR_STATE;
}

/* ---- Linear, Conv2d, ConvTranspose2d --------------------------------------------- */

void cg_nn_linear_declare(cg_nn *nn, cg_nn_linear *l, const char *name, int in, int out,
                          int bias)
{
    ZERO(l);
    if (!layer_begin(nn, &l->hdr, CG_NN_LINEAR, name))
        return;
    if (!sizes_ok(nn, &l->hdr, "in_features", in) || !sizes_ok(nn, &l->hdr, "out_features", out))
        return;
    l->in = in;
    l->out = out;
    l->weight = declare_weight(nn, &l->hdr, CG_SHAPE(out, in), 0, &l->weight_u, &l->weight_v);
    if (bias)
        l->bias = declare(nn, &l->hdr, "bias", 0, CG_SHAPE(out));
    if (nn->err == CG_OK)
        layer_link(nn, &l->hdr);
}

static int conv_geometry_ok(cg_nn *nn, const cg_nn_layer *l, int cin, int cout, int k,
                            int stride, int pad)
{
    if (!sizes_ok(nn, l, "in_channels", cin) || !sizes_ok(nn, l, "out_channels", cout) ||
        !sizes_ok(nn, l, "kernel_size", k) || !sizes_ok(nn, l, "stride", stride))
        return 0;
    if (pad < 0) {
        nn_fail(nn, CG_ERR_ARG, "%s: %s needs padding >= 0, got %d", label(l),
                KIND_NAME[l->kind], pad);
        return 0;
    }
    return 1;
}

void cg_nn_conv2d_declare(cg_nn *nn, cg_nn_conv2d *l, const char *name, int cin, int cout,
                          int k, int stride, int pad, int bias)
{
    ZERO(l);
    if (!layer_begin(nn, &l->hdr, CG_NN_CONV2D, name) ||
        !conv_geometry_ok(nn, &l->hdr, cin, cout, k, stride, pad))
        return;
    *l = (cg_nn_conv2d){.hdr = l->hdr, .cin = cin, .cout = cout, .k = k, .stride = stride,
                        .pad = pad};
    l->weight = declare_weight(nn, &l->hdr, CG_SHAPE(cout, cin, k, k), 0, &l->weight_u,
                               &l->weight_v);
    if (bias)
        l->bias = declare(nn, &l->hdr, "bias", 0, CG_SHAPE(cout));
    if (nn->err == CG_OK)
        layer_link(nn, &l->hdr);
}

void cg_nn_conv_transpose2d_declare(cg_nn *nn, cg_nn_conv_transpose2d *l, const char *name,
                                    int cin, int cout, int k, int stride, int pad, int bias)
{
    ZERO(l);
    if (!layer_begin(nn, &l->hdr, CG_NN_CONV_TRANSPOSE2D, name) ||
        !conv_geometry_ok(nn, &l->hdr, cin, cout, k, stride, pad))
        return;
    *l = (cg_nn_conv_transpose2d){.hdr = l->hdr, .cin = cin, .cout = cout, .k = k,
                                  .stride = stride, .pad = pad};
    l->weight = declare_weight(nn, &l->hdr, CG_SHAPE(cin, cout, k, k), 1, &l->weight_u,
                               &l->weight_v);
    if (bias)
        l->bias = declare(nn, &l->hdr, "bias", 0, CG_SHAPE(cout));
    if (nn->err == CG_OK)
        layer_link(nn, &l->hdr);
}

/* Context error naming the layer, as an op's error names the op; returns NULL. */
__attribute__((format(printf, 3, 4)))
static cg_tensor *fwd_fail(cg_ctx *ctx, const cg_nn_layer *l, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cg_fail(ctx, CG_ERR_ARG, "%s: %s %s", label(l), KIND_NAME[l->kind], msg);
    return NULL;
}

/* An earlier error, a NULL input, or a layer that was never declared. */
static int fwd_begin(cg_ctx *ctx, const cg_nn_layer *l, const cg_tensor *x, const void *w)
{
    if (!cg_ok(ctx))
        return 0;
    if (!x) {
        cg_fail(ctx, CG_ERR_STATE, "%s: NULL input with no error set", label(l));
        return 0;
    }
    if (!w) {
        cg_fail(ctx, CG_ERR_STATE, "%s: forward of a layer that was not declared",
                label(l));
        return 0;
    }
    return 1;
}

cg_tensor *cg_nn_linear_fwd(cg_ctx *ctx, cg_nn_linear *l, cg_tensor *x)
{
    if (!fwd_begin(ctx, &l->hdr, x, l->weight))
        return NULL;
    if (x->ndim != 2 || x->shape[1] != l->in) {
        char s[64];
        return fwd_fail(ctx, &l->hdr, "expects x (N, %d), got %s", l->in,
                        cg_shape_str(x, s, sizeof s));
    }
    return cg_linear(ctx, x, layer_weight(ctx, &l->hdr, l->weight), l->bias);
}

static int conv_input_ok(cg_ctx *ctx, const cg_nn_layer *l, const cg_tensor *x, int cin, int k,
                         int pad, int transposed)
{
    char s[64];
    if (x->ndim != 4 || x->shape[1] != cin) {
        fwd_fail(ctx, l, "expects x (N, %d, H, W), got %s", cin, cg_shape_str(x, s, sizeof s));
        return 0;
    }
    int H = x->shape[2], W = x->shape[3];
    if (!transposed && (k > H + 2 * pad || k > W + 2 * pad)) {
        fwd_fail(ctx, l, "kernel %dx%d is larger than the padded input %dx%d (x %s, padding %d)",
                 k, k, H + 2 * pad, W + 2 * pad, cg_shape_str(x, s, sizeof s), pad);
        return 0;
    }
    return 1;
}

cg_tensor *cg_nn_conv2d_fwd(cg_ctx *ctx, cg_nn_conv2d *l, cg_tensor *x)
{
    if (!fwd_begin(ctx, &l->hdr, x, l->weight) ||
        !conv_input_ok(ctx, &l->hdr, x, l->cin, l->k, l->pad, 0))
        return NULL;
    return cg_conv2d(ctx, x, layer_weight(ctx, &l->hdr, l->weight), l->bias, l->stride, l->pad);
}

cg_tensor *cg_nn_conv_transpose2d_fwd(cg_ctx *ctx, cg_nn_conv_transpose2d *l, cg_tensor *x)
{
    if (!fwd_begin(ctx, &l->hdr, x, l->weight) ||
        !conv_input_ok(ctx, &l->hdr, x, l->cin, l->k, l->pad, 1))
        return NULL;
    int H = x->shape[2], W = x->shape[3];
    int Ho = (H - 1) * l->stride - 2 * l->pad + l->k, Wo = (W - 1) * l->stride - 2 * l->pad + l->k;
    if (Ho < 1 || Wo < 1) {
        char s[64];
        return fwd_fail(ctx, &l->hdr, "padding %d leaves no output for x %s", l->pad,
                        cg_shape_str(x, s, sizeof s));
    }
    return cg_conv_transpose2d(ctx, x, layer_weight(ctx, &l->hdr, l->weight), l->bias, l->stride,
                               l->pad);
}

/* ---- BatchNorm2d, GroupNorm, LayerNorm ---------------------------------------------- */

void cg_nn_batchnorm2d_declare(cg_nn *nn, cg_nn_batchnorm2d *l, const char *name, int channels)
{
    ZERO(l);
    if (!layer_begin(nn, &l->hdr, CG_NN_BATCHNORM2D, name) ||
        !sizes_ok(nn, &l->hdr, "num_features", channels))
        return;
    *l = (cg_nn_batchnorm2d){.hdr = l->hdr, .channels = channels, .momentum = BN_MOMENTUM,
                             .eps = NORM_EPS, .track_running_stats = 1};
    int C = channels;
    l->weight = declare(nn, &l->hdr, "weight", 0, CG_SHAPE(C));
    l->bias = declare(nn, &l->hdr, "bias", 0, CG_SHAPE(C));
    l->running_mean = declare(nn, &l->hdr, "running_mean", 1, CG_SHAPE(C));
    l->running_var = declare(nn, &l->hdr, "running_var", 1, CG_SHAPE(C));
    l->num_batches_tracked = declare(nn, &l->hdr, "num_batches_tracked", 1, CG_SHAPE(1));
    if (nn->err == CG_OK)
        layer_link(nn, &l->hdr);
}

cg_tensor *cg_nn_batchnorm2d_fwd(cg_ctx *ctx, cg_nn_batchnorm2d *l, cg_tensor *x)
{
    if (!fwd_begin(ctx, &l->hdr, x, l->weight))
        return NULL;
    if (x->ndim != 4 || x->shape[1] != l->channels) {
        char s[64];
        return fwd_fail(ctx, &l->hdr, "expects x (N, %d, H, W), got %s", l->channels,
                        cg_shape_str(x, s, sizeof s));
    }
    int training = l->hdr.training, track = !training || l->track_running_stats;
    cg_tensor *y = cg_batchnorm(ctx, x, l->weight, l->bias, track ? l->running_mean : NULL,
                                track ? l->running_var : NULL, training, l->momentum, l->eps);
    if (!y || !training || !track)
        return y;
    /* num_batches_tracked += 1 where the buffer lives (host or GPU), off the tape */
    cg_tensor *c = l->num_batches_tracked;
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *next = cg_affine(ctx, c, 1.0, 1.0);
    cg_set_grad(ctx, prev);
    if (!next || cg_copy(ctx, c, 0, next) != CG_OK)
        return NULL;
    return y;
}

void cg_nn_groupnorm_declare(cg_nn *nn, cg_nn_groupnorm *l, const char *name, int groups,
                             int channels)
{
    ZERO(l);
    if (!layer_begin(nn, &l->hdr, CG_NN_GROUPNORM, name) ||
        !sizes_ok(nn, &l->hdr, "num_groups", groups) ||
        !sizes_ok(nn, &l->hdr, "num_channels", channels))
        return;
    if (channels % groups != 0) {
        nn_fail(nn, CG_ERR_ARG, "%s: GroupNorm needs num_channels (%d) divisible by num_groups "
                "(%d)", label(&l->hdr), channels, groups);
        return;
    }
    *l = (cg_nn_groupnorm){.hdr = l->hdr, .groups = groups, .channels = channels,
                           .eps = NORM_EPS};
    l->weight = declare(nn, &l->hdr, "weight", 0, CG_SHAPE(channels));
    l->bias = declare(nn, &l->hdr, "bias", 0, CG_SHAPE(channels));
    if (nn->err == CG_OK)
        layer_link(nn, &l->hdr);
}

cg_tensor *cg_nn_groupnorm_fwd(cg_ctx *ctx, cg_nn_groupnorm *l, cg_tensor *x)
{
    if (!fwd_begin(ctx, &l->hdr, x, l->weight))
        return NULL;
    if (x->ndim < 2 || x->shape[1] != l->channels) {
        char s[64];
        return fwd_fail(ctx, &l->hdr, "expects x (N, %d, ...), got %s", l->channels,
                        cg_shape_str(x, s, sizeof s));
    }
    return cg_groupnorm(ctx, x, l->weight, l->bias, l->groups, l->eps);
}

void cg_nn_layernorm_declare(cg_nn *nn, cg_nn_layernorm *l, const char *name, int dim)
{
    cg_nn_layernorm_declare_shape(nn, l, name, &dim, 1);
}

void cg_nn_layernorm_declare_shape(cg_nn *nn, cg_nn_layernorm *l, const char *name,
                                   const int *shape, int ndim)
{
    ZERO(l);
    if (!layer_begin(nn, &l->hdr, CG_NN_LAYERNORM, name))
        return;
    if (ndim < 1 || ndim > 3) {
        nn_fail(nn, CG_ERR_ARG, "%s: LayerNorm over %d dims (1 to 3 supported)", label(&l->hdr),
                ndim);
        return;
    }
    int64_t dim = 1;
    for (int d = 0; d < ndim; d++) {
        if (!sizes_ok(nn, &l->hdr, "normalized_shape", shape[d]))
            return;
        dim *= shape[d];
    }
    if (dim > INT32_MAX) {
        nn_fail(nn, CG_ERR_ARG, "%s: LayerNorm over %lld values is too many", label(&l->hdr),
                (long long)dim);
        return;
    }
    *l = (cg_nn_layernorm){.hdr = l->hdr, .dim = (int)dim, .ndim = ndim, .eps = NORM_EPS};
    memcpy(l->shape, shape, sizeof(int) * (size_t)ndim);
    l->weight = declare(nn, &l->hdr, "weight", 0, shape, ndim);
    l->bias = declare(nn, &l->hdr, "bias", 0, shape, ndim);
    if (nn->err == CG_OK)
        layer_link(nn, &l->hdr);
}

cg_tensor *cg_nn_layernorm_fwd(cg_ctx *ctx, cg_nn_layernorm *l, cg_tensor *x)
{
    if (!fwd_begin(ctx, &l->hdr, x, l->weight))
        return NULL;
    int ok = x->ndim > l->ndim || (l->ndim == 1 && x->ndim == 1);
    for (int d = 0; ok && d < l->ndim; d++)
        ok = cg_dim(x, d - l->ndim) == l->shape[d];
    if (!ok) {
        char s[64];
        return fwd_fail(ctx, &l->hdr, "expects x (..., %s), got %s",
                        cg_shape_str(l->weight, (char[64]){0}, 64) + 1,
                        cg_shape_str(x, s, sizeof s));
    }
    if (l->ndim == 1)
        return cg_layernorm(ctx, x, l->weight, l->bias, l->eps);
    /* rows of the last ndim dims: (n / D, D), then back to x's shape */
    int rows = (int)(x->n / l->dim);
    cg_tensor *y = cg_layernorm(ctx, cg_reshape(ctx, x, CG_SHAPE(rows, l->dim)), l->weight,
                                l->bias, l->eps);
    return cg_reshape(ctx, y, x->shape, x->ndim);
}

/* ---- Embedding ---------------------------------------------------------------------- */

void cg_nn_embedding_declare(cg_nn *nn, cg_nn_embedding *l, const char *name, int num, int dim)
{
    ZERO(l);
    if (!layer_begin(nn, &l->hdr, CG_NN_EMBEDDING, name) ||
        !sizes_ok(nn, &l->hdr, "num_embeddings", num) ||
        !sizes_ok(nn, &l->hdr, "embedding_dim", dim))
        return;
    *l = (cg_nn_embedding){.hdr = l->hdr, .num = num, .dim = dim};
    l->weight = declare(nn, &l->hdr, "weight", 0, CG_SHAPE(num, dim));
    if (nn->err == CG_OK)
        layer_link(nn, &l->hdr);
}

cg_tensor *cg_nn_embedding_fwd(cg_ctx *ctx, cg_nn_embedding *l, const int32_t *idx, int n)
{
    if (!cg_ok(ctx))
        return NULL;
    if (!l->weight) {
        cg_fail(ctx, CG_ERR_STATE, "%s: forward of a layer that was not declared",
                label(&l->hdr));
        return NULL;
    }
    if (!idx)
        return fwd_fail(ctx, &l->hdr, "got NULL indices");
    if (n < 1)
        return fwd_fail(ctx, &l->hdr, "expects n >= 1 indices, got %d", n);
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= l->num)
            return fwd_fail(ctx, &l->hdr, "index %d at position %d is outside [0, %d)",
                            (int)idx[i], i, l->num);
    return cg_embedding(ctx, l->weight, idx, n);
}
