/*
 * broadcast.c: op front ends for add, sub and mul with b broadcast to a's
 * shape (numpy rules; the output has a's shape). Both inputs are activations:
 * their gradients are written, and the gradient of b is summed over the dims
 * it was broadcast along.
 *
 * The CUDA twins (kernels/broadcast.cu) take the same cg_bcast layout,
 * computed here on the host, and reduce db without host scratch.
 *
 * Also here: sum_to and expand, the reduction and the broadcast that the
 * create-graph backwards (tape.h) of these ops are made of, each the
 * other's backward.
 */
#include <stdio.h>

#include "cpu/cpu_broadcast.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

enum { OP_ADD, OP_SUB, OP_MUL };

static cg_status binary_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *a = nd->in[0], *b = nd->in[1];
    cg_bcast bc;
    cpu_bcast_init(&bc, a->shape, a->ndim, b->shape, b->ndim);  /* checked in the forward */
    const real *dy = nd->out->grad;
    if (a->dev == CG_CUDA) {
        cg_status st;
        switch (nd->i[0]) {
        case OP_ADD: st = cuda_add_bwd(dx[0], dx[1], dy, &bc); break;
        case OP_SUB: st = cuda_sub_bwd(dx[0], dx[1], dy, &bc); break;
        default: st = cuda_mul_bwd(dx[0], dx[1], dy, a->data, b->data, &bc); break;
        }
        return dev_ok(ctx, nd->op, st) ? CG_OK : ctx->err;
    }
    double *acc = NULL;
    int64_t nacc = cpu_bcast_acc_len(&bc);
    if (dx[1] && nacc > 0 && !(acc = cg_scratch(ctx, sizeof(double) * (size_t)nacc)))
        return ctx->err;
    switch (nd->i[0]) {
    case OP_ADD: cpu_add_bwd(dx[0], dx[1], acc, dy, &bc); break;
    case OP_SUB: cpu_sub_bwd(dx[0], dx[1], acc, dy, &bc); break;
    default: cpu_mul_bwd(dx[0], dx[1], acc, dy, a->data, b->data, &bc); break;
    }
    return CG_OK;
}

/* ga = gy (add, sub) or gy b (mul); gb = sum_to(gy, -gy or gy a, b's shape) */
static cg_status binary_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                             cg_tensor *gx[CG_MAX_IN])
{
    cg_tensor *a = nd->in[0], *b = nd->in[1];
    int which = nd->i[0];
    if (need & 1)
        gx[0] = which == OP_MUL ? cg_mul(ctx, gy, b) : gy;
    if (need & 2) {
        cg_tensor *t = which == OP_MUL ? cg_mul(ctx, gy, a) : which == OP_SUB ? cg_scale(ctx, gy, -1)
                                                                              : gy;
        gx[1] = cg_sum_to(ctx, t, b->shape, b->ndim);
    }
    return ctx->err;
}

static cg_tensor *binary(cg_ctx *ctx, const char *op, int which, cg_tensor *a, cg_tensor *b)
{
    cg_tensor *in[2] = {a, b};
    if (!op_begin(ctx, op, in, 2, 2))
        return NULL;
    cg_bcast bc;
    if (!cpu_bcast_init(&bc, a->shape, a->ndim, b->shape, b->ndim))
        return op_fail(ctx, op, "b %s does not broadcast to a %s (b's dims, aligned on the "
                       "right, must be 1 or equal to a's)", CG_SHAPE_STR(b), CG_SHAPE_STR(a));
    cg_tensor *y = cg_new_like(ctx, a);
    if (!y)
        return NULL;
    if (a->dev == CG_CUDA) {
        cg_status st;
        switch (which) {
        case OP_ADD: st = cuda_add_fwd(y->data, a->data, b->data, &bc); break;
        case OP_SUB: st = cuda_sub_fwd(y->data, a->data, b->data, &bc); break;
        default: st = cuda_mul_fwd(y->data, a->data, b->data, &bc); break;
        }
        if (!dev_ok(ctx, op, st))
            return NULL;
    } else {
        switch (which) {
        case OP_ADD: cpu_add_fwd(y->data, a->data, b->data, &bc); break;
        case OP_SUB: cpu_sub_fwd(y->data, a->data, b->data, &bc); break;
        default: cpu_mul_fwd(y->data, a->data, b->data, &bc); break;
        }
    }
    cg_node *nd = cg_record(ctx, op, binary_bwd, y, in, 2, 0);
    if (nd) {
        nd->i[0] = which;
        nd->gbwd = binary_gbwd;
    }
    return y;
}

cg_tensor *cg_add(cg_ctx *ctx, cg_tensor *a, cg_tensor *b)
{
    return binary(ctx, "add", OP_ADD, a, b);
}

cg_tensor *cg_sub(cg_ctx *ctx, cg_tensor *a, cg_tensor *b)
{
    return binary(ctx, "sub", OP_SUB, a, b);
}

cg_tensor *cg_mul(cg_ctx *ctx, cg_tensor *a, cg_tensor *b)
{
    return binary(ctx, "mul", OP_MUL, a, b);
}

/* ---- sum_to and expand ----------------------------------------------------------
 * Both work on the layout of `big` (x of sum_to, the output of expand) with
 * `small` broadcast onto it: sum_to is add's db, expand is cpu_expand_fwd. */

