/*
 * cpu_loss.h: reference losses with a scalar (1) output.
 *
 * Forward writes out[0] = scale * sum_i l_i, the sum in double, where the
 * front end picks scale for the reduction (1, 1 / n, 1 / dim 0). Backward
 * writes each requested input gradient (=) as scale * dout[0] * dl_i / d in_i;
 * a NULL gradient pointer is skipped. dout stays a pointer so that the GPU
 * twins can read it on the device.
 */
#ifndef CUGEN_CPU_LOSS_H
#define CUGEN_CPU_LOSS_H

#include <stdint.h>

#include "cugen/tensor.h"

/* Binary cross-entropy of probabilities p against targets t in [0, 1]:
 * l = -(t log p + (1 - t) log(1 - p)), each log clamped to >= -100 (PyTorch;
 * a NaN passes through). dp = (p - t) / max(p (1 - p), 1e-12) as in
 * PyTorch's backward; dt = log(1 - p) - log p with the same clamps. */
void cpu_bce_fwd(real *out, const real *p, const real *t, double scale, int64_t n);
void cpu_bce_bwd(real *dp, real *dt, const real *dout, const real *p, const real *t,
                 double scale, int64_t n);
/* Binary cross-entropy of logits z, stable: l = softplus(z) - z t, which is
 * also the Bernoulli NLL of t under sigmoid(z). dz = sigmoid(z) - t, dt = -z. */
void cpu_bce_logits_fwd(real *out, const real *z, const real *t, double scale, int64_t n);
void cpu_bce_logits_bwd(real *dz, real *dt, const real *dout, const real *z, const real *t,
                        double scale, int64_t n);
/* l = (x - t)^2; dx = 2 (x - t), dt = -dx */
void cpu_mse_fwd(real *out, const real *x, const real *t, double scale, int64_t n);
void cpu_mse_bwd(real *dx, real *dt, const real *dout, const real *x, const real *t,
                 double scale, int64_t n);
/* KL(N(mu, e^lv) || N(0, 1)) = (mu^2 + e^lv - 1 - lv) / 2;
 * dmu = mu, dlv = (e^lv - 1) / 2 */
void cpu_gaussian_kl_fwd(real *out, const real *mu, const real *lv, double scale, int64_t n);
void cpu_gaussian_kl_bwd(real *dmu, real *dlv, const real *dout, const real *mu,
                         const real *lv, double scale, int64_t n);
/* -log N(x | mu, e^lv) = (log 2 pi + lv + (x - mu)^2 e^-lv) / 2 with lv the
 * element's own logvar (nlv == n) or one shared by all (nlv == 1, whose
 * gradient is then the sum over elements). dx = (x - mu) e^-lv = -dmu,
 * dlv = (1 - (x - mu)^2 e^-lv) / 2. */
void cpu_gaussian_nll_fwd(real *out, const real *x, const real *mu, const real *lv,
                          int64_t nlv, double scale, int64_t n);
void cpu_gaussian_nll_bwd(real *dx, real *dmu, real *dlv, const real *dout, const real *x,
                          const real *mu, const real *lv, int64_t nlv, double scale, int64_t n);
/* Cross-entropy of logits z (N, K) against labels[N] in [0, K):
 * l_n = logsumexp(z_n) - z_n[label_n] (shifted by the row max);
 * dz = softmax(z_n) - onehot(label_n). */
void cpu_softmax_xent_fwd(real *out, const real *z, const int32_t *labels, double scale, int N,
                          int K);
void cpu_softmax_xent_bwd(real *dz, const real *dout, const real *z, const int32_t *labels,
                          double scale, int N, int K);

/* Squared MMD (biased V-statistic) between the rows of x (N, D) and y (M, D),
 * k(a, b) = sum_s exp(-|a - b|^2 / (2 sigma_s^2)):
 *   out = mean k(x_i, x_j) + mean k(y_i, y_j) - 2 mean k(x_i, y_j).
 * acc: D doubles of scratch for the backward. */
void cpu_mmd2_rbf_fwd(real *out, const real *x, const real *y, const double *sigmas, int ns,
                      int N, int M, int D);
void cpu_mmd2_rbf_bwd(real *dx, real *dy, double *acc, const real *dout, const real *x,
                      const real *y, const double *sigmas, int ns, int N, int M, int D);

#endif
