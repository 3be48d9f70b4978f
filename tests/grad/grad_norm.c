/*
 * grad_norm.c: gradchecks of batch norm (train and eval, 2-D and 4-D, with
 * and without affine), group norm and layer norm.
 */
#include "cugen/ops.h"
#include "harness.h"

/* ---- batch norm ------------------------------------------------------------------ */
typedef struct {
    int affine, training;
    cg_tensor *rm, *rv;  /* running statistics, or NULL */
} bn_arg;

static cg_tensor *f_batchnorm(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const bn_arg *a = arg;
    return cg_batchnorm(ctx, in[0], a->affine ? in[1] : NULL, a->affine ? in[2] : NULL, a->rm,
                        a->rv, a->training, 0.1, 1e-5);
}

TEST(gradcheck_batchnorm_train)
{
    /* (N, C) = (5, 3) and (N, C, H, W) = (3, 5, 3, 5) */
    cg_tensor *in2[3] = {TH_LEAF(1, 5, 3), TH_LEAF(2, 3), TH_LEAF(3, 3)};
    cg_tensor *in4[3] = {TH_LEAF(4, 3, 5, 3, 5), TH_LEAF(5, 5), TH_LEAF(6, 5)};
    bn_arg affine = {1, 1, NULL, NULL}, plain = {0, 1, NULL, NULL};
    GRADCHECK("batchnorm train 2-D", f_batchnorm, &affine, in2, 3);
    GRADCHECK("batchnorm train 2-D no affine", f_batchnorm, &plain, in2, 1);
    GRADCHECK("batchnorm train 4-D", f_batchnorm, &affine, in4, 3);
    GRADCHECK("batchnorm train 4-D no affine", f_batchnorm, &plain, in4, 1);
    /* tracking running statistics must not change the gradients */
    bn_arg track = {1, 1, th_const(CG_SHAPE(5), 7, 0.2, 1.2, 1),
                    th_const(CG_SHAPE(5), 8, 0.5, 1.5, 0)};
    GRADCHECK("batchnorm train 4-D tracking", f_batchnorm, &track, in4, 3);
}

TEST(gradcheck_batchnorm_eval)
{
    cg_tensor *in2[3] = {TH_LEAF(11, 5, 3), TH_LEAF(12, 3), TH_LEAF(13, 3)};
    cg_tensor *in4[3] = {TH_LEAF(14, 3, 5, 3, 5), TH_LEAF(15, 5), TH_LEAF(16, 5)};
    bn_arg e2 = {1, 0, th_const(CG_SHAPE(3), 17, 0.2, 1.2, 1),
                 th_const(CG_SHAPE(3), 18, 0.5, 1.5, 0)};
    bn_arg e4 = {1, 0, th_const(CG_SHAPE(5), 19, 0.2, 1.2, 1),
                 th_const(CG_SHAPE(5), 20, 0.5, 1.5, 0)};
    GRADCHECK("batchnorm eval 2-D", f_batchnorm, &e2, in2, 3);
    GRADCHECK("batchnorm eval 4-D", f_batchnorm, &e4, in4, 3);
    e4.affine = 0;
    GRADCHECK("batchnorm eval 4-D no affine", f_batchnorm, &e4, in4, 1);
}

/* ---- group norm ------------------------------------------------------------------- */
typedef struct {
    int groups, affine;
} gn_arg;

static cg_tensor *f_groupnorm(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const gn_arg *a = arg;
    return cg_groupnorm(ctx, in[0], a->affine ? in[1] : NULL, a->affine ? in[2] : NULL,
                        a->groups, 1e-5);
}

TEST(gradcheck_groupnorm)
{
    /* C = 6: groups of 2, one group of all channels, one group per channel */
    cg_tensor *in[3] = {TH_LEAF(21, 3, 6, 3, 5), TH_LEAF(22, 6), TH_LEAF(23, 6)};
    gn_arg g3 = {3, 1}, g1 = {1, 1}, g6 = {6, 1}, g3p = {3, 0};
    GRADCHECK("groupnorm 6 ch / 3 groups", f_groupnorm, &g3, in, 3);
    GRADCHECK("groupnorm 6 ch / 1 group", f_groupnorm, &g1, in, 3);
    GRADCHECK("groupnorm 6 ch / 6 groups", f_groupnorm, &g6, in, 3);
    GRADCHECK("groupnorm 6 ch / 3 groups no affine", f_groupnorm, &g3p, in, 1);
    /* (N, C) input: each group is Cg values of one sample (3 here; with 2 the
     * normalised pair is +-1 whatever x is, and dx is only eps-sized noise) */
    cg_tensor *in2[3] = {TH_LEAF(24, 5, 9), TH_LEAF(25, 9), TH_LEAF(26, 9)};
    GRADCHECK("groupnorm 2-D / 3 groups", f_groupnorm, &g3, in2, 3);
}

/* ---- layer norm --------------------------------------------------------------------- */
static cg_tensor *f_layernorm(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_layernorm(ctx, in[0], arg ? in[1] : NULL, arg ? in[2] : NULL, 1e-5);
}

TEST(gradcheck_layernorm)
{
    cg_tensor *in3[3] = {TH_LEAF(31, 3, 5, 7), TH_LEAF(32, 7), TH_LEAF(33, 7)};
    cg_tensor *in2[3] = {TH_LEAF(34, 5, 9), TH_LEAF(35, 9), TH_LEAF(36, 9)};
    GRADCHECK("layernorm (3, 5, 7)", f_layernorm, (void *)1, in3, 3);
    GRADCHECK("layernorm (3, 5, 7) no affine", f_layernorm, NULL, in3, 1);
    GRADCHECK("layernorm (5, 9)", f_layernorm, (void *)1, in2, 3);
}
