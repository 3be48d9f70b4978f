/*
 * cuda_ops.h: the CUDA twins of the CPU reference ops, one list.
 *
 * Each entry point takes the arguments of its CPU twin in the same order
 * (outputs, saved-for-backward, inputs, weights, then sizes), with every
 * array in GPU memory, and returns a status: CG_OK once the work is queued
 * on the stream (it does not wait), or an error whose detail ("file:line:
 * call: message") is cg_cuda_last_error(). Front ends call them through
 * OP_RUN (ops/backend.h), which turns a failure into the sticky error.
 *
 * The list is an X-macro so that the declarations here and the stubs of a
 * CPU-only build (host/ops/cuda_ops_stub.c: "built without CUDA") come from
 * one place and cannot drift. The definitions are in kernels/<family>.cu.
 * The geometry structs (cg_conv_geom, cg_bcast, ...) are core/op_geom.h,
 * shared with the CPU reference; the memory and Philox entry points are
 * core's (core/core_cuda.h), the optimizers' are optim/optim_cuda.h.
 *
 * Where a CPU twin takes host scratch (the double accumulators of the
 * broadcast backward), the CUDA twin does not: it reduces in registers and
 * shared memory. Reductions are deterministic (a fixed two-pass tree in
 * double, no atomics).
 */
#ifndef CUGEN_CUDA_OPS_H
#define CUGEN_CUDA_OPS_H

#include <stdint.h>

