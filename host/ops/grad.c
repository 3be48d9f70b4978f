/*
 * grad.c: the tape's create-graph mode, cg_grad (tape.h): gradients that are
 * tensors on the tape, so that a loss made of them can be differentiated
 * again (a gradient penalty's second derivative).
 *
 * The walk is cg_backward_from's, with two differences. A node's backward is
 * its gbwd, which builds the input gradients from ops (recorded on the tape
 * like any forward op), and gradients live in a table from tensor to
 * gradient tensor instead of in tensor->grad; a tensor reached twice gets the
 * sum, an add op. Only nodes that lie between out and the inputs are walked:
 * a first sweep in tape order marks every tensor that depends on an input,
 * and backward asks a node only for the gradients of such tensors (PyTorch
 * prunes the same way), so asking for the gradient of a critic's input
 * builds no weight gradients.
 *
 * It lives with the ops, not in core/tape.c, because it calls them.
 */
#include <stdint.h>

#include "cugen/ops.h"
#include "ops/backend.h"

/* Open addressing from tensor to its gradient and mark, in the host arena. */
typedef struct {
    const cg_tensor *key;
    cg_tensor *grad;
    int relevant;  /* depends on one of the inputs */
} grad_slot;

typedef struct {
    grad_slot *slot;
    size_t mask;
} grad_table;

static grad_slot *table_get(grad_table *tb, const cg_tensor *t, int insert)
{
    size_t h = (size_t)(((uintptr_t)t >> 4) * 0x9E3779B97F4A7C15ull) & tb->mask;
    while (tb->slot[h].key && tb->slot[h].key != t)
        h = (h + 1) & tb->mask;
    if (!tb->slot[h].key) {
        if (!insert)
            return NULL;
        tb->slot[h].key = t;
    }
    return &tb->slot[h];
}

static int is_relevant(grad_table *tb, const cg_tensor *t)
{
    grad_slot *s = t ? table_get(tb, t, 0) : NULL;
    return s && s->relevant;
}

/* The seed: dout checked against out, or ones of out's shape (off the tape). */
static cg_tensor *seed_of(cg_ctx *ctx, cg_tensor *out, cg_tensor *dout)
{
    if (dout) {
        if (!cg_same_shape(dout, out) || dout->dev != out->dev)
            return op_fail(ctx, "grad", "dout %s does not match out %s (shape and device)",
                           CG_SHAPE_STR(dout), CG_SHAPE_STR(out));
        return dout;
    }
    cg_tensor *ones = cg_new_like(ctx, out);
    if (!ones || !dev_fill(ctx, ones->dev, ones->data, 1.0, ones->n))
        return NULL;
    return ones;
}

cg_status cg_grad(cg_ctx *ctx, cg_tensor *out, cg_tensor *dout, cg_tensor *const *inputs, int n,
                  cg_tensor **grads)
{
    for (int i = 0; grads && i < n; i++)
        grads[i] = NULL;
    if (ctx->err)
        return ctx->err;
    if (!out || !inputs || !grads || n < 1) {
        op_fail(ctx, "grad", "needs an output and n >= 1 inputs and gradients (n = %d)", n);
        return ctx->err;
    }
    if (!ctx->grad_enabled) {
        cg_fail(ctx, CG_ERR_STATE, "grad: recording is off (cg_set_grad), nothing to "
                "differentiate");
        return ctx->err;
    }
    cg_tape *tp = ctx->tape;
    int n0 = tp->n;  /* nodes recorded from here on are the gradients' own */
    size_t want = 2 * ((size_t)n0 * (CG_MAX_IN + 1) + (size_t)n) + 16, cap = 64;
    while (cap < want)
        cap *= 2;
    grad_table tb = {.slot = cg_scratch(ctx, sizeof(grad_slot) * cap), .mask = cap - 1};
    if (!tb.slot)
        return ctx->err;
    memset(tb.slot, 0, sizeof(grad_slot) * cap);

    for (int i = 0; i < n; i++) {
        if (!inputs[i]) {
            cg_fail(ctx, CG_ERR_STATE, "grad: input %d is NULL", i);
            return ctx->err;
        }
        if (!inputs[i]->requires_grad) {
            op_fail(ctx, "grad", "input %d %s does not require grad", i,
                    CG_SHAPE_STR(inputs[i]));
            return ctx->err;
        }
        table_get(&tb, inputs[i], 1)->relevant = 1;
    }
    for (int k = 0; k < n0; k++) {
        const cg_node *nd = &tp->nodes[k];
        for (int j = 0; j < nd->nin; j++)
            if (is_relevant(&tb, nd->in[j])) {
                table_get(&tb, nd->out, 1)->relevant = 1;
                break;
            }
    }
    if (!is_relevant(&tb, out)) {
        op_fail(ctx, "grad", "out %s does not depend on any of the inputs", CG_SHAPE_STR(out));
        return ctx->err;
    }
    cg_tensor *seed = seed_of(ctx, out, dout);
    if (!seed)
        return ctx->err;
    table_get(&tb, out, 1)->grad = seed;

    for (int k = n0 - 1; k >= 0; k--) {
        cg_node nd = tp->nodes[k];  /* a copy: the ops below append to the tape */
        grad_slot *so = table_get(&tb, nd.out, 0);
        if (!so || !so->grad)
            continue;
        unsigned need = 0;
        for (int j = 0; j < nd.nin; j++)
            if (nd.in[j] && nd.in[j]->requires_grad && is_relevant(&tb, nd.in[j]))
                need |= 1u << j;
        if (!need)
            continue;
        if (!nd.gbwd) {
            cg_fail(ctx, CG_ERR_STATE, "grad: %s has no create-graph backward (a second "
                    "derivative through it is not supported)", nd.op);
            return ctx->err;
        }
        cg_tensor *gx[CG_MAX_IN] = {0};
        cg_status st = nd.gbwd(ctx, &nd, so->grad, need, gx);
        if (st != CG_OK || ctx->err)
            return cg_fail(ctx, st != CG_OK ? st : ctx->err, "create-graph backward of %s failed",
                           nd.op);
        for (int j = 0; j < nd.nin; j++) {
            if (!((need >> j) & 1))
                continue;
            if (!gx[j] || !cg_same_shape(gx[j], nd.in[j])) {
                cg_fail(ctx, CG_ERR_STATE, "grad: the create-graph backward of %s gave no "
                        "gradient of the right shape for input %d", nd.op, j);
                return ctx->err;
            }
            grad_slot *si = table_get(&tb, nd.in[j], 1);
            si->grad = si->grad ? cg_add(ctx, si->grad, gx[j]) : gx[j];
            if (!si->grad)
                return ctx->err;
        }
    }
    for (int i = 0; i < n; i++) {
        grad_slot *s = table_get(&tb, inputs[i], 0);
        if (!s || !s->grad) {
            for (int j = 0; j < i; j++)
                grads[j] = NULL;
            op_fail(ctx, "grad", "out does not depend on input %d %s", i,
                    CG_SHAPE_STR(inputs[i]));
            return ctx->err;
        }
        grads[i] = s->grad;
    }
    return CG_OK;
}
