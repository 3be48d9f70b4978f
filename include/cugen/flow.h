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
 * (scripts/make_vae_flow_ref.py builds that module).
 *
 * Not for: image flows (squeeze, masks, multi-scale).
 */
#ifndef CUGEN_FLOW_H
#define CUGEN_FLOW_H

#include "cugen/data.h"
#include "cugen/nn.h"
#include "cugen/train.h"

#define CG_FLOW2D_MAX_LAYERS 32

typedef struct {
    int layers, hidden;
} cg_flow2d_arch;

typedef struct {
    cg_tensor *w[3], *b[3];
} cg_flow2d_coupling;

typedef struct {
    cg_flow2d_arch a;
    cg_params p;
    cg_flow2d_coupling l[CG_FLOW2D_MAX_LAYERS];
} cg_flow2d;

cg_status cg_flow2d_build(cg_flow2d *m, const cg_flow2d_arch *a, char *err, size_t errlen);
void cg_flow2d_free(cg_flow2d *m);
/* nn.Linear's default initialisation, except the last layer of every net:
 * zero, so that the flow starts as the identity. */
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

/* ---- `cugen train realnvp --data moons` ------------------------------------ */
typedef struct {
    cg_toy toy;
    int layers, hidden;
    int64_t eval_points;       /* fresh points the final NLLs are measured on */
} cg_flow2d_opts;

typedef struct {
    int64_t steps;
    double train_nll;          /* the last batch's */
    double nll, gauss_nll;     /* on eval_points fresh points: flow, MLE Gaussian */
    double nll_start;          /* the flow's before training (the identity: N(0, I)) */
} cg_flow2d_result;

cg_status cg_flow2d_train(const cg_train_opts *o, const cg_flow2d_opts *f,
                          cg_flow2d_result *res, char *err, size_t errlen);

#endif
