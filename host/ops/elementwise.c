/*
 * elementwise.c: op front ends for pointwise activations.
 */
#include "cpu/cpu_elementwise.h"
#include "cugen/ops.h"
#include "ops/backend.h"

static cg_status relu_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    (void)ctx;
    cpu_relu_bwd(dx[0], nd->out->grad, nd->in[0]->data, nd->out->n);
    return CG_OK;
}

cg_tensor *cg_relu(cg_ctx *ctx, cg_tensor *x)
{
    if (!op_begin(ctx, "relu", &x, 1, 1))
        return NULL;
    cg_tensor *y = cg_new_like(ctx, x);
    if (!y)
        return NULL;
    cpu_relu_fwd(y->data, x->data, x->n);
    cg_record(ctx, "relu", relu_bwd, y, &x, 1, 0);
    return y;
}
