/*
 * cpu_norm.h: reference batch, group and layer normalisation.
 *
 * Shapes: x is viewed as (N, C, S), S the product of the dims after C (1 for
 * 2-D input). Statistics accumulate in double, variances are biased (divide by
 * the count), eps sits inside the square root. Backward writes dx (=) and
 * accumulates dgamma, dbeta (+=); a NULL gradient pointer skips that work, a
 * NULL gamma / beta means the affine part is off.
 *
 * Layer norm over the last dim D is group norm of x viewed as (rows, D, 1)
 * with one group: the front end calls cpu_groupnorm_* with those dims.
 *
 * Not for: shape checks and the tape (host/ops/norm.c).
 */
#ifndef CUGEN_CPU_NORM_H
#define CUGEN_CPU_NORM_H

#include <stdint.h>

#include "cugen/tensor.h"

/* ---- batch norm: statistics per channel over N and S ---------------------- */
/* mean, var (C): batch mean and biased variance of x (N, C, S). */
void cpu_batchnorm_stats(real *mean, real *var, const real *x, int N, int C, int S);
/* run_mean, run_var (C) updated in place with PyTorch's rule
 * r = (1 - momentum) r + momentum * stat, the variance made unbiased by
 * count / (count - 1) (count = N S > 1). */
void cpu_batchnorm_update_running(real *run_mean, real *run_var, const real *mean,
                                  const real *var, int C, int64_t count, double momentum);
/* y (N, C, S) = (x - mean) rstd gamma + beta, rstd (C) = 1 / sqrt(var + eps)
 * written for backward. mean, var are the batch statistics (training) or the
 * running ones (eval). */
void cpu_batchnorm_fwd(real *y, real *rstd, const real *x, const real *mean, const real *var,
                       const real *gamma, const real *beta, int N, int C, int S, double eps);
/* training: mean and rstd depend on x, so dx gets the two mean terms;
 * eval: they are constants and dx = dy gamma rstd. */
void cpu_batchnorm_bwd(real *dx, real *dgamma, real *dbeta, const real *dy, const real *x,
                       const real *mean, const real *rstd, const real *gamma, int N, int C,
                       int S, int training);

/* A batch split among processes (--sync-bn), each holding N of the total
 * samples' values per channel (total = the count over all of them): the
 * statistics in two sums over the processes, each between two of these
 * calls, as the single-process ones in two passes. mean (C) = this part's
 * sum / total; summed over the parts, the batch mean. var (C) = this part's
 * sum of (x - mean)^2 / total, mean the batch mean; summed, the variance. */
void cpu_batchnorm_mean_part(real *mean, const real *x, int N, int C, int S, double total);
void cpu_batchnorm_var_part(real *var, const real *x, const real *mean, int N, int C, int S,
                            double total);
/* Its backward in two halves around a sum over the processes: sums (2C)
 * = this part's sum of dy, then of dy xhat, per channel (dgamma, dbeta
 * accumulate them, this part's own); then, sums summed over the parts,
 * dx of a training batch norm with the means sums / total. */
void cpu_batchnorm_bwd_sums(real *sums, real *dgamma, real *dbeta, const real *dy,
                            const real *x, const real *mean, const real *rstd, int N, int C,
                            int S);
void cpu_batchnorm_bwd_dx(real *dx, const real *dy, const real *x, const real *mean,
                          const real *rstd, const real *gamma, const real *sums, double total,
                          int N, int C, int S);

/* ---- group norm: statistics per (sample, group) -------------------------- */
/* x, y (N, C, S), C divisible by G; mean, rstd (N, G) written for backward;
 * gamma, beta (C) or NULL. */
void cpu_groupnorm_fwd(real *y, real *mean, real *rstd, const real *x, const real *gamma,
                       const real *beta, int N, int C, int S, int G, double eps);
void cpu_groupnorm_bwd(real *dx, real *dgamma, real *dbeta, const real *dy, const real *x,
                       const real *mean, const real *rstd, const real *gamma, int N, int C,
                       int S, int G);

#endif
