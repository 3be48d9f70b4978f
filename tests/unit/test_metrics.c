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

static void stats_of(cg_feat_stats *s, int d, const double *mean, const double *cov)
{
    s->d = d;
    s->n = 100;
    s->mean = th_alloc(sizeof(double) * d);
    s->cov = th_alloc(sizeof(double) * d * d);
    memcpy(s->mean, mean, sizeof(double) * d);
    memcpy(s->cov, cov, sizeof(double) * d * d);
}

/* a random SPD matrix A A^T / d + 0.1 I from seed */
static void random_spd(double *c, int d, uint64_t seed)
{
    cg_tensor *a = th_const(CG_SHAPE(d, d), seed, 0.1, 1, 1);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++)
                s += (double)a->data[i * d + k] * a->data[j * d + k];
            c[i * d + j] = s / d + (i == j ? 0.1 : 0);
        }
}

TEST(frechet_distance_closed_forms)
{
    /* diagonal covariances: FD = |dmu|^2 + sum (sqrt a_i - sqrt b_i)^2 */
    enum { D = 6 };
    double ma[D], mb[D], ca[D * D] = {0}, cb[D * D] = {0}, want = 0;
    for (int i = 0; i < D; i++) {
        ma[i] = 0.3 * i;
        mb[i] = 1 - 0.2 * i;
        ca[i * D + i] = 0.5 + i;
        cb[i * D + i] = 2.0 / (1 + i);
        want += (ma[i] - mb[i]) * (ma[i] - mb[i]) +
                (sqrt(ca[i * D + i]) - sqrt(cb[i * D + i])) *
                    (sqrt(ca[i * D + i]) - sqrt(cb[i * D + i]));
    }
    cg_feat_stats a, b;
    stats_of(&a, D, ma, ca);
    stats_of(&b, D, mb, cb);
    double fd;
    REQUIRE(cg_frechet_distance(&a, &b, &fd) == CG_OK);
    /* eigendecompositions in double: 1e-12 relative on values ~ 10 */
    CHECK(fabs(fd - want) < 1e-10, "%.15g vs %.15g", fd, want);
    REQUIRE(cg_frechet_distance(&a, &a, &fd) == CG_OK);
    CHECK(fabs(fd) < 1e-10, "FD of a set with itself %g", fd);

    /* 2 x 2: Tr((S1 S2)^(1/2)) = sqrt(tr(S1 S2) + 2 sqrt(det(S1 S2))), since
     * S1 S2 has two non-negative eigenvalues l1, l2 and (sqrt l1 + sqrt l2)^2 =
     * l1 + l2 + 2 sqrt(l1 l2) */
    for (uint64_t seed = 1; seed <= 5; seed++) {
        double s1[4], s2[4], m0[2] = {0, 0}, m1[2] = {0.5, -1};
        random_spd(s1, 2, seed);
        random_spd(s2, 2, seed + 100);
        double p[4] = {s1[0] * s2[0] + s1[1] * s2[2], s1[0] * s2[1] + s1[1] * s2[3],
                       s1[2] * s2[0] + s1[3] * s2[2], s1[2] * s2[1] + s1[3] * s2[3]};
        double tr_sqrt = sqrt(p[0] + p[3] + 2 * sqrt(p[0] * p[3] - p[1] * p[2]));
        double w = 0.25 + 1 + s1[0] + s1[3] + s2[0] + s2[3] - 2 * tr_sqrt;
        cg_feat_stats x, y;
        stats_of(&x, 2, m0, s1);
        stats_of(&y, 2, m1, s2);
        REQUIRE(cg_frechet_distance(&x, &y, &fd) == CG_OK);
        CHECK(fabs(fd - w) < 1e-12, "seed %d: %.15g vs %.15g", (int)seed, fd, w);
    }
    /* symmetric in its arguments, also for full random covariances */
    enum { E = 30 };
    double *c1 = th_alloc(sizeof(double) * E * E), *c2 = th_alloc(sizeof(double) * E * E);
    double mm[E] = {0};
    random_spd(c1, E, 7);
    random_spd(c2, E, 8);
    cg_feat_stats u, v;
    stats_of(&u, E, mm, c1);
    stats_of(&v, E, mm, c2);
    double f1, f2;
    REQUIRE(cg_frechet_distance(&u, &v, &f1) == CG_OK && cg_frechet_distance(&v, &u, &f2) == CG_OK);
    CHECK(f1 > 0 && fabs(f1 - f2) < 1e-9 * f1, "%.15g vs %.15g", f1, f2);
    cg_feat_stats bad;
    stats_of(&bad, 2, mm, c1);
    CHECK(cg_frechet_distance(&u, &bad, &f1) == CG_ERR_ARG);
}

