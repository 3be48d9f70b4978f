/*
 * optim.h: optimizers over a flat parameter buffer.
 *
 * Adam and SGD follow torch.optim exactly (bias correction, L2 weight decay
 * added to the gradient, or decoupled as in AdamW; SGD momentum with
 * dampening and Nesterov). Frozen groups are skipped. EMA keeps a shadow
 * copy of the weights, updated after each step.
 */
#ifndef CUGEN_OPTIM_H
#define CUGEN_OPTIM_H

#include "cugen/nn.h"

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    int decoupled;   /* 1: AdamW (w -= lr * wd * w), 0: Adam (g += wd * w) */
    int64_t t;       /* steps taken */
} cg_adam;

void cg_adam_init(cg_adam *o, double lr, double beta1, double beta2, double eps,
                  double weight_decay, int decoupled);
cg_status cg_adam_step(cg_adam *o, cg_params *p);

typedef struct {
    double lr, momentum, dampening, weight_decay;
    int nesterov;
    int64_t t;       /* steps taken; the first step sets the momentum buffer to g */
} cg_sgd;

/* The momentum buffer is the params' m. */
void cg_sgd_init(cg_sgd *o, double lr, double momentum, double dampening,
                 double weight_decay, int nesterov);
cg_status cg_sgd_step(cg_sgd *o, cg_params *p);

typedef struct {
    double decay;
    int64_t n;
    real *w;         /* shadow weights, the layout of p->w, on p's device */
    int dev;
} cg_ema;

/* Starts as a copy of the current weights, on the parameters' device. */
cg_status cg_ema_init(cg_ema *e, const cg_params *p, double decay);
/* shadow = decay * shadow + (1 - decay) * w. A shadow made for other
 * parameters (or on another device) is left alone. */
cg_status cg_ema_update(cg_ema *e, const cg_params *p);
/* Swap shadow and live weights (sample with EMA weights, swap back). */
cg_status cg_ema_swap(cg_ema *e, cg_params *p);
void cg_ema_free(cg_ema *e);

#endif
