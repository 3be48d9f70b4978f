/*
 * ops.h: every differentiable op, as model code calls it.
 *
 * Each op checks shapes, computes its output in the step arena, records a
 * tape node when an input needs gradients, and dispatches to the CPU or CUDA
 * backend by the inputs' device. Errors are sticky in the context: an op that
 * fails (or gets a NULL input) sets ctx->err and returns NULL, so a forward
 * pass checks cg_ok(ctx) once at the end, like cudaGetLastError.
 *
 * Layouts follow PyTorch so that checkpoints map onto its state_dicts:
 * activations NCHW, linear weights (out, in), conv weights (Cout, Cin, k, k),
 * conv-transpose weights (Cin, Cout, k, k).
 *
 * Not for: layers that own parameters (nn.h), optimizers (optim.h).
 */
#ifndef CUGEN_OPS_H
#define CUGEN_OPS_H

#include "cugen/tensor.h"
#include "cugen/rng.h"

typedef enum {
    CG_REDUCE_MEAN = 0,   /* mean over all elements (PyTorch's default) */
    CG_REDUCE_SUM,        /* sum over all elements */
    CG_REDUCE_BATCHMEAN,  /* sum over all elements / size of dim 0 */
} cg_reduce;

/* ---- dense --------------------------------------------------------------- */
/* x (N, in), w (out, in), b (out) or NULL -> (N, out) */
cg_tensor *cg_linear(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, cg_tensor *b);
/* Batched matmul: a (B, M, K), b (B, K, N) -> (B, M, N). trans_a / trans_b
 * read a as (B, K, M) / b as (B, N, K) and use their transposes. */
cg_tensor *cg_bmm(cg_ctx *ctx, cg_tensor *a, cg_tensor *b, int trans_a, int trans_b);

/* ---- convolution ----------------------------------------------------------- */
/* x (N, Cin, H, W), w (Cout, Cin, k, k), b (Cout) or NULL.
 * Out H' = (H + 2 pad - k) / stride + 1. */
cg_tensor *cg_conv2d(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, cg_tensor *b,
                     int stride, int pad);
/* conv2d with a rectangular kernel: w (Cout, Cin, kh, kw), pad_h zero rows
 * above and below, pad_w zero columns left and right (Inception's 1x7 / 7x1).
 * Out H' = (H + 2 pad_h - kh) / stride + 1, W' = (W + 2 pad_w - kw) / stride + 1. */
cg_tensor *cg_conv2d_hw(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, cg_tensor *b,
                        int stride, int pad_h, int pad_w);
/* x (N, Cin, H, W), w (Cin, Cout, k, k), b (Cout) or NULL.
 * Out H' = (H - 1) stride - 2 pad + k. */
cg_tensor *cg_conv_transpose2d(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, cg_tensor *b,
                               int stride, int pad);

/* ---- normalisation ---------------------------------------------------------- */
/* x (N, C) or (N, C, H, W); gamma, beta (C) or NULL (affine off).
 * training: normalise with batch statistics and update the running ones
 * with PyTorch's rule r = (1 - momentum) r + momentum * stat, the variance
 * unbiased (n / (n - 1)); eval: normalise with the running ones. A
 * training batch norm takes its statistics as ctx->bn says (cugen/tensor.h):
 * over ghost slices of the batch, or over the batches of several processes
 * (sums over them between its reduction and its normalisation, in the
 * forward and the backward alike). */
cg_tensor *cg_batchnorm(cg_ctx *ctx, cg_tensor *x, cg_tensor *gamma, cg_tensor *beta,
                        cg_tensor *running_mean, cg_tensor *running_var,
                        int training, double momentum, double eps);
/* x (N, C, ...) with C divisible by groups; gamma, beta (C) or NULL. */
cg_tensor *cg_groupnorm(cg_ctx *ctx, cg_tensor *x, cg_tensor *gamma, cg_tensor *beta,
                        int groups, double eps);
/* Normalise over the last dim D; gamma, beta (D) or NULL. */
cg_tensor *cg_layernorm(cg_ctx *ctx, cg_tensor *x, cg_tensor *gamma, cg_tensor *beta,
                        double eps);

/* ---- elementwise ------------------------------------------------------------- */
cg_tensor *cg_relu(cg_ctx *ctx, cg_tensor *x);
cg_tensor *cg_leaky_relu(cg_ctx *ctx, cg_tensor *x, double slope);
cg_tensor *cg_tanh(cg_ctx *ctx, cg_tensor *x);
/* torch.clamp(x, lo, hi): the bounds in x's precision; NaN passes through;
 * the gradient flows where lo <= x <= hi. lo > hi is an error. */
