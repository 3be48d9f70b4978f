/*
 * device.c: moving tensor values between the host and the GPU (tensor.h).
 * Uploads go through the context's pinned buffer and do not wait; reading
 * values back waits for the GPU, so a training step calls that only where
 * it needs a number on the host (a loss to print, a checkpoint).
 */
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/tensor.h"
#include "ops/backend.h"

cg_status cg_memcpy_to_host(cg_ctx *ctx, real *dst, const real *src, cg_device dev, int64_t n)
{
    if (ctx->err)
        return ctx->err;
    size_t bytes = sizeof(real) * (size_t)n;
    if (dev == CG_CPU) {
        memmove(dst, src, bytes);
        return CG_OK;
    }
    cg_status st = cg_cuda_download(dst, src, bytes);
    if (st != CG_OK)
        return cg_fail(ctx, st, "copy to host: %s", cg_cuda_last_error());
    return CG_OK;
}

cg_status cg_copy_to_host(cg_ctx *ctx, real *dst, const cg_tensor *t)
{
    if (ctx->err)
        return ctx->err;
    if (!t || !dst)
        return cg_fail(ctx, CG_ERR_STATE, "copy to host: NULL tensor or destination");
    return cg_memcpy_to_host(ctx, dst, t->data, (cg_device)t->dev, t->n);
}

cg_status cg_copy_from_host(cg_ctx *ctx, cg_tensor *t, const real *src)
{
    if (ctx->err)
        return ctx->err;
    if (!t || !src)
        return cg_fail(ctx, CG_ERR_STATE, "copy from host: NULL tensor or source");
    if (t->dev == CG_CPU) {
        memmove(t->data, src, sizeof(real) * (size_t)t->n);
        return CG_OK;
    }
    cg_status st = cg_cuda_upload_staged(ctx, t->data, src, sizeof(real) * (size_t)t->n);
    if (st != CG_OK)
        return cg_fail(ctx, st, "copy to GPU: %s", cg_cuda_last_error());
    return CG_OK;
}

cg_status cg_copy(cg_ctx *ctx, cg_tensor *dst, int64_t at, const cg_tensor *src)
{
    if (ctx->err)
        return ctx->err;
    if (!dst || !src)
        return cg_fail(ctx, CG_ERR_STATE, "copy: NULL tensor");
    if (at < 0 || at > dst->n || src->n > dst->n - at)
        return cg_fail(ctx, CG_ERR_ARG, "copy: %lld values at %lld do not fit in %s",
                       (long long)src->n, (long long)at, CG_SHAPE_STR(dst));
    real *to = dst->data + at;
    if (src->dev == CG_CPU && dst->dev == CG_CPU) {
        memmove(to, src->data, sizeof(real) * (size_t)src->n);
        return CG_OK;
    }
    if (dst->dev == CG_CPU)
        return cg_memcpy_to_host(ctx, to, src->data, (cg_device)src->dev, src->n);
    if (src->dev == CG_CPU) {
        cg_status st = cg_cuda_upload_staged(ctx, to, src->data, sizeof(real) * (size_t)src->n);
        return st == CG_OK ? CG_OK : cg_fail(ctx, st, "copy to GPU: %s", cg_cuda_last_error());
    }
    return backend_copy(ctx, CG_CUDA, to, src->data, src->n) ? CG_OK : ctx->err;
}

cg_tensor *cg_to_device(cg_ctx *ctx, const cg_tensor *t, cg_device dev)
{
    if (ctx->err)
        return NULL;
    if (!t) {
        cg_fail(ctx, CG_ERR_STATE, "to_device: NULL tensor");
        return NULL;
    }
    cg_tensor *o = cg_new_on(ctx, dev, t->shape, t->ndim);
    if (!o)
        return NULL;
    cg_status st = CG_OK;
    if (t->dev == CG_CPU)
        st = cg_copy_from_host(ctx, o, t->data);
    else if (dev == CG_CPU)
        st = cg_copy_to_host(ctx, o->data, t);
    else if (!backend_copy(ctx, CG_CUDA, o->data, t->data, t->n))
        st = ctx->err;
    return st == CG_OK ? o : NULL;
}
