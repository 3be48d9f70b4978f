/*
 * bmm.c: op front end for batched matmul (attention scores and values).
 * Both inputs are activations: their gradients are written (acc_mask 0); when
 * a and b are the same tensor the tape gives the second one a scratch buffer
 * and adds it. Runs cpu_bmm_* or its cuBLAS twin cuda_bmm_* (kernels/dense.cu)
 * by the inputs' device.
 */
#include "cpu/cpu_dense.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

/* i[] = {B, M, N, K, trans_a, trans_b} */
static cg_status bmm_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const int *d = nd->i;
    const real *dc = nd->out->grad, *a = nd->in[0]->data, *b = nd->in[1]->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev,
                      cpu_bmm_bwd(dx[0], dx[1], dc, a, b, d[0], d[1], d[2], d[3], d[4], d[5]),
                      cuda_bmm_bwd(dx[0], dx[1], dc, a, b, d[0], d[1], d[2], d[3], d[4], d[5]));
}

/* create-graph: c = op(a) op(b), so d op(a) = dc op(b)^T and d op(b) = op(a)^T dc,
 * each transposed back when a (b) was read transposed */
static cg_status bmm_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gc, unsigned need,
                          cg_tensor *gx[CG_MAX_IN])
{
    cg_tensor *a = nd->in[0], *b = nd->in[1];
    int ta = nd->i[4], tb = nd->i[5];
    if (need & 1)
        gx[0] = ta ? cg_bmm(ctx, b, gc, tb, 1) : cg_bmm(ctx, gc, b, 0, !tb);
    if (need & 2)
        gx[1] = tb ? cg_bmm(ctx, gc, a, 1, ta) : cg_bmm(ctx, a, gc, !ta, 0);
    return ctx->err;
}

cg_tensor *cg_bmm(cg_ctx *ctx, cg_tensor *a, cg_tensor *b, int trans_a, int trans_b)
{
    static const char *op = "bmm";
    cg_tensor *in[2] = {a, b};
    if (!op_begin(ctx, op, in, 2, 2))
        return NULL;
    if (a->ndim != 3 || b->ndim != 3)
        return op_fail(ctx, op, "a %s and b %s must be 3-D (batch, rows, cols)", CG_SHAPE_STR(a),
                       CG_SHAPE_STR(b));
    int ta = trans_a != 0, tb = trans_b != 0;
    int B = a->shape[0];
    int M = a->shape[ta ? 2 : 1], K = a->shape[ta ? 1 : 2];
    int Kb = b->shape[tb ? 2 : 1], N = b->shape[tb ? 1 : 2];
    if (b->shape[0] != B)
        return op_fail(ctx, op, "batch sizes differ: a %s, b %s", CG_SHAPE_STR(a), CG_SHAPE_STR(b));
    if (Kb != K)
        return op_fail(ctx, op, "inner dims differ: a %s%s gives %d, b %s%s gives %d",
                       CG_SHAPE_STR(a), ta ? " (transposed)" : "", K, CG_SHAPE_STR(b),
                       tb ? " (transposed)" : "", Kb);
    cg_tensor *c = op_out(ctx, a, CG_SHAPE(B, M, N));
    if (!c)
        return NULL;
    if (!OP_RUN(ctx, op, a->dev, cpu_bmm_fwd(c->data, a->data, b->data, B, M, N, K, ta, tb),
                cuda_bmm_fwd(c->data, a->data, b->data, B, M, N, K, ta, tb)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, bmm_bwd, c, in, 2, 0);
    if (nd) {
        int d[6] = {B, M, N, K, ta, tb};
        for (int j = 0; j < 6; j++)
            nd->i[j] = d[j];
        nd->gbwd = bmm_gbwd;
    }
    return c;
}