cg_tensor *cg_clamp(cg_ctx *ctx, cg_tensor *x, double lo, double hi);
cg_tensor *cg_sigmoid(cg_ctx *ctx, cg_tensor *x);
cg_tensor *cg_silu(cg_ctx *ctx, cg_tensor *x);
cg_tensor *cg_softplus(cg_ctx *ctx, cg_tensor *x);   /* log(1 + e^x), stable */
cg_tensor *cg_exp(cg_ctx *ctx, cg_tensor *x);
cg_tensor *cg_log(cg_ctx *ctx, cg_tensor *x);        /* x > 0 */
/* x^p for a finite p (x > 0 unless p is an integer); pow(x, 0.5) is sqrt. */
cg_tensor *cg_pow(cg_ctx *ctx, cg_tensor *x, double p);
/* Zero each element with probability p and scale the rest by 1 / (1 - p).
 * The mask comes from rng (Philox), so CPU and GPU drop the same elements.
 * Identity when !training or p == 0. */
cg_tensor *cg_dropout(cg_ctx *ctx, cg_tensor *x, double p, cg_rng *rng, int training);

/* a op b with b broadcast to a's shape (numpy rules: b's dims, aligned on the
 * right, are 1 or equal to a's). The output has a's shape. */
cg_tensor *cg_add(cg_ctx *ctx, cg_tensor *a, cg_tensor *b);
cg_tensor *cg_sub(cg_ctx *ctx, cg_tensor *a, cg_tensor *b);
cg_tensor *cg_mul(cg_ctx *ctx, cg_tensor *a, cg_tensor *b);
/* x summed to `shape`, which broadcasts to x's shape (numpy rules), over the
 * dims where shape has 1 or nothing: (N, D) to (N, 1) sums each row, (N, C,
 * H, W) to (C, 1, 1) each channel (PyTorch's sum_to_size). x itself when the
 * shape is x's. cg_expand is its adjoint: x broadcast to `shape`. */
cg_tensor *cg_sum_to(cg_ctx *ctx, cg_tensor *x, const int *shape, int ndim);
cg_tensor *cg_expand(cg_ctx *ctx, cg_tensor *x, const int *shape, int ndim);
/* s * x + t */
cg_tensor *cg_scale(cg_ctx *ctx, cg_tensor *x, double s);
cg_tensor *cg_affine(cg_ctx *ctx, cg_tensor *x, double s, double t);

/* ---- shape ------------------------------------------------------------------ */
/* Same data, new shape (same numel); free in the forward pass. */
cg_tensor *cg_reshape(cg_ctx *ctx, cg_tensor *x, const int *shape, int ndim);
/* Same data, same shape, cut from the tape: no gradient flows back into x
 * through the result (a GAN's fakes in the discriminator's step). */
cg_tensor *cg_detach(cg_ctx *ctx, cg_tensor *x);
/* Concatenate on dim 1 (channels); all other dims equal. */
cg_tensor *cg_concat(cg_ctx *ctx, cg_tensor *const *xs, int n);
/* Split on dim 1 into n parts of the given sizes (summing to dim 1). */
cg_status cg_split(cg_ctx *ctx, cg_tensor *x, const int *sizes, int n, cg_tensor **out);
/* (N, C, H, W) -> (N, C, 2H, 2W), nearest neighbour */
cg_tensor *cg_upsample2x(cg_ctx *ctx, cg_tensor *x);
/* (N, C, H, W) -> (N, C, H/2, W/2), mean of each 2x2 window; H, W even */
cg_tensor *cg_avgpool2x(cg_ctx *ctx, cg_tensor *x);
/* k x k windows every `stride` pixels over x zero-padded by pad (0 <= pad <=
 * k / 2): (N, C, H, W) -> (N, C, H', W'), H' = (H + 2 pad - k) / stride + 1
 * (PyTorch's max_pool2d / avg_pool2d, ceil_mode off). maxpool2d: the largest
 * element (padding never wins); its gradient goes to the first largest.
 * avgpool2d: the mean, divided by k k when count_include_pad, else by the
 * number of image pixels in the window. */
cg_tensor *cg_maxpool2d(cg_ctx *ctx, cg_tensor *x, int k, int stride, int pad);
cg_tensor *cg_avgpool2d(cg_ctx *ctx, cg_tensor *x, int k, int stride, int pad,
                        int count_include_pad);
/* (N, C, H, W) -> (N, C, height, width), bilinear with align_corners = False
 * (torch.nn.functional.interpolate(mode='bilinear'), no antialiasing). */
cg_tensor *cg_resize_bilinear(cg_ctx *ctx, cg_tensor *x, int height, int width);

/* Space to depth for multi-scale flows, PyTorch's pixel_unshuffle(x, 2):
 * (N, C, H, W) -> (N, 4C, H/2, W/2), y[n, 4c + 2a + b, i, j] = x[n, c, 2i + a, 2j + b];
 * H, W even. unsqueeze2x is its inverse (pixel_shuffle(x, 2)): C a multiple of 4. */
