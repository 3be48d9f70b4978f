/*
 * optim_common.h: what the optimizers share. Internal to host/optim.
 *
 * Ranges: which parts of a flat parameter buffer an optimizer step touches.
 *
 * With no group frozen that is the whole buffer, [0, p->n), padding included
 * (padding holds zeros in w, g, m and v, and every update keeps it zero).
 * Otherwise it is the buffer minus the span of every tensor of a frozen group
 * (its elements and its padding), as maximal runs: neighbouring unfrozen
 * tensors merge into one range, so each step is a few long loops.
 *
 * Hyperparameter checks: torch.optim's, plus "finite" (it does not reject
 * NaN or Inf, which would silently poison every weight).
 *
 * Coefficients: what one step of Adam or SGD needs per element, computed on
 * the host in double (bias corrections included) and handed to the CPU loop
 * or the CUDA kernel alike.
 *
 * Not for: the update math (adam.c, sgd.c, kernels/optim.cu).
 */
#ifndef CUGEN_OPTIM_COMMON_H
#define CUGEN_OPTIM_COMMON_H

#include <math.h>

#include "cugen/nn.h"

typedef struct {
    int i;           /* next tensor to look at */
    int64_t cursor;  /* first element not yet handed out or skipped */
} optim_range_iter;

#define OPTIM_RANGE_ITER_INIT {0, 0}

typedef struct {
    double beta1, beta2, eps;
    double l2;          /* added to the gradient: wd (Adam) or 0 (AdamW) */
    double shrink;      /* weights times this first: 1 - lr wd (AdamW) or 1 (Adam) */
    double step_size;   /* lr / (1 - b1^t) */
    double bc2_sqrt;    /* sqrt(1 - b2^t) */
} optim_adam_coef;

typedef struct {
    double lr, momentum, weight_decay;
    double keep;        /* 1 - dampening */
    int nesterov;
    int first;          /* the first step: the momentum buffer becomes g */
} optim_sgd_coef;

/* Next range [*lo, *hi) to update; returns 0 when there is none left.
 *   optim_range_iter it = OPTIM_RANGE_ITER_INIT;
 *   int64_t lo, hi;
 *   while (optim_range_next(p, &it, &lo, &hi)) update(lo, hi); */
int optim_range_next(const cg_params *p, optim_range_iter *it, int64_t *lo, int64_t *hi);

/* p->grad_sync over each range the step will update, before it updates any
 * (a data-parallel run's gradient all-reduce); CG_OK without one. */
cg_status optim_sync_grads(cg_params *p);

/* What a step does to one range [lo, hi) of p; arg its coefficients. */
typedef cg_status (*optim_range_fn)(cg_params *p, int64_t lo, int64_t hi, void *arg);

/* A step's updates: optim_sync_grads, then update(p, lo, hi, coef) over
 * each range in order. The first status that is not CG_OK stops it and is
 * returned (the step is then not to be counted). */
cg_status optim_update(cg_params *p, optim_range_fn update, void *coef);

/* x is finite and lo <= x */
static inline int optim_finite_min(double x, double lo)
{
    return isfinite(x) && x >= lo;
}

/* x in [0, 1): Adam's betas */
static inline int optim_unit_open(double x)
{
    return isfinite(x) && x >= 0 && x < 1;
}

#endif
