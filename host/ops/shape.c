/*
 * shape.c: op front ends for concat and split on dim 1 (channels),
 * reshape and detach. Tensors are viewed as (N, C, S), S the product of the dims after
 * C, so (N, C) and (N, C, H, W) share one code path.
 *
 * Gradients:
 *   concat   one node, all parts as inputs; each part's gradient is written.
 *   split    one node per part, x its only input. A part's backward adds (+=,
 *            acc_mask bit 0) its slice of dy into its channels of dx: the
 *            tape zeroes dx when the first part reached by a backward pass
 *            runs, the other parts fill their own channels, and the channels
 *            of parts that the loss never uses stay zero.
 *   reshape  the output shares x's data (no copy forward); backward copies
 *            dy into dx. On either device: a view needs no kernel.
 *   detach   the output shares x's data and records no node: no gradient.
 */
#include "cpu/cpu_shape.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

/* cpu_channel_copy or its CUDA twin by dev; 1, or 0 with the sticky error set */
static int channel_copy(cg_ctx *ctx, const char *op, int dev, real *dst, int dC, int dc0,
                        const real *src, int sC, int sc0, int Cp, int N, int S, int accumulate)
{
    return OP_RUN(ctx, op, dev, cpu_channel_copy(dst, dC, dc0, src, sC, sc0, Cp, N, S, accumulate),
                  cuda_channel_copy(dst, dC, dc0, src, sC, sc0, Cp, N, S, accumulate));
}

/* ---- concat -------------------------------------------------------------------- */
/* i[0] = N, i[1] = S; each part's channel count is its shape[1] */
static cg_status concat_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *y = nd->out;
    int c0 = 0;
    for (int j = 0; j < nd->nin; j++) {
        int Cj = nd->in[j]->shape[1];
        if (dx[j] && !channel_copy(ctx, nd->op, y->dev, dx[j], Cj, 0, y->grad, y->shape[1], c0,
                                   Cj, nd->i[0], nd->i[1], 0))
            return ctx->err;
        c0 += Cj;
    }
    return CG_OK;
}

/* n <= CG_MAX_IN parts, shapes already checked */
static cg_tensor *concat_node(cg_ctx *ctx, const char *op, cg_tensor *const *xs, int n)
{
    cg_tensor *x0 = xs[0];
    int N = x0->shape[0], S = (int)(x0->n / ((int64_t)N * x0->shape[1]));
    int shape[CG_MAX_DIMS];
    for (int d = 0; d < x0->ndim; d++)
        shape[d] = x0->shape[d];
    shape[1] = 0;
    for (int j = 0; j < n; j++)
        shape[1] += xs[j]->shape[1];
    cg_tensor *y = op_out(ctx, x0, shape, x0->ndim);
    if (!y)
        return NULL;
    int c0 = 0;
    for (int j = 0; j < n; j++) {
        if (!channel_copy(ctx, op, y->dev, y->data, shape[1], c0, xs[j]->data, xs[j]->shape[1],
                          0, xs[j]->shape[1], N, S, 0))
            return NULL;
        c0 += xs[j]->shape[1];
    }
    cg_node *nd = cg_record(ctx, op, concat_bwd, y, xs, n, 0);
    if (nd) {
        nd->i[0] = N;
        nd->i[1] = S;
    }
    return y;
}

cg_tensor *cg_concat(cg_ctx *ctx, cg_tensor *const *xs, int n)
{
    static const char *op = "concat";
    if (ctx->err)
        return NULL;
    if (!xs || n < 1)
        return op_fail(ctx, op, "needs at least one tensor (got %d)", n);
    if (!op_begin(ctx, op, xs, n, n))
        return NULL;
    cg_tensor *x0 = xs[0];
    if (x0->ndim < 2)
        return op_fail(ctx, op, "x0 %s must be (N, C) or (N, C, H, W)", CG_SHAPE_STR(x0));
    int64_t C = 0;
    for (int j = 0; j < n; j++) {
        int same = xs[j]->ndim == x0->ndim && xs[j]->shape[0] == x0->shape[0];
        for (int d = 2; same && d < x0->ndim; d++)
            same = xs[j]->shape[d] == x0->shape[d];
        if (!same)
            return op_fail(ctx, op, "x%d %s does not match x0 %s outside dim 1", j,
                           CG_SHAPE_STR(xs[j]), CG_SHAPE_STR(x0));
        C += xs[j]->shape[1];
    }
    if (C > INT32_MAX)
        return op_fail(ctx, op, "%lld channels in all is too many", (long long)C);
    if (n <= CG_MAX_IN)
        return concat_node(ctx, op, xs, n);
    /* A node holds CG_MAX_IN inputs: join the first ones, then that with the rest. */
    cg_tensor **rest = cg_arena_alloc(&ctx->arena, sizeof *rest * (size_t)(n - CG_MAX_IN + 1));
    if (!rest) {
        cg_fail(ctx, CG_ERR_NOMEM, "%s: step arena: out of host memory", op);
        return NULL;
    }
    rest[0] = concat_node(ctx, op, xs, CG_MAX_IN);
    for (int j = CG_MAX_IN; j < n; j++)
        rest[j - CG_MAX_IN + 1] = xs[j];
    return rest[0] ? cg_concat(ctx, rest, n - CG_MAX_IN + 1) : NULL;
}

