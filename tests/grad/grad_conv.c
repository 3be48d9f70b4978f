/*
 * grad_conv.c: gradchecks of conv2d, conv_transpose2d, upsample2x and
 * avgpool2x over strides, paddings, bias on and off, odd and non-square
 * sizes, and the DCGAN layer kinds (k4 s2 p1; k4 s1 p0 to or from 1x1).
 *
 * With N = 2 every conv case goes through the batched GEMM path (two images
 * side by side in one column matrix); the one-image path is compared with a
 * direct loop in tests/unit/test_conv.c. gradcheck_conv2d_k3_shift takes
 * the stride-1 shifted-GEMM path instead.
 */
#include "cugen/ops.h"
#include "harness.h"

typedef struct {
    int stride, pad, bias;
} conv_arg;

static cg_tensor *f_conv2d(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const conv_arg *a = arg;
    return cg_conv2d(ctx, in[0], in[1], a->bias ? in[2] : NULL, a->stride, a->pad);
}

static cg_tensor *f_conv_transpose2d(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const conv_arg *a = arg;
    return cg_conv_transpose2d(ctx, in[0], in[1], a->bias ? in[2] : NULL, a->stride, a->pad);
}

/* x (2, 3, 7, 5), w (4, 3, 3, 3): every stride / pad pair, with and without bias */
TEST(gradcheck_conv2d_k3)
{
    cg_tensor *in[3] = {TH_LEAF(1, 2, 3, 7, 5), TH_LEAF(2, 4, 3, 3, 3), TH_LEAF(3, 4)};
    static const int sp[][2] = {{1, 0}, {1, 1}, {1, 2}, {2, 0}, {2, 1}, {2, 2}, {3, 1}};
    for (unsigned i = 0; i < sizeof sp / sizeof sp[0]; i++) {
        for (int bias = 1; bias >= 0; bias--) {
            conv_arg a = {sp[i][0], sp[i][1], bias};
            char what[64];
            snprintf(what, sizeof what, "conv2d k3 s%d p%d%s", a.stride, a.pad,
                     bias ? " bias" : "");
            GRADCHECK(what, f_conv2d, &a, in, bias ? 3 : 2);
        }
    }
}

/* Stride 1 on an 8x8 input: the shifted-GEMM path (host/cpu/conv.c; the
 * padded 10x10 grid is within a quarter of 8x8), two images per GEMM. */
TEST(gradcheck_conv2d_k3_shift)
{
    cg_tensor *in[3] = {TH_LEAF(10, 2, 2, 8, 8), TH_LEAF(11, 3, 2, 3, 3), TH_LEAF(12, 3)};
    conv_arg a = {1, 1, 1};
    GRADCHECK("conv2d k3 s1 p1 8x8 bias", f_conv2d, &a, in, 3);
    a.bias = 0;
    GRADCHECK("conv2d k3 s1 p1 8x8", f_conv2d, &a, in, 2);
}

/* DCGAN discriminator kinds: k4 s2 p1 (odd, non-square), and k4 s1 p0 on a
 * 4x4 input (one output pixel: the dense path). */
TEST(gradcheck_conv2d_k4)
{
    cg_tensor *in[3] = {TH_LEAF(4, 2, 3, 9, 6), TH_LEAF(5, 2, 3, 4, 4), TH_LEAF(6, 2)};
    conv_arg a = {2, 1, 1};
    GRADCHECK("conv2d k4 s2 p1 bias", f_conv2d, &a, in, 3);
    a.bias = 0;
    GRADCHECK("conv2d k4 s2 p1", f_conv2d, &a, in, 2);

    cg_tensor *d[3] = {TH_LEAF(7, 3, 5, 4, 4), TH_LEAF(8, 1, 5, 4, 4), TH_LEAF(9, 1)};
    conv_arg e = {1, 0, 1};
    GRADCHECK("conv2d k4 s1 p0 4x4 -> 1x1 bias", f_conv2d, &e, d, 3);
    e.bias = 0;
    GRADCHECK("conv2d k4 s1 p0 4x4 -> 1x1", f_conv2d, &e, d, 2);
}

