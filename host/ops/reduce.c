/*
 * reduce.c: op front ends for sum and mean over all elements, -> (1).
 * The CUDA twins are kernels/reduce.cu (a deterministic tree in double).
 */
#include "cpu/cpu_reduce.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

static cg_status sum_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad;
    int64_t n = nd->in[0]->n;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev, cpu_sum_bwd(dx[0], dy, nd->f[0], n),
                      cuda_sum_bwd(dx[0], dy, nd->f[0], n));
}

/* create-graph: gx = scale gy expanded to x's shape */
static cg_status sum_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                          cg_tensor *gx[CG_MAX_IN])
{
    cg_tensor *x = nd->in[0];
    cg_tensor *s = nd->f[0] == 1.0 ? gy : cg_scale(ctx, gy, nd->f[0]);
    gx[0] = cg_expand(ctx, s, x->shape, x->ndim);
    return ctx->err;
}

/* y (1) = scale * sum x, recorded under the caller's op name */
static cg_tensor *sum_scaled(cg_ctx *ctx, const char *op, cg_tensor *x, int mean)
{
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    cg_tensor *y = op_out(ctx, x, CG_SHAPE(1));
    if (!y)
        return NULL;
    double scale = mean ? 1.0 / (double)x->n : 1.0;
    if (!OP_RUN(ctx, op, x->dev, cpu_sum_fwd(y->data, x->data, scale, x->n),
                cuda_sum_fwd(y->data, x->data, scale, x->n)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, sum_bwd, y, &x, 1, 0);
    if (nd) {
        nd->f[0] = scale;
        nd->gbwd = sum_gbwd;
    }
    return y;
}

cg_tensor *cg_sum(cg_ctx *ctx, cg_tensor *x)
{
    return sum_scaled(ctx, "sum", x, 0);
}

cg_tensor *cg_mean(cg_ctx *ctx, cg_tensor *x)
{
    return sum_scaled(ctx, "mean", x, 1);
}