/* ---- split ------------------------------------------------------------------------ */
/* i[0] = first channel of this part in x, i[1] = N, i[2] = S */
static cg_status split_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *y = nd->out;
    int Cp = y->shape[1];
    return channel_copy(ctx, nd->op, y->dev, dx[0], nd->in[0]->shape[1], nd->i[0], y->grad, Cp,
                        0, Cp, nd->i[1], nd->i[2], 1) ? CG_OK : ctx->err;
}

cg_status cg_split(cg_ctx *ctx, cg_tensor *x, const int *sizes, int n, cg_tensor **out)
{
    static const char *op = "split";
    for (int j = 0; out && j < n; j++)
        out[j] = NULL;
    if (!op_begin(ctx, op, &x, 1, 1))
        return ctx->err;
    if (!sizes || !out || n < 1) {
        op_fail(ctx, op, "needs n >= 1 sizes and outputs (got n = %d)", n);
        return ctx->err;
    }
    if (x->ndim < 2) {
        op_fail(ctx, op, "x %s must be (N, C) or (N, C, H, W)", CG_SHAPE_STR(x));
        return ctx->err;
    }
    int N = x->shape[0], C = x->shape[1];
    int S = (int)(x->n / ((int64_t)N * C));
    int64_t total = 0;
    for (int j = 0; j < n; j++) {
        if (sizes[j] < 1) {
            op_fail(ctx, op, "size %d of part %d must be >= 1", sizes[j], j);
            return ctx->err;
        }
        total += sizes[j];
    }
    if (total != C) {
        op_fail(ctx, op, "sizes sum to %lld, x %s has %d channels", (long long)total,
                CG_SHAPE_STR(x), C);
        return ctx->err;
    }
    int shape[CG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        shape[d] = x->shape[d];
    int c0 = 0;
    for (int j = 0; j < n; j++) {
        shape[1] = sizes[j];
        cg_tensor *y = op_out(ctx, x, shape, x->ndim);
        if (!y) {
            for (int k = 0; k < j; k++)
                out[k] = NULL;
            return ctx->err;
        }
        if (!channel_copy(ctx, op, x->dev, y->data, sizes[j], 0, x->data, C, c0, sizes[j], N, S,
                          0)) {
            for (int k = 0; k < j; k++)
                out[k] = NULL;
            return ctx->err;
        }
        cg_node *nd = cg_record(ctx, op, split_bwd, y, &x, 1, 0x1);
        if (nd) {
            nd->i[0] = c0;
            nd->i[1] = N;
            nd->i[2] = S;
        }
        out[j] = y;
        c0 += sizes[j];
    }
    return ctx->err;
}

/* ---- reshape ------------------------------------------------------------------------ */
static cg_status reshape_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    if (nd->out->dev == CG_CUDA)
        return dev_copy(ctx, CG_CUDA, dx[0], nd->out->grad, nd->out->n) ? CG_OK : ctx->err;
    cpu_reshape_bwd(dx[0], nd->out->grad, nd->out->n);
    return CG_OK;
}

static cg_status reshape_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                              cg_tensor *gx[CG_MAX_IN])
{
    gx[0] = cg_reshape(ctx, gy, nd->in[0]->shape, nd->in[0]->ndim);
    return ctx->err;
}

cg_tensor *cg_reshape(cg_ctx *ctx, cg_tensor *x, const int *shape, int ndim)
{
    static const char *op = "reshape";
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    if (!shape || ndim < 1 || ndim > CG_MAX_DIMS)
        return op_fail(ctx, op, "%d dims asked (1 to %d supported)", ndim, CG_MAX_DIMS);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 1)
            return op_fail(ctx, op, "dim %d is %d (must be positive)", d, shape[d]);
        n *= shape[d];
        if (n > x->n)
            break;
    }
    if (n != x->n)
        return op_fail(ctx, op, "x %s has %lld values, the new shape holds another number",
                       CG_SHAPE_STR(x), (long long)x->n);
    cg_tensor *y = cg_wrap(ctx, x->data, shape, ndim);  /* header only, x's data */
    if (!y)
        return NULL;
    y->dev = x->dev;
    cg_node *nd = cg_record(ctx, op, reshape_bwd, y, &x, 1, 0);
    if (nd)
        nd->gbwd = reshape_gbwd;
    return y;
}

/* A view with no tape node: nothing links it back to x, so a backward pass
 * from anything computed from it stops there. */
cg_tensor *cg_detach(cg_ctx *ctx, cg_tensor *x)
{
    if (!op_begin(ctx, "detach", &x, 1, 1))
        return NULL;
    cg_tensor *y = cg_wrap(ctx, x->data, x->shape, x->ndim);  /* header only, x's data */
    if (y)
        y->dev = x->dev;
    return y;
}
