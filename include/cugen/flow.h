/*
 * flow.h: RealNVP normalizing flows (Dinh et al. 2017) on 2-D points, as in
 * the seed article: a stack of affine coupling layers; layer i keeps
 * coordinate c = i % 2 and transforms the other one, o = 1 - c:
 *
 *   s, t = split(net_i(x_c)),  net_i = Linear(1, H) ReLU Linear(H, H) ReLU
 *                                      Linear(H, 2)
 *   y_c = x_c,  y_o = x_o * exp(tanh(s)) + t,  log|det J| = tanh(s)
 *
 * The tanh keeps every layer's scale within [1/e, e], which keeps training
 * stable (the article's sigmoid(s + 2) bounds it the same way). The base
 * distribution is N(0, I), so log p(x) = log N(f(x); 0, I) + sum_i log|det J_i|
 * exactly, and sampling inverts the layers: x_o = (y_o - t) * exp(-tanh(s)).
 *
 * Parameters are named as a PyTorch ModuleList `layers` of such couplings
 * with an nn.Sequential `net` has them: layers.<i>.net.{0,2,4}.{weight,bias}
 * (scripts/make_vae_flow_ref.py builds that module), one cg_nn_linear each.
 *
 * Below them, the image RealNVP (cg_flowimg).
 */
#ifndef CUGEN_FLOW_H
#define CUGEN_FLOW_H

#include "cugen/data.h"
#include "cugen/layers.h"
#include "cugen/optim.h"
#include "cugen/train.h"

#define CG_FLOW2D_MAX_LAYERS 32

typedef struct {
    int layers, hidden;
} cg_flow2d_arch;

/* layers.<i>.net: Linear(1, H) ReLU Linear(H, H) ReLU Linear(H, 2) */
typedef struct {
    cg_nn_linear net0;   /* layers.<i>.net.0: (H, 1) + (H) */
    cg_nn_linear net2;   /* layers.<i>.net.2: (H, H) + (H) */
    cg_nn_linear net4;   /* layers.<i>.net.4: (2, H) + (2); s then t */
} cg_flow2d_coupling;

typedef struct {
    cg_flow2d_arch a;
    cg_params p;
    cg_nn nn;
    cg_flow2d_coupling l[CG_FLOW2D_MAX_LAYERS];
} cg_flow2d;

cg_status cg_flow2d_build(cg_flow2d *m, const cg_flow2d_arch *a, char *err, size_t errlen);
void cg_flow2d_free(cg_flow2d *m);
/* nn.Linear's default initialisation (cg_nn_init), except the last layer of
 * every net: zero, so that the flow starts as the identity. */
void cg_flow2d_init(cg_flow2d *m, uint64_t seed, uint32_t stream);

/* Coupling layer i on x (N, 2): y (N, 2) and *logdet (N, 1). */
cg_tensor *cg_flow2d_coupling_fwd(cg_ctx *ctx, cg_flow2d *m, int i, cg_tensor *x,
                                  cg_tensor **logdet);
/* Its inverse: x (N, 2) from y (N, 2); *logdet (N, 1) of the inverse map
 * (minus the forward one) when not NULL. */
cg_tensor *cg_flow2d_coupling_inv(cg_ctx *ctx, cg_flow2d *m, int i, cg_tensor *y,
                                  cg_tensor **logdet);

/* z = f(x) through all layers, *logdet (N, 1) their sum. */
cg_tensor *cg_flow2d_forward(cg_ctx *ctx, cg_flow2d *m, cg_tensor *x, cg_tensor **logdet);
/* x = f^-1(z). */
cg_tensor *cg_flow2d_inverse(cg_ctx *ctx, cg_flow2d *m, cg_tensor *z);
/* The mean of -log p(x) over the rows of x, a (1) tensor on the tape. */
cg_tensor *cg_flow2d_nll(cg_ctx *ctx, cg_flow2d *m, cg_tensor *x);
/* log p(x) of each row into logp[N] (no tape). */
cg_status cg_flow2d_log_prob(cg_ctx *ctx, cg_flow2d *m, cg_tensor *x, double *logp);

/* The mean NLL of the points xy (n, 2) under the maximum-likelihood
 * Gaussian of those points (sample mean, biased covariance), nats. */
double cg_gaussian_mle_nll(const real *xy, int64_t n);

