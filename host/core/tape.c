/*
 * tape.c: recording nodes and walking them backwards (see tape.h for the
 * write / accumulate contract between the tape and an op's backward).
 */
#include <stdlib.h>
#include <string.h>

#include "cugen/tape.h"
#include "core/core_cuda.h"

int cg_set_grad(cg_ctx *ctx, int enabled)
{
    int prev = ctx->grad_enabled;
    ctx->grad_enabled = enabled;
    return prev;
}

cg_node *cg_record(cg_ctx *ctx, const char *op, cg_bwd_fn bwd, cg_tensor *out,
                   cg_tensor *const *in, int nin, unsigned acc_mask)
{
    if (!ctx->grad_enabled || !out || ctx->err)
        return NULL;
    int need = 0;
    for (int j = 0; j < nin; j++)
        if (in[j] && in[j]->requires_grad)
            need = 1;
    if (!need)
        return NULL;
    cg_tape *tp = ctx->tape;
    if (tp->n == tp->cap) {
        int cap = tp->cap ? tp->cap * 2 : 256;
        cg_node *nodes = realloc(tp->nodes, sizeof *nodes * (size_t)cap);
        if (!nodes) {
            cg_fail(ctx, CG_ERR_NOMEM, "tape: out of memory for %d nodes", cap);
            return NULL;
        }
        tp->nodes = nodes;
        tp->cap = cap;
    }
    cg_node *node = &tp->nodes[tp->n++];
    memset(node, 0, sizeof *node);
    node->op = op;
    node->bwd = bwd;
    node->out = out;
    node->nin = nin;
    node->acc_mask = acc_mask;
    for (int j = 0; j < nin; j++)
        node->in[j] = in[j];
    out->requires_grad = 1;
    return node;
}

static real *grad_buffer(cg_ctx *ctx, cg_tensor *t)
{
    if (!t->grad) {
        t->grad = dev_alloc(ctx, t->dev, t->n);
        if (!t->grad)
            return NULL;
    }
    return t->grad;
}

cg_status cg_backward_from(cg_ctx *ctx, cg_tensor *out, const real *dout)
{
    if (ctx->err)
        return ctx->err;
    if (!out)
        return cg_fail(ctx, CG_ERR_STATE, "backward: NULL output");
    if (!out->requires_grad)
        return cg_fail(ctx, CG_ERR_STATE,
                       "backward: the output does not depend on anything that needs a gradient");
    cg_tape *tp = ctx->tape;
    uint32_t gen = ++tp->gen;
    if (!grad_buffer(ctx, out))
        return ctx->err;
    if (!dev_copy_from_host(ctx, out->dev, out->grad, dout, out->n))
        return ctx->err;
    out->grad_gen = gen;

    for (int k = tp->n - 1; k >= 0; k--) {
        cg_node *node = &tp->nodes[k];
        if (node->out->grad_gen != gen)
            continue;  /* not reached by this pass */
        real *dx[CG_MAX_IN] = {0};
        real *scratch[CG_MAX_IN] = {0};
        for (int j = 0; j < node->nin; j++) {
            cg_tensor *t = node->in[j];
            if (!t || !t->requires_grad)
                continue;
            int acc = (node->acc_mask >> j) & 1;
            int live = t->is_param || t->grad_gen == gen;
            if (!live) {
                if (!grad_buffer(ctx, t))
                    return ctx->err;
                if (acc && !dev_zero(ctx, t->dev, t->grad, t->n))
                    return ctx->err;
                t->grad_gen = gen;
                dx[j] = t->grad;
            } else if (acc) {
                dx[j] = t->grad;
            } else {
                scratch[j] = dev_alloc(ctx, t->dev, t->n);
                if (!scratch[j])
                    return ctx->err;
                dx[j] = scratch[j];
            }
        }
        cg_status st = node->bwd(ctx, node, dx);
        if (st != CG_OK)
            return cg_fail(ctx, st, "backward of %s failed", node->op);
        for (int j = 0; j < node->nin; j++)
            if (scratch[j] && !dev_accumulate(ctx, node->in[j]->dev, node->in[j]->grad,
                                                  scratch[j], node->in[j]->n))
                return ctx->err;
    }
    return ctx->err;
}

cg_status cg_backward(cg_ctx *ctx, cg_tensor *loss)
{
    if (ctx->err)
        return ctx->err;
    if (!loss)
        return cg_fail(ctx, CG_ERR_STATE, "backward: NULL loss");
    if (loss->n != 1)
        return cg_fail(ctx, CG_ERR_ARG, "backward: the loss has %lld elements, not 1",
                       (long long)loss->n);
    const real one = 1;
    return cg_backward_from(ctx, loss, &one);
}