/* `small` (shape, ndim) must broadcast to big; fills bc. 0 with the error set. */
static int bcast_to(cg_ctx *ctx, const char *op, cg_bcast *bc, const cg_tensor *big,
                    const int *shape, int ndim, const char *what)
{
    if (!shape || ndim < 1 || ndim > CG_MAX_DIMS) {
        op_fail(ctx, op, "%d dims asked (1 to %d supported)", ndim, CG_MAX_DIMS);
        return 0;
    }
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 1) {
            op_fail(ctx, op, "dim %d is %d (must be positive)", d, shape[d]);
            return 0;
        }
    if (!cpu_bcast_init(bc, big->shape, big->ndim, shape, ndim)) {
        char s[64] = "(";
        for (int d = 0; d < ndim; d++)
            snprintf(s + strlen(s), sizeof s - strlen(s), "%d%s", shape[d],
                     d + 1 < ndim ? ", " : ")");
        op_fail(ctx, op, "%s %s does not broadcast to %s (dims aligned on the right must "
                "be 1 or equal)", what, s, CG_SHAPE_STR(big));
        return 0;
    }
    return 1;
}

/* small (shape of y) = big summed over the broadcast dims */
static int sum_to_run(cg_ctx *ctx, const char *op, real *y, const real *x, const cg_bcast *bc,
                      int dev)
{
    if (dev == CG_CUDA)
        return dev_ok(ctx, op, cuda_add_bwd(NULL, y, x, bc));
    double *acc = NULL;
    int64_t nacc = cpu_bcast_acc_len(bc);
    if (nacc > 0 && !(acc = cg_scratch(ctx, sizeof(double) * (size_t)nacc)))
        return 0;
    cpu_add_bwd(NULL, y, acc, x, bc);
    return 1;
}

/* sum_to: dx = dy expanded; expand: dx = dy summed to x */
static cg_status sum_to_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_bcast bc;
    cpu_bcast_init(&bc, nd->in[0]->shape, nd->in[0]->ndim, nd->out->shape, nd->out->ndim);
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev, cpu_expand_fwd(dx[0], nd->out->grad, &bc),
                      cuda_expand_fwd(dx[0], nd->out->grad, &bc));
}

static cg_status expand_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_bcast bc;
    cpu_bcast_init(&bc, nd->out->shape, nd->out->ndim, nd->in[0]->shape, nd->in[0]->ndim);
    return sum_to_run(ctx, nd->op, dx[0], nd->out->grad, &bc, nd->out->dev) ? CG_OK : ctx->err;
}

static cg_status sum_to_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                             cg_tensor *gx[CG_MAX_IN])
{
    gx[0] = cg_expand(ctx, gy, nd->in[0]->shape, nd->in[0]->ndim);
    return ctx->err;
}

static cg_status expand_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                             cg_tensor *gx[CG_MAX_IN])
{
    gx[0] = cg_sum_to(ctx, gy, nd->in[0]->shape, nd->in[0]->ndim);
    return ctx->err;
}

static cg_tensor *sum_to_node(cg_ctx *ctx, cg_tensor *x, const int *shape, int ndim,
                              const cg_bcast *bc)
{
    cg_tensor *y = op_out(ctx, x, shape, ndim);
    if (!y || !sum_to_run(ctx, "sum_to", y->data, x->data, bc, x->dev))
        return NULL;
    cg_node *nd = cg_record(ctx, "sum_to", sum_to_bwd, y, &x, 1, 0);
    if (nd)
        nd->gbwd = sum_to_gbwd;
    return y;
}

static cg_tensor *expand_node(cg_ctx *ctx, cg_tensor *x, const int *shape, int ndim,
                              const cg_bcast *bc)
{
    cg_tensor *y = op_out(ctx, x, shape, ndim);
    if (!y || !OP_RUN(ctx, "expand", x->dev, cpu_expand_fwd(y->data, x->data, bc),
                      cuda_expand_fwd(y->data, x->data, bc)))
        return NULL;
    cg_node *nd = cg_record(ctx, "expand", expand_bwd, y, &x, 1, 0);
    if (nd)
        nd->gbwd = expand_gbwd;
    return y;
}

static int same_dims(const cg_tensor *x, const int *shape, int ndim)
{
    if (x->ndim != ndim)
        return 0;
    for (int d = 0; d < ndim; d++)
        if (x->shape[d] != shape[d])
            return 0;
    return 1;
}

cg_tensor *cg_sum_to(cg_ctx *ctx, cg_tensor *x, const int *shape, int ndim)
{
    static const char *op = "sum_to";
    cg_bcast bc;
    if (!op_begin(ctx, op, &x, 1, 1) || !bcast_to(ctx, op, &bc, x, shape, ndim, "shape"))
        return NULL;
    return same_dims(x, shape, ndim) ? x : sum_to_node(ctx, x, shape, ndim, &bc);
}

cg_tensor *cg_expand(cg_ctx *ctx, cg_tensor *x, const int *shape, int ndim)
{
    static const char *op = "expand";
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    if (!shape || ndim < 1 || ndim > CG_MAX_DIMS)
        return op_fail(ctx, op, "%d dims asked (1 to %d supported)", ndim, CG_MAX_DIMS);
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 1)
            return op_fail(ctx, op, "dim %d is %d (must be positive)", d, shape[d]);
    cg_bcast bc;
    if (!cpu_bcast_init(&bc, shape, ndim, x->shape, x->ndim))
        return op_fail(ctx, op, "x %s does not broadcast to the shape asked (dims aligned on "
                       "the right must be 1 or equal)", CG_SHAPE_STR(x));
    return same_dims(x, shape, ndim) ? x : expand_node(ctx, x, shape, ndim, &bc);
}
