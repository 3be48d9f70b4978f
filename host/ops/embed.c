/*
 * embed.c: op front ends for the sinusoidal timestep embedding and the row
 * lookup of an embedding table.
 *
 * Timestep embedding: t is usually data (integer steps as reals) and then no
 * node is recorded; it is differentiable all the same.
 *
 * Lookup: the indices are a host int32 array, as the batches' labels are
 * (cugen's tensors hold reals only). Being on the host they are checked
 * against the table before anything runs, on either device, with no value
 * read back from the GPU; a copy goes to the step arena of the table's
 * device for the kernels and the backward. The backward accumulates into the
 * table's gradient (a parameter's).
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

/* aux = the indices on the table's device; i[0] = N, i[1] = num, i[2] = dim */
static cg_status embedding_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    if (!dx[0])
        return CG_OK;
    const real *dy = nd->out->grad;
    const int32_t *idx = nd->aux;
    int N = nd->i[0], num = nd->i[1], dim = nd->i[2];
    double *acc = NULL;  /* the CPU's per-row sums */
    if (nd->out->dev == CG_CPU && !(acc = cg_scratch(ctx, sizeof(double) * (size_t)dim)))
        return ctx->err;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev,
                      cpu_embedding_bwd(dx[0], acc, dy, idx, N, num, dim),
                      cuda_embedding_bwd(dx[0], dy, idx, N, num, dim));
}

cg_tensor *cg_embedding(cg_ctx *ctx, cg_tensor *weight, const int32_t *idx, int n)
{
    static const char *op = "embedding";
    if (!op_begin(ctx, op, &weight, 1, 1))
        return NULL;
    if (weight->ndim != 2)
        return op_fail(ctx, op, "weight %s must be 2-D (num, dim)", CG_SHAPE_STR(weight));
    if (!idx)
        return op_fail(ctx, op, "indices are NULL");
    if (n < 1)
        return op_fail(ctx, op, "%d indices: need at least one", n);
    int num = weight->shape[0], dim = weight->shape[1];
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= num)
            return op_fail(ctx, op, "index %d at position %d is outside [0, %d) (weight %s)",
                           (int)idx[i], i, num, CG_SHAPE_STR(weight));
    cg_tensor *y = op_out(ctx, weight, CG_SHAPE(n, dim));
    if (!y)
        return NULL;
    const int32_t *ix = op_host_copy(ctx, op, weight->dev, idx, sizeof(int32_t) * (size_t)n,
                                     "indices");
    if (!ix)
        return NULL;
    if (!OP_RUN(ctx, op, weight->dev, cpu_embedding_fwd(y->data, ix, weight->data, n, dim),
                cuda_embedding_fwd(y->data, ix, weight->data, n, dim)))
        return NULL;
    /* the table's gradient accumulates, as a parameter's does */
    cg_node *nd = cg_record(ctx, op, embedding_bwd, y, &weight, 1, 0x1);
    if (nd) {
        nd->aux = (void *)ix;
        nd->i[0] = n;
        nd->i[1] = num;
        nd->i[2] = dim;
    }
    return y;
}
