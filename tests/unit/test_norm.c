/*
 * test_norm.c: batch norm running statistics against hand-computed values,
 * group / layer norm outputs standardised, bad shapes.
 */
#include <math.h>
#include <string.h>

#include "cugen/ops.h"
#include "harness.h"

/* Two training steps of batch norm on x (4, 2), momentum 0.1, running stats
 * starting at PyTorch's defaults (mean 0, var 1). Per channel, by hand:
 *   step 1  ch 0 {1, 2, 3, 4}: mean 2.5, biased var 1.25, unbiased 5/3
 *           ch 1 {-2, 0, 2, 4}: mean 1, biased var 5, unbiased 20/3
 *     rm = (0.25, 0.1), rv = (0.9 + 0.1 * 5/3, 0.9 + 0.1 * 20/3) = (1.0666667, 1.5666667)
 *   step 2  ch 0 {0, 0, 6, 6}: mean 3, biased var 9, unbiased 12
 *           ch 1 {1, 1, 1, 5}: mean 2, biased var 3, unbiased 4
 *     rm = (0.9 * 0.25 + 0.3, 0.9 * 0.1 + 0.2) = (0.525, 0.29)
 *     rv = (0.9 * 1.0666667 + 1.2, 0.9 * 1.5666667 + 0.4) = (2.16, 1.81)
 * Then eval normalises with those. Tolerance 1e-6: a handful of float
 * operations on numbers of order 1. */
TEST(batchnorm_running_stats_two_steps_then_eval)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real x1[8] = {1, -2, 2, 0, 3, 2, 4, 4};   /* (4, 2), row-major */
    real x2[8] = {0, 1, 0, 1, 6, 1, 6, 5};
    real rm[2] = {0, 0}, rv[2] = {1, 1}, g[2] = {2, 0.5}, b[2] = {0.25, -1};
    cg_tensor *RM = cg_wrap(&ctx, rm, CG_SHAPE(2)), *RV = cg_wrap(&ctx, rv, CG_SHAPE(2));
    cg_tensor *G = cg_wrap(&ctx, g, CG_SHAPE(2)), *B = cg_wrap(&ctx, b, CG_SHAPE(2));
    const double eps = 1e-5;

    cg_tensor *y1 = cg_batchnorm(&ctx, cg_wrap(&ctx, x1, CG_SHAPE(4, 2)), G, B, RM, RV, 1, 0.1,
                                 eps);
    REQUIRE_OK(&ctx);
    CHECK_NEAR(rm[0], 0.25, 1e-6);
    CHECK_NEAR(rm[1], 0.1, 1e-6);
    CHECK_NEAR(rv[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-6);
    CHECK_NEAR(rv[1], 0.9 + 0.1 * 20.0 / 3.0, 1e-6);
    /* training output uses the batch statistics (biased variance) */
    const double m1[2] = {2.5, 1}, v1[2] = {1.25, 5};
    for (int i = 0; i < 8; i++) {
        int c = i % 2;
        CHECK_NEAR(y1->data[i], (x1[i] - m1[c]) / sqrt(v1[c] + eps) * g[c] + b[c], 1e-6);
    }

    cg_batchnorm(&ctx, cg_wrap(&ctx, x2, CG_SHAPE(4, 2)), G, B, RM, RV, 1, 0.1, eps);
    REQUIRE_OK(&ctx);
    const double erm[2] = {0.525, 0.29}, erv[2] = {2.16, 1.81};
    for (int c = 0; c < 2; c++) {
        CHECK_NEAR(rm[c], erm[c], 1e-6);
        CHECK_NEAR(rv[c], erv[c], 1e-6);
    }

    /* eval: normalise with the running statistics and leave them as they are */
    const real snap[4] = {rm[0], rm[1], rv[0], rv[1]};
    cg_tensor *y3 = cg_batchnorm(&ctx, cg_wrap(&ctx, x1, CG_SHAPE(4, 2)), G, B, RM, RV, 0, 0.1,
                                 eps);
    REQUIRE_OK(&ctx);
    for (int i = 0; i < 8; i++) {
        int c = i % 2;
        CHECK_NEAR(y3->data[i], (x1[i] - erm[c]) / sqrt(erv[c] + eps) * g[c] + b[c], 1e-6);
    }
    CHECK(rm[0] == snap[0] && rm[1] == snap[1] && rv[0] == snap[2] && rv[1] == snap[3],
          "eval must not update the running statistics");
    cg_ctx_free(&ctx);
}

