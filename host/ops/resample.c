/*
 * resample.c: op front ends for upsample2x (nearest) and avgpool2x.
 *
 * Not for: the arithmetic (host/cpu/resample.c, kernels/resample.cu).
 */
#include "cpu/cpu_resample.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

static cg_status upsample2x_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const cg_tensor *x = nd->in[0];
    const real *dy = nd->out->grad;
    int64_t NC = (int64_t)x->shape[0] * x->shape[1];
    int H = x->shape[2], W = x->shape[3];
    return OP_RUN_BWD(ctx, nd->op, x->dev, cpu_upsample2x_bwd(dx[0], dy, NC, H, W),
                      cuda_upsample2x_bwd(dx[0], dy, NC, H, W));
}

cg_tensor *cg_upsample2x(cg_ctx *ctx, cg_tensor *x)
{
    static const char *op = "upsample2x";
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    if (x->ndim != 4)
        return op_fail(ctx, op, "x %s must be 4-D (N, C, H, W)", CG_SHAPE_STR(x));
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    if (H > (1 << 29) || W > (1 << 29))
        return op_fail(ctx, op, "x %s is too large to upsample", CG_SHAPE_STR(x));
    cg_tensor *y = op_out(ctx, x, CG_SHAPE(N, C, 2 * H, 2 * W));
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_upsample2x_fwd(y->data, x->data, (int64_t)N * C, H, W),
                cuda_upsample2x_fwd(y->data, x->data, (int64_t)N * C, H, W)))
        return NULL;
    cg_record(ctx, op, upsample2x_bwd, y, &x, 1, 0);
    return y;
}

static cg_status avgpool2x_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const cg_tensor *x = nd->in[0];
    const real *dy = nd->out->grad;
    int64_t NC = (int64_t)x->shape[0] * x->shape[1];
    int H = x->shape[2], W = x->shape[3];
    return OP_RUN_BWD(ctx, nd->op, x->dev, cpu_avgpool2x_bwd(dx[0], dy, NC, H, W),
                      cuda_avgpool2x_bwd(dx[0], dy, NC, H, W));
}

cg_tensor *cg_avgpool2x(cg_ctx *ctx, cg_tensor *x)
{
    static const char *op = "avgpool2x";
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    if (x->ndim != 4)
        return op_fail(ctx, op, "x %s must be 4-D (N, C, H, W)", CG_SHAPE_STR(x));
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    if (H % 2 || W % 2)
        return op_fail(ctx, op, "x %s: H and W must be even", CG_SHAPE_STR(x));
    cg_tensor *y = op_out(ctx, x, CG_SHAPE(N, C, H / 2, W / 2));
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_avgpool2x_fwd(y->data, x->data, (int64_t)N * C, H, W),
                cuda_avgpool2x_fwd(y->data, x->data, (int64_t)N * C, H, W)))
        return NULL;
    cg_record(ctx, op, avgpool2x_bwd, y, &x, 1, 0);
    return y;
}
