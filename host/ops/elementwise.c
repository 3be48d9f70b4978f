/*
 * elementwise.c: op front ends for the pointwise ops (activations, exp, log,
 * scale, affine). Each output has its input's shape; the backward of tanh,
 * sigmoid and exp reads the saved output, the others the input.
 * Broadcasting binary ops (add, sub, mul) are in broadcast.c.
 *
 * Every op runs cpu_<op> or its CUDA twin cuda_<op> (kernels/elementwise.cu,
 * the same arguments) by the input's device, through OP_RUN.
 */
#include "cpu/cpu_elementwise.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

/* Start of every pointwise op: checks, then the output (x's shape). */
static cg_tensor *unary_begin(cg_ctx *ctx, const char *op, cg_tensor *x)
{
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    return cg_new_like(ctx, x);
}

/* ---- activations --------------------------------------------------------- */
static cg_status relu_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad, *x = nd->in[0]->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev, cpu_relu_bwd(dx[0], dy, x, nd->out->n),
                      cuda_relu_bwd(dx[0], dy, x, nd->out->n));
}

cg_tensor *cg_relu(cg_ctx *ctx, cg_tensor *x)
{
    cg_tensor *y = unary_begin(ctx, "relu", x);
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, "relu", x->dev, cpu_relu_fwd(y->data, x->data, x->n),
                cuda_relu_fwd(y->data, x->data, x->n)))
        return NULL;
    cg_record(ctx, "relu", relu_bwd, y, &x, 1, 0);
    return y;
}

static cg_status leaky_relu_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad, *x = nd->in[0]->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev,
                      cpu_leaky_relu_bwd(dx[0], dy, x, nd->f[0], nd->out->n),
                      cuda_leaky_relu_bwd(dx[0], dy, x, nd->f[0], nd->out->n));
}

cg_tensor *cg_leaky_relu(cg_ctx *ctx, cg_tensor *x, double slope)
{
    cg_tensor *y = unary_begin(ctx, "leaky_relu", x);
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, "leaky_relu", x->dev, cpu_leaky_relu_fwd(y->data, x->data, slope, x->n),
                cuda_leaky_relu_fwd(y->data, x->data, slope, x->n)))
        return NULL;
    cg_node *nd = cg_record(ctx, "leaky_relu", leaky_relu_bwd, y, &x, 1, 0);
    if (nd)
        nd->f[0] = slope;
    return y;
}

static cg_status clamp_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad, *x = nd->in[0]->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev,
                      cpu_clamp_bwd(dx[0], dy, x, nd->f[0], nd->f[1], nd->out->n),
                      cuda_clamp_bwd(dx[0], dy, x, nd->f[0], nd->f[1], nd->out->n));
}

cg_tensor *cg_clamp(cg_ctx *ctx, cg_tensor *x, double lo, double hi)
{
    if (!(lo <= hi))
        return op_fail(ctx, "clamp", "bounds [%g, %g] are empty", lo, hi);
    cg_tensor *y = unary_begin(ctx, "clamp", x);
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, "clamp", x->dev, cpu_clamp_fwd(y->data, x->data, lo, hi, x->n),
                cuda_clamp_fwd(y->data, x->data, lo, hi, x->n)))
        return NULL;
    cg_node *nd = cg_record(ctx, "clamp", clamp_bwd, y, &x, 1, 0);
    if (nd) {
        nd->f[0] = lo;
        nd->f[1] = hi;
    }
    return y;
}

static cg_status tanh_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad, *y = nd->out->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev, cpu_tanh_bwd(dx[0], dy, y, nd->out->n),
                      cuda_tanh_bwd(dx[0], dy, y, nd->out->n));
}

cg_tensor *cg_tanh(cg_ctx *ctx, cg_tensor *x)
{
    cg_tensor *y = unary_begin(ctx, "tanh", x);
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, "tanh", x->dev, cpu_tanh_fwd(y->data, x->data, x->n),
                cuda_tanh_fwd(y->data, x->data, x->n)))
        return NULL;
    cg_record(ctx, "tanh", tanh_bwd, y, &x, 1, 0);
    return y;
}

static cg_status sigmoid_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad, *y = nd->out->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev, cpu_sigmoid_bwd(dx[0], dy, y, nd->out->n),
                      cuda_sigmoid_bwd(dx[0], dy, y, nd->out->n));
}

