/*
 * spectral.c: op front end for spectral normalisation of a weight
 * (cugen/ops.h, cg_spectral_norm). The power iteration writes the u and v
 * buffers in place, off the tape; the node keeps copies of the vectors the
 * forward used and its sigma, so that a later forward's iteration cannot
 * change what this backward computes.
 */
#include "cpu/cpu_spectral.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

#define SN_EPS 1e-12   /* torch.nn.utils.spectral_norm's default */

/* saved: u, v, sigma; i[0..2] = A, h, R */
static cg_status spectral_norm_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    if (!dx[0])
        return CG_OK;
    const real *dy = nd->out->grad, *w = nd->in[0]->data;
    const real *u = nd->saved[0]->data, *v = nd->saved[1]->data, *s = nd->saved[2]->data;
    int A = nd->i[0], h = nd->i[1], R = nd->i[2];
    double *dot = NULL;  /* the GPU's sum(dy w) */
    if (nd->out->dev == CG_CUDA &&
        !(dot = dev_alloc_bytes(ctx, CG_CUDA, sizeof(double), "spectral_norm: sum")))
        return ctx->err;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev,
                      cpu_spectral_norm_bwd(dx[0], dy, w, u, v, s, A, h, R),
                      cuda_spectral_norm_bwd(dx[0], dy, w, u, v, s, A, h, R, dot));
}

/* a copy of t in the step arena of its device */
static cg_tensor *keep(cg_ctx *ctx, const cg_tensor *t)
{
    cg_tensor *c = op_out(ctx, t, t->shape, t->ndim);
    return c && cg_copy(ctx, c, 0, t) == CG_OK ? c : NULL;
}

cg_tensor *cg_spectral_norm(cg_ctx *ctx, cg_tensor *w, cg_tensor *u, cg_tensor *v, int dim,
                            int update)
{
    static const char *op = "spectral_norm";
    cg_tensor *in[3] = {w, u, v};
    if (!op_begin(ctx, op, in, 3, 3))
        return NULL;
    if (dim != 0 && dim != 1)
        return op_fail(ctx, op, "dim %d: only 0 or 1", dim);
    if (w->ndim < dim + 1 || (dim == 1 && w->ndim < 2))
        return op_fail(ctx, op, "w %s has no dim %d", CG_SHAPE_STR(w), dim);
    int A = dim == 1 ? w->shape[0] : 1, h = w->shape[dim];
    int64_t R64 = w->n / ((int64_t)A * h);
    if (R64 > 0x7fffffff)
        return op_fail(ctx, op, "w %s is too large", CG_SHAPE_STR(w));
    int R = (int)R64;
    if (u->n != h || v->n != (int64_t)A * R)
        return op_fail(ctx, op, "w %s normalised on dim %d needs u (%d) and v (%lld), got u %s "
                       "and v %s", CG_SHAPE_STR(w), dim, h, (long long)A * R, CG_SHAPE_STR(u),
                       CG_SHAPE_STR(v));
    cg_tensor *y = op_out(ctx, w, w->shape, w->ndim);
    cg_tensor *sigma = op_out(ctx, w, CG_SHAPE(1));
    if (!y || !sigma)
        return NULL;
    /* W v and W^T u in double, on w's device */
    double *acc = dev_alloc_bytes(ctx, w->dev, sizeof(double) * ((size_t)h + (size_t)A * R),
                                  "spectral_norm: products");
    if (!acc)
        return NULL;
    if (!OP_RUN(ctx, op, w->dev,
                cpu_spectral_norm_fwd(y->data, sigma->data, u->data, v->data, w->data, A, h, R,
                                      update, SN_EPS, acc),
                cuda_spectral_norm_fwd(y->data, sigma->data, u->data, v->data, w->data, A, h, R,
                                       update, SN_EPS, acc)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, spectral_norm_bwd, y, &w, 1, 0x1);
    if (nd) {
        /* w's gradient accumulates, as a parameter's does */
        nd->saved[0] = keep(ctx, u);
        nd->saved[1] = keep(ctx, v);
        nd->saved[2] = sigma;
        nd->i[0] = A;
        nd->i[1] = h;
        nd->i[2] = R;
        if (!nd->saved[0] || !nd->saved[1])
            return NULL;
    }
    return y;
}
