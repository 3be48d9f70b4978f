/*
 * dropout.c: op front end for dropout.
 *
 * The forward reserves x->n values of the rng's stream (cg_rng_take) and the
 * node keeps only the counters (seed, stream, offset) and p; backward
 * regenerates the mask from them. That costs one more Philox pass but no
 * mask in the arena, and the CUDA twin (kernels/dropout.cu) draws the same
 * mask, bit for bit, from the same three numbers.
 *
 * Identity (!training or p == 0) returns x itself: no copy, no node, no rng
 * values taken, and the gradient reaches x directly.
 */
#include "cpu/cpu_dropout.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

typedef struct {
    uint64_t seed, offset;
    uint32_t stream;
    double p;
} dropout_saved;

static cg_status dropout_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const dropout_saved *s = nd->aux;
    const real *dy = nd->out->grad;
    int64_t n = nd->out->n;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev,
                      cpu_dropout_bwd(dx[0], dy, n, s->p, s->seed, s->stream, s->offset),
                      cuda_dropout_bwd(dx[0], dy, n, s->p, s->seed, s->stream, s->offset));
}

cg_tensor *cg_dropout(cg_ctx *ctx, cg_tensor *x, double p, cg_rng *rng, int training)
{
    static const char *op = "dropout";
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    if (!(p >= 0 && p < 1))
        return op_fail(ctx, op, "p = %g must be in [0, 1)", p);
    if (!training || p == 0)
        return x;
    if (!rng)
        return op_fail(ctx, op, "training with p = %g needs an rng", p);
    cg_tensor *y = op_out(ctx, x, x->shape, x->ndim);
    dropout_saved *s = cg_arena_alloc(&ctx->arena, sizeof *s);
    if (!y)
        return NULL;
    if (!s) {
        cg_fail(ctx, CG_ERR_NOMEM, "%s: step arena: out of host memory", op);
        return NULL;
    }
    s->seed = rng->seed;
    s->stream = rng->stream;
    s->offset = cg_rng_take(rng, x->n);
    s->p = p;
    if (!OP_RUN(ctx, op, x->dev,
                cpu_dropout_fwd(y->data, x->data, x->n, p, s->seed, s->stream, s->offset),
                cuda_dropout_fwd(y->data, x->data, x->n, p, s->seed, s->stream, s->offset)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, dropout_bwd, y, &x, 1, 0);
    if (nd)
        nd->aux = s;
    return y;
}