cg_tensor *cg_sigmoid(cg_ctx *ctx, cg_tensor *x)
{
    cg_tensor *y = unary_begin(ctx, "sigmoid", x);
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, "sigmoid", x->dev, cpu_sigmoid_fwd(y->data, x->data, x->n),
                cuda_sigmoid_fwd(y->data, x->data, x->n)))
        return NULL;
    cg_record(ctx, "sigmoid", sigmoid_bwd, y, &x, 1, 0);
    return y;
}

static cg_status silu_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad, *x = nd->in[0]->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev, cpu_silu_bwd(dx[0], dy, x, nd->out->n),
                      cuda_silu_bwd(dx[0], dy, x, nd->out->n));
}

cg_tensor *cg_silu(cg_ctx *ctx, cg_tensor *x)
{
    cg_tensor *y = unary_begin(ctx, "silu", x);
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, "silu", x->dev, cpu_silu_fwd(y->data, x->data, x->n),
                cuda_silu_fwd(y->data, x->data, x->n)))
        return NULL;
    cg_record(ctx, "silu", silu_bwd, y, &x, 1, 0);
    return y;
}

static cg_status softplus_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad, *x = nd->in[0]->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev, cpu_softplus_bwd(dx[0], dy, x, nd->out->n),
                      cuda_softplus_bwd(dx[0], dy, x, nd->out->n));
}

cg_tensor *cg_softplus(cg_ctx *ctx, cg_tensor *x)
{
    cg_tensor *y = unary_begin(ctx, "softplus", x);
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, "softplus", x->dev, cpu_softplus_fwd(y->data, x->data, x->n),
                cuda_softplus_fwd(y->data, x->data, x->n)))
        return NULL;
    cg_record(ctx, "softplus", softplus_bwd, y, &x, 1, 0);
    return y;
}

/* ---- exp, log ------------------------------------------------------------- */
static cg_status exp_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad, *y = nd->out->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev, cpu_exp_bwd(dx[0], dy, y, nd->out->n),
                      cuda_exp_bwd(dx[0], dy, y, nd->out->n));
}

cg_tensor *cg_exp(cg_ctx *ctx, cg_tensor *x)
{
    cg_tensor *y = unary_begin(ctx, "exp", x);
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, "exp", x->dev, cpu_exp_fwd(y->data, x->data, x->n),
                cuda_exp_fwd(y->data, x->data, x->n)))
        return NULL;
    cg_record(ctx, "exp", exp_bwd, y, &x, 1, 0);
    return y;
}

static cg_status log_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad, *x = nd->in[0]->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev, cpu_log_bwd(dx[0], dy, x, nd->out->n),
                      cuda_log_bwd(dx[0], dy, x, nd->out->n));
}

/* x > 0 is the caller's contract and is not checked (that would cost a pass
 * over x, and a device sync on the GPU): like libm and PyTorch, log 0 gives
 * -inf and a negative x gives NaN; the gradient there is inf / -1/x. */
cg_tensor *cg_log(cg_ctx *ctx, cg_tensor *x)
{
    cg_tensor *y = unary_begin(ctx, "log", x);
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, "log", x->dev, cpu_log_fwd(y->data, x->data, x->n),
                cuda_log_fwd(y->data, x->data, x->n)))
        return NULL;
    cg_record(ctx, "log", log_bwd, y, &x, 1, 0);
    return y;
}

/* ---- scale, affine ---------------------------------------------------------- */
static cg_status affine_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev, cpu_affine_bwd(dx[0], dy, nd->f[0], nd->out->n),
                      cuda_affine_bwd(dx[0], dy, nd->f[0], nd->out->n));
}

/* y = s x + t, recorded under the caller's op name */
static cg_tensor *affine(cg_ctx *ctx, const char *op, cg_tensor *x, double s, double t)
{
    cg_tensor *y = unary_begin(ctx, op, x);
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_affine_fwd(y->data, x->data, s, t, x->n),
                cuda_affine_fwd(y->data, x->data, s, t, x->n)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, affine_bwd, y, &x, 1, 0);
    if (nd)
        nd->f[0] = s;
    return y;
}

cg_tensor *cg_scale(cg_ctx *ctx, cg_tensor *x, double s)
{
    return affine(ctx, "scale", x, s, 0);
}

cg_tensor *cg_affine(cg_ctx *ctx, cg_tensor *x, double s, double t)
{
    return affine(ctx, "affine", x, s, t);
}
