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
 * table's gradient (a parameter's). Its create-graph backward is the
 * scatter, cg_embedding_scatter (the same sums as ops), whose own backward
 * and create-graph backward are the lookup.
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

/* The indices of a lookup or scatter node: on the host (for the ops of its
 * create-graph backward, which check them there) and on the table's device
 * (for the kernels) */
typedef struct {
    const int32_t *host, *dev;
} embed_idx;

/* checks the n indices against num and copies them for a node; NULL with the
 * sticky error set */
static const embed_idx *embed_indices(cg_ctx *ctx, const char *op, int dev, const int32_t *idx,
                                      int n, int num, const cg_tensor *table)
{
    if (!idx)
        return op_fail(ctx, op, "indices are NULL");
    if (n < 1)
        return op_fail(ctx, op, "%d indices: need at least one", n);
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= num)
            return op_fail(ctx, op, "index %d at position %d is outside [0, %d) (%s %s)",
                           (int)idx[i], i, num, table ? "weight" : "table rows",
                           table ? CG_SHAPE_STR(table) : "");
    size_t bytes = sizeof(int32_t) * (size_t)n;
    embed_idx e = {op_host_copy(ctx, op, CG_CPU, idx, bytes, "indices"),
                   op_host_copy(ctx, op, dev, idx, bytes, "indices")};
    return e.host && e.dev ? op_host_copy(ctx, op, CG_CPU, &e, sizeof e, "indices") : NULL;
}

/* i[0] = N, i[1] = num, i[2] = dim; aux the indices */
static cg_status embedding_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    if (!dx[0])
        return CG_OK;
    const real *dy = nd->out->grad;
    const int32_t *idx = ((const embed_idx *)nd->aux)->dev;
    int N = nd->i[0], num = nd->i[1], dim = nd->i[2];
    double *acc = NULL;  /* the CPU's per-row sums */
    if (nd->out->dev == CG_CPU && !(acc = cg_scratch(ctx, sizeof(double) * (size_t)dim)))
        return ctx->err;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev,
                      cpu_embedding_bwd(dx[0], acc, dy, idx, N, num, dim),
                      cuda_embedding_bwd(dx[0], dy, idx, N, num, dim));
}

/* the lookup's backward as ops: the output gradient's rows added into the table's rows */
static cg_status embedding_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                                cg_tensor *gx[CG_MAX_IN])
{
    if (need & 1)
        gx[0] = cg_embedding_scatter(ctx, gy, ((const embed_idx *)nd->aux)->host, nd->i[1]);
    return ctx->err;
}

cg_tensor *cg_embedding(cg_ctx *ctx, cg_tensor *weight, const int32_t *idx, int n)
{
    static const char *op = "embedding";
    if (!op_begin(ctx, op, &weight, 1, 1))
        return NULL;
    if (weight->ndim != 2)
        return op_fail(ctx, op, "weight %s must be 2-D (num, dim)", CG_SHAPE_STR(weight));
    int num = weight->shape[0], dim = weight->shape[1];
    const embed_idx *ix = embed_indices(ctx, op, weight->dev, idx, n, num, weight);
    cg_tensor *y = ix ? op_out(ctx, weight, CG_SHAPE(n, dim)) : NULL;
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, op, weight->dev, cpu_embedding_fwd(y->data, ix->dev, weight->data, n, dim),
                cuda_embedding_fwd(y->data, ix->dev, weight->data, n, dim)))
        return NULL;
    /* the table's gradient accumulates, as a parameter's does */
    cg_node *nd = cg_record(ctx, op, embedding_bwd, y, &weight, 1, 0x1);
    if (nd) {
        nd->gbwd = embedding_gbwd;
        nd->aux = (void *)ix;
        nd->i[0] = n;
        nd->i[1] = num;
        nd->i[2] = dim;
    }
    return y;
}

/* The scatter's backward is the lookup: row n of the gradient of g is row
 * idx[n] of the output gradient (written, g being an activation).
 * i[0] = N, i[1] = num, i[2] = dim; aux the indices */
static cg_status scatter_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    if (!dx[0])
        return CG_OK;
    const real *dy = nd->out->grad;
    const int32_t *idx = ((const embed_idx *)nd->aux)->dev;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev,
                      cpu_embedding_fwd(dx[0], idx, dy, nd->i[0], nd->i[2]),
                      cuda_embedding_fwd(dx[0], idx, dy, nd->i[0], nd->i[2]));
}

static cg_status scatter_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                              cg_tensor *gx[CG_MAX_IN])
{
    if (need & 1)
        gx[0] = cg_embedding(ctx, gy, ((const embed_idx *)nd->aux)->host, nd->i[0]);
    return ctx->err;
}

cg_tensor *cg_embedding_scatter(cg_ctx *ctx, cg_tensor *g, const int32_t *idx, int num)
{
    static const char *op = "embedding_scatter";
    if (!op_begin(ctx, op, &g, 1, 1))
        return NULL;
    if (g->ndim != 2)
        return op_fail(ctx, op, "rows %s must be 2-D (n, dim)", CG_SHAPE_STR(g));
    if (num < 1)
        return op_fail(ctx, op, "a table of %d rows: need at least one", num);
    int n = g->shape[0], dim = g->shape[1];
    const embed_idx *ix = embed_indices(ctx, op, g->dev, idx, n, num, NULL);
    cg_tensor *y = ix ? cg_new_zeros_on(ctx, (cg_device)g->dev, CG_SHAPE(num, dim)) : NULL;
    if (!y)
        return NULL;
    double *acc = NULL;
    if (g->dev == CG_CPU && !(acc = cg_scratch(ctx, sizeof(double) * (size_t)dim)))
        return NULL;
    if (!OP_RUN(ctx, op, g->dev, cpu_embedding_bwd(y->data, acc, g->data, ix->dev, n, num, dim),
                cuda_embedding_bwd(y->data, g->data, ix->dev, n, num, dim)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, scatter_bwd, y, &g, 1, 0);
    if (nd) {
        nd->gbwd = scatter_gbwd;
        nd->aux = (void *)ix;
        nd->i[0] = n;
        nd->i[1] = num;
        nd->i[2] = dim;
    }
    return y;
}
