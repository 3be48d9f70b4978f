/*
 * tape.h: reverse-mode autograd over a tape of coarse ops.
 *
 * In training mode every op whose inputs need gradients appends one node: its
 * backward function, its output, its inputs, the tensors it saved and its
 * scalar parameters. cg_backward walks the nodes in reverse.
 *
 * Gradient buffers, and who accumulates. Before a node's backward runs, the
 * tape hands it one gradient pointer per input (NULL where that input needs no
 * gradient: data, frozen parameters). An op writes (=) into the gradients of
 * its activation inputs and accumulates (+=) into its weight inputs, and says
 * which at record time with acc_mask. The tape makes both correct:
 *   - accumulating input: its grad buffer is created zeroed on first use;
 *   - writing input whose grad already holds values (a tensor used twice, or a
 *     parameter): the op writes into a scratch buffer that the tape then adds.
 * Parameters (in a flat buffer) always accumulate; zero them with
 * cg_params_zero_grad.
 *
 * Several backward passes may share one tape (a GAN's D loss on real and on
 * fake data): each pass has a generation number and follows only the nodes
 * its seed reaches, so gradients of an earlier pass are never counted twice.
 *
 * Create-graph mode (cg_grad, torch.autograd.grad(..., create_graph=True)):
 * a node may also carry its backward written as ops (gbwd). cg_grad walks the
 * nodes with those instead of the raw backward functions, so the gradients
 * it returns are tensors on the tape, and a loss built from them (a gradient
 * penalty) backpropagates through them with cg_backward: a second
 * derivative, exact, with no finite differences. A node without gbwd on the
 * way from the output to the inputs stops cg_grad with an error naming its op.
 *
 * Not for: op math (host/cpu, kernels/), parameter storage (nn.h).
 */
#ifndef CUGEN_TAPE_H
#define CUGEN_TAPE_H

#include "cugen/tensor.h"

#define CG_MAX_IN 4
#define CG_MAX_SAVED 4

struct cg_node;
/* dx[i]: where to put the gradient of in[i], or NULL if it is not needed.
 * The output gradient is node->out->grad. */
typedef cg_status (*cg_bwd_fn)(cg_ctx *ctx, struct cg_node *node, real *dx[CG_MAX_IN]);
/* The same backward as ops on the tape: gy is the gradient of node->out (a
 * tensor, out's shape); for every bit j of `need`, set gx[j] to the gradient
 * of in[j] (in[j]'s shape), built from ops so that it is differentiable in
 * turn. `node` is a copy (recording ops may move the tape's nodes). */
typedef cg_status (*cg_gbwd_fn)(cg_ctx *ctx, const struct cg_node *node, cg_tensor *gy,
                                unsigned need, cg_tensor *gx[CG_MAX_IN]);

typedef struct cg_node {
    const char *op;
    cg_bwd_fn bwd;
    cg_gbwd_fn gbwd;                /* the backward as ops, or NULL (create-graph mode) */
    cg_tensor *out;
    cg_tensor *in[CG_MAX_IN];
    int nin;
    unsigned acc_mask;              /* bit i: backward does dx[i] += ... */
    cg_tensor *saved[CG_MAX_SAVED]; /* extra tensors kept for backward */
    double f[6];                    /* scalar parameters */
    int i[8];
    void *aux;                      /* op-owned, lives in the arena */
} cg_node;

typedef struct cg_tape {
    cg_node *nodes;
    int n, cap;
    uint32_t gen;   /* backward passes so far; a grad is live if grad_gen == gen */
} cg_tape;

/* Record a node for `out` computed from in[0..nin-1]. Returns NULL (and sets
 * nothing) when no input requires grad or the tape is off; then out does not
 * require grad either. Otherwise out->requires_grad is set. */
cg_node *cg_record(cg_ctx *ctx, const char *op, cg_bwd_fn bwd, cg_tensor *out,
                   cg_tensor *const *in, int nin, unsigned acc_mask);

/* Backpropagate from a scalar loss (n == 1), seeding d loss = 1. */
cg_status cg_backward(cg_ctx *ctx, cg_tensor *loss);
/* Backpropagate from any tensor with a given output gradient (copied). */
cg_status cg_backward_from(cg_ctx *ctx, cg_tensor *out, const real *dout);

/* Create-graph mode, torch.autograd.grad(out, inputs, dout, create_graph=True):
 * grads[i] = the gradient of sum(dout * out) with respect to inputs[i], a new
 * tensor on the tape (nothing is written into any tensor's grad). dout has
 * out's shape, or is NULL for ones. Only the nodes between out and the inputs
 * are walked. Errors (sticky, grads set to NULL): a node on the way without
 * a create-graph backward ("grad: <op> has no create-graph backward"), an
 * input that out does not depend on, recording off. Implemented with the ops
 * (host/ops/grad.c). */
cg_status cg_grad(cg_ctx *ctx, cg_tensor *out, cg_tensor *dout, cg_tensor *const *inputs, int n,
                  cg_tensor **grads);

/* Turn recording off/on (evaluation, sampling). Returns the previous state. */
int cg_set_grad(cg_ctx *ctx, int enabled);

#endif
