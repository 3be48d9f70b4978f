/*
 * flow.c: op front ends for squeeze2x and unsqueeze2x, the reshuffles of
 * multi-scale flows (RealNVP's squeeze: each 2x2 block of a channel becomes
 * four channels).
 *
 * Not for: the arithmetic (host/cpu/flow.c).
 */
#include "cpu/cpu_flow.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

static cg_status squeeze2x_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const cg_tensor *x = nd->in[0];
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    return OP_RUN_BWD(ctx, nd->op, x->dev, cpu_unsqueeze2x_fwd(dx[0], nd->out->grad, N, C, H, W),
                      cuda_unsqueeze2x_fwd(dx[0], nd->out->grad, N, C, H, W));
}

cg_tensor *cg_squeeze2x(cg_ctx *ctx, cg_tensor *x)
{
    static const char *op = "squeeze2x";
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    if (x->ndim != 4)
        return op_fail(ctx, op, "x %s must be 4-D (N, C, H, W)", CG_SHAPE_STR(x));
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    if (H % 2 || W % 2)
        return op_fail(ctx, op, "x %s: H and W must be even", CG_SHAPE_STR(x));
    if (C > (1 << 28))
        return op_fail(ctx, op, "x %s has too many channels", CG_SHAPE_STR(x));
    cg_tensor *y = op_out(ctx, x, CG_SHAPE(N, 4 * C, H / 2, W / 2));
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_squeeze2x_fwd(y->data, x->data, N, C, H, W),
                cuda_squeeze2x_fwd(y->data, x->data, N, C, H, W)))
        return NULL;
    cg_record(ctx, op, squeeze2x_bwd, y, &x, 1, 0);
    return y;
}

static cg_status unsqueeze2x_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const cg_tensor *y = nd->out;
    int N = y->shape[0], C = y->shape[1], H = y->shape[2], W = y->shape[3];
    return OP_RUN_BWD(ctx, nd->op, y->dev, cpu_squeeze2x_fwd(dx[0], y->grad, N, C, H, W),
                      cuda_squeeze2x_fwd(dx[0], y->grad, N, C, H, W));
}

cg_tensor *cg_unsqueeze2x(cg_ctx *ctx, cg_tensor *x)
{
    static const char *op = "unsqueeze2x";
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    if (x->ndim != 4)
        return op_fail(ctx, op, "x %s must be 4-D (N, C, H, W)", CG_SHAPE_STR(x));
    int N = x->shape[0], C4 = x->shape[1], h = x->shape[2], w = x->shape[3];
    if (C4 % 4)
        return op_fail(ctx, op, "x %s: channels must be a multiple of 4", CG_SHAPE_STR(x));
    if (h > (1 << 29) || w > (1 << 29))
        return op_fail(ctx, op, "x %s is too large to unsqueeze", CG_SHAPE_STR(x));
    cg_tensor *y = op_out(ctx, x, CG_SHAPE(N, C4 / 4, 2 * h, 2 * w));
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_unsqueeze2x_fwd(y->data, x->data, N, C4 / 4, 2 * h, 2 * w),
                cuda_unsqueeze2x_fwd(y->data, x->data, N, C4 / 4, 2 * h, 2 * w)))
        return NULL;
    cg_record(ctx, op, unsqueeze2x_bwd, y, &x, 1, 0);
    return y;
}
