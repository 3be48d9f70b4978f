/*
 * test_flow_ops.c: squeeze2x and unsqueeze2x: values against the index
 * formula (PyTorch's pixel_unshuffle / pixel_shuffle with factor 2), each the
 * other's inverse, and malformed inputs.
 */
#include "cugen/ops.h"
#include "harness.h"

TEST(squeeze2x_values_and_inverse)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    const int N = 2, C = 3, H = 4, W = 6;
    cg_tensor *x = th_const(CG_SHAPE(N, C, H, W), 3, 0.1, 1, 1);
    cg_tensor *y = cg_squeeze2x(&ctx, x);
    REQUIRE(y, "%s", ctx.errmsg);
    CHECK(y->shape[1] == 4 * C && y->shape[2] == H / 2 && y->shape[3] == W / 2);
    int bad = 0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    int oc = 4 * c + 2 * (i % 2) + j % 2;
                    real want = x->data[((n * C + c) * H + i) * W + j];
                    real got = y->data[((n * 4 * C + oc) * (H / 2) + i / 2) * (W / 2) + j / 2];
                    bad += got != want;
                }
    CHECK(bad == 0, "%d values misplaced", bad);
    cg_tensor *back = cg_unsqueeze2x(&ctx, y);
    REQUIRE(back, "%s", ctx.errmsg);
    CHECK(cg_same_shape(back, x));
    CHECK(th_max_rel_err(back->data, x->data, x->n) == 0, "not the exact inverse");
    cg_ctx_free(&ctx);
}

TEST(squeeze2x_rejects_bad_shapes)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    CHECK_ARG_ERROR(&ctx, cg_squeeze2x(&ctx, th_const(CG_SHAPE(2, 3, 5, 4), 1, 0.1, 1, 1)),
                    "squeeze2x");
    CHECK_ARG_ERROR(&ctx, cg_squeeze2x(&ctx, th_const(CG_SHAPE(2, 12), 1, 0.1, 1, 1)),
                    "squeeze2x");
    CHECK_ARG_ERROR(&ctx, cg_unsqueeze2x(&ctx, th_const(CG_SHAPE(2, 6, 2, 2), 1, 0.1, 1, 1)),
                    "unsqueeze2x");
    cg_ctx_free(&ctx);
}
