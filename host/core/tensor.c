/*
 * tensor.c: the context and tensor constructors (metadata and data in the
 * step arena).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/tape.h"
#include "cugen/tensor.h"
#include "core/core_cuda.h"

cg_status cg_ctx_init(cg_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    cg_arena_init(&ctx->arena, 0);
    cg_arena_init_dev(&ctx->dev_arena, CG_CUDA);  /* no memory until a CUDA tensor is made */
    ctx->tape = calloc(1, sizeof *ctx->tape);
    if (!ctx->tape)
        return CG_ERR_NOMEM;
    ctx->grad_enabled = 1;
    return CG_OK;
}

void cg_ctx_free(cg_ctx *ctx)
{
    if (ctx->tape) {
        free(ctx->tape->nodes);
        free(ctx->tape);
    }
    cg_arena_free(&ctx->arena);
    cg_arena_free(&ctx->dev_arena);
    cg_cuda_ctx_free(ctx);
    memset(ctx, 0, sizeof *ctx);
}

void cg_ctx_step_end(cg_ctx *ctx)
{
    ctx->tape->n = 0;
    char msg[200];
    if (cg_arena_check(&ctx->arena, msg, sizeof msg) ||
        cg_arena_check(&ctx->dev_arena, msg, sizeof msg)) {
        fprintf(stderr, "%s\n", msg);  /* also here: the next op may never come */
        cg_fail(ctx, CG_ERR_STATE, "%s", msg);
    }
    cg_arena_reset(&ctx->arena);
    cg_arena_reset(&ctx->dev_arena);
    cg_cuda_ctx_step_end(ctx);
}

int64_t cg_shape_numel(int ndim, const int *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

int cg_same_shape(const cg_tensor *a, const cg_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

const char *cg_shape_str(const cg_tensor *t, char *buf, size_t len)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, len - k, "(");
    for (int i = 0; i < t->ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ", %d" : "%d", t->shape[i]);
    if (k < len)
        snprintf(buf + k, len - k, ")");
    return buf;
}

void *cg_scratch(cg_ctx *ctx, size_t bytes)
{
    void *p = cg_arena_alloc(&ctx->arena, bytes);
    if (!p)
        cg_fail(ctx, CG_ERR_NOMEM, "step arena: out of host memory for %zu bytes of scratch",
                bytes);
    return p;
}

static cg_tensor *tensor_meta(cg_ctx *ctx, const int *shape, int ndim)
{
    if (ctx->err)
        return NULL;
    if (ndim < 1 || ndim > CG_MAX_DIMS) {
        cg_fail(ctx, CG_ERR_ARG, "tensor: %d dims (1 to %d supported)", ndim, CG_MAX_DIMS);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            cg_fail(ctx, CG_ERR_ARG, "tensor: dim %d is %d (must be positive)", i, shape[i]);
            return NULL;
        }
    }
    cg_tensor *t = cg_arena_alloc(&ctx->arena, sizeof *t);
    if (!t) {
        cg_fail(ctx, CG_ERR_NOMEM, "step arena: out of host memory for a tensor header");
        return NULL;
    }
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int) * (size_t)ndim);
    t->n = cg_shape_numel(ndim, shape);
    t->group = -1;
    t->dev = CG_CPU;
    return t;
}

cg_tensor *cg_new_on(cg_ctx *ctx, cg_device dev, const int *shape, int ndim)
{
    if (!ctx->err && dev != CG_CPU && dev != CG_CUDA) {
        cg_fail(ctx, CG_ERR_ARG, "tensor: unknown device %d", (int)dev);
        return NULL;
    }
    cg_tensor *t = tensor_meta(ctx, shape, ndim);
    if (!t)
        return NULL;
    t->dev = (uint8_t)dev;
    t->data = dev_alloc(ctx, dev, t->n);
    return t->data ? t : NULL;
}

cg_tensor *cg_new(cg_ctx *ctx, const int *shape, int ndim)
{
    return cg_new_on(ctx, CG_CPU, shape, ndim);
}

cg_tensor *cg_new_zeros_on(cg_ctx *ctx, cg_device dev, const int *shape, int ndim)
{
    cg_tensor *t = cg_new_on(ctx, dev, shape, ndim);
    if (t && !dev_zero(ctx, dev, t->data, t->n))
        return NULL;
    return t;
}

cg_tensor *cg_new_zeros(cg_ctx *ctx, const int *shape, int ndim)
{
    return cg_new_zeros_on(ctx, CG_CPU, shape, ndim);
}

cg_tensor *cg_new_like(cg_ctx *ctx, const cg_tensor *t)
{
    if (!t) {
        if (!ctx->err)
            cg_fail(ctx, CG_ERR_STATE, "tensor: NULL passed to cg_new_like");
        return NULL;
    }
    return cg_new_on(ctx, (cg_device)t->dev, t->shape, t->ndim);
}

cg_tensor *cg_wrap(cg_ctx *ctx, real *data, const int *shape, int ndim)
{
    cg_tensor *t = tensor_meta(ctx, shape, ndim);
    if (t)
        t->data = data;
    return t;
}
