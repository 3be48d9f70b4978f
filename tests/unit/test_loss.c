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

/* ---- elementwise losses ---------------------------------------------------------- */
/* A loss of two (2, 3) inputs under each reduction: sum s, mean s / 6,
 * batchmean s / 2 (dim 0). */
static void check_reductions(cg_ctx *ctx, const char *op,
                             cg_tensor *(*fn)(cg_ctx *, cg_tensor *, cg_tensor *, cg_reduce),
                             real *a, real *b, double sum)
{
    cg_tensor *ta = cg_wrap(ctx, a, CG_SHAPE(2, 3)), *tb = cg_wrap(ctx, b, CG_SHAPE(2, 3));
    cg_tensor *s = fn(ctx, ta, tb, CG_REDUCE_SUM), *m = fn(ctx, ta, tb, CG_REDUCE_MEAN);
    cg_tensor *bm = fn(ctx, ta, tb, CG_REDUCE_BATCHMEAN);
    if (!cg_ok(ctx)) {
        th_fail(__FILE__, __LINE__, "%s: %s", op, ctx->errmsg);
        return;
    }
    if (!th_near(s->data[0], sum, 1e-6) || !th_near(m->data[0], sum / 6, 1e-6) ||
        !th_near(bm->data[0], sum / 2, 1e-6))
        th_fail(__FILE__, __LINE__, "%s: sum %.8g mean %.8g batchmean %.8g, want %.8g %.8g %.8g",
                op, (double)s->data[0], (double)m->data[0], (double)bm->data[0], sum, sum / 6,
                sum / 2);
}

TEST(losses_match_direct_formulas)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real p[6] = {0.5f, 0.9f, 0.1f, 0.3f, 0.75f, 0.6f}, t[6] = {1, 0, 0, 1, 0.25f, 0.5f};
    real z[6] = {-2, -0.5f, 0, 0.5f, 1.5f, 3}, x[6] = {1, 2, 3, 4, 5, 6};
    real ones[6] = {1, 1, 1, 1, 1, 1};
    double bce = 0, bcel = 0, kl = 0;
    for (int i = 0; i < 6; i++) {
        double pi = p[i], ti = t[i], zi = z[i], s = 1 / (1 + exp(-zi));
        bce += -(ti * log(pi) + (1 - ti) * log(1 - pi));
        bcel += -(ti * log(s) + (1 - ti) * log(1 - s));
        kl += 0.5 * (zi * zi + exp(pi) - 1 - pi);  /* mu = z, logvar = p */
    }
    check_reductions(&ctx, "bce", cg_bce, p, t, bce);
    check_reductions(&ctx, "bce_with_logits", cg_bce_with_logits, z, t, bcel);
    check_reductions(&ctx, "bernoulli_nll", cg_bernoulli_nll, z, t, bcel);
    check_reductions(&ctx, "gaussian_kl", cg_gaussian_kl, z, p, kl);
    /* mse of 1..6 against 1: 0 + 1 + 4 + 9 + 16 + 25 = 55 */
    check_reductions(&ctx, "mse", cg_mse, x, ones, 55);
    /* hand values: bce(0.5, 1) = log 2; KL(N(1, 1)) = 1/2; KL(N(0, 2)) = (1 - log 2) / 2 */
    real h[3] = {0.5f, 1, 0}, lv[3] = {0, 0, (real)log(2.0)}, mu[3] = {0, 1, 0};
    cg_tensor *b1 = cg_bce(&ctx, cg_wrap(&ctx, h, CG_SHAPE(1)), cg_wrap(&ctx, h + 1, CG_SHAPE(1)),
                           CG_REDUCE_SUM);
    cg_tensor *k3 = cg_gaussian_kl(&ctx, cg_wrap(&ctx, mu, CG_SHAPE(3)),
                                   cg_wrap(&ctx, lv, CG_SHAPE(3)), CG_REDUCE_SUM);
    REQUIRE_OK(&ctx);
    CHECK_NEAR(b1->data[0], log(2.0), 1e-6);
    CHECK_NEAR(k3->data[0], 0 + 0.5 + 0.5 * (1 - log(2.0)), 1e-6);
    cg_ctx_free(&ctx);
}

