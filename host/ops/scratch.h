/*
 * scratch.h: untyped step-arena memory for what an op keeps or needs beyond
 * its tensors: the double accumulators of the CPU reference (broadcast
 * reductions, per-row gradient sums) and copies of caller arrays a node must
 * keep until backward (labels, bandwidths). Internal to host/ops.
 */
#ifndef CUGEN_OPS_SCRATCH_H
#define CUGEN_OPS_SCRATCH_H

#include "cugen/tensor.h"

/* `bytes` of arena memory, uninitialised; NULL with the sticky error set. */
static inline void *op_scratch(cg_ctx *ctx, size_t bytes)
{
    void *p = cg_arena_alloc(&ctx->arena, bytes);
    if (!p)
        cg_fail(ctx, CG_ERR_NOMEM, "step arena: out of host memory for %zu bytes of scratch",
                bytes);
    return p;
}

#endif
