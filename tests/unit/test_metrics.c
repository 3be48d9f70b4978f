/*
 * test_metrics.c: the metrics: the notes' MMD score against a direct
 * double-precision computation, the symmetric eigendecomposition, the
 * Frechet distance against closed forms.
 */
#include <math.h>
#include <string.h>

#include "cugen/metrics.h"
#include "harness.h"

/* compute_score of the notes, literally: every pair, in double */
static double direct_mmd2(const real *x, int n, const real *y, int m, int d, double sigma)
{
    double scale = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) {
                double t = (double)y[i * d + k] - y[j * d + k];
                s += t * t;
            }
            scale += s;
        }
    scale /= (double)m * m;
    double sums[3] = {0, 0, 0};
    for (int pass = 0; pass < 3; pass++) {
        const real *a = pass == 0 ? y : x, *b = pass == 1 ? x : y;
        int na = pass == 0 ? m : n, nb = pass == 1 ? n : m;
        for (int i = 0; i < na; i++)
            for (int j = 0; j < nb; j++) {
                double s = 0;
                for (int k = 0; k < d; k++) {
                    double t = (double)a[i * d + k] - b[j * d + k];
                    s += t * t;
                }
                sums[pass] += exp(-s / (scale * 2 * sigma * sigma));
            }
        sums[pass] /= (double)na * nb;
    }
    return sums[0] + sums[1] - 2 * sums[2];
}

TEST(metrics_mmd_score_matches_the_direct_computation)
{
    /* sizes across the GEMM block of 256 rows, odd dims */
    const int n = 300, m = 271, d = 13;
    cg_tensor *x = th_const(CG_SHAPE(n, d), 1, 0.1, 1.0, 1);
    cg_tensor *y = th_const(CG_SHAPE(m, d), 2, 0.1, 1.2, 1);
    for (int s = 0; s < 3; s++) {
        double sigma = s == 0 ? 1 : s == 1 ? 0.3 : 3;
        double mmd2, mmd, want = direct_mmd2(x->data, n, y->data, m, d, sigma);
        REQUIRE(cg_mmd_score(x->data, n, y->data, m, d, sigma, &mmd2, &mmd) == CG_OK);
        /* |a|^2 + |b|^2 - 2 a.b in double against (a - b)^2 in double: both exact
         * to ~1e-15 relative on distances ~ 10; the MMD is a difference of
         * kernel means ~ 0.5 that leaves ~ 0.01: 1e-12 absolute is ample */
        CHECK(fabs(mmd2 - want) < 1e-12, "sigma %g: %.15g vs %.15g", sigma, mmd2, want);
        CHECK_NEAR(mmd, sqrt(fmax(want, 0)), 1e-9);
        CHECK(want > 0, "the two sets differ in spread: MMD^2 %g", want);
    }
    /* a set against itself: 0 */
    double mmd2, mmd;
    REQUIRE(cg_mmd_score(y->data, m, y->data, m, d, 1, &mmd2, &mmd) == CG_OK);
    CHECK(fabs(mmd2) < 1e-12, "%g", mmd2);
    CHECK(cg_mmd_score(x->data, 0, y->data, m, d, 1, &mmd2, &mmd) == CG_ERR_ARG);
    CHECK(cg_mmd_score(x->data, n, y->data, m, d, 0, &mmd2, &mmd) == CG_ERR_ARG);
    real same[6] = {1, 2, 1, 2, 1, 2};
    CHECK(cg_mmd_score(x->data, 1, same, 3, 2, 1, &mmd2, &mmd) == CG_ERR_NUMERIC,
          "identical real rows give scale 0");
}

TEST(metrics_sym_eig_reconstructs_the_matrix)
{
    enum { N = 7 };
    double a[N * N], v[N * N], w[N];
    cg_tensor *r = th_const(CG_SHAPE(N, N), 3, 0.1, 1, 1);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            a[i * N + j] = v[i * N + j] = (double)r->data[i * N + j] + r->data[j * N + i];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            v[i * N + j] = a[i * N + j];
    REQUIRE(cg_sym_eig(N, v, w) == CG_OK);
    for (int k = 1; k < N; k++)
        CHECK(w[k] >= w[k - 1], "ascending");
    /* A = V diag(w) V^T and V^T V = I, to double rounding */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, o = 0;
            for (int k = 0; k < N; k++) {
                s += v[i * N + k] * w[k] * v[j * N + k];
                o += v[k * N + i] * v[k * N + j];
            }
            CHECK(fabs(s - a[i * N + j]) < 1e-12, "A[%d][%d] %g vs %g", i, j, s, a[i * N + j]);
            CHECK(fabs(o - (i == j)) < 1e-12, "V^T V [%d][%d] = %g", i, j, o);
        }
}
