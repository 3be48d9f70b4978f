/*
 * common.c: argument checks shared by the op front ends, and the memory
 * helpers of backend.h on either device.
 */
#include <stdarg.h>
#include <stdio.h>

#include "cugen/cuda.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

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

int op_cuda(cg_ctx *ctx, const char *op, cg_status st)
{
    if (st == CG_OK)
        return 1;
    cg_fail(ctx, st, "%s: %s", op, cg_cuda_last_error());
    return 0;
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

/* ---- memory on either device -------------------------------------------------- */
void *backend_alloc_bytes(cg_ctx *ctx, int dev, size_t bytes, const char *what)
{
    if (ctx->err)
        return NULL;
    if (dev == CG_CPU) {
        void *p = cg_arena_alloc(&ctx->arena, bytes);
        if (!p)
            cg_fail(ctx, CG_ERR_NOMEM, "step arena: out of host memory for %zu bytes of %s",
                    bytes, what);
        return p;
    }
    void *p = cg_arena_alloc(&ctx->dev_arena, bytes);
    if (p)
        return p;
    char why[256];
    if (cg_cuda_device_count(why, sizeof why) == 0)
        cg_fail(ctx, CG_ERR_NO_CUDA, "CUDA tensor of %zu bytes (%s): %s", bytes, what, why);
    else
        cg_fail(ctx, CG_ERR_NOMEM, "device step arena: no GPU memory for %zu bytes of %s (%s)",
                bytes, what, cg_cuda_last_error());
    return NULL;
}

int backend_copy_from_host(cg_ctx *ctx, int dev, real *dst, const real *src, int64_t n)
{
    if (dev == CG_CPU) {
        memcpy(dst, src, sizeof(real) * (size_t)n);
        return 1;
    }
    /* one value (the seed of a backward pass): a fill kernel, no copy */
    if (n == 1)
        return op_cuda(ctx, "copy to GPU", cuda_fill(dst, (double)src[0], 1));
    return op_cuda(ctx, "copy to GPU", cg_cuda_upload_staged(ctx, dst, src,
                                                             sizeof(real) * (size_t)n));
}

int backend_copy(cg_ctx *ctx, int dev, real *dst, const real *src, int64_t n)
{
    if (dev == CG_CPU) {
        memcpy(dst, src, sizeof(real) * (size_t)n);
        return 1;
    }
    return op_cuda(ctx, "copy on GPU", cg_cuda_copy_d2d(dst, src, sizeof(real) * (size_t)n));
}

int backend_zero(cg_ctx *ctx, int dev, real *p, int64_t n)
{
    if (dev == CG_CPU) {
        memset(p, 0, sizeof(real) * (size_t)n);
        return 1;
    }
    return op_cuda(ctx, "zero on GPU", cg_cuda_memset0(p, sizeof(real) * (size_t)n));
}

int backend_accumulate(cg_ctx *ctx, int dev, real *dst, const real *src, int64_t n)
{
    if (dev == CG_CPU) {
        for (int64_t i = 0; i < n; i++)
            dst[i] += src[i];
        return 1;
    }
    return op_cuda(ctx, "accumulate on GPU", cuda_accumulate(dst, src, n));
}
