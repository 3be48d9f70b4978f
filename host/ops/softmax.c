/*
 * softmax.c: op front end for softmax over the last dim. Backward needs only
 * the output, which the node already holds (nd->out).
 */
#include "cpu/cpu_softmax.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

static cg_status softmax_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *y = nd->out;
    int D = cg_dim(y, -1);
    return OP_RUN_BWD(ctx, nd->op, y->dev, cpu_softmax_bwd(dx[0], y->grad, y->data, y->n / D, D),
                      cuda_softmax_bwd(dx[0], y->grad, y->data, y->n / D, D));
}

cg_tensor *cg_softmax(cg_ctx *ctx, cg_tensor *x)
{
    static const char *op = "softmax";
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    cg_tensor *y = op_out(ctx, x, x->shape, x->ndim);
    if (!y)
        return NULL;
    int D = cg_dim(x, -1);
    if (!OP_RUN(ctx, op, x->dev, cpu_softmax_fwd(y->data, x->data, x->n / D, D),
                cuda_softmax_fwd(y->data, x->data, x->n / D, D)))
        return NULL;
    cg_record(ctx, op, softmax_bwd, y, &x, 1, 0);
    return y;
}
