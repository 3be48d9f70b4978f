/*
 * resample.c: op front ends for upsample2x (nearest) and avgpool2x.
 *
 * The two share one front end: y is x (N, C, H, W) at twice or half the
 * size, and every kernel takes (out, in, N C, H, W), H and W those of x.
 *
 * Not for: the arithmetic (host/cpu/resample.c, kernels/resample.cu).
 */
#include "cpu/cpu_resample.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

typedef void cpu_resample_fn(real *out, const real *in, int64_t NC, int H, int W);
typedef cg_status cuda_resample_fn(real *out, const real *in, int64_t NC, int H, int W);

typedef struct {
    const char *op;
    int up;  /* y (N, C, 2H, 2W); else (N, C, H / 2, W / 2) */
    cpu_resample_fn *cpu_fwd, *cpu_bwd;
    cuda_resample_fn *cuda_fwd, *cuda_bwd;
} resample_op;

static const resample_op RESAMPLE[2] = {
    {"avgpool2x", 0, cpu_avgpool2x_fwd, cpu_avgpool2x_bwd, cuda_avgpool2x_fwd,
     cuda_avgpool2x_bwd},
    {"upsample2x", 1, cpu_upsample2x_fwd, cpu_upsample2x_bwd, cuda_upsample2x_fwd,
     cuda_upsample2x_bwd},
};

/* i[0] = up, RESAMPLE's index */
static cg_status resample2x_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const resample_op *r = &RESAMPLE[nd->i[0]];
    const cg_tensor *x = nd->in[0];
    const real *dy = nd->out->grad;
    int64_t NC = (int64_t)x->shape[0] * x->shape[1];
    int H = x->shape[2], W = x->shape[3];
    return OP_RUN_BWD(ctx, nd->op, x->dev, r->cpu_bwd(dx[0], dy, NC, H, W),
                      r->cuda_bwd(dx[0], dy, NC, H, W));
}

static cg_tensor *resample2x(cg_ctx *ctx, cg_tensor *x, int up)
{
    const resample_op *r = &RESAMPLE[up];
    const char *op = r->op;
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    if (x->ndim != 4)
        return op_fail(ctx, op, "x %s must be 4-D (N, C, H, W)", CG_SHAPE_STR(x));
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    if (up && (H > (1 << 29) || W > (1 << 29)))
        return op_fail(ctx, op, "x %s is too large to upsample", CG_SHAPE_STR(x));
    if (!up && (H % 2 || W % 2))
        return op_fail(ctx, op, "x %s: H and W must be even", CG_SHAPE_STR(x));
    cg_tensor *y = op_out(ctx, x, CG_SHAPE(N, C, up ? 2 * H : H / 2, up ? 2 * W : W / 2));
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, op, x->dev, r->cpu_fwd(y->data, x->data, (int64_t)N * C, H, W),
                r->cuda_fwd(y->data, x->data, (int64_t)N * C, H, W)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, resample2x_bwd, y, &x, 1, 0);
    if (nd)
        nd->i[0] = up;
    return y;
}

cg_tensor *cg_upsample2x(cg_ctx *ctx, cg_tensor *x)
{
    return resample2x(ctx, x, 1);
}

cg_tensor *cg_avgpool2x(cg_ctx *ctx, cg_tensor *x)
{
    return resample2x(ctx, x, 0);
}
