/*
 * test_loss.c: float values of the losses and of the squared MMD against
 * direct formulas and hand-computed numbers, their stability at extreme
 * inputs, and the errors for malformed inputs.
 *
 * Tolerances: the CPU reference sums in double and rounds once to float, so
 * a value agrees with a double formula to a few float ulps (1e-6 relative);
 * gradients pass through one float output gradient, same bound.
 */
#include <math.h>
#include <string.h>

#include "cugen/ops.h"
#include "cugen/rng.h"
#include "cugen/tape.h"
#include "harness.h"

/* A (shape) tensor over test values that backward may differentiate. */
static cg_tensor *var(cg_ctx *ctx, real *v, const int *shape, int ndim)
{
    cg_tensor *t = cg_wrap(ctx, v, shape, ndim);
    if (t)
        t->requires_grad = 1;
    return t;
}

/* The op failed with CG_ERR_ARG and a message naming it; clears the error. */
static void check_arg_error(cg_ctx *ctx, const cg_tensor *out, const char *op, int line)
{
    if (out || ctx->err != CG_ERR_ARG || !strstr(ctx->errmsg, op))
        th_fail(__FILE__, line, "%s: want NULL and CG_ERR_ARG naming it, got %p, %d \"%s\"", op,
                (const void *)out, (int)ctx->err, ctx->errmsg);
    cg_clear_error(ctx);
}
#define CHECK_ARG_ERROR(ctx, out, op) check_arg_error((ctx), (out), (op), __LINE__)

/* ---- mmd ------------------------------------------------------------------------ */
/* x = 0, y = 1 in one dim, sigma 1: k(x, x) = k(y, y) = 1, k(x, y) = e^-1/2,
 * mmd2 = 2 - 2 e^-1/2; d/dx = 2 (x - y) e^-1/2 = -2 e^-1/2, d/dy = +2 e^-1/2. */
TEST(mmd2_hand_values)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real xv[1] = {0}, yv[1] = {1};
    const double sig = 1;
    cg_tensor *x = var(&ctx, xv, CG_SHAPE(1, 1)), *y = var(&ctx, yv, CG_SHAPE(1, 1));
    cg_tensor *m = cg_mmd2_rbf(&ctx, x, y, &sig, 1);
    REQUIRE_OK(&ctx);
    CHECK(m->ndim == 1 && m->n == 1, "(1) output");
    CHECK_NEAR(m->data[0], 2 - 2 * exp(-0.5), 1e-6);
    REQUIRE(cg_backward(&ctx, m) == CG_OK, "%s", ctx.errmsg);
    CHECK_NEAR(x->grad[0], -2 * exp(-0.5), 1e-6);
    CHECK_NEAR(y->grad[0], 2 * exp(-0.5), 1e-6);
    cg_ctx_free(&ctx);
}

/* x = {(0, 0), (1, 0)}, y = {(0, 1)}, sigmas {1, 2}: squared distances
 * xx: 0, 1, 1, 0; yy: 0; xy: 1, 2. With k(d2) = e^(-d2/2) + e^(-d2/8):
 * mmd2 = (2 k(0) + 2 k(1)) / 4 + k(0) - 2 (k(1) + k(2)) / 2. */
TEST(mmd2_two_bandwidths_formula)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real xv[4] = {0, 0, 1, 0}, yv[2] = {0, 1};
    const double sig[2] = {1, 2};
    cg_tensor *m = cg_mmd2_rbf(&ctx, cg_wrap(&ctx, xv, CG_SHAPE(2, 2)),
                               cg_wrap(&ctx, yv, CG_SHAPE(1, 2)), sig, 2);
    REQUIRE_OK(&ctx);
#define K(d2) (exp(-(d2) / 2.0) + exp(-(d2) / 8.0))
    double want = (2 * K(0) + 2 * K(1)) / 4 + K(0) - (K(1) + K(2));
#undef K
    CHECK_NEAR(m->data[0], want, 1e-6);
    cg_ctx_free(&ctx);
}

TEST(mmd2_zero_for_same_sample_positive_for_different_gaussians)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    const int N = 200, D = 2;
    const double sig[2] = {0.5, 2};
    cg_rng r;
    cg_rng_init(&r, 7, 0);
    cg_tensor *x = cg_new(&ctx, CG_SHAPE(N, D)), *x2 = cg_new(&ctx, CG_SHAPE(N, D));
    cg_tensor *y = cg_new(&ctx, CG_SHAPE(N, D));
    REQUIRE_OK(&ctx);
    cg_rng_normal(&r, x->data, x->n, 0, 1);
    cg_rng_normal(&r, x2->data, x2->n, 0, 1);
    cg_rng_normal(&r, y->data, y->n, 2, 1);  /* N((2, 2), I) */
    cg_tensor *self = cg_mmd2_rbf(&ctx, x, x, sig, 2);
    cg_tensor *same = cg_mmd2_rbf(&ctx, x, x2, sig, 2);
    cg_tensor *diff = cg_mmd2_rbf(&ctx, x, y, sig, 2);
    REQUIRE_OK(&ctx);
    CHECK(self->data[0] == 0, "mmd2(x, x) = %g", (double)self->data[0]);
    CHECK(diff->data[0] > 0.3, "mmd2 of N(0, I) vs N(2, I) samples = %g",
          (double)diff->data[0]);
    CHECK(same->data[0] >= 0 && same->data[0] < 0.05 * diff->data[0],
          "two samples of one Gaussian: %g vs %g", (double)same->data[0],
          (double)diff->data[0]);
    printf("    mmd2: same distribution %.4g, means 2 apart %.4g\n", (double)same->data[0],
           (double)diff->data[0]);
    cg_ctx_free(&ctx);
}

TEST(mmd2_rejects_malformed_input)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real v[12] = {0};
    const double sig[2] = {1, -1}, nan_sig = NAN;
    cg_tensor *x = cg_wrap(&ctx, v, CG_SHAPE(3, 2)), *y3 = cg_wrap(&ctx, v, CG_SHAPE(2, 3));
    cg_tensor *flat = cg_wrap(&ctx, v, CG_SHAPE(6));
    CHECK_ARG_ERROR(&ctx, cg_mmd2_rbf(&ctx, x, y3, sig, 1), "mmd2_rbf");  /* D 2 vs 3 */
    CHECK_ARG_ERROR(&ctx, cg_mmd2_rbf(&ctx, flat, x, sig, 1), "mmd2_rbf");
    CHECK_ARG_ERROR(&ctx, cg_mmd2_rbf(&ctx, x, x, sig, 0), "mmd2_rbf");
    CHECK_ARG_ERROR(&ctx, cg_mmd2_rbf(&ctx, x, x, NULL, 1), "mmd2_rbf");
    CHECK_ARG_ERROR(&ctx, cg_mmd2_rbf(&ctx, x, x, sig, 2), "mmd2_rbf");  /* sigma -1 */
    CHECK_ARG_ERROR(&ctx, cg_mmd2_rbf(&ctx, x, x, &nan_sig, 1), "mmd2_rbf");
    cg_ctx_free(&ctx);
}