/* 4-D: the count behind the unbiased variance is N H W. x (2, 1, 1, 2) holds
 * channel 0's {1, 2, 3, 4} of the test above: rv = 0.9 + 0.1 * 5/3. */
TEST(batchnorm_running_var_counts_spatial_positions)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real x[4] = {1, 2, 3, 4}, rm[1] = {0}, rv[1] = {1};
    cg_batchnorm(&ctx, cg_wrap(&ctx, x, CG_SHAPE(2, 1, 1, 2)), NULL, NULL,
                 cg_wrap(&ctx, rm, CG_SHAPE(1)), cg_wrap(&ctx, rv, CG_SHAPE(1)), 1, 0.1, 1e-5);
    REQUIRE_OK(&ctx);
    CHECK_NEAR(rm[0], 0.25, 1e-6);
    CHECK_NEAR(rv[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-6);
    /* training without running statistics is allowed (not tracked) */
    cg_tensor *y = cg_batchnorm(&ctx, cg_wrap(&ctx, x, CG_SHAPE(2, 1, 1, 2)), NULL, NULL, NULL,
                                NULL, 1, 0.1, 1e-5);
    REQUIRE_OK(&ctx);
    CHECK_NEAR(y->data[0], (1 - 2.5) / sqrt(1.25 + 1e-5), 1e-6);
    cg_ctx_free(&ctx);
}

/* Per-group mean and biased variance of y (N, C, S) in double. */
static void group_moments(const real *y, int n, int g, int C, int S, int G, double *mean,
                          double *var)
{
    int Cg = C / G;
    const real *p = y + ((int64_t)n * C + (int64_t)g * Cg) * S;
    int64_t L = (int64_t)Cg * S;
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < L; i++)
        s += p[i];
    *mean = s / (double)L;
    for (int64_t i = 0; i < L; i++)
        s2 += (p[i] - *mean) * (p[i] - *mean);
    *var = s2 / (double)L;
}

/* Inputs 3 x + 5 (values of order 5, variance about 1.4 times 9). The output
 * mean is 0 up to float rounding of the normalised values (about 1e-7 each,
 * 1e-5 stated); the variance is var / (var + eps), 1 - 1e-6 here, and float
 * rounding, so 1e-4. */
TEST(groupnorm_and_layernorm_standardise)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(3, 6, 4, 5), 101, 0.2, 1.2, 1);
    for (int64_t i = 0; i < x->n; i++)
        x->data[i] = 3 * x->data[i] + 5;
    const int groups[3] = {1, 3, 6};
    for (int k = 0; k < 3; k++) {
        int G = groups[k];
        cg_tensor *y = cg_groupnorm(&ctx, x, NULL, NULL, G, 1e-5);
        REQUIRE_OK(&ctx);
        for (int n = 0; n < 3; n++) {
            for (int g = 0; g < G; g++) {
                double m, v;
                group_moments(y->data, n, g, 6, 20, G, &m, &v);
                CHECK(fabs(m) < 1e-5, "groups %d, (%d, %d): mean %g", G, n, g, m);
                CHECK(fabs(v - 1) < 1e-4, "groups %d, (%d, %d): var %g", G, n, g, v);
            }
        }
    }
    /* affine: gamma * y + beta of the plain output, per channel */
    cg_tensor *gm = th_const(CG_SHAPE(6), 102, 0.5, 2, 1), *bt = th_const(CG_SHAPE(6), 103, 0, 1, 1);
    cg_tensor *y0 = cg_groupnorm(&ctx, x, NULL, NULL, 3, 1e-5);
    cg_tensor *y1 = cg_groupnorm(&ctx, x, gm, bt, 3, 1e-5);
    REQUIRE_OK(&ctx);
    for (int64_t i = 0; i < x->n; i++) {
        int c = (int)(i / 20 % 6);
        CHECK_NEAR(y1->data[i], gm->data[c] * y0->data[i] + bt->data[c], 1e-5);
    }

    /* layer norm over the last dim: rows of 5 */
    cg_tensor *z = cg_layernorm(&ctx, x, NULL, NULL, 1e-5);
    REQUIRE_OK(&ctx);
    for (int r = 0; r < 3 * 6 * 4; r++) {
        double m, v;
        group_moments(z->data, r, 0, 5, 1, 1, &m, &v);
        CHECK(fabs(m) < 1e-5, "row %d: mean %g", r, m);
        CHECK(fabs(v - 1) < 1e-4, "row %d: var %g", r, v);
    }
    cg_ctx_free(&ctx);
}