/* -log N(x | mu, e^lv) with x - mu = (0, 1, 2) and lv = (0, 0, log 4):
 * 0.5 log 2 pi + (0, 1/2, log 2 + 1/2). One shared logvar gives the same
 * loss as that logvar repeated, and its gradient is the sum of theirs. */
TEST(gaussian_nll_values_and_shared_logvar)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real x[3] = {1, 2, 3}, mu[3] = {1, 1, 1}, lv[3] = {0, 0, (real)log(4.0)};
    cg_tensor *l = cg_gaussian_nll(&ctx, cg_wrap(&ctx, x, CG_SHAPE(3)),
                                   cg_wrap(&ctx, mu, CG_SHAPE(3)),
                                   cg_wrap(&ctx, lv, CG_SHAPE(3)), CG_REDUCE_SUM);
    REQUIRE_OK(&ctx);
    const double half_log_2pi = 0.91893853320467274;
    CHECK_NEAR(l->data[0], 3 * half_log_2pi + 0.5 + log(2.0) + 0.5, 1e-6);

    real lv1[1] = {0.3f}, lv3[3] = {0.3f, 0.3f, 0.3f};
    cg_tensor *xs = cg_wrap(&ctx, x, CG_SHAPE(3)), *ms = cg_wrap(&ctx, mu, CG_SHAPE(3));
    cg_tensor *one = var(&ctx, lv1, CG_SHAPE(1)), *three = var(&ctx, lv3, CG_SHAPE(3));
    cg_tensor *a = cg_gaussian_nll(&ctx, xs, ms, one, CG_REDUCE_MEAN);
    cg_tensor *b = cg_gaussian_nll(&ctx, xs, ms, three, CG_REDUCE_MEAN);
    REQUIRE_OK(&ctx);
    CHECK_NEAR(a->data[0], b->data[0], 1e-6);
    REQUIRE(cg_backward(&ctx, a) == CG_OK && cg_backward(&ctx, b) == CG_OK, "%s", ctx.errmsg);
    CHECK_NEAR(one->grad[0], (double)three->grad[0] + three->grad[1] + three->grad[2], 1e-6);
    cg_ctx_free(&ctx);
}

/* bce at p = 0 and 1: logs clamped at -100 like PyTorch, gradients finite.
 * bce_with_logits at +-100: softplus form, gradients sigmoid(z) - t. */
TEST(losses_stable_at_extremes)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real p[2] = {0, 1}, pt[2] = {1, 1};
    cg_tensor *pv = var(&ctx, p, CG_SHAPE(2));
    cg_tensor *b = cg_bce(&ctx, pv, cg_wrap(&ctx, pt, CG_SHAPE(2)), CG_REDUCE_SUM);
    REQUIRE_OK(&ctx);
    CHECK(b->data[0] == 100, "bce(0, 1) + bce(1, 1) = %g", (double)b->data[0]);
    REQUIRE(cg_backward(&ctx, b) == CG_OK);
    CHECK(isfinite(pv->grad[0]) && pv->grad[0] < 0 && pv->grad[1] == 0, "dp %g %g",
          (double)pv->grad[0], (double)pv->grad[1]);

    real z[4] = {100, 100, -100, -100}, t[4] = {1, 0, 1, 0};
    cg_tensor *zv = var(&ctx, z, CG_SHAPE(4)), *tv = cg_wrap(&ctx, t, CG_SHAPE(4));
    real want[4] = {0, 100, 100, 0}, dwant[4] = {0, 1, -1, 0};
    for (int i = 0; i < 4; i++) {
        cg_tensor *l = cg_bce_with_logits(&ctx, cg_wrap(&ctx, z + i, CG_SHAPE(1)),
                                          cg_wrap(&ctx, t + i, CG_SHAPE(1)), CG_REDUCE_SUM);
        REQUIRE_OK(&ctx);
        CHECK_NEAR(l->data[0], want[i], 1e-6);
    }
    cg_tensor *l = cg_bce_with_logits(&ctx, zv, tv, CG_REDUCE_SUM);
    REQUIRE_OK(&ctx);
    CHECK_NEAR(l->data[0], 200, 1e-6);
    REQUIRE(cg_backward(&ctx, l) == CG_OK);
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(zv->grad[i], dwant[i], 1e-6);
    cg_ctx_free(&ctx);
}