/* ---- RealNVP on images (Dinh et al. 2017, multi-scale) ----------------------
 * Pixels are dequantised and logit-transformed first (not learnt):
 *   x = (pixel + u) / 256, u ~ U(0, 1);  y = logit(a + (1 - 2a) x), a = 0.05
 * whose log|dy/dx| is added to the likelihood. Then, for C x S x S images and
 * K = scales, the paper's recipe: for each scale k < K - 1, on (C_k, S_k, S_k)
 * with C_k = C 2^k, S_k = S / 2^k:
 *
 *   L checkerboard couplings (the mask's parity alternates)
 *   squeeze  (4 C_k, S_k/2, S_k/2)
 *   L channel couplings (the kept half alternates)
 *   factor   2 C_k channels leave as z_k; the other 2 C_k go on
 *
 * and at the last scale `last` checkerboard couplings (the paper: L = 3,
 * last = 4) -> z_{K-1}. z is z_0, z_1, ..., each flattened in (C, H, W) order.
 * Stage j (0, 1, ... 2K - 2: checkerboard, channel, checkerboard, ...) has
 * the letter 'a' + j in the names.
 *
 * Every coupling is followed by a normalisation, per channel:
 *   act-norm   y = x exp(logs) + bias, initialised from the first batch to zero
 *              mean and unit variance (Kingma & Dhariwal 2018);
 *   batchnorm  y = (x - mean) / sqrt(var + eps) exp(logs) + bias, the batch's
 *              mean and (biased) variance over (N, H, W) in training, with
 *              log-det sum(logs - 0.5 log(var + eps)) per position, the
 *              gradient taken through mean and var; running averages
 *              (momentum 0.1, of the same biased variance) in eval mode and
 *              for sampling (the paper's batch normalisation, the scale kept
 *              positive as exp(logs)).
 * A coupling computes s, t from the kept part with a small ResNet: conv3x3
 * (F) ReLU, one residual block (conv3x3 ReLU conv3x3, + skip), ReLU, conv3x3
 * to 2 x channels (zero-initialised: the flow starts as the identity);
 * s = tanh(raw); the changed part becomes x exp(s) + t. Base: N(0, I).
 * Names: a.<i>.net.{in,res1,res2,out}.{weight,bias}, a.<i>.norm.{logs,bias},
 * a.<i>.norm.inited (act-norm buffer) or a.<i>.norm.{running_mean,running_var}
 * (batchnorm buffers), b.<i>..., image_size (buffer). The names and shapes
 * determine the architecture: a file of the earlier one-scale flow (stages
 * a, b, c of L couplings each) is the case scales = 2, last = L. */
#define CG_FLOWIMG_MAX_L 8
#define CG_FLOWIMG_MAX_SCALES 6
#define CG_FLOWIMG_MAX_STAGES (2 * CG_FLOWIMG_MAX_SCALES - 1)

typedef enum { CG_FLOWIMG_ACTNORM = 0, CG_FLOWIMG_BATCHNORM = 1 } cg_flowimg_norm;

typedef struct {
    int channels, size, layers, width;
    int scales;       /* 0: 2 */
    int last;         /* couplings of the last stage; 0: layers + 1 */
    int norm;         /* cg_flowimg_norm */
} cg_flowimg_arch;

/* One coupling and its normalisation. The s/t net is four Conv2d(k 3, padding 1)
 * layers; for cin = cout channels in (the checkerboard's ch, a channel
 * coupling's ch / 2) and width F: */
typedef struct {
    cg_nn_conv2d in;                 /* <s>.<i>.net.in: (F, cin, 3, 3) + (F) */
    cg_nn_conv2d res1, res2;         /* net.res1, net.res2: (F, F, 3, 3) + (F) */
    cg_nn_conv2d out;                /* net.out: (2 cout, F, 3, 3) + (2 cout); s then t */
    /* the normalisation is not nn.BatchNorm2d (a log-scale, (1, C, 1, 1) shapes,
     * the biased variance in its running one): parameters of its own */
    cg_tensor *logs, *bias;          /* norm.logs, norm.bias: scale and shift (1, C, 1, 1) */
    cg_tensor *inited;               /* act-norm: set from data yet (1) */
    cg_tensor *run_mean, *run_var;   /* batchnorm (1, C, 1, 1) */
    int parity, checker, ch;         /* mask parity; checkerboard or channel; channels */
    int ready;                       /* act-norm initialised: the host's copy of inited,
                                        read while the parameters are on the GPU */
} cg_flowimg_coupling;

typedef struct {
    cg_flowimg_arch a;               /* scales and last filled in */
    cg_params p;
    cg_nn nn;
    int stages, count;               /* 2 scales - 1; couplings */
    int first[CG_FLOWIMG_MAX_STAGES + 1];   /* stage j: couplings first[j] .. first[j+1]-1 */
    cg_flowimg_coupling l[CG_FLOWIMG_MAX_STAGES * (CG_FLOWIMG_MAX_L + 1)];
    cg_tensor *size_buf;
    /* the checkerboard masks of scale k, (1, C 2^k, S / 2^k, S / 2^k): 1 where
     * (i + j) % 2 == parity, or the complement; made once, moved with the
     * parameters (not saved: they are not parameters) */
    cg_params masks;
    cg_tensor *mask[CG_FLOWIMG_MAX_SCALES][2][2];   /* [k][parity][complement] */
    int training;                    /* batchnorm: batch statistics (and update the
                                        running ones) when 1; running ones when 0 */
} cg_flowimg;