TEST(feature_stats_are_mean_and_unbiased_covariance)
{
    enum { N = 50, D = 3 };
    cg_tensor *f = th_const(CG_SHAPE(N, D), 4, 0.1, 2, 1);
    cg_feat_stats s;
    REQUIRE(cg_feat_stats_compute(f->data, N, D, &s) == CG_OK);
    for (int a = 0; a < D; a++) {
        double m = 0;
        for (int i = 0; i < N; i++)
            m += f->data[i * D + a] / (double)N;
        CHECK_NEAR(s.mean[a], m, 1e-12);
        for (int b = 0; b < D; b++) {
            double c = 0, mb = 0;
            for (int i = 0; i < N; i++)
                mb += f->data[i * D + b] / (double)N;
            for (int i = 0; i < N; i++)
                c += (f->data[i * D + a] - m) * (f->data[i * D + b] - mb);
            CHECK_NEAR(s.cov[a * D + b], c / (N - 1), 1e-12);
        }
    }
    cg_feat_stats_free(&s);
    CHECK(cg_feat_stats_compute(f->data, 1, D, &s) == CG_ERR_ARG);
}

/* Rank-deficient covariances (fewer images than features, as a small
 * Inception-FID): S_a = u u^T, S_b = 4 u u^T + v v^T with u orthogonal to v
 * in d = 300. S_a S_b = 4 |u|^2 u u^T, so Tr (S_a S_b)^(1/2) = 2 |u|^2 and
 * FD = |dm|^2 + |u|^2 + 4 |u|^2 + |v|^2 - 4 |u|^2. Only the rank-1 part of
 * S_a enters the r x r product; the bound 1e-9 relative is double rounding
 * of sums over d. */
TEST(frechet_distance_rank_deficient)
{
    enum { D = 300 };
    double *ca = th_alloc(sizeof(double) * D * D), *cb = th_alloc(sizeof(double) * D * D);
    double *ma = th_alloc(sizeof(double) * D), *mb = th_alloc(sizeof(double) * D);
    double u[D], v[D], uu = 0, vv = 0, dm = 0;
    for (int i = 0; i < D; i++) {
        u[i] = (i % 2 ? 1 : -1) * (0.5 + (i % 7) * 0.1);
        v[i] = 0;
        ma[i] = 0.01 * i;
        mb[i] = 0.01 * i + (i % 3) * 0.2;
        dm += (ma[i] - mb[i]) * (ma[i] - mb[i]);
    }
    /* v: orthogonal to u, on two coordinates */
    v[0] = u[1];
    v[1] = -u[0];
    for (int i = 0; i < D; i++) {
        uu += u[i] * u[i];
        vv += v[i] * v[i];
    }
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            ca[i * D + j] = u[i] * u[j];
            cb[i * D + j] = 4 * u[i] * u[j] + v[i] * v[j];
        }
    cg_feat_stats a = {.d = D, .n = 2, .mean = ma, .cov = ca};
    cg_feat_stats b = {.d = D, .n = 3, .mean = mb, .cov = cb};
    double fd = 0, want = dm + uu + vv;
    REQUIRE(cg_frechet_distance(&a, &b, &fd) == CG_OK);
    printf("    FD %.12g, closed form %.12g\n", fd, want);
    CHECK(fabs(fd - want) < 1e-9 * want, "FD %.12g, want %.12g", fd, want);
    double fs = -1;
    REQUIRE(cg_frechet_distance(&a, &a, &fs) == CG_OK);
    CHECK(fabs(fs) < 1e-9 * uu, "FD of S_a with itself %.3g", fs);
}
