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

/* Squared MMD (biased V-statistic) between the rows of x (N, D) and y (M, D),
 * k(a, b) = sum_s exp(-|a - b|^2 / (2 sigma_s^2)):
 *   out = mean k(x_i, x_j) + mean k(y_i, y_j) - 2 mean k(x_i, y_j).
 * acc: D doubles of scratch for the backward. */
void cpu_mmd2_rbf_fwd(real *out, const real *x, const real *y, const double *sigmas, int ns,
                      int N, int M, int D);
void cpu_mmd2_rbf_bwd(real *dx, real *dy, double *acc, const real *dout, const real *x,
                      const real *y, const double *sigmas, int ns, int N, int M, int D);

#endif
