/*
 * dense.h: a fully connected layer as the MLP models declare and initialise
 * it: weight (out, in) and bias (out) under "<name>.weight" / "<name>.bias",
 * the names nn.Linear has in a PyTorch state_dict, and nn.Linear's default
 * initialisation. Internal to host/models.
 */
#ifndef CUGEN_MODELS_DENSE_H
#define CUGEN_MODELS_DENSE_H

#include <math.h>
#include <stdio.h>

#include "cugen/nn.h"
#include "cugen/ops.h"

/* Declare; 0 when a declaration failed (out of memory). */
static inline int dense_declare(cg_params *p, cg_tensor **w, cg_tensor **b, const char *name,
                                int in, int out, int group)
{
    char full[96];
    snprintf(full, sizeof full, "%s.weight", name);
    *w = cg_param(p, full, CG_SHAPE(out, in), group);
    snprintf(full, sizeof full, "%s.bias", name);
    *b = cg_param(p, full, CG_SHAPE(out), group);
    return *w && *b;
}

/* nn.Linear.reset_parameters: kaiming_uniform_(a = sqrt 5) for the weight,
 * which is U(-1/sqrt(in), 1/sqrt(in)), and the same bound for the bias. */
static inline void dense_init(cg_tensor *w, cg_tensor *b, cg_rng *r)
{
    double bound = 1.0 / sqrt((double)w->shape[1]);
    cg_init_uniform(w, r, -bound, bound);
    cg_init_uniform(b, r, -bound, bound);
}

#endif
