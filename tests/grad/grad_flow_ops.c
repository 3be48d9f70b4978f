/*
 * grad_flow_ops.c: gradchecks of squeeze2x and unsqueeze2x.
 */
#include "cugen/ops.h"
#include "harness.h"

static cg_tensor *f_squeeze(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_squeeze2x(ctx, in[0]);
}

static cg_tensor *f_unsqueeze(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_unsqueeze2x(ctx, in[0]);
}

TEST(gradcheck_squeeze2x)
{
    cg_tensor *in[1] = {TH_LEAF(71, 3, 5, 6, 4)};
    GRADCHECK("squeeze2x (3, 5, 6, 4)", f_squeeze, NULL, in, 1);
    cg_tensor *un[1] = {TH_LEAF(72, 2, 12, 3, 5)};
    GRADCHECK("unsqueeze2x (2, 12, 3, 5)", f_unsqueeze, NULL, un, 1);
}
