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
 * On the GPU: cg_params_to_device moves w, g, m, v and buf into device
 * memory (one cudaMalloc each) and points every view there; the tensors'
 * dev becomes CG_CUDA. cg_params_to_host moves them back. Checkpoints and
 * weights files (io.h) copy through host memory, so they work on either.
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
    int dev;                /* cg_device of w, g, m, v and buf */
    /* optional: called by the optimizers (cugen/optim.h) before they update
     * [lo, hi) of w, once per range: a data-parallel trainer averages g there
     * over its processes (host/train/trainer.c). The step fails with its
     * status. NULL: one process, nothing to do. */
    cg_status (*grad_sync)(struct cg_params *p, int64_t lo, int64_t hi, void *arg);
    void *grad_sync_arg;
} cg_params;

void cg_params_init(cg_params *p);
/* Declare; the returned tensor's data is valid after cg_params_alloc. The
 * name is copied. Returns NULL on a bad shape or allocation failure. */
cg_tensor *cg_param(cg_params *p, const char *name, const int *shape, int ndim, int group);
cg_tensor *cg_buffer(cg_params *p, const char *name, const int *shape, int ndim);
/* Allocate w, g, m, v (zeroed) and the buffers (zeroed). */
cg_status cg_params_alloc(cg_params *p);
/* Zeroes g (queued on the stream for GPU parameters). */
cg_status cg_params_zero_grad(cg_params *p);
/* Move the allocated buffers to the GPU (values kept) or back to the host.
 * On failure nothing has moved; err gets the reason (an out-of-memory names
 * the buffer and its size). Moving to where they are is a no-op. */
cg_status cg_params_to_device(cg_params *p, char *err, size_t errlen);
cg_status cg_params_to_host(cg_params *p, char *err, size_t errlen);
void cg_params_freeze(cg_params *p, int group, int frozen);
int64_t cg_params_count(const cg_params *p);  /* real elements, without padding */
cg_tensor *cg_params_find(const cg_params *p, const char *name);  /* params, then buffers */
void cg_params_free(cg_params *p);

/* Initialisers over one tensor (values in place), on either device; the
 * same values on both (Philox). Errors only from the GPU (CG_ERR_CUDA, the
 * detail in cg_cuda_last_error()). */
cg_status cg_init_normal(cg_tensor *t, cg_rng *r, double mean, double std);
cg_status cg_init_uniform(cg_tensor *t, cg_rng *r, double lo, double hi);
cg_status cg_init_const(cg_tensor *t, double v);

#endif
