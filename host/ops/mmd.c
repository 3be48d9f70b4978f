/*
 * mmd.c: op front end for the squared MMD between two sets of rows under a
 * sum of Gaussian kernels (a two-sample loss: a generator's samples against
 * data). Both inputs are activations; their gradients are written.
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu_loss.h"
#include "cugen/ops.h"
#include "ops/backend.h"

static cg_status mmd2_rbf_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *x = nd->in[0], *y = nd->in[1];
    int N = x->shape[0], M = y->shape[0], D = x->shape[1];
    double *acc = op_scratch(ctx, sizeof(double) * (size_t)D);
    if (!acc)
        return ctx->err;
    cpu_mmd2_rbf_bwd(dx[0], dx[1], acc, nd->out->grad, x->data, y->data, nd->aux, nd->i[0], N,
                     M, D);
    return CG_OK;
}

cg_tensor *cg_mmd2_rbf(cg_ctx *ctx, cg_tensor *x, cg_tensor *y, const double *sigmas, int ns)
{
    static const char *op = "mmd2_rbf";
    cg_tensor *in[2] = {x, y};
    if (!op_begin_cpu(ctx, op, in, 2, 2))
        return NULL;
    if (x->ndim != 2 || y->ndim != 2)
        return op_fail(ctx, op, "x %s and y %s must be 2-D (rows are samples)", SHAPE_STR(x),
                       SHAPE_STR(y));
    if (x->shape[1] != y->shape[1])
        return op_fail(ctx, op, "rows of x %s have D = %d, rows of y %s have D = %d",
                       SHAPE_STR(x), x->shape[1], SHAPE_STR(y), y->shape[1]);
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
    cpu_mmd2_rbf_fwd(out->data, x->data, y->data, sigmas, ns, N, M, D);
    cg_node *nd = cg_record(ctx, op, mmd2_rbf_bwd, out, in, 2, 0);
    if (nd) {  /* the caller's sigmas need not outlive this call */
        double *copy = op_scratch(ctx, sizeof(double) * (size_t)ns);
        if (!copy)
            return NULL;
        memcpy(copy, sigmas, sizeof(double) * (size_t)ns);
        nd->aux = copy;
        nd->i[0] = ns;
    }
    return out;
}
