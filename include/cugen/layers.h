/*
 * layers.h: layers built from ops, each declared under its PyTorch
 * state_dict name, owning its default initialisation and its forward.
 *
 * A model declares its layers into a cg_nn (which points at the model's
 * cg_params), allocates, initialises, then calls the layers' forwards:
 *
 *   cg_nn_begin(&m->nn, &m->p);
 *   cg_nn_conv2d_declare(&m->nn, &m->c1, "main.0", 3, 64, 4, 2, 1, 0);
 *   cg_nn_batchnorm2d_declare(&m->nn, &m->bn1, "main.1", 64);
 *   st = cg_nn_alloc(&m->nn, err, errlen);          // declaration errors, then the buffer
 *   st = cg_nn_init(&m->nn, &rng);                   // PyTorch's defaults, in order
 *   ...
 *   h = cg_nn_conv2d_fwd(ctx, &m->c1, x);
 *
 * Names and shapes are exactly PyTorch's: "<prefix>.weight", "<prefix>.bias",
 * and for BatchNorm2d also "<prefix>.running_mean", "<prefix>.running_var",
 * "<prefix>.num_batches_tracked" (a buffer of one element). An empty prefix
 * gives "weight", "bias" (a bare module's state_dict).
 *
 * Initialisation (torch.nn's reset_parameters, written once here):
 *   Linear, Conv2d, ConvTranspose2d: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 *     which is kaiming_uniform_(a = sqrt 5) for the weight; fan_in is weight.size(1)
 *     times the kernel area, as torch computes it from the weight tensor:
 *     in_features, in_channels k k, and out_channels k k for ConvTranspose2d
 *     (its weight is (in, out, k, k)).
 *   BatchNorm2d, GroupNorm, LayerNorm: weight 1, bias 0; running_mean 0,
 *     running_var 1, num_batches_tracked 0.
 *   Embedding: weight N(0, 1) (normal_).
 * Order of draws: cg_nn_init walks the layers in declaration order and, in
 * each, fills the weight then the bias, each fill taking the next values of
 * the one cg_rng (offsets from cg_rng_take, so a fill's values depend only
 * on the seed, the stream and the sizes of the fills before it). Norm layers
 * draw nothing. The result is the same on the CPU and the GPU (Philox).
 *
 * Spectral normalisation (torch.nn.utils.spectral_norm, n_power_iterations 1,
 * eps 1e-12): set nn->spectral_norm before declaring a Linear, Conv2d or
 * ConvTranspose2d (it stays set for the declarations after, like the group).
 * The layer's weight is then declared as "<prefix>.weight_orig", with the
 * buffers "<prefix>.weight_u" (rows) and "<prefix>.weight_v" (the rest) of
 * the matrix weight_orig.reshape(rows, -1), rows = out_features / out_channels
 * (dim 0; ConvTranspose2d: dim 1, its weight permuted first), which are the
 * names and shapes of a module with spectral_norm applied. cg_nn_init fills
 * u and v with N(0, 1) draws, normalised, after the layer's init hook (as
 * spectral_norm draws them after the module's construction). The forward
 * uses weight_orig / sigma: in training (hdr.training) one power iteration
 * first updates u and v, in eval the stored ones give sigma.
 *
 * Overriding: each layer's `hdr.init` is called by cg_nn_init; set it to
 * your own function after declaring (DCGAN: normal(0, 0.02) for conv weights),
 * or re-initialise a tensor afterwards with cg_init_normal / cg_init_uniform.
 *
 * Errors: a malformed declaration (channels or sizes < 1, a name already
 * declared, a prefix too long, out of memory) is sticky in the cg_nn, like
 * an op's error in the context: later declarations do nothing and
 * cg_nn_alloc returns it, the message starting with the layer's prefix.
 * A forward whose input does not fit the layer sets the context's error with
 * a message that starts with the layer's prefix and returns NULL.
 *
 * Not here: parameters that are not a layer (declare those with cg_param),
 * the flat buffer itself (nn.h).
 * The cg_nn and every declared layer must stay where they are (the cg_nn
 * keeps a list of pointers to the layers): declare into a model struct that
 * does not move.
 */
#ifndef CUGEN_LAYERS_H
#define CUGEN_LAYERS_H

#include "cugen/nn.h"
#include "cugen/ops.h"

#define CG_NN_NAME_MAX 96

