/*
 * backend.h: what every op front end shares: argument checks that set the
 * context's sticky error, and memory helpers that take the device into
 * account. Internal to host/.
 *
 * Dispatch: an op front end calls cpu_<op>_fwd/_bwd for CPU tensors. Tensors
 * on the GPU reach an op only through the CUDA backend; until an op has a
 * kernel, op_begin reports that it is CPU-only instead of computing garbage.
 */
#ifndef CUGEN_OPS_BACKEND_H
#define CUGEN_OPS_BACKEND_H

#include <string.h>

#include "cugen/tape.h"
#include "cugen/tensor.h"

/* Untyped host scratch for a step (arena): double accumulators of the CPU
 * reference, copies of caller arrays a node keeps until backward (labels,
 * bandwidths). Uninitialised; NULL with the sticky error set. */
static inline void *op_scratch(cg_ctx *ctx, size_t bytes)
{
    void *p = cg_arena_alloc(&ctx->arena, bytes);
    if (!p)
        cg_fail(ctx, CG_ERR_NOMEM, "step arena: out of host memory for %zu bytes of scratch",
                bytes);
    return p;
}

/* n values of scratch on a device (the step arena on the CPU). */
static inline real *backend_alloc(cg_ctx *ctx, int dev, int64_t n)
{
    (void)dev;
    return op_scratch(ctx, sizeof(real) * (size_t)(n > 0 ? n : 1));
}

static inline void backend_copy_from_host(int dev, real *dst, const real *src, int64_t n)
{
    (void)dev;
    memcpy(dst, src, sizeof(real) * (size_t)n);
}

static inline void backend_zero(int dev, real *p, int64_t n)
{
    (void)dev;
    memset(p, 0, sizeof(real) * (size_t)n);
}

static inline void backend_accumulate(int dev, real *dst, const real *src, int64_t n)
{
    (void)dev;
    for (int64_t i = 0; i < n; i++)
        dst[i] += src[i];
}

/* Start of every op: no earlier error, no NULL input, all inputs on one
 * device, and that device supported. Optional inputs (bias) may be NULL when
 * listed after `nreq` required ones. Returns 0 when the op must return NULL. */
int op_begin(cg_ctx *ctx, const char *op, cg_tensor *const *in, int nreq, int nin);

/* Sets the sticky error "<op>: <message>" and returns NULL. */
void *op_fail(cg_ctx *ctx, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A tensor's shape as "(2, 3)" for messages, in a buffer of its own for each
 * use (a compound literal), so one message can show several shapes. */
#define SHAPE_STR(t) cg_shape_str((t), (char[64]){0}, 64)

/* Output with the inputs' device. */
cg_tensor *op_out(cg_ctx *ctx, const cg_tensor *like, const int *shape, int ndim);

#endif
