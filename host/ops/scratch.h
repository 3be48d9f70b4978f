/*
 * scratch.h: double-precision scratch for the CPU reference's accumulators
 * (broadcast reductions, per-row gradient sums), from the step arena like
 * every other buffer of a step. Internal to host/ops.
 */
#ifndef CUGEN_OPS_SCRATCH_H
#define CUGEN_OPS_SCRATCH_H

#include "cugen/tensor.h"

/* n doubles, uninitialised; NULL with the sticky error set. */
static inline double *op_scratch_f64(cg_ctx *ctx, int64_t n)
{
    double *p = cg_arena_alloc(&ctx->arena, sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!p)
        cg_fail(ctx, CG_ERR_NOMEM, "step arena: out of host memory for %lld doubles",
                (long long)n);
    return p;
}

#endif
