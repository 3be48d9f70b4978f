/*
 * test_torch_refs_conv.c: conv2d and conv_transpose2d against PyTorch, from
 * tests/ref/ (written by scripts/make_refs.py): the output and the gradients
 * of x, w and b for sum(y * dy).
 *
 * Cases: conv2d k3 s2 p1 with bias on (2, 3, 9, 7) and k4 s2 p1 without bias
 * (odd sizes, so the last window does not reach the edge); conv_transpose2d
 * k4 s2 p1 with bias on (2, 3, 5, 4), and k4 s1 p0 without bias from a 1x1
 * input (DCGAN's first layer).
 *
 * Tolerance: ||cugen - torch|| / ||torch|| < 1e-5, the per-op float32 bound
 * of the design; the references are float64 results rounded to float32, so
 * the error measured is cugen's own.
 */
#include "cugen/ops.h"
#include "harness.h"
#include "ref.h"

#define REF_TOL 1e-5

/* cfg = (stride, pad); "b" absent means no bias */
static void conv_ref(const char *name, int transpose)
{
    ref_file rf;
    if (!REF_OPEN(&rf, name))
        return;
    int stride = (int)ref_cfg(&rf, 0), pad = (int)ref_cfg(&rf, 1);
    cg_tensor *x = REF_LEAF(&rf, "x"), *w = REF_LEAF(&rf, "w");
    cg_tensor *b = ref_find(&rf, "b") ? REF_LEAF(&rf, "b") : NULL;
    REQUIRE(x && w);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *y = transpose ? cg_conv_transpose2d(&ctx, x, w, b, stride, pad)
                             : cg_conv2d(&ctx, x, w, b, stride, pad);
    if (REF_BACKWARD(&ctx, &rf, y)) {
        REF_CHECK_DATA(&rf, "y", y, REF_TOL);
        REF_CHECK_GRAD(&rf, "dx", x, REF_TOL);
        REF_CHECK_GRAD(&rf, "dw", w, REF_TOL);
        if (b)
            REF_CHECK_GRAD(&rf, "db", b, REF_TOL);
    }
    cg_ctx_free(&ctx);
    ref_free(&rf);
}

TEST(torch_ref_conv2d_k3s2p1_bias) { conv_ref("conv2d_k3s2p1", 0); }
TEST(torch_ref_conv2d_k4s2p1_nobias) { conv_ref("conv2d_k4s2p1_nobias", 0); }
TEST(torch_ref_conv_transpose2d_k4s2p1_bias) { conv_ref("convt_k4s2p1", 1); }
TEST(torch_ref_conv_transpose2d_k4s1p0_from_1x1) { conv_ref("convt_k4s1p0_1x1", 1); }

/* ---- rectangular kernels, pooling, bilinear resizing -------------------------------
 * Same sources and bound (1e-5 relative against float64 results rounded to
 * float32): conv2d_hw 1x7 pad (0, 3) and 3x1 stride 2 pad (1, 0); max
 * pooling k3 s2 and k3 s1 p1 (Inception's); average pooling k3 s1 p1
 * without counting the padding and k3 s2 p1 counting it; bilinear resizing
 * up (5x7 -> 11x16), down (13x11 -> 5x4) and 8x8 -> 37x37. */

/* cfg = (stride, pad_h, pad_w), no bias */
static void conv_hw_ref(const char *name)
{
    ref_file rf;
    if (!REF_OPEN(&rf, name))
        return;
    int stride = (int)ref_cfg(&rf, 0), ph = (int)ref_cfg(&rf, 1), pw = (int)ref_cfg(&rf, 2);
    cg_tensor *x = REF_LEAF(&rf, "x"), *w = REF_LEAF(&rf, "w");
    REQUIRE(x && w);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *y = cg_conv2d_hw(&ctx, x, w, NULL, stride, ph, pw);
    if (REF_BACKWARD(&ctx, &rf, y)) {
        REF_CHECK_DATA(&rf, "y", y, REF_TOL);
        REF_CHECK_GRAD(&rf, "dx", x, REF_TOL);
        REF_CHECK_GRAD(&rf, "dw", w, REF_TOL);
    }
    cg_ctx_free(&ctx);
    ref_free(&rf);
}

TEST(torch_ref_conv2d_hw_1x7) { conv_hw_ref("conv2d_k1x7_p0_3"); }
TEST(torch_ref_conv2d_hw_3x1_s2) { conv_hw_ref("conv2d_k3x1_s2_p1_0"); }

/* kind 0: max, 1: average (cfg = k, stride, pad, count_include_pad), 2:
 * bilinear (cfg = Ho, Wo) */
static void resample_ref(const char *name, int kind)
{
    ref_file rf;
    if (!REF_OPEN(&rf, name))
        return;
    cg_tensor *x = REF_LEAF(&rf, "x");
    REQUIRE(x);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    int a = (int)ref_cfg(&rf, 0), b = (int)ref_cfg(&rf, 1);
    cg_tensor *y = kind == 2 ? cg_resize_bilinear(&ctx, x, a, b)
                 : kind == 0 ? cg_maxpool2d(&ctx, x, a, b, (int)ref_cfg(&rf, 2))
                             : cg_avgpool2d(&ctx, x, a, b, (int)ref_cfg(&rf, 2),
                                            (int)ref_cfg(&rf, 3));
    if (REF_BACKWARD(&ctx, &rf, y)) {
        REF_CHECK_DATA(&rf, "y", y, REF_TOL);
        REF_CHECK_GRAD(&rf, "dx", x, REF_TOL);
    }
    cg_ctx_free(&ctx);
    ref_free(&rf);
}

TEST(torch_ref_maxpool_k3s2) { resample_ref("maxpool_k3s2", 0); }
TEST(torch_ref_maxpool_k3s1p1) { resample_ref("maxpool_k3s1p1", 0); }
TEST(torch_ref_avgpool_k3s1p1_nopad) { resample_ref("avgpool_k3s1p1_nopad", 1); }
TEST(torch_ref_avgpool_k3s2p1_pad) { resample_ref("avgpool_k3s2p1_pad", 1); }
TEST(torch_ref_bilinear_up) { resample_ref("bilinear_up", 2); }
TEST(torch_ref_bilinear_down) { resample_ref("bilinear_down", 2); }
TEST(torch_ref_bilinear_8_to_37) { resample_ref("bilinear_8_to_37", 2); }