#include "core/core_cuda.h"
#include "core/op_geom.h"
#include "cugen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_CUDA_OPS(X)                                                                          \
    /* dense (kernels/dense.cu, cuBLAS), as cpu_dense.h */                                    \
    X(cuda_linear_fwd, (real *y, const real *x, const real *w, const real *b, int N, int I,   \
                        int O))                                                                \
    X(cuda_linear_bwd, (real *dx, real *dw, real *db, const real *dy, const real *x,          \
                        const real *w, int N, int I, int O))                                   \
    X(cuda_bmm_fwd, (real *c, const real *a, const real *b, int B, int M, int N, int K,       \
                     int ta, int tb))                                                          \
    X(cuda_bmm_bwd, (real *da, real *db, const real *dc, const real *a, const real *b, int B, \
                     int M, int N, int K, int ta, int tb))                                     \
    /* convolutions (kernels/conv.cu, cuDNN), as cpu_conv.h without the scratch (cuDNN's      \
     * workspace is kept by kernels/cudnn.cu); d is host memory */                             \
    X(cuda_conv2d_fwd, (real *y, const real *x, const real *w, const real *b,                 \
                        const cg_conv_geom *d))                                               \
    X(cuda_conv2d_bwd, (real *dx, real *dw, real *db, const real *dy, const real *x,          \
                        const real *w, const cg_conv_geom *d))                                \
    X(cuda_conv_transpose2d_fwd, (real *y, const real *x, const real *w, const real *b,       \
                                  const cg_conv_geom *d))                                     \
    X(cuda_conv_transpose2d_bwd, (real *dx, real *dw, real *db, const real *dy,               \
                                  const real *x, const real *w, const cg_conv_geom *d))       \
    /* norms (kernels/norm.cu), as cpu_norm.h */                                               \
    X(cuda_batchnorm_stats, (real *mean, real *var, const real *x, int N, int C, int S))      \
    X(cuda_batchnorm_update_running, (real *run_mean, real *run_var, const real *mean,        \
                                      const real *var, int C, int64_t count, double momentum)) \
    X(cuda_batchnorm_fwd, (real *y, real *rstd, const real *x, const real *mean,              \
                           const real *var, const real *gamma, const real *beta, int N, int C, \
                           int S, double eps))                                                 \
    X(cuda_batchnorm_bwd, (real *dx, real *dgamma, real *dbeta, const real *dy,               \
                           const real *x, const real *mean, const real *rstd,                  \
                           const real *gamma, int N, int C, int S, int training))              \
    X(cuda_batchnorm_mean_part, (real *mean, const real *x, int N, int C, int S,               \
                                 double total))                                                \
    X(cuda_batchnorm_var_part, (real *var, const real *x, const real *mean, int N, int C,      \
                                int S, double total))                                          \
    X(cuda_batchnorm_bwd_sums, (real *sums, real *dgamma, real *dbeta, const real *dy,         \
                                const real *x, const real *mean, const real *rstd, int N,      \
                                int C, int S))                                                 \
    X(cuda_batchnorm_bwd_dx, (real *dx, const real *dy, const real *x, const real *mean,       \
                              const real *rstd, const real *gamma, const real *sums,           \
                              double total, int N, int C, int S))                              \
    X(cuda_groupnorm_fwd, (real *y, real *mean, real *rstd, const real *x, const real *gamma, \
                           const real *beta, int N, int C, int S, int G, double eps))          \
    X(cuda_groupnorm_bwd, (real *dx, real *dgamma, real *dbeta, const real *dy,               \
                           const real *x, const real *mean, const real *rstd,                  \
                           const real *gamma, int N, int C, int S, int G))                     \
    /* elementwise (kernels/elementwise.cu), as cpu_elementwise.h */                           \
    X(cuda_relu_fwd, (real *y, const real *x, int64_t n))                                      \
    X(cuda_relu_bwd, (real *dx, const real *dy, const real *x, int64_t n))                     \
    X(cuda_leaky_relu_fwd, (real *y, const real *x, double slope, int64_t n))                  \
    X(cuda_leaky_relu_bwd, (real *dx, const real *dy, const real *x, double slope, int64_t n)) \
    X(cuda_tanh_fwd, (real *y, const real *x, int64_t n))                                      \
    X(cuda_tanh_bwd, (real *dx, const real *dy, const real *y, int64_t n))                     \
    X(cuda_sigmoid_fwd, (real *y, const real *x, int64_t n))                                   \
    X(cuda_sigmoid_bwd, (real *dx, const real *dy, const real *y, int64_t n))                  \
    X(cuda_clamp_fwd, (real *y, const real *x, double lo, double hi, int64_t n))               \
    X(cuda_clamp_bwd, (real *dx, const real *dy, const real *x, double lo, double hi,         \
                       int64_t n))                                                             \
    X(cuda_silu_fwd, (real *y, const real *x, int64_t n))                                      \
    X(cuda_silu_bwd, (real *dx, const real *dy, const real *x, int64_t n))                     \
    X(cuda_softplus_fwd, (real *y, const real *x, int64_t n))                                  \
    X(cuda_softplus_bwd, (real *dx, const real *dy, const real *x, int64_t n))                 \
    X(cuda_exp_fwd, (real *y, const real *x, int64_t n))                                       \
    X(cuda_exp_bwd, (real *dx, const real *dy, const real *y, int64_t n))                      \
    X(cuda_log_fwd, (real *y, const real *x, int64_t n))                                       \
    X(cuda_log_bwd, (real *dx, const real *dy, const real *x, int64_t n))                      \
    X(cuda_pow_fwd, (real *y, const real *x, double p, int64_t n))                             \
    X(cuda_pow_bwd, (real *dx, const real *dy, const real *x, double p, int64_t n))            \
    X(cuda_affine_fwd, (real *y, const real *x, double s, double t, int64_t n))                \
    X(cuda_affine_bwd, (real *dx, const real *dy, double s, int64_t n))                        \
    /* broadcasting binary ops (kernels/broadcast.cu), as cpu_broadcast.h; bc is host memory */\
    X(cuda_add_fwd, (real *y, const real *a, const real *b, const cg_bcast *bc))              \
    X(cuda_sub_fwd, (real *y, const real *a, const real *b, const cg_bcast *bc))              \
    X(cuda_mul_fwd, (real *y, const real *a, const real *b, const cg_bcast *bc))              \
    X(cuda_add_bwd, (real *da, real *db, const real *dy, const cg_bcast *bc))                 \
    X(cuda_sub_bwd, (real *da, real *db, const real *dy, const cg_bcast *bc))                 \
    X(cuda_mul_bwd, (real *da, real *db, const real *dy, const real *a, const real *b,         \
                     const cg_bcast *bc))                                                     \
    X(cuda_expand_fwd, (real *y, const real *b, const cg_bcast *bc))                          \
    /* reductions (kernels/reduce.cu), as cpu_reduce.h */                                      \
    X(cuda_sum_fwd, (real *y, const real *x, double scale, int64_t n))                         \
    X(cuda_sum_bwd, (real *dx, const real *dy, double scale, int64_t n))                       \
    /* softmax over the last dim (kernels/softmax.cu), as cpu_softmax.h */                   \
    X(cuda_softmax_fwd, (real *y, const real *x, int64_t R, int D))                            \
    X(cuda_softmax_bwd, (real *dx, const real *dy, const real *y, int64_t R, int D))           \
    /* spectral normalisation (kernels/spectral.cu), as cpu_spectral.h; acc and dot: GPU      \
     * scratch of h + A R doubles and of one */                                                \
    X(cuda_spectral_norm_fwd, (real *y, real *sigma, real *u, real *v, const real *w, int A,  \
                               int h, int R, int update, double eps, double *acc))             \
    X(cuda_spectral_norm_bwd, (real *dw, const real *dy, const real *w, const real *u,        \
                               const real *v, const real *sigma, int A, int h, int R,          \
                               double *dot))                                                   \
    /* dropout (kernels/dropout.cu), as cpu_dropout.h: the same mask, bit for bit */           \
    X(cuda_dropout_fwd, (real *y, const real *x, int64_t n, double p, uint64_t seed,            \
                         uint32_t stream, uint64_t offset))                                    \
    X(cuda_dropout_bwd, (real *dx, const real *dy, int64_t n, double p, uint64_t seed,          \
                         uint32_t stream, uint64_t offset))                                    \
    /* channel block copies of concat / split (kernels/shape.cu), as cpu_shape.h */            \
    X(cuda_channel_copy, (real *dst, int dC, int dc0, const real *src, int sC, int sc0,        \
                          int Cp, int N, int S, int accumulate))                               \
    /* squeeze2x and its inverse (kernels/flow.cu), as cpu_flow.h */                            \
    X(cuda_squeeze2x_fwd, (real *y, const real *x, int N, int C, int H, int W))                 \
    X(cuda_unsqueeze2x_fwd, (real *x, const real *y, int N, int C, int H, int W))               \
    /* 2x nearest upsampling, 2x2 average pooling (kernels/resample.cu), as cpu_resample.h */  \
    X(cuda_upsample2x_fwd, (real *y, const real *x, int64_t NC, int H, int W))                 \
    X(cuda_upsample2x_bwd, (real *dx, const real *dy, int64_t NC, int H, int W))               \
    X(cuda_avgpool2x_fwd, (real *y, const real *x, int64_t NC, int H, int W))                  \
    X(cuda_avgpool2x_bwd, (real *dx, const real *dy, int64_t NC, int H, int W))                \
    /* pooling and bilinear resizing (kernels/pool.cu), as cpu_pool.h; d is host memory */   \
    X(cuda_maxpool2d_fwd, (real *y, const real *x, const cg_pool_geom *d))                    \
    X(cuda_maxpool2d_bwd, (real *dx, const real *dy, const real *x, const cg_pool_geom *d))   \
    X(cuda_avgpool2d_fwd, (real *y, const real *x, const cg_pool_geom *d))                    \
    X(cuda_avgpool2d_bwd, (real *dx, const real *dy, const cg_pool_geom *d))                  \
    X(cuda_bilinear_fwd, (real *y, const real *x, const cg_resize_geom *d))                   \
    X(cuda_bilinear_bwd, (real *dx, const real *dy, const cg_resize_geom *d))                 \
    /* sinusoidal timestep embedding (kernels/embed.cu), as cpu_embed.h */                     \
    X(cuda_timestep_embedding_fwd, (real *y, const real *t, int N, int h, double max_period)) \
    X(cuda_timestep_embedding_bwd, (real *dt, const real *dy, const real *t, int N, int h,     \
                                    double max_period))                                        \
    /* lookup of table rows (kernels/embed.cu), as cpu_embed.h; idx in GPU memory */          \
    X(cuda_embedding_fwd, (real *y, const int32_t *idx, const real *w, int N, int dim))       \
    X(cuda_embedding_bwd, (real *dw, const real *dy, const int32_t *idx, int N, int num,      \
                           int dim))                                                           \
    /* squared MMD under Gaussian kernels (kernels/mmd.cu), as cpu_loss.h; sigmas (ns doubles) \
     * in GPU memory, no host accumulator */                                                   \
    X(cuda_mmd2_rbf_fwd, (real *out, const real *x, const real *y, const double *sigmas,       \
                          int ns, int N, int M, int D))                                        \
    X(cuda_mmd2_rbf_bwd, (real *dx, real *dy, const real *dout, const real *x, const real *y,  \
                          const double *sigmas, int ns, int N, int M, int D))                  \
    /* losses (kernels/loss.cu), as cpu_loss.h; labels in GPU memory */                        \
    X(cuda_bce_fwd, (real *out, const real *p, const real *t, double scale, int64_t n))        \
    X(cuda_bce_bwd, (real *dp, real *dt, const real *dout, const real *p, const real *t,       \
                     double scale, int64_t n))                                                 \
    X(cuda_bce_logits_fwd, (real *out, const real *z, const real *t, double scale, int64_t n)) \
    X(cuda_bce_logits_bwd, (real *dz, real *dt, const real *dout, const real *z,               \
                            const real *t, double scale, int64_t n))                           \
    X(cuda_mse_fwd, (real *out, const real *x, const real *t, double scale, int64_t n))        \
    X(cuda_mse_bwd, (real *dx, real *dt, const real *dout, const real *x, const real *t,       \
                     double scale, int64_t n))                                                 \
    X(cuda_gaussian_kl_fwd, (real *out, const real *mu, const real *lv, double scale,          \
                             int64_t n))                                                       \
    X(cuda_gaussian_kl_bwd, (real *dmu, real *dlv, const real *dout, const real *mu,           \
                             const real *lv, double scale, int64_t n))                         \
    X(cuda_gaussian_nll_fwd, (real *out, const real *x, const real *mu, const real *lv,        \
                              int64_t nlv, double scale, int64_t n))                           \
    X(cuda_gaussian_nll_bwd, (real *dx, real *dmu, real *dlv, const real *dout,                \
                              const real *x, const real *mu, const real *lv, int64_t nlv,      \
                              double scale, int64_t n))                                        \
    X(cuda_softmax_xent_fwd, (real *out, const real *z, const int32_t *labels, double scale,   \
                              int N, int K))                                                   \
    X(cuda_softmax_xent_bwd, (real *dz, const real *dout, const real *z,                       \
                              const int32_t *labels, double scale, int N, int K))

CG_CUDA_OPS(CG_CUDA_DECLARE)

#ifdef __cplusplus
}
#endif

#endif