/* ---- softmax_xent ---------------------------------------------------------------- */
/* Row (0, log 3): softmax (1/4, 3/4); label 0 costs log 4 with gradient
 * (-3/4, 3/4). Rows of logits near 1000 go through the shifted log-sum-exp:
 * (1000, 1000) label 1 costs log 2, (1000, 0) label 1 costs 1000. */
TEST(softmax_xent_values_and_large_logits)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real z[6] = {0, (real)log(3.0), 1000, 1000, 1000, 0};
    const int32_t labels[3] = {0, 1, 1};
    cg_tensor *zv = var(&ctx, z, CG_SHAPE(3, 2));
    cg_tensor *s = cg_softmax_xent(&ctx, zv, labels, CG_REDUCE_SUM);
    cg_tensor *m = cg_softmax_xent(&ctx, zv, labels, CG_REDUCE_MEAN);
    cg_tensor *bm = cg_softmax_xent(&ctx, zv, labels, CG_REDUCE_BATCHMEAN);
    REQUIRE_OK(&ctx);
    double want = log(4.0) + log(2.0) + 1000;
    CHECK_NEAR(s->data[0], want, 1e-6);
    CHECK_NEAR(m->data[0], want / 3, 1e-6);  /* mean over the N rows */
    CHECK_NEAR(bm->data[0], want / 3, 1e-6);
    REQUIRE(cg_backward(&ctx, s) == CG_OK);
    const double dz[6] = {-0.75, 0.75, 0.5, -0.5, 1, -1};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(zv->grad[i], dz[i], 1e-6);
    cg_ctx_free(&ctx);
}

/* ---- malformed input -------------------------------------------------------------- */
TEST(losses_reject_malformed_input)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real v[12] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    cg_tensor *a = cg_wrap(&ctx, v, CG_SHAPE(2, 3)), *b = cg_wrap(&ctx, v, CG_SHAPE(3, 2));
    cg_tensor *c = cg_wrap(&ctx, v, CG_SHAPE(6)), *two = cg_wrap(&ctx, v, CG_SHAPE(2));
    CHECK_ARG_ERROR(&ctx, cg_bce(&ctx, a, b, CG_REDUCE_MEAN), "bce");
    CHECK_ARG_ERROR(&ctx, cg_bce_with_logits(&ctx, a, c, CG_REDUCE_MEAN), "bce_with_logits");
    CHECK_ARG_ERROR(&ctx, cg_mse(&ctx, a, b, CG_REDUCE_SUM), "mse");
    CHECK_ARG_ERROR(&ctx, cg_gaussian_kl(&ctx, a, c, CG_REDUCE_SUM), "gaussian_kl");
    CHECK_ARG_ERROR(&ctx, cg_bernoulli_nll(&ctx, a, b, CG_REDUCE_SUM), "bernoulli_nll");
    CHECK_ARG_ERROR(&ctx, cg_gaussian_nll(&ctx, a, b, a, CG_REDUCE_SUM), "gaussian_nll");
    CHECK_ARG_ERROR(&ctx, cg_gaussian_nll(&ctx, a, a, two, CG_REDUCE_SUM), "gaussian_nll");
    CHECK_ARG_ERROR(&ctx, cg_mse(&ctx, a, a, (cg_reduce)7), "mse");
    /* labels in [0, K) */
    const int32_t big[2] = {0, 3}, neg[2] = {-1, 0};
    CHECK_ARG_ERROR(&ctx, cg_softmax_xent(&ctx, a, big, CG_REDUCE_MEAN), "softmax_xent");
    CHECK(cg_softmax_xent(&ctx, a, neg, CG_REDUCE_MEAN) == NULL && ctx.err == CG_ERR_ARG &&
              strstr(ctx.errmsg, "softmax_xent: label -1 of row 0 is outside [0, 3)"),
          "message: %s", ctx.errmsg);
    cg_clear_error(&ctx);
    CHECK_ARG_ERROR(&ctx, cg_softmax_xent(&ctx, c, big, CG_REDUCE_MEAN), "softmax_xent");
    CHECK_ARG_ERROR(&ctx, cg_softmax_xent(&ctx, a, NULL, CG_REDUCE_MEAN), "softmax_xent");
    cg_ctx_free(&ctx);
}
