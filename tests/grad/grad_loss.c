/*
 * grad_loss.c: gradchecks of the losses (each under all three reductions)
 * and of the squared MMD. Inputs that are probabilities or targets are drawn
 * inside their valid ranges.
 */
#include "cugen/ops.h"
#include "harness.h"

/* ---- mmd ------------------------------------------------------------------------ */
static const double mmd_sigmas[2] = {0.7, 2.0};

static cg_tensor *f_mmd(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_mmd2_rbf(ctx, in[0], in[1], mmd_sigmas, *(int *)arg);
}

TEST(gradcheck_mmd2_rbf)
{
    int one = 1, two = 2;
    cg_tensor *in[2] = {TH_LEAF(40, 7, 5), TH_LEAF(41, 9, 5)};
    GRADCHECK("mmd2_rbf x (7, 5) y (9, 5), 1 sigma", f_mmd, &one, in, 2);
    GRADCHECK("mmd2_rbf x (7, 5) y (9, 5), 2 sigmas", f_mmd, &two, in, 2);
    /* y shifted away from x: the cross term dominates */
    cg_tensor *far[2] = {TH_LEAF(42, 5, 3), th_leaf(CG_SHAPE(6, 3), 43, 1.0, 2.0, 0)};
    GRADCHECK("mmd2_rbf x (5, 3) y (6, 3) apart", f_mmd, &two, far, 2);
}