/* "actnorm" / "batchnorm" */
const char *cg_flowimg_norm_name(int norm);

/* Builds with the given architecture; fills a->scales and a->last defaults.
 * The side must be a multiple of 2^(scales-1) with at least 2 left at the
 * last scale: 28 takes 1 to 3 scales, 32 takes 1 to 5. */
cg_status cg_flowimg_build(cg_flowimg *m, const cg_flowimg_arch *a, char *err, size_t errlen);
void cg_flowimg_free(cg_flowimg *m);
void cg_flowimg_init(cg_flowimg *m, uint64_t seed, uint32_t stream);

/* y (N, C, S, S) in logit space -> z (N, C*S*S): z1 then z2, each flattened
 * in (C, H, W) order; *logdet (1): the log-determinants summed over the batch. */
cg_tensor *cg_flowimg_forward(cg_ctx *ctx, cg_flowimg *m, cg_tensor *y, cg_tensor **logdet);
/* y (N, C, S, S) in logit space -> the mean NLL of y per image (nats), a (1)
 * tensor on the tape. */
cg_tensor *cg_flowimg_nll(cg_ctx *ctx, cg_flowimg *m, cg_tensor *y);
/* z (N, C*S*S), N(0, T^2) draws -> images y (N, C, S, S) in logit space. */
cg_tensor *cg_flowimg_inverse(cg_ctx *ctx, cg_flowimg *m, cg_tensor *z);

/* Moves the parameters and the masks to dev (cg_params_to_device), keeping
 * the act-norms initialised state on the host. */
cg_status cg_flowimg_to_device(cg_flowimg *m, cg_device dev, char *err, size_t errlen);

/* Loader images x (N, C, S, S) in [-1, 1] on either device -> y in logit
 * space on x's device, dequantised with u ~ U(0, 1) from r (cg_rng_fill_uniform:
 * the same u on both devices); *logdet (1): the sum over the batch of
 * log|dy/dx|, on x's device. Built from ops, not on the tape. */
cg_tensor *cg_flowimg_dequantize(cg_ctx *ctx, cg_tensor *x, cg_rng *r, cg_tensor **logdet);

/* One training step on either device: dequantise x, the mean NLL, backward,
 * the Adam step, zero the gradients; *nll (nats per image, of y) and
 * *logit_ld (per image) read back with one copy. CG_ERR_NUMERIC (the
 * context's error not set) when either is not finite: then nothing is
 * updated. The caller ends the step (cg_ctx_step_end). */
cg_status cg_flowimg_step(cg_ctx *ctx, cg_flowimg *m, cg_adam *opt, cg_tensor *x,
                          cg_rng *deq, double *nll, double *logit_ld);

/* Loader images (N, C, S, S) in [-1, 1] -> y in logit space (new tensor),
 * dequantised with u from r; *logdet_sum: sum over the batch of log|dy/dx|. */
cg_tensor *cg_flowimg_preprocess(cg_ctx *ctx, const real *images, int n, int C, int S,
                                 cg_rng *r, double *logdet_sum);
/* logit space -> pixel values in [-1, 1] for a grid */
void cg_flowimg_to_pixels(real *x, int64_t n);
/* bits per dimension from the mean NLL of y and the mean log|dy/dx| per image */
double cg_flowimg_bpd(double nll_y, double logit_logdet, int64_t dims);

cg_status cg_flowimg_load(const char *path, cg_flowimg *m, char *err, size_t errlen);
/* mean bits per dimension over the images of ds (the first `limit` when > 0) */
cg_status cg_flowimg_evaluate(cg_flowimg *m, const cg_dataset *ds, int64_t limit,
                              uint64_t seed, double *bpd, char *err, size_t errlen);

/* `cugen train realnvp`: the flags of the 2-D flow and of the image one
 * (0 / NULL: the default of the one trained), and their kinds for the
 * trainer. */
typedef struct {
    int64_t hidden, layers, width, scales;
    double temperature;
    const char *norm;
} cg_realnvp_flags;

#include "cugen/trainer.h"
/* `cugen train realnvp`: hands a toy --data to the 2-D flow, images to the
 * image flow (its variant hook); the two share cg_realnvp_flag_table. */
extern const cg_model_kind cg_kind_realnvp;
#define CG_REALNVP_NFLAGS 6
extern const cg_flag cg_realnvp_flag_table[CG_REALNVP_NFLAGS];
extern const cg_model_kind cg_kind_realnvp_images;
/* The 2-D flow on a toy set (--data moons, ...: fresh points every step;
 * realnvp_train.c): at the end its NLL on 20000 fresh points beside the best
 * single Gaussian's (scalars eval_nll, eval_nll_start, gauss_nll). */
extern const cg_model_kind cg_kind_realnvp_2d;

#endif
