/*
 * mmd.c: op front end for the squared MMD between two sets of rows under a
 * sum of Gaussian kernels (a two-sample loss: a generator's samples against
 * data). Both inputs are activations; their gradients are written.
 *
 * The bandwidths are copied into the step arena of the inputs' device (the
 * caller's array need not outlive the call; a kernel reads them from GPU
 * memory) and the node keeps that copy for backward.
 */
#include <math.h>

#include "cpu/cpu_loss.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

static cg_status mmd2_rbf_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *x = nd->in[0], *y = nd->in[1];
    int N = x->shape[0], M = y->shape[0], D = x->shape[1], ns = nd->i[0];
    const double *sig = nd->aux;
    const real *dout = nd->out->grad;
    double *acc = x->dev == CG_CPU ? cg_scratch(ctx, sizeof(double) * (size_t)D) : NULL;
    if (x->dev == CG_CPU && !acc)
        return ctx->err;
    return OP_RUN_BWD(ctx, nd->op, x->dev,
                      cpu_mmd2_rbf_bwd(dx[0], dx[1], acc, dout, x->data, y->data, sig, ns, N, M,
                                       D),
                      cuda_mmd2_rbf_bwd(dx[0], dx[1], dout, x->data, y->data, sig, ns, N, M, D));
}

cg_tensor *cg_mmd2_rbf(cg_ctx *ctx, cg_tensor *x, cg_tensor *y, const double *sigmas, int ns)
{
    static const char *op = "mmd2_rbf";
    cg_tensor *in[2] = {x, y};
    if (!op_begin(ctx, op, in, 2, 2))
        return NULL;
    if (x->ndim != 2 || y->ndim != 2)
        return op_fail(ctx, op, "x %s and y %s must be 2-D (rows are samples)", CG_SHAPE_STR(x),
                       CG_SHAPE_STR(y));
    if (x->shape[1] != y->shape[1])
        return op_fail(ctx, op, "rows of x %s have D = %d, rows of y %s have D = %d",
                       CG_SHAPE_STR(x), x->shape[1], CG_SHAPE_STR(y), y->shape[1]);
    if (!sigmas || ns < 1)
        return op_fail(ctx, op, "needs at least one bandwidth (got %d)", ns);
    for (int s = 0; s < ns; s++)
        if (!(sigmas[s] > 0) || !isfinite(sigmas[s]))
            return op_fail(ctx, op, "bandwidth %d is %g (must be positive and finite)", s,
                           sigmas[s]);
    cg_tensor *out = op_out(ctx, x, CG_SHAPE(1));
    if (!out)
        return NULL;
    int N = x->shape[0], M = y->shape[0], D = x->shape[1];
    const double *sig = op_host_copy(ctx, op, x->dev, sigmas, sizeof(double) * (size_t)ns,
                                     "bandwidths");
    if (!sig)
        return NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_mmd2_rbf_fwd(out->data, x->data, y->data, sig, ns, N, M, D),
                cuda_mmd2_rbf_fwd(out->data, x->data, y->data, sig, ns, N, M, D)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, mmd2_rbf_bwd, out, in, 2, 0);
    if (nd) {
        nd->aux = (void *)sig;
        nd->i[0] = ns;
    }
    return out;
}