typedef enum {
    CG_NN_LINEAR = 0,
    CG_NN_CONV2D,
    CG_NN_CONV_TRANSPOSE2D,
    CG_NN_BATCHNORM2D,
    CG_NN_GROUPNORM,
    CG_NN_LAYERNORM,
    CG_NN_EMBEDDING,
} cg_nn_kind;

struct cg_nn_layer;
/* Sets the layer's parameters and buffers; draws from r in a fixed order. */
typedef cg_status (*cg_nn_init_fn)(struct cg_nn_layer *l, cg_rng *r);

/* What every layer starts with (the first member of each layer struct). */
typedef struct cg_nn_layer {
    cg_nn_kind kind;
    char name[CG_NN_NAME_MAX];  /* the state_dict prefix, "main.0" */
    cg_nn_init_fn init;         /* cg_nn_init_default unless overridden */
    int training;               /* BatchNorm2d: batch statistics (1) or running ones;
                                 * spectral norm: a power iteration per forward (1) or
                                 * the stored vectors */
    struct cg_nn_layer *next;   /* declaration order */
} cg_nn_layer;

/* The declaration of one model's layers: where they go, the sticky error. */
typedef struct {
    cg_params *p;
    int group;                  /* parameter group of the next declarations (0) */
    int spectral_norm;          /* 1: the next Linear / Conv2d / ConvTranspose2d
                                 * declarations are spectrally normalised (0) */
    cg_nn_layer *head, *tail;
    cg_status err;
    char errmsg[256];
} cg_nn;

/* nn.Linear(in, out, bias): weight (out, in), bias (out) or NULL. With
 * spectral normalisation weight is "weight_orig", weight_u (out) and weight_v
 * (in) the power iteration's buffers; otherwise those are NULL. */
typedef struct {
    cg_nn_layer hdr;
    int in, out;
    cg_tensor *weight, *bias;
    cg_tensor *weight_u, *weight_v;
} cg_nn_linear;

/* nn.Conv2d(cin, cout, k, stride, padding, bias): weight (cout, cin, k, k);
 * spectral normalisation: weight_u (cout), weight_v (cin k k). */
typedef struct {
    cg_nn_layer hdr;
    int cin, cout, k, stride, pad;
    cg_tensor *weight, *bias;
    cg_tensor *weight_u, *weight_v;
} cg_nn_conv2d;

/* nn.ConvTranspose2d(cin, cout, k, stride, padding, bias): weight (cin, cout, k, k);
 * spectral normalisation: weight_u (cout), weight_v (cin k k). */
typedef struct {
    cg_nn_layer hdr;
    int cin, cout, k, stride, pad;
    cg_tensor *weight, *bias;
    cg_tensor *weight_u, *weight_v;
} cg_nn_conv_transpose2d;

/* nn.BatchNorm2d(C) (affine, tracking running stats): weight, bias (C) parameters;
 * running_mean, running_var (C) and num_batches_tracked (1) buffers. */
typedef struct {
    cg_nn_layer hdr;
    int channels;
    double momentum, eps;       /* 0.1, 1e-5 as PyTorch; change after declaring */
    int track_running_stats;    /* 1; 0 as PyTorch's attribute set to False after
                                 * construction: training uses batch statistics and
                                 * moves no buffer, eval still the running ones */
    cg_tensor *weight, *bias, *running_mean, *running_var, *num_batches_tracked;
} cg_nn_batchnorm2d;

/* nn.GroupNorm(groups, C): weight, bias (C); eps 1e-5. */
typedef struct {
    cg_nn_layer hdr;
    int groups, channels;
    double eps;
    cg_tensor *weight, *bias;
} cg_nn_groupnorm;

/* nn.LayerNorm(normalized_shape) over the last 1 to 3 dims (D, or (C, H, W)
 * as in a WGAN-GP critic): weight, bias of that shape; eps 1e-5. */
typedef struct {
    cg_nn_layer hdr;
    int dim;                    /* the product of shape[] */
    int shape[3], ndim;
    double eps;
    cg_tensor *weight, *bias;
} cg_nn_layernorm;

/* nn.Embedding(num, dim): weight (num, dim), a row per index (no padding_idx,
 * max_norm or sparse gradient). */
typedef struct {
    cg_nn_layer hdr;
    int num, dim;
    cg_tensor *weight;
} cg_nn_embedding;