cg_tensor *cg_squeeze2x(cg_ctx *ctx, cg_tensor *x);
cg_tensor *cg_unsqueeze2x(cg_ctx *ctx, cg_tensor *x);

/* ---- reductions ---------------------------------------------------------------- */
cg_tensor *cg_sum(cg_ctx *ctx, cg_tensor *x);    /* -> (1) */
cg_tensor *cg_mean(cg_ctx *ctx, cg_tensor *x);   /* -> (1) */
/* Softmax over the last dim. */
cg_tensor *cg_softmax(cg_ctx *ctx, cg_tensor *x);

/* ---- spectral normalisation ------------------------------------------------------ */
/* w / sigma(w), torch.nn.utils.spectral_norm's weight: w seen as the matrix
 * W (w.shape[dim], -1) (dim 0: Linear, Conv2d; dim 1: ConvTranspose2d, whose
 * rows are its output channels), u (w.shape[dim]) and v (the rest) its
 * singular vector estimates, buffers on w's device. update (training): one
 * power iteration first, v = normalize(W^T u), u = normalize(W v) written
 * back into u and v (normalize: x / max(|x|, 1e-12)); then sigma = u . W v.
 * The gradient reaches w through W / sigma with u and v constants, as
 * PyTorch's does; u and v get none. */
cg_tensor *cg_spectral_norm(cg_ctx *ctx, cg_tensor *w, cg_tensor *u, cg_tensor *v, int dim,
                            int update);

/* ---- embeddings ---------------------------------------------------------------- */
/* t (N) -> (N, dim): [cos(t f_0..f_{h-1}), sin(t f_0..f_{h-1})], h = dim / 2,
 * f_j = max_period^(-j / h) (the DDPM / "Attention is all you need" form). */
cg_tensor *cg_timestep_embedding(cg_ctx *ctx, cg_tensor *t, int dim, double max_period);
/* Rows of a table (torch.nn.functional.embedding): weight (num, dim) and n
 * indices idx[0..n) in [0, num), host memory, int32 like a batch's labels
 * -> (n, dim), row i = weight[idx[i]]. An index outside [0, num) is an error
 * before anything is read. The gradient goes to weight only: the rows of the
 * output gradient add up where an index repeats. */
cg_tensor *cg_embedding(cg_ctx *ctx, cg_tensor *weight, const int32_t *idx, int n);
/* The lookup's backward as an op (its create-graph backward): g (n, dim) ->
 * (num, dim), row r = the sum of the rows i of g with idx[i] = r (zero where
 * none). Its gradient is the lookup of the output gradient's rows. */
cg_tensor *cg_embedding_scatter(cg_ctx *ctx, cg_tensor *g, const int32_t *idx, int num);

/* ---- losses: scalar (1) outputs ------------------------------------------------- */
/* p in (0, 1), target in [0, 1] */
cg_tensor *cg_bce(cg_ctx *ctx, cg_tensor *p, cg_tensor *target, cg_reduce red);
cg_tensor *cg_bce_with_logits(cg_ctx *ctx, cg_tensor *logits, cg_tensor *target, cg_reduce red);
cg_tensor *cg_mse(cg_ctx *ctx, cg_tensor *x, cg_tensor *target, cg_reduce red);
/* KL( N(mu, exp(logvar)) || N(0, 1) ) elementwise, then reduced. */
cg_tensor *cg_gaussian_kl(cg_ctx *ctx, cg_tensor *mu, cg_tensor *logvar, cg_reduce red);
/* -log Bernoulli(x | sigmoid(logits)), elementwise, reduced. */
cg_tensor *cg_bernoulli_nll(cg_ctx *ctx, cg_tensor *logits, cg_tensor *x, cg_reduce red);
/* -log N(x | mu, exp(logvar)), elementwise incl. 0.5 log 2 pi, reduced.
 * logvar has mu's shape, or one element shared by all. */
cg_tensor *cg_gaussian_nll(cg_ctx *ctx, cg_tensor *x, cg_tensor *mu, cg_tensor *logvar,
                           cg_reduce red);
/* logits (N, K), labels[N] in [0, K); mean or sum over N. */
cg_tensor *cg_softmax_xent(cg_ctx *ctx, cg_tensor *logits, const int32_t *labels, cg_reduce red);
/* Squared maximum mean discrepancy (biased V-statistic) between the rows of
 * x (N, D) and y (M, D) under a sum of Gaussian kernels
 * k(a, b) = sum_s exp(-|a - b|^2 / (2 sigma_s^2)). Gradients flow to x and y. */
cg_tensor *cg_mmd2_rbf(cg_ctx *ctx, cg_tensor *x, cg_tensor *y, const double *sigmas, int ns);

/* The threads the CPU path splits its work over (OPENBLAS_NUM_THREADS, else
 * the cores). Sums split over threads may round differently with another
 * count, so a run records it. */
int cg_cpu_threads(void);

#endif
