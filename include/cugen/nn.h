/*
 * nn.h: the flat parameter buffer.
 *
 * A model declares its parameters (name, shape, group), then allocates them
 * all at once: weights, gradients, Adam's m and v are each ONE contiguous
 * allocation of the same layout, and every parameter tensor is a view into
 * them (llm.c style). The optimizer updates the whole buffer in one loop, a
 * checkpoint writes named views, a multi-GPU all-reduce is one call.
 * Non-trainable persistent state (batchnorm running stats) lives in a second
 * flat buffer of "buffers".
 *
 * Groups: parameters carry a group index; a frozen group computes no weight
 * gradients and is skipped by the optimizer (the G step of a GAN needs
 * dL/dx through D, not dL/dW_D).
 */
#ifndef CUGEN_NN_H
#define CUGEN_NN_H

#include "cugen/tensor.h"
#include "cugen/rng.h"

#define CG_MAX_GROUPS 8

typedef struct cg_params {
    int64_t n;              /* trainable elements, padded per tensor to 16 */
    real *w, *g, *m, *v;    /* each one allocation of n elements */
    int64_t nbuf;
    real *buf;              /* non-trainable buffers */
    cg_tensor **t;          /* trainable tensors, declaration order */
    int64_t *off;           /* their offsets into w/g/m/v */
    int count, cap;
    cg_tensor **b;          /* buffers */
    int64_t *boff;
    int bcount, bcap;
    uint8_t frozen[CG_MAX_GROUPS];
    int allocated;
} cg_params;

void cg_params_init(cg_params *p);
/* Declare; the returned tensor's data is valid after cg_params_alloc. The
 * name is copied. Returns NULL on a bad shape or allocation failure. */
cg_tensor *cg_param(cg_params *p, const char *name, const int *shape, int ndim, int group);
cg_tensor *cg_buffer(cg_params *p, const char *name, const int *shape, int ndim);
/* Allocate w, g, m, v (zeroed) and the buffers (zeroed). */
cg_status cg_params_alloc(cg_params *p);
void cg_params_zero_grad(cg_params *p);
void cg_params_freeze(cg_params *p, int group, int frozen);
int64_t cg_params_count(const cg_params *p);  /* real elements, without padding */
cg_tensor *cg_params_find(const cg_params *p, const char *name);  /* params, then buffers */
void cg_params_free(cg_params *p);

/* Initialisers over one tensor (values in place). */
void cg_init_normal(cg_tensor *t, cg_rng *r, double mean, double std);
void cg_init_uniform(cg_tensor *t, cg_rng *r, double lo, double hi);
void cg_init_const(cg_tensor *t, double v);

#endif
