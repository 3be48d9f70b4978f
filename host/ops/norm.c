/*
 * norm.c: op front ends for batch norm, group norm and layer norm: shape
 * checks, saved statistics, tape nodes. The math is in host/cpu/norm.c.
 *
 * Tape inputs are (x, gamma, beta); gamma and beta accumulate (acc_mask
 * 0x6). Running statistics are buffers, not inputs: batch norm updates them
 * in place during a training forward and never differentiates through them.
 *
 * Every step runs the CPU reference (host/cpu/norm.c) or its CUDA twin
 * (kernels/norm.cu, the same arguments) by the input's device; the saved
 * statistics are the same tensors on both, so backward is one code path.
 *
 * Batch norm over several processes (ctx->bn parts, --sync-bn) is the same
 * op in pieces: this part's sums, their sum over the processes (ctx->bn's
 * hook), then the normalisation; its backward likewise. Ghost slices run
 * the whole-batch functions once per slice.
 *
 * Create-graph backward (tape.h): layer norm only. Its saved statistics are
 * not on the tape, so it recomputes them from x with ops (mean, centred x,
 * variance, rstd = (var + eps)^-1/2, x^ = xc rstd) and writes the usual
 * formula with them: dx = rstd (g - mean(g) - x^ mean(g x^)), g = dy gamma.
 * Batch norm and group norm have none, and say so when asked.
 */
#include <math.h>

#include "cpu/cpu_norm.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

/* gamma and beta: NULL, or n values (one per channel / feature). */
static int affine_ok(cg_ctx *ctx, const char *op, const cg_tensor *gamma,
                     const cg_tensor *beta, int n, const char *what)
{
    if (gamma && gamma->n != n) {
        op_fail(ctx, op, "gamma %s does not match %d %s", CG_SHAPE_STR(gamma), n, what);
        return 0;
    }
    if (beta && beta->n != n) {
        op_fail(ctx, op, "beta %s does not match %d %s", CG_SHAPE_STR(beta), n, what);
        return 0;
    }
    return 1;
}

static int eps_ok(cg_ctx *ctx, const char *op, double eps)
{
    if (!(eps >= 0 && isfinite(eps))) {
        op_fail(ctx, op, "eps %g must be finite and >= 0", eps);
        return 0;
    }
    return 1;
}

/* ---- batch norm ---------------------------------------------------------------
 * saved[0] mean, saved[1] rstd, each (slices, C); i[] = {n, C, S, training,
 * slices, parts}, n the samples of a slice (ctx->bn, cugen/tensor.h). */

/* n values at x (on dev) summed over the processes of ctx->bn */
static int bn_sum(cg_ctx *ctx, const char *op, real *x, int64_t n, int dev)
{
    const cg_bn_stats *b = ctx->bn;
    cg_status st = b->sum(b->arg, x, n, (cg_device)dev);
    if (st != CG_OK && !ctx->err)
        op_fail(ctx, op, "the statistics summed over %d processes: %s", b->parts,
                cg_status_str(st));
    return st == CG_OK;
}

/* The backward of a batch norm over the batch of several processes: each
 * part's sums of dy and dy xhat summed over all before dx (dgamma and dbeta
 * keep this part's, which the gradient all-reduce sums like any other) */
static cg_status batchnorm_bwd_parts(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *x = nd->in[0], *gamma = nd->in[1];
    const real *dy = nd->out->grad, *m = nd->saved[0]->data, *r = nd->saved[1]->data;
    const real *g = gamma ? gamma->data : NULL;
    int N = nd->i[0], C = nd->i[1], S = nd->i[2], parts = nd->i[5], dev = x->dev;
    if (!ctx->bn || ctx->bn->parts != parts || !ctx->bn->sum)
        return cg_fail(ctx, CG_ERR_STATE, "%s: its forward summed over %d processes, and its "
                       "backward has no sum over them", nd->op, parts);
    real *sums = dev_alloc(ctx, dev, 2 * (int64_t)C);
    if (!sums ||
        !OP_RUN(ctx, nd->op, dev,
                cpu_batchnorm_bwd_sums(sums, dx[1], dx[2], dy, x->data, m, r, N, C, S),
                cuda_batchnorm_bwd_sums(sums, dx[1], dx[2], dy, x->data, m, r, N, C, S)))
        return ctx->err;
    if (!dx[0])
        return CG_OK;  /* every process has the same graph: none sums */
    if (!bn_sum(ctx, nd->op, sums, 2 * (int64_t)C, dev))
        return ctx->err;
    double total = (double)N * S * parts;
    return OP_RUN_BWD(ctx, nd->op, dev,
                      cpu_batchnorm_bwd_dx(dx[0], dy, x->data, m, r, g, sums, total, N, C, S),
                      cuda_batchnorm_bwd_dx(dx[0], dy, x->data, m, r, g, sums, total, N, C,
                                            S));
}

