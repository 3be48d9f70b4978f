/*
 * linear.c: op front end for the fully connected layer. Runs cpu_linear_* or
 * its cuBLAS twin cuda_linear_* (kernels/dense.cu) by the inputs' device.
 */
#include "cpu/cpu_dense.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

static cg_status linear_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *x = nd->in[0], *w = nd->in[1];
    int N = x->shape[0], I = x->shape[1], O = w->shape[0];
    const real *dy = nd->out->grad;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev,
                      cpu_linear_bwd(dx[0], dx[1], dx[2], dy, x->data, w->data, N, I, O),
                      cuda_linear_bwd(dx[0], dx[1], dx[2], dy, x->data, w->data, N, I, O));
}

/* create-graph, as batched products of one: gx (N, I) = gy (N, O) w (O, I),
 * gw (O, I) = gy^T x, gb (O) = gy summed over N */
static cg_status linear_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                             cg_tensor *gx[CG_MAX_IN])
{
    cg_tensor *x = nd->in[0], *w = nd->in[1];
    int N = x->shape[0], I = x->shape[1], O = w->shape[0];
    cg_tensor *g3 = cg_reshape(ctx, gy, CG_SHAPE(1, N, O));
    if (need & 1)
        gx[0] = cg_reshape(ctx, cg_bmm(ctx, g3, cg_reshape(ctx, w, CG_SHAPE(1, O, I)), 0, 0),
                           CG_SHAPE(N, I));
    if (need & 2)
        gx[1] = cg_reshape(ctx, cg_bmm(ctx, g3, cg_reshape(ctx, x, CG_SHAPE(1, N, I)), 1, 0),
                           CG_SHAPE(O, I));
    if (need & 4)
        gx[2] = cg_reshape(ctx, cg_sum_to(ctx, gy, CG_SHAPE(1, O)), nd->in[2]->shape,
                           nd->in[2]->ndim);
    return ctx->err;
}

cg_tensor *cg_linear(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, cg_tensor *b)
{
    static const char *op = "linear";
    cg_tensor *in[3] = {x, w, b};
    if (!op_begin(ctx, op, in, 2, 3))
        return NULL;
    if (x->ndim != 2 || w->ndim != 2)
        return op_fail(ctx, op, "x %s and w %s must be 2-D", CG_SHAPE_STR(x), CG_SHAPE_STR(w));
    if (x->shape[1] != w->shape[1])
        return op_fail(ctx, op, "x %s has %d features, w %s expects %d", CG_SHAPE_STR(x),
                       x->shape[1], CG_SHAPE_STR(w), w->shape[1]);
    if (b && b->n != w->shape[0])
        return op_fail(ctx, op, "bias %s does not match %d outputs", CG_SHAPE_STR(b), w->shape[0]);
    int N = x->shape[0], I = x->shape[1], O = w->shape[0];
    cg_tensor *y = op_out(ctx, x, CG_SHAPE(N, O));
    if (!y)
        return NULL;
    const real *bd = b ? b->data : NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_linear_fwd(y->data, x->data, w->data, bd, N, I, O),
                cuda_linear_fwd(y->data, x->data, w->data, bd, N, I, O)))
        return NULL;
    /* dx is written; dw and db accumulate */
    cg_node *nd = cg_record(ctx, op, linear_bwd, y, in, 3, 0x6);
    if (nd)
        nd->gbwd = linear_gbwd;
    return y;
}