TEST(norm_bad_input)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(4, 6, 3, 3), 111, 0.2, 1.2, 1);
    cg_tensor *c6 = th_const(CG_SHAPE(6), 112, 0.2, 1.2, 0);
    cg_tensor *c5 = th_const(CG_SHAPE(5), 113, 0.2, 1.2, 0);
    cg_tensor *x1 = th_const(CG_SHAPE(1, 6), 114, 0.2, 1.2, 1);
    CHECK_ARG_ERROR(&ctx, cg_batchnorm(&ctx, x, c5, c6, NULL, NULL, 1, 0.1, 1e-5), "batchnorm");
    CHECK_ARG_ERROR(&ctx, cg_batchnorm(&ctx, x, c6, c5, NULL, NULL, 1, 0.1, 1e-5), "batchnorm");
    CHECK_ARG_ERROR(&ctx, cg_batchnorm(&ctx, x, c6, c6, c5, c5, 1, 0.1, 1e-5), "batchnorm");
    CHECK_ARG_ERROR(&ctx, cg_batchnorm(&ctx, x, c6, c6, NULL, NULL, 0, 0.1, 1e-5), "batchnorm");
    CHECK_ARG_ERROR(&ctx, cg_batchnorm(&ctx, x, c6, c6, c6, NULL, 1, 0.1, 1e-5), "batchnorm");
    CHECK_ARG_ERROR(&ctx, cg_batchnorm(&ctx, x1, NULL, NULL, NULL, NULL, 1, 0.1, 1e-5),
                     "batchnorm");
    CHECK_ARG_ERROR(&ctx, cg_batchnorm(&ctx, x, NULL, NULL, NULL, NULL, 1, 1.5, 1e-5),
                     "batchnorm");
    CHECK_ARG_ERROR(&ctx, cg_batchnorm(&ctx, c6, NULL, NULL, NULL, NULL, 1, 0.1, 1e-5),
                     "batchnorm");
    CHECK_ARG_ERROR(&ctx, cg_groupnorm(&ctx, x, c5, NULL, 3, 1e-5), "groupnorm");
    CHECK_ARG_ERROR(&ctx, cg_groupnorm(&ctx, x, NULL, NULL, 4, 1e-5), "groupnorm");
    CHECK_ARG_ERROR(&ctx, cg_groupnorm(&ctx, x, NULL, NULL, 0, 1e-5), "groupnorm");
    CHECK_ARG_ERROR(&ctx, cg_groupnorm(&ctx, x, NULL, NULL, 3, -1), "groupnorm");
    CHECK_ARG_ERROR(&ctx, cg_layernorm(&ctx, x, c6, NULL, 1e-5), "layernorm");
    CHECK_ARG_ERROR(&ctx, cg_layernorm(&ctx, x, NULL, c6, 1e-5), "layernorm");
    /* one channel per sample in eval is fine; training needs > 1 value */
    cg_clear_error(&ctx);
    cg_batchnorm(&ctx, x1, NULL, NULL, c6, c6, 0, 0.1, 1e-5);
    CHECK(cg_ok(&ctx), "eval with N = 1: %s", ctx.errmsg);
    cg_ctx_free(&ctx);
}
