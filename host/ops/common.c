/*
 * common.c: argument checks shared by the op front ends.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cugen/cuda.h"
#include "ops/backend.h"

void *op_fail(cg_ctx *ctx, const char *op, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cg_fail(ctx, CG_ERR_ARG, "%s: %s", op, msg);
    return NULL;
}

/* The device of the inputs, or -1 with the sticky error set. */
static int inputs_device(cg_ctx *ctx, const char *op, cg_tensor *const *in, int nreq, int nin)
{
    if (ctx->err)
        return -1;
    int dev = CG_CPU, seen = 0;
    for (int j = 0; j < nin; j++) {
        if (!in[j]) {
            if (j < nreq) {
                cg_fail(ctx, CG_ERR_STATE, "%s: input %d is NULL", op, j);
                return -1;
            }
            continue;
        }
        if (!seen) {
            dev = in[j]->dev;
            seen = 1;
        } else if (in[j]->dev != dev) {
            cg_fail(ctx, CG_ERR_ARG, "%s: inputs are on different devices", op);
            return -1;
        }
    }
    return dev;
}

int op_begin(cg_ctx *ctx, const char *op, cg_tensor *const *in, int nreq, int nin)
{
    return inputs_device(ctx, op, in, nreq, nin) >= 0;
}

int op_begin_cpu(cg_ctx *ctx, const char *op, cg_tensor *const *in, int nreq, int nin)
{
    int dev = inputs_device(ctx, op, in, nreq, nin);
    if (dev == CG_CUDA) {
        cg_fail(ctx, CG_ERR_NO_CUDA, "%s: no CUDA kernel yet (use --device cpu)", op);
        return 0;
    }
    return dev >= 0;
}

cg_tensor *op_out(cg_ctx *ctx, const cg_tensor *like, const int *shape, int ndim)
{
    return cg_new_on(ctx, like ? (cg_device)like->dev : CG_CPU, shape, ndim);
}

void *op_host_copy(cg_ctx *ctx, const char *op, int dev, const void *src, size_t bytes,
                   const char *what)
{
    void *copy = dev_alloc_bytes(ctx, dev, bytes, what);
    if (!copy)
        return NULL;
    if (dev == CG_CPU) {
        memcpy(copy, src, bytes);
        return copy;
    }
    return dev_ok(ctx, op, cg_cuda_upload_staged(ctx, copy, src, bytes)) ? copy : NULL;
}
