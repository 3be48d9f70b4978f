/*
 * test_pool.c: the edge cases of maxpool2d, avgpool2d and resize_bilinear
 * that random-value tests do not reach: ties (the gradient goes to the
 * first largest element, as PyTorch's CPU kernel), NaN (propagated), the
 * divisor of windows cut by the padding, resizing to the same size (the
 * identity), and bad arguments (one clear error, nothing computed).
 */
#include <math.h>
#include <string.h>

#include "cugen/ops.h"
#include "cugen/tape.h"
#include "harness.h"

static cg_tensor *leaf_of(const real *v, int H, int W)
{
    cg_tensor *x = th_leaf(CG_SHAPE(1, 1, H, W), 1, 0.1, 1, 0);
    memcpy(x->data, v, sizeof(real) * (size_t)(H * W));
    return x;
}

TEST(maxpool_ties_go_to_the_first)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    /* one 3x3 window of equal values, then a 2x2 with the max twice */
    real v[9] = {2, 2, 2, 2, 2, 2, 2, 2, 2};
    cg_tensor *x = leaf_of(v, 3, 3);
    cg_tensor *y = cg_sum(&ctx, cg_maxpool2d(&ctx, x, 3, 1, 0));
    REQUIRE(cg_backward(&ctx, y) == CG_OK, "%s", ctx.errmsg);
    CHECK(x->grad[0] == 1, "grad[0] %g", (double)x->grad[0]);
    for (int i = 1; i < 9; i++)
        CHECK(x->grad[i] == 0, "grad[%d] %g", i, (double)x->grad[i]);
    cg_ctx_free(&ctx);
}

TEST(maxpool_propagates_nan)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real v[4] = {1, NAN, 5, 2};
    cg_tensor *x = leaf_of(v, 2, 2);
    cg_tensor *y = cg_maxpool2d(&ctx, x, 2, 2, 0);
    REQUIRE_OK(&ctx);
    CHECK(isnan(y->data[0]), "max of a window with a NaN: %g", (double)y->data[0]);
    real w[4] = {NAN, 9, 5, 2};
    cg_tensor *z = cg_maxpool2d(&ctx, leaf_of(w, 2, 2), 2, 2, 0);
    CHECK(z && isnan(z->data[0]), "a NaN first stays");
    cg_ctx_free(&ctx);
}

/* 3x3 image of ones, k3 s1 p1: every window sums the ones it covers; the
 * mean without the padding is 1 everywhere, with it (count/9) at the edges. */
TEST(avgpool_divisor_at_the_edges)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real v[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    cg_tensor *a = cg_avgpool2d(&ctx, leaf_of(v, 3, 3), 3, 1, 1, 0);
    cg_tensor *b = cg_avgpool2d(&ctx, leaf_of(v, 3, 3), 3, 1, 1, 1);
    REQUIRE_OK(&ctx);
    static const double corner = 4 / 9.0, edge = 6 / 9.0;
    const double want[9] = {corner, edge, corner, edge, 1, edge, corner, edge, corner};
    for (int i = 0; i < 9; i++) {
        CHECK(fabs(a->data[i] - 1) < 1e-7, "no pad counted [%d] %g", i, (double)a->data[i]);
        CHECK(fabs(b->data[i] - want[i]) < 1e-7, "pad counted [%d] %g", i, (double)b->data[i]);
    }
    cg_ctx_free(&ctx);
}

TEST(resize_bilinear_same_size_is_identity)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(2, 3, 5, 7), 9, 0.1, 1, 1);
    cg_tensor *y = cg_resize_bilinear(&ctx, x, 5, 7);
    REQUIRE_OK(&ctx);
    CHECK(memcmp(x->data, y->data, sizeof(real) * (size_t)x->n) == 0, "not the identity");
    cg_ctx_free(&ctx);
}

static void expect_fail(cg_tensor *(*f)(cg_ctx *, cg_tensor *), const char *want)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(1, 2, 5, 5), 3, 0.1, 1, 1);
    cg_tensor *y = f(&ctx, x);
    CHECK(!y && ctx.err == CG_ERR_ARG && strstr(ctx.errmsg, want), "want '%s', got: %s", want,
          ctx.errmsg);
    cg_ctx_free(&ctx);
}

static cg_tensor *pad_too_big(cg_ctx *c, cg_tensor *x) { return cg_maxpool2d(c, x, 3, 1, 2); }
static cg_tensor *window_too_big(cg_ctx *c, cg_tensor *x) { return cg_avgpool2d(c, x, 7, 1, 0, 0); }
static cg_tensor *zero_stride(cg_ctx *c, cg_tensor *x) { return cg_maxpool2d(c, x, 2, 0, 0); }
static cg_tensor *bad_size(cg_ctx *c, cg_tensor *x) { return cg_resize_bilinear(c, x, 0, 4); }
static cg_tensor *not_4d(cg_ctx *c, cg_tensor *x)
{
    return cg_avgpool2d(c, cg_reshape(c, x, CG_SHAPE(2, 25)), 3, 1, 1, 0);
}

TEST(pool_bad_arguments)
{
    expect_fail(pad_too_big, "need k, stride >= 1, 0 <= pad <= k / 2");
    expect_fail(window_too_big, "window 7 is bigger than the padded input 5x5");
    expect_fail(zero_stride, "stride 0");
    expect_fail(bad_size, "output size 0x4");
    expect_fail(not_4d, "must be 4-D");
}
