/*
 * cpu_spectral.h: reference spectral normalisation of a weight, as
 * torch.nn.utils.spectral_norm computes it (one power iteration per training
 * forward, the singular vectors u and v kept between calls).
 *
 * The weight w is seen as (A, h, R) and normalised as the matrix
 * W (h, A R) whose column j = a R + r holds w[a][i][r] in row i: A = 1 for
 * dim 0 (Linear, Conv2d: W = w.reshape(out, -1)), A = w.shape[0] for dim 1
 * (ConvTranspose2d: W = w.permute(1, 0, 2, 3).reshape(out, -1)).
 */
#ifndef CUGEN_CPU_SPECTRAL_H
#define CUGEN_CPU_SPECTRAL_H

#include "cugen/tensor.h"

/* update: one power iteration first, u (h) and v (A R) overwritten:
 *   v = normalize(W^T u), u = normalize(W v), normalize(x) = x / max(|x|, eps);
 * then (update or not) sigma[0] = u . W v and y = w / sigma.
 * acc: h + A R doubles of scratch. */
void cpu_spectral_norm_fwd(real *y, real *sigma, real *u, real *v, const real *w, int A, int h,
                           int R, int update, double eps, double *acc);
/* dw += dy / sigma - (sum(dy w) / sigma^2) u v^T, u and v constants (the
 * vectors the forward used) */
void cpu_spectral_norm_bwd(real *dw, const real *dy, const real *w, const real *u,
                           const real *v, const real *sigma, int A, int h, int R);

#endif