/* ---- the declaration ------------------------------------------------------------ */
void cg_nn_begin(cg_nn *nn, cg_params *p);
/* The first declaration error (its message in err), else cg_params_alloc. */
cg_status cg_nn_alloc(cg_nn *nn, char *err, size_t errlen);
/* Every layer's init hook, in declaration order (and the spectral
 * normalisation vectors of a layer that has them, after its hook). */
cg_status cg_nn_init(cg_nn *nn, cg_rng *r);
/* cg_nn_alloc for a model's build: on a failure "WHO: why" in err and the
 * parameters freed. */
cg_status cg_nn_alloc_for(cg_nn *nn, const char *who, char *err, size_t errlen);
/* cg_nn_init drawing from a fresh Philox stream (seed, stream): a model's
 * init. */
cg_status cg_nn_init_seeded(cg_nn *nn, uint64_t seed, uint32_t stream);
/* An init hook: weight and bias zero, nothing drawn (a residual branch's or
 * a coupling's last layer, so that it starts as the identity): Linear,
 * Conv2d and ConvTranspose2d; CG_ERR_ARG for other layers. */
cg_status cg_nn_init_zeros(cg_nn_layer *l, cg_rng *r);
/* model.train() / model.eval(): sets every layer's training flag. */
void cg_nn_train(cg_nn *nn, int training);
/* PyTorch's default for the layer's kind (what hdr.init starts as). */
cg_status cg_nn_init_default(cg_nn_layer *l, cg_rng *r);

/* ---- layers: declare (bias: 1 or 0), then forward ------------------------------- */
void cg_nn_linear_declare(cg_nn *nn, cg_nn_linear *l, const char *name, int in, int out,
                          int bias);
void cg_nn_conv2d_declare(cg_nn *nn, cg_nn_conv2d *l, const char *name, int cin, int cout,
                          int k, int stride, int pad, int bias);
void cg_nn_conv_transpose2d_declare(cg_nn *nn, cg_nn_conv_transpose2d *l, const char *name,
                                    int cin, int cout, int k, int stride, int pad, int bias);
void cg_nn_batchnorm2d_declare(cg_nn *nn, cg_nn_batchnorm2d *l, const char *name,
                               int channels);
void cg_nn_groupnorm_declare(cg_nn *nn, cg_nn_groupnorm *l, const char *name, int groups,
                             int channels);
void cg_nn_layernorm_declare(cg_nn *nn, cg_nn_layernorm *l, const char *name, int dim);
/* nn.LayerNorm([d0, ..., d(ndim-1)]), ndim 1 to 3 */
void cg_nn_layernorm_declare_shape(cg_nn *nn, cg_nn_layernorm *l, const char *name,
                                   const int *shape, int ndim);
void cg_nn_embedding_declare(cg_nn *nn, cg_nn_embedding *l, const char *name, int num,
                             int dim);

/* x (N, in) -> (N, out) */
cg_tensor *cg_nn_linear_fwd(cg_ctx *ctx, cg_nn_linear *l, cg_tensor *x);
/* x (N, cin, H, W) -> (N, cout, (H + 2 pad - k) / stride + 1, ...) */
cg_tensor *cg_nn_conv2d_fwd(cg_ctx *ctx, cg_nn_conv2d *l, cg_tensor *x);
/* x (N, cin, H, W) -> (N, cout, (H - 1) stride - 2 pad + k, ...) */
cg_tensor *cg_nn_conv_transpose2d_fwd(cg_ctx *ctx, cg_nn_conv_transpose2d *l, cg_tensor *x);
/* x (N, C, H, W). Training (hdr.training): batch statistics; running_mean and
 * running_var move by momentum (running_var with the unbiased batch variance)
 * and num_batches_tracked counts one, unless track_running_stats is 0. Eval:
 * the running statistics. */
cg_tensor *cg_nn_batchnorm2d_fwd(cg_ctx *ctx, cg_nn_batchnorm2d *l, cg_tensor *x);
/* x (N, C, ...) */
cg_tensor *cg_nn_groupnorm_fwd(cg_ctx *ctx, cg_nn_groupnorm *l, cg_tensor *x);
/* x (..., D), or (..., shape) for a layer declared with a shape */
cg_tensor *cg_nn_layernorm_fwd(cg_ctx *ctx, cg_nn_layernorm *l, cg_tensor *x);
/* idx[0..n) in [0, num), host memory (a batch's labels) -> (n, dim) on the
 * weight's device */
cg_tensor *cg_nn_embedding_fwd(cg_ctx *ctx, cg_nn_embedding *l, const int32_t *idx, int n);

#endif
