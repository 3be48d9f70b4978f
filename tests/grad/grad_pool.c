/*
 * grad_pool.c: gradchecks of conv2d_hw (rectangular kernels, per-axis
 * padding), maxpool2d, avgpool2d (padding counted or not) and bilinear
 * resizing (up, down, odd sizes).
 *
 * Max pooling is differentiable away from ties; the leaves are random
 * values in +-[0.2, 1.2], whose gaps are far above the finite-difference
 * step, so no window's maximum changes within a check.
 */
#include "cugen/ops.h"
#include "harness.h"

typedef struct {
    int stride, ph, pw, bias;
} conv_hw_arg;

static cg_tensor *f_conv2d_hw(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const conv_hw_arg *a = arg;
    return cg_conv2d_hw(ctx, in[0], in[1], a->bias ? in[2] : NULL, a->stride, a->ph, a->pw);
}

TEST(gradcheck_conv2d_hw)
{
    cg_tensor *a[3] = {TH_LEAF(51, 2, 3, 5, 9), TH_LEAF(52, 4, 3, 1, 7), TH_LEAF(53, 4)};
    conv_hw_arg p = {1, 0, 3, 1};
    GRADCHECK("conv2d_hw k1x7 p0,3 bias", f_conv2d_hw, &p, a, 3);
    cg_tensor *b[3] = {TH_LEAF(54, 2, 3, 9, 5), TH_LEAF(55, 4, 3, 7, 1), TH_LEAF(56, 4)};
    conv_hw_arg q = {1, 3, 0, 0};
    GRADCHECK("conv2d_hw k7x1 p3,0", f_conv2d_hw, &q, b, 2);
    cg_tensor *c[3] = {TH_LEAF(57, 2, 3, 8, 7), TH_LEAF(58, 2, 3, 3, 2), TH_LEAF(59, 2)};
    conv_hw_arg r = {2, 1, 0, 1};
    GRADCHECK("conv2d_hw k3x2 s2 p1,0 bias", f_conv2d_hw, &r, c, 3);
}

typedef struct {
    int k, stride, pad, cip;
} pool_arg;

static cg_tensor *f_maxpool2d(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const pool_arg *a = arg;
    return cg_maxpool2d(ctx, in[0], a->k, a->stride, a->pad);
}

static cg_tensor *f_avgpool2d(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const pool_arg *a = arg;
    return cg_avgpool2d(ctx, in[0], a->k, a->stride, a->pad, a->cip);
}

TEST(gradcheck_maxpool2d)
{
    cg_tensor *in[1] = {TH_LEAF(61, 2, 3, 7, 8)};
    static const pool_arg cases[] = {{3, 2, 0, 0}, {3, 1, 1, 0}, {2, 2, 1, 0}, {3, 3, 0, 0}};
    for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) {
        char what[64];
        snprintf(what, sizeof what, "maxpool2d k%d s%d p%d", cases[i].k, cases[i].stride,
                 cases[i].pad);
        GRADCHECK(what, f_maxpool2d, (void *)&cases[i], in, 1);
    }
}

TEST(gradcheck_avgpool2d)
{
    cg_tensor *in[1] = {TH_LEAF(62, 2, 3, 7, 8)};
    static const pool_arg cases[] = {{3, 1, 1, 0}, {3, 1, 1, 1}, {3, 2, 1, 0},
                                     {3, 2, 0, 1}, {7, 1, 0, 0}, {2, 3, 1, 1}};
    for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) {
        char what[64];
        snprintf(what, sizeof what, "avgpool2d k%d s%d p%d%s", cases[i].k, cases[i].stride,
                 cases[i].pad, cases[i].cip ? " count_include_pad" : "");
        GRADCHECK(what, f_avgpool2d, (void *)&cases[i], in, 1);
    }
}

static cg_tensor *f_bilinear(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const int *hw = arg;
    return cg_resize_bilinear(ctx, in[0], hw[0], hw[1]);
}

TEST(gradcheck_resize_bilinear)
{
    cg_tensor *in[1] = {TH_LEAF(63, 2, 2, 5, 7)};
    static const int sizes[][2] = {{11, 16}, {3, 4}, {5, 7}, {1, 9}, {23, 2}};
    for (unsigned i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char what[64];
        snprintf(what, sizeof what, "resize_bilinear 5x7 -> %dx%d", sizes[i][0], sizes[i][1]);
        GRADCHECK(what, f_bilinear, (void *)sizes[i], in, 1);
    }
}
