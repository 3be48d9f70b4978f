/*
 * embed.c: op front end for the sinusoidal timestep embedding. t is usually
 * data (integer steps as reals) and then no node is recorded; it is
 * differentiable all the same.
 */
#include <math.h>

#include "cpu/cpu_embed.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

/* i[0] = N, i[1] = h, f[0] = max_period */
static cg_status embed_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad, *t = nd->in[0]->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev,
                      cpu_timestep_embedding_bwd(dx[0], dy, t, nd->i[0], nd->i[1], nd->f[0]),
                      cuda_timestep_embedding_bwd(dx[0], dy, t, nd->i[0], nd->i[1], nd->f[0]));
}

cg_tensor *cg_timestep_embedding(cg_ctx *ctx, cg_tensor *t, int dim, double max_period)
{
    static const char *op = "timestep_embedding";
    if (!op_begin(ctx, op, &t, 1, 1))
        return NULL;
    if (t->ndim != 1)
        return op_fail(ctx, op, "t %s must be 1-D (N)", CG_SHAPE_STR(t));
    if (dim < 2 || dim % 2 != 0)
        return op_fail(ctx, op, "dim %d must be even and >= 2", dim);
    if (!(max_period > 0 && isfinite(max_period)))
        return op_fail(ctx, op, "max_period %g must be finite and > 0", max_period);
    int N = t->shape[0], h = dim / 2;
    cg_tensor *y = op_out(ctx, t, CG_SHAPE(N, dim));
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, op, t->dev, cpu_timestep_embedding_fwd(y->data, t->data, N, h, max_period),
                cuda_timestep_embedding_fwd(y->data, t->data, N, h, max_period)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, embed_bwd, y, &t, 1, 0);
    if (nd) {
        nd->i[0] = N;
        nd->i[1] = h;
        nd->f[0] = max_period;
    }
    return y;
}
