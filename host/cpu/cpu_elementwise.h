/*
 * cpu_elementwise.h: reference pointwise ops, y_i = f(x_i) for n elements.
 * Computed in double, stored as real. Backward writes dx (=) from dy and
 * either x or, where that is cheaper, the saved output y.
 *
 * cpu_sigmoid and cpu_softplus are the one stable scalar form of each, shared
 * with the losses (host/cpu/loss.c).
 */
#ifndef CUGEN_CPU_ELEMENTWISE_H
#define CUGEN_CPU_ELEMENTWISE_H

#include <math.h>
#include <stdint.h>

#include "cugen/tensor.h"

/* 1 / (1 + e^-x) without overflow: exp of a non-positive number only. */
static inline double cpu_sigmoid(double x)
{
    if (x >= 0)
        return 1 / (1 + exp(-x));
    double e = exp(x);
    return e / (1 + e);
}

/* log(1 + e^x) = max(x, 0) + log1p(e^-|x|) */
static inline double cpu_softplus(double x)
{
    return (x > 0 ? x : 0) + log1p(exp(-fabs(x)));
}

void cpu_relu_fwd(real *y, const real *x, int64_t n);
void cpu_relu_bwd(real *dx, const real *dy, const real *x, int64_t n);
/* y = x for x > 0, slope x otherwise */
void cpu_leaky_relu_fwd(real *y, const real *x, double slope, int64_t n);
void cpu_leaky_relu_bwd(real *dx, const real *dy, const real *x, double slope, int64_t n);
/* backward from the output: dx = dy (1 - y^2) */
void cpu_tanh_fwd(real *y, const real *x, int64_t n);
void cpu_tanh_bwd(real *dx, const real *dy, const real *y, int64_t n);
/* backward from the output: dx = dy y (1 - y) */
void cpu_sigmoid_fwd(real *y, const real *x, int64_t n);
void cpu_sigmoid_bwd(real *dx, const real *dy, const real *y, int64_t n);
/* y = x sigmoid(x) */
/* clamp: x outside [lo, hi] set to the nearer end (NaN stays NaN); the
 * gradient passes where lo <= x <= hi, as torch.clamp's */
void cpu_clamp_fwd(real *y, const real *x, double lo, double hi, int64_t n);
void cpu_clamp_bwd(real *dx, const real *dy, const real *x, double lo, double hi, int64_t n);
void cpu_silu_fwd(real *y, const real *x, int64_t n);
void cpu_silu_bwd(real *dx, const real *dy, const real *x, int64_t n);
void cpu_softplus_fwd(real *y, const real *x, int64_t n);
void cpu_softplus_bwd(real *dx, const real *dy, const real *x, int64_t n);
/* backward from the output: dx = dy y */
void cpu_exp_fwd(real *y, const real *x, int64_t n);
void cpu_exp_bwd(real *dx, const real *dy, const real *y, int64_t n);
/* libm semantics outside x > 0: log 0 = -inf, log of a negative = NaN */
void cpu_log_fwd(real *y, const real *x, int64_t n);
void cpu_log_bwd(real *dx, const real *dy, const real *x, int64_t n);
/* y = x^p in double (libm's pow: x < 0 with a fractional p gives NaN, 0 to a
 * negative p inf); dx = dy p x^(p - 1) */
void cpu_pow_fwd(real *y, const real *x, double p, int64_t n);
void cpu_pow_bwd(real *dx, const real *dy, const real *x, double p, int64_t n);
/* y = s x + t (cg_scale is t = 0) */
void cpu_affine_fwd(real *y, const real *x, double s, double t, int64_t n);
void cpu_affine_bwd(real *dx, const real *dy, double s, int64_t n);

#endif
