/*
 * broadcast.c: op front ends for add, sub and mul with b broadcast to a's
 * shape (numpy rules; the output has a's shape). Both inputs are activations:
 * their gradients are written, and the gradient of b is summed over the dims
 * it was broadcast along.
 *
 * The CUDA twins (kernels/broadcast.cu) take the same cg_bcast layout,
 * computed here on the host, and reduce db without host scratch.
 */
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
    if (nd)
        nd->i[0] = which;
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
