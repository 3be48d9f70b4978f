/*
 * grad_dense.c: gradchecks of linear (and relu as the simplest pointwise op).
 */
#include "cugen/ops.h"
#include "harness.h"

static cg_tensor *f_linear(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_linear(ctx, in[0], in[1], arg ? in[2] : NULL);
}

TEST(gradcheck_linear)
{
    cg_tensor *in[3] = {TH_LEAF(1, 5, 7), TH_LEAF(2, 3, 7), TH_LEAF(3, 3)};
    GRADCHECK("linear", f_linear, (void *)1, in, 3);
    GRADCHECK("linear (no bias)", f_linear, NULL, in, 2);
}

static cg_tensor *f_relu(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_relu(ctx, in[0]);
}

TEST(gradcheck_relu)
{
    cg_tensor *in[1] = {TH_LEAF(4, 3, 5, 7)};
    GRADCHECK("relu", f_relu, NULL, in, 1);
}
