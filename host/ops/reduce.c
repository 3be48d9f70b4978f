/*
 * reduce.c: op front ends for sum and mean over all elements, -> (1).
 */
#include "cpu/cpu_reduce.h"
#include "cugen/ops.h"
#include "ops/backend.h"

static cg_status sum_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cpu_sum_bwd(dx[0], nd->out->grad, nd->f[0], nd->in[0]->n);
    return CG_OK;
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
    cpu_sum_fwd(y->data, x->data, scale, x->n);
    cg_node *nd = cg_record(ctx, op, sum_bwd, y, &x, 1, 0);
    if (nd)
        nd->f[0] = scale;
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