/* x (2, 3, 4, 3), w (3, 4, 3, 3): strides and paddings, with and without bias */
TEST(gradcheck_conv_transpose2d_k3)
{
    cg_tensor *in[3] = {TH_LEAF(11, 2, 3, 4, 3), TH_LEAF(12, 3, 4, 3, 3), TH_LEAF(13, 4)};
    static const int sp[][2] = {{1, 0}, {1, 1}, {2, 0}, {2, 1}, {3, 1}};
    for (unsigned i = 0; i < sizeof sp / sizeof sp[0]; i++) {
        for (int bias = 1; bias >= 0; bias--) {
            conv_arg a = {sp[i][0], sp[i][1], bias};
            char what[64];
            snprintf(what, sizeof what, "conv_transpose2d k3 s%d p%d%s", a.stride, a.pad,
                     bias ? " bias" : "");
            GRADCHECK(what, f_conv_transpose2d, &a, in, bias ? 3 : 2);
        }
    }
}

/* DCGAN generator kinds: k4 s2 p1 (non-square), and k4 s1 p0 from 1x1 (the
 * dense path) */
TEST(gradcheck_conv_transpose2d_k4)
{
    cg_tensor *in[3] = {TH_LEAF(14, 2, 3, 3, 5), TH_LEAF(15, 3, 2, 4, 4), TH_LEAF(16, 2)};
    conv_arg a = {2, 1, 1};
    GRADCHECK("conv_transpose2d k4 s2 p1 bias", f_conv_transpose2d, &a, in, 3);
    a.bias = 0;
    GRADCHECK("conv_transpose2d k4 s2 p1", f_conv_transpose2d, &a, in, 2);

    cg_tensor *d[3] = {TH_LEAF(17, 3, 5, 1, 1), TH_LEAF(18, 5, 2, 4, 4), TH_LEAF(19, 2)};
    conv_arg e = {1, 0, 1};
    GRADCHECK("conv_transpose2d k4 s1 p0 1x1 -> 4x4 bias", f_conv_transpose2d, &e, d, 3);
    e.bias = 0;
    GRADCHECK("conv_transpose2d k4 s1 p0 1x1 -> 4x4", f_conv_transpose2d, &e, d, 2);
}

/* Kernels smaller than the stride (input pixels no tap reads; output pixels
 * no input reaches) and 1x1 kernels. */
TEST(gradcheck_conv_small_kernels)
{
    cg_tensor *in[3] = {TH_LEAF(31, 2, 3, 7, 5), TH_LEAF(32, 4, 3, 2, 2), TH_LEAF(33, 4)};
    conv_arg a = {3, 1, 1};
    GRADCHECK("conv2d k2 s3 p1 bias", f_conv2d, &a, in, 3);
    cg_tensor *t[3] = {TH_LEAF(34, 2, 3, 4, 3), TH_LEAF(35, 3, 4, 2, 2), TH_LEAF(36, 4)};
    GRADCHECK("conv_transpose2d k2 s3 p1 bias", f_conv_transpose2d, &a, t, 3);
    cg_tensor *p[3] = {TH_LEAF(37, 2, 3, 5, 4), TH_LEAF(38, 4, 3, 1, 1), TH_LEAF(39, 4)};
    conv_arg one = {1, 0, 1};
    GRADCHECK("conv2d k1 s1 p0 bias", f_conv2d, &one, p, 3);
    cg_tensor *q[3] = {TH_LEAF(40, 2, 3, 5, 4), TH_LEAF(41, 3, 4, 1, 1), TH_LEAF(42, 4)};
    conv_arg two = {2, 0, 0};
    GRADCHECK("conv_transpose2d k1 s2 p0", f_conv_transpose2d, &two, q, 2);
}

static cg_tensor *f_upsample2x(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_upsample2x(ctx, in[0]);
}

static cg_tensor *f_avgpool2x(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_avgpool2x(ctx, in[0]);
}

TEST(gradcheck_upsample2x)
{
    cg_tensor *in[1] = {TH_LEAF(21, 2, 3, 3, 5)};
    GRADCHECK("upsample2x", f_upsample2x, NULL, in, 1);
}

TEST(gradcheck_avgpool2x)
{
    cg_tensor *in[1] = {TH_LEAF(22, 2, 3, 4, 6)};
    GRADCHECK("avgpool2x", f_avgpool2x, NULL, in, 1);
}
