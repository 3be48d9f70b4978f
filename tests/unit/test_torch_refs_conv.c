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
