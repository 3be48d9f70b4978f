/*
 * elementwise.c: op front ends for the pointwise ops (activations, exp, log,
 * scale, affine). Each output has its input's shape; the backward of tanh,
 * sigmoid and exp reads the saved output, the others the input.
 * Broadcasting binary ops (add, sub, mul) are in broadcast.c.
 *
 * Every op runs cpu_<op> or its CUDA twin cuda_<op> (kernels/elementwise.cu,
 * the same arguments) by the input's device, through OP_RUN.
 *
 * Create-graph backwards (tape.h): relu and leaky_relu multiply the output
 * gradient by their slope, a constant away from 0, through the op
 * leaky_relu_grad (its own backward is itself: linear in gy, zero in x);
 * the smooth ops are products of gy with ops of their saved output or input
 * (tanh: gy (1 - y^2), exp: gy y, log: gy x^-1, pow: gy p x^(p - 1)).
 */
#include <math.h>

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

/* ---- the slope of relu and leaky_relu, as an op ------------------------------
 * gx = gy where x > 0, slope gy elsewhere; x (saved[0]) is a constant here:
 * its derivative is zero away from 0. */
static cg_tensor *leaky_relu_grad(cg_ctx *ctx, cg_tensor *gy, cg_tensor *x, double slope);

static cg_status leaky_relu_grad_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dgx = nd->out->grad, *x = nd->saved[0]->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev,
                      cpu_leaky_relu_bwd(dx[0], dgx, x, nd->f[0], nd->out->n),
                      cuda_leaky_relu_bwd(dx[0], dgx, x, nd->f[0], nd->out->n));
}

static cg_status leaky_relu_grad_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *g,
                                      unsigned need, cg_tensor *gx[CG_MAX_IN])
{
    gx[0] = leaky_relu_grad(ctx, g, nd->saved[0], nd->f[0]);
    return ctx->err;
}

static cg_tensor *leaky_relu_grad(cg_ctx *ctx, cg_tensor *gy, cg_tensor *x, double slope)
{
    static const char *op = "leaky_relu_grad";
    cg_tensor *in[2] = {gy, x};
    if (!op_begin(ctx, op, in, 2, 2))
        return NULL;
    cg_tensor *gx = cg_new_like(ctx, x);
    if (!gx || !OP_RUN(ctx, op, x->dev, cpu_leaky_relu_bwd(gx->data, gy->data, x->data, slope,
                                                             x->n),
                       cuda_leaky_relu_bwd(gx->data, gy->data, x->data, slope, x->n)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, leaky_relu_grad_bwd, gx, &gy, 1, 0);
    if (nd) {
        nd->gbwd = leaky_relu_grad_gbwd;
        nd->saved[0] = x;
        nd->f[0] = slope;
    }
    return gx;
}

/* relu (f[0] unset: 0) and leaky_relu (f[0] = slope) */
static cg_status leaky_relu_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                                 cg_tensor *gx[CG_MAX_IN])
{
    gx[0] = leaky_relu_grad(ctx, gy, nd->in[0], nd->f[0]);
    return ctx->err;
}

/* gy times an op of the node's output (y_fn) or input */
static cg_status tanh_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                           cg_tensor *gx[CG_MAX_IN])
{
    cg_tensor *y = nd->out;  /* 1 - y^2 */
    gx[0] = cg_mul(ctx, gy, cg_affine(ctx, cg_mul(ctx, y, y), -1, 1));
    return ctx->err;
}

static cg_status sigmoid_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                              cg_tensor *gx[CG_MAX_IN])
{
    cg_tensor *y = nd->out;  /* y (1 - y) */
    gx[0] = cg_mul(ctx, gy, cg_mul(ctx, y, cg_affine(ctx, y, -1, 1)));
    return ctx->err;
}

static cg_status exp_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                          cg_tensor *gx[CG_MAX_IN])
{
    gx[0] = cg_mul(ctx, gy, nd->out);
    return ctx->err;
}

static cg_status log_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                          cg_tensor *gx[CG_MAX_IN])
{
    gx[0] = cg_mul(ctx, gy, cg_pow(ctx, nd->in[0], -1));
    return ctx->err;
}

static cg_status pow_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                          cg_tensor *gx[CG_MAX_IN])
{
    double p = nd->f[0];
    gx[0] = cg_mul(ctx, gy, cg_scale(ctx, cg_pow(ctx, nd->in[0], p - 1), p));
    return ctx->err;
}

static cg_status affine_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                             cg_tensor *gx[CG_MAX_IN])
{
    gx[0] = cg_scale(ctx, gy, nd->f[0]);
    return ctx->err;
}

/* cg_record and, when a node was recorded, its create-graph backward */
static cg_node *record(cg_ctx *ctx, const char *op, cg_bwd_fn bwd, cg_gbwd_fn gbwd,
                       cg_tensor *y, cg_tensor *x)
{
    cg_node *nd = cg_record(ctx, op, bwd, y, &x, 1, 0);
    if (nd)
        nd->gbwd = gbwd;
    return nd;
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
    record(ctx, "relu", relu_bwd, leaky_relu_gbwd, y, x);
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
    cg_node *nd = record(ctx, "leaky_relu", leaky_relu_bwd, leaky_relu_gbwd, y, x);
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
    record(ctx, "tanh", tanh_bwd, tanh_gbwd, y, x);
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
    record(ctx, "sigmoid", sigmoid_bwd, sigmoid_gbwd, y, x);
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
    record(ctx, "exp", exp_bwd, exp_gbwd, y, x);
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
    record(ctx, "log", log_bwd, log_gbwd, y, x);
    return y;
}

/* ---- pow -------------------------------------------------------------------- */
static cg_status pow_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const real *dy = nd->out->grad, *x = nd->in[0]->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev,
                      cpu_pow_bwd(dx[0], dy, x, nd->f[0], nd->out->n),
                      cuda_pow_bwd(dx[0], dy, x, nd->f[0], nd->out->n));
}

/* Like cg_log, the domain (x > 0 for a fractional or negative p) is the
 * caller's contract: checking it would cost a pass and a device sync. */
cg_tensor *cg_pow(cg_ctx *ctx, cg_tensor *x, double p)
{
    cg_tensor *y = unary_begin(ctx, "pow", x);
    if (!y)
        return NULL;
    if (!isfinite(p))
        return op_fail(ctx, "pow", "exponent %g must be finite", p);
    if (!OP_RUN(ctx, "pow", x->dev, cpu_pow_fwd(y->data, x->data, p, x->n),
                cuda_pow_fwd(y->data, x->data, p, x->n)))
        return NULL;
    cg_node *nd = record(ctx, "pow", pow_bwd, pow_gbwd, y, x);
    if (nd)
        nd->f[0] = p;
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
    cg_node *nd = record(ctx, op, affine_bwd, affine_gbwd, y, x);
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