static cg_status batchnorm_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    if (nd->i[5] > 1)
        return batchnorm_bwd_parts(ctx, nd, dx);
    cg_tensor *x = nd->in[0], *gamma = nd->in[1];
    const real *dy = nd->out->grad, *m = nd->saved[0]->data, *r = nd->saved[1]->data;
    const real *g = gamma ? gamma->data : NULL;
    const int *d = nd->i;
    int64_t step = (int64_t)d[0] * d[1] * d[2];  /* the values of a slice */
    cg_status st = CG_OK;
    for (int k = 0; k < d[4] && st == CG_OK; k++) {
        real *dxk = dx[0] ? dx[0] + k * step : NULL;
        const real *xk = x->data + k * step, *mk = m + (int64_t)k * d[1],
                   *rk = r + (int64_t)k * d[1];
        st = OP_RUN_BWD(ctx, nd->op, x->dev,
                        cpu_batchnorm_bwd(dxk, dx[1], dx[2], dy + k * step, xk, mk, rk, g,
                                          d[0], d[1], d[2], d[3]),
                        cuda_batchnorm_bwd(dxk, dx[1], dx[2], dy + k * step, xk, mk, rk, g,
                                           d[0], d[1], d[2], d[3]));
    }
    return st;
}

/* Training statistics of x (N, C, S) over the batch of all processes (parts
 * of it, each in one): two sums over them, as the two passes of one */
static int batchnorm_stats_parts(cg_ctx *ctx, const char *op, real *mean, real *var,
                                 const cg_tensor *x, int N, int C, int S, int parts)
{
    double total = (double)N * S * parts;
    int dev = x->dev;
    return OP_RUN(ctx, op, dev, cpu_batchnorm_mean_part(mean, x->data, N, C, S, total),
                  cuda_batchnorm_mean_part(mean, x->data, N, C, S, total)) &&
           bn_sum(ctx, op, mean, C, dev) &&
           OP_RUN(ctx, op, dev, cpu_batchnorm_var_part(var, x->data, mean, N, C, S, total),
                  cuda_batchnorm_var_part(var, x->data, mean, N, C, S, total)) &&
           bn_sum(ctx, op, var, C, dev);
}

