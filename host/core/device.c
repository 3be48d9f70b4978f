/*
 * device.c: moving tensor values between the host and the GPU (tensor.h),
 * and the memory helpers of core/core_cuda.h on either device.
 * Uploads go through the context's pinned buffer and do not wait; reading
 * values back waits for the GPU, so a training step calls that only where
 * it needs a number on the host (a loss to print, a checkpoint).
 */
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/tensor.h"
#include "core/core_cuda.h"

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
    return dev_copy(ctx, CG_CUDA, to, src->data, src->n) ? CG_OK : ctx->err;
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
    else if (!dev_copy(ctx, CG_CUDA, o->data, t->data, t->n))
        st = ctx->err;
    return st == CG_OK ? o : NULL;
}

/* ---- status and memory on either device (core/core_cuda.h) ------------------------- */
int dev_ok(cg_ctx *ctx, const char *what, cg_status st)
{
    if (st == CG_OK)
        return 1;
    cg_fail(ctx, st, "%s: %s", what, cg_cuda_last_error());
    return 0;
}

void *dev_alloc_bytes(cg_ctx *ctx, int dev, size_t bytes, const char *what)
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

int dev_copy_from_host(cg_ctx *ctx, int dev, real *dst, const real *src, int64_t n)
{
    if (dev == CG_CPU) {
        memcpy(dst, src, sizeof(real) * (size_t)n);
        return 1;
    }
    /* one value (the seed of a backward pass): a fill kernel, no copy */
    if (n == 1)
        return dev_ok(ctx, "copy to GPU", cuda_fill(dst, (double)src[0], 1));
    return dev_ok(ctx, "copy to GPU", cg_cuda_upload_staged(ctx, dst, src,
                                                             sizeof(real) * (size_t)n));
}

int dev_copy(cg_ctx *ctx, int dev, real *dst, const real *src, int64_t n)
{
    if (dev == CG_CPU) {
        memcpy(dst, src, sizeof(real) * (size_t)n);
        return 1;
    }
    return dev_ok(ctx, "copy on GPU", cg_cuda_copy_d2d(dst, src, sizeof(real) * (size_t)n));
}

int dev_zero(cg_ctx *ctx, int dev, real *p, int64_t n)
{
    if (dev == CG_CPU) {
        memset(p, 0, sizeof(real) * (size_t)n);
        return 1;
    }
    return dev_ok(ctx, "zero on GPU", cg_cuda_memset0(p, sizeof(real) * (size_t)n));
}

int dev_fill(cg_ctx *ctx, int dev, real *p, double v, int64_t n)
{
    if (dev == CG_CPU) {
        for (int64_t i = 0; i < n; i++)
            p[i] = (real)v;
        return 1;
    }
    return dev_ok(ctx, "fill on GPU", cuda_fill(p, v, n));
}

int dev_accumulate(cg_ctx *ctx, int dev, real *dst, const real *src, int64_t n)
{
    if (dev == CG_CPU) {
        for (int64_t i = 0; i < n; i++)
            dst[i] += src[i];
        return 1;
    }
    return dev_ok(ctx, "accumulate on GPU", cuda_accumulate(dst, src, n));
}