cg_tensor *cg_batchnorm(cg_ctx *ctx, cg_tensor *x, cg_tensor *gamma, cg_tensor *beta,
                        cg_tensor *running_mean, cg_tensor *running_var,
                        int training, double momentum, double eps)
{
    static const char *op = "batchnorm";
    cg_tensor *in[5] = {x, gamma, beta, running_mean, running_var};
    if (!op_begin(ctx, op, in, 1, 5))
        return NULL;
    if (x->ndim < 2)
        return op_fail(ctx, op, "x %s must be (N, C) or (N, C, H, W)", CG_SHAPE_STR(x));
    int N = x->shape[0], C = x->shape[1];
    int S = (int)(x->n / ((int64_t)N * C));  /* H W, or 1 for (N, C) */
    if (!affine_ok(ctx, op, gamma, beta, C, "channels") || !eps_ok(ctx, op, eps))
        return NULL;
    if (!running_mean != !running_var)
        return op_fail(ctx, op, "give both running_mean and running_var, or neither");
    if (!training && !running_mean)
        return op_fail(ctx, op, "eval mode needs running_mean and running_var");
    if (running_mean && (running_mean->n != C || running_var->n != C))
        return op_fail(ctx, op, "running_mean %s / running_var %s do not match %d channels",
                       CG_SHAPE_STR(running_mean), CG_SHAPE_STR(running_var), C);
    if (training && !(momentum >= 0 && momentum <= 1))
        return op_fail(ctx, op, "momentum %g must be in [0, 1]", momentum);
    /* a training batch norm: over slices of the batch (ghost), or over the
     * batches of several processes (parts) */
    const cg_bn_stats *bs = training ? ctx->bn : NULL;
    int slices = bs && bs->slices > 1 ? bs->slices : 1, parts = bs && bs->parts > 1 ? bs->parts : 1;
    if (parts > 1 && (!bs->sum || slices > 1))
        return op_fail(ctx, op, "statistics over %d processes need their sum, and no ghost "
                       "slices", parts);
    if (N % slices != 0)
        return op_fail(ctx, op, "a batch of %d does not split into %d ghost slices", N,
                       slices);
    int n = N / slices;  /* the samples of a slice */
    int64_t count = (int64_t)n * S * parts;
    if (training && count < 2)
        return op_fail(ctx, op, "training needs more than one value per channel, x is %s%s",
                       CG_SHAPE_STR(x), slices > 1 ? " in ghost slices" : "");

    cg_tensor *y = op_out(ctx, x, x->shape, x->ndim);
    cg_tensor *mean = op_out(ctx, x, CG_SHAPE(slices * C));
    cg_tensor *rstd = op_out(ctx, x, CG_SHAPE(slices * C));
    real *var = training ? dev_alloc(ctx, x->dev, (int64_t)slices * C) : running_var->data;
    if (!y || !mean || !rstd || !var)
        return NULL;
    int dev = x->dev;
    int64_t step = (int64_t)n * C * S;  /* the values of a slice */
    if (training && parts > 1 &&
        !batchnorm_stats_parts(ctx, op, mean->data, var, x, N, C, S, parts))
        return NULL;
    for (int k = 0; training && parts == 1 && k < slices; k++)
        if (!OP_RUN(ctx, op, dev,
                    cpu_batchnorm_stats(mean->data + k * C, var + k * C, x->data + k * step,
                                        n, C, S),
                    cuda_batchnorm_stats(mean->data + k * C, var + k * C, x->data + k * step,
                                         n, C, S)))
            return NULL;
    for (int k = 0; training && running_mean && k < slices; k++) {
        real *rm = running_mean->data, *rv = running_var->data;
        if (!OP_RUN(ctx, op, dev,
                    cpu_batchnorm_update_running(rm, rv, mean->data + k * C, var + k * C, C,
                                                 count, momentum),
                    cuda_batchnorm_update_running(rm, rv, mean->data + k * C, var + k * C, C,
                                                  count, momentum)))
            return NULL;
    }
    if (!training && !dev_copy(ctx, dev, mean->data, running_mean->data, C))
        return NULL;  /* a copy: the running mean may change before this node's backward runs */
    const real *g = gamma ? gamma->data : NULL, *bt = beta ? beta->data : NULL;
    for (int k = 0; k < slices; k++)
        if (!OP_RUN(ctx, op, dev,
                    cpu_batchnorm_fwd(y->data + k * step, rstd->data + k * C,
                                      x->data + k * step, mean->data + k * C, var + k * C, g,
                                      bt, n, C, S, eps),
                    cuda_batchnorm_fwd(y->data + k * step, rstd->data + k * C,
                                       x->data + k * step, mean->data + k * C, var + k * C, g,
                                       bt, n, C, S, eps)))
            return NULL;
    cg_node *nd = cg_record(ctx, op, batchnorm_bwd, y, in, 3, 0x6);
    if (nd) {
        nd->saved[0] = mean;
        nd->saved[1] = rstd;
        nd->i[0] = n;
        nd->i[1] = C;
        nd->i[2] = S;
        nd->i[3] = training != 0;
        nd->i[4] = slices;
        nd->i[5] = parts;
    }
    return y;
}

/* ---- group norm and layer norm -------------------------------------------------
 * Both run cpu_groupnorm_* on x viewed as (N, C, S) with G groups.
 * saved[0] mean (N, G), saved[1] rstd (N, G); i[] = {N, C, S, G}. */
static cg_status groupnorm_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *x = nd->in[0], *gamma = nd->in[1];
    const real *dy = nd->out->grad, *m = nd->saved[0]->data, *r = nd->saved[1]->data;
    const real *g = gamma ? gamma->data : NULL;
    const int *d = nd->i;
    return OP_RUN_BWD(ctx, nd->op, x->dev,
                      cpu_groupnorm_bwd(dx[0], dx[1], dx[2], dy, x->data, m, r, g, d[0], d[1],
                                        d[2], d[3]),
                      cuda_groupnorm_bwd(dx[0], dx[1], dx[2], dy, x->data, m, r, g, d[0], d[1],
                                         d[2], d[3]));
}

/* Layer norm over the last dim D, rows R = n / D; f[0] = eps. */
static cg_status layernorm_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                                cg_tensor *gx[CG_MAX_IN])
{
    cg_tensor *x = nd->in[0], *gamma = nd->in[1], *beta = nd->in[2];
    int R = nd->i[0], D = nd->i[1];
    double eps = nd->f[0];
    cg_tensor *g = cg_reshape(ctx, gy, CG_SHAPE(R, D));
    if (need & 4)
        gx[2] = cg_reshape(ctx, cg_sum_to(ctx, g, CG_SHAPE(1, D)), beta->shape, beta->ndim);
    if (!(need & 3))
        return ctx->err;
    cg_tensor *xr = cg_reshape(ctx, x, CG_SHAPE(R, D));
    cg_tensor *mean = cg_scale(ctx, cg_sum_to(ctx, xr, CG_SHAPE(R, 1)), 1.0 / D);
    cg_tensor *xc = cg_sub(ctx, xr, mean);
    cg_tensor *var = cg_scale(ctx, cg_sum_to(ctx, cg_mul(ctx, xc, xc), CG_SHAPE(R, 1)), 1.0 / D);
    cg_tensor *rstd = cg_pow(ctx, cg_affine(ctx, var, 1, eps), -0.5);
    cg_tensor *xhat = cg_mul(ctx, xc, rstd);  /* (R, D) */
    if (need & 2)
        gx[1] = cg_reshape(ctx, cg_sum_to(ctx, cg_mul(ctx, g, xhat), CG_SHAPE(1, D)),
                           gamma->shape, gamma->ndim);
    if (need & 1) {
        cg_tensor *gh = gamma ? cg_mul(ctx, g, cg_reshape(ctx, gamma, CG_SHAPE(D))) : g;
        cg_tensor *m1 = cg_scale(ctx, cg_sum_to(ctx, gh, CG_SHAPE(R, 1)), 1.0 / D);
        cg_tensor *m2 = cg_scale(ctx, cg_sum_to(ctx, cg_mul(ctx, gh, xhat), CG_SHAPE(R, 1)),
                                 1.0 / D);
        cg_tensor *t = cg_sub(ctx, cg_sub(ctx, gh, m1), cg_mul(ctx, xhat, m2));
        gx[0] = cg_reshape(ctx, cg_mul(ctx, t, rstd), x->shape, x->ndim);
    }
    return ctx->err;
}

static cg_tensor *groupnorm_run(cg_ctx *ctx, const char *op, cg_tensor *const in[3], int N,
                                int C, int S, int G, double eps)
{
    cg_tensor *x = in[0], *gamma = in[1], *beta = in[2];
    cg_tensor *y = op_out(ctx, x, x->shape, x->ndim);
    cg_tensor *mean = op_out(ctx, x, CG_SHAPE(N, G));
    cg_tensor *rstd = op_out(ctx, x, CG_SHAPE(N, G));
    if (!y || !mean || !rstd)
        return NULL;
    const real *g = gamma ? gamma->data : NULL, *b = beta ? beta->data : NULL;
    if (!OP_RUN(ctx, op, x->dev,
                cpu_groupnorm_fwd(y->data, mean->data, rstd->data, x->data, g, b, N, C, S, G,
                                  eps),
                cuda_groupnorm_fwd(y->data, mean->data, rstd->data, x->data, g, b, N, C, S, G,
                                   eps)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, groupnorm_bwd, y, in, 3, 0x6);
    if (nd) {
        nd->saved[0] = mean;
        nd->saved[1] = rstd;
        nd->i[0] = N;
        nd->i[1] = C;
        nd->i[2] = S;
        nd->i[3] = G;
        nd->f[0] = eps;
        if (S == 1 && G == 1)  /* rows of C values, each normalised alone: layer norm */
            nd->gbwd = layernorm_gbwd;
    }
    return y;
}

cg_tensor *cg_groupnorm(cg_ctx *ctx, cg_tensor *x, cg_tensor *gamma, cg_tensor *beta,
                        int groups, double eps)
{
    static const char *op = "groupnorm";
    cg_tensor *in[3] = {x, gamma, beta};
    if (!op_begin(ctx, op, in, 1, 3))
        return NULL;
    if (x->ndim < 2)
        return op_fail(ctx, op, "x %s must be (N, C, ...)", CG_SHAPE_STR(x));
    int N = x->shape[0], C = x->shape[1];
    if (groups < 1 || C % groups != 0)
        return op_fail(ctx, op, "%d channels of x %s are not divisible by %d groups", C,
                       CG_SHAPE_STR(x), groups);
    if (!affine_ok(ctx, op, gamma, beta, C, "channels") || !eps_ok(ctx, op, eps))
        return NULL;
    int S = (int)(x->n / ((int64_t)N * C));
    return groupnorm_run(ctx, op, in, N, C, S, groups, eps);
}

cg_tensor *cg_layernorm(cg_ctx *ctx, cg_tensor *x, cg_tensor *gamma, cg_tensor *beta,
                        double eps)
{
    static const char *op = "layernorm";
    cg_tensor *in[3] = {x, gamma, beta};
    if (!op_begin(ctx, op, in, 1, 3))
        return NULL;
    int D = cg_dim(x, -1);
    if (!affine_ok(ctx, op, gamma, beta, D, "features (last dim)") || !eps_ok(ctx, op, eps))
        return NULL;
    /* rows of D values: group norm of (rows, D, 1) with one group */
    int rows = (int)(x->n / D);
    return groupnorm_run(ctx, op, in, rows, D, 1, 1, eps);
}
