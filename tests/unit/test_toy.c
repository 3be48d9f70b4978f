/*
 * test_toy.c: the toy 2-D distributions. 10000 points each; moments and
 * geometry against their definitions in data.h. Tolerances are 5 standard
 * errors of the estimate at n = 10000 (worked out per check), so a correct
 * sampler passes for any seed with overwhelming probability while a wrong
 * constant or formula fails.
 */
#include <math.h>
#include <string.h>

#include "cugen/data.h"
#include "cugen/models.h"
#include "harness.h"

#define N 10000

static real *sample(cg_toy t, uint64_t seed)
{
    real *xy = th_alloc(sizeof(real) * 2 * N);
    cg_rng r;
    cg_rng_init(&r, seed, 7);
    cg_toy_sample(t, &r, xy, N);
    return xy;
}

static void moments(const real *xy, double mean[2], double cov[4])
{
    mean[0] = mean[1] = 0;
    for (int i = 0; i < N; i++) {
        mean[0] += xy[2 * i];
        mean[1] += xy[2 * i + 1];
    }
    mean[0] /= N;
    mean[1] /= N;
    memset(cov, 0, 4 * sizeof *cov);
    for (int i = 0; i < N; i++) {
        double a = xy[2 * i] - mean[0], b = xy[2 * i + 1] - mean[1];
        cov[0] += a * a / N;
        cov[1] += a * b / N;
        cov[3] += b * b / N;
    }
    cov[2] = cov[1];
}

TEST(toy_names_parse)
{
    char err[256];
    for (int t = 0; t < CG_TOY_COUNT; t++) {
        cg_toy got;
        CHECK(cg_toy_parse(cg_toy_name((cg_toy)t), &got, err, sizeof err) == CG_OK &&
              got == (cg_toy)t, "%s", cg_toy_name((cg_toy)t));
        CHECK(strstr(cg_toy_choices(), cg_toy_name((cg_toy)t)));
    }
    cg_toy got;
    CHECK(cg_toy_parse("spiral", &got, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "unknown toy dataset 'spiral' (expected 8gaussians|moons|swissroll|"
                 "checkerboard|gaussian|notebook)"), "%s", err);
}

/* Same seed: same bits; another seed: other points. */
TEST(toy_deterministic_per_seed)
{
    for (int t = 0; t < CG_TOY_COUNT; t++) {
        real *a = sample((cg_toy)t, 11), *b = sample((cg_toy)t, 11), *c = sample((cg_toy)t, 12);
        CHECK(memcmp(a, b, sizeof(real) * 2 * N) == 0, "%s", cg_toy_name((cg_toy)t));
        CHECK(memcmp(a, c, sizeof(real) * 2 * N) != 0, "%s", cg_toy_name((cg_toy)t));
    }
}

/* Centres 2 (cos k pi/4, sin k pi/4), std 0.1 per coordinate.
 * Mode counts: binomial(10000, 1/8), sd 33 -> +-165. Residual std: the
 * estimate from 20000 coordinates has se 0.1 / sqrt(40000) = 0.0005 ->
 * +-0.0025. Mean radius: E|c + e| = 2 + 0.1^2 / (2 * 2) + O(1e-4) = 2.0025,
 * se of the mean 0.1 / 100 = 0.001 -> +-0.005. */
TEST(toy_8gaussians)
{
    real *xy = sample(CG_TOY_8GAUSSIANS, 1);
    int count[8] = {0};
    double ss = 0, rad = 0, far = 0;
    for (int i = 0; i < N; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1], best = 1e9;
        int bk = 0;
        for (int k = 0; k < 8; k++) {
            double dx = x - 2 * cos(k * M_PI / 4), dy = y - 2 * sin(k * M_PI / 4);
            if (dx * dx + dy * dy < best) {
                best = dx * dx + dy * dy;
                bk = k;
            }
        }
        count[bk]++;
        ss += best;
        far = fmax(far, sqrt(best));
        rad += sqrt(x * x + y * y) / N;
    }
    for (int k = 0; k < 8; k++)
        CHECK(count[k] > 1250 - 165 && count[k] < 1250 + 165, "mode %d: %d points", k, count[k]);
    CHECK_NEAR(sqrt(ss / (2 * N)), 0.1, 0.0025);
    CHECK_NEAR(rad, 2.0025, 0.005);
    CHECK(far < 0.7, "a point %.3f from its centre (7 sd)", far);
}

/* Distance from p to the unit half circle centred at (cx, cy): upper half
 * when up, else lower half. */
static double arc_dist(double x, double y, double cx, double cy, int up)
{
    double dx = x - cx, dy = y - cy;
    if (up ? dy >= 0 : dy <= 0)
        return fabs(sqrt(dx * dx + dy * dy) - 1);
    double d1 = hypot(dx - 1, dy), d2 = hypot(dx + 1, dy);
    return fmin(d1, d2);
}

/* Upper moon: unit upper half circle at (0, 0); lower: lower half at (1, 0.5);
 * noise 0.05. Every point within 0.3 (6 sd) of one moon; half the points
 * nearer each moon (se 0.005 -> +-0.025; points near where the moons cross
 * can be nearer the other, a few per thousand). Mean: (0.5, 0.25) exactly
 * (x: 0 and 1, y: 2/pi and 0.5 - 2/pi), per-coordinate sd <= 0.87 -> se
 * 0.0087 -> +-0.045. Ranges: x in [-1, 2], y in [-0.5, 1] plus noise. */
TEST(toy_moons)
{
    real *xy = sample(CG_TOY_MOONS, 2);
    double mean[2], cov[4], worst = 0, lo[2] = {9, 9}, hi[2] = {-9, -9};
    int upper = 0;
    for (int i = 0; i < N; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        double du = arc_dist(x, y, 0, 0, 1), dl = arc_dist(x, y, 1, 0.5, 0);
        upper += du < dl;
        worst = fmax(worst, fmin(du, dl));
        lo[0] = fmin(lo[0], x), lo[1] = fmin(lo[1], y);
        hi[0] = fmax(hi[0], x), hi[1] = fmax(hi[1], y);
    }
    moments(xy, mean, cov);
    CHECK(worst < 0.3, "a point %.3f from both moons", worst);
    CHECK_NEAR(upper / (double)N, 0.5, 0.025);
    CHECK_NEAR(mean[0], 0.5, 0.045);
    CHECK_NEAR(mean[1], 0.25, 0.045);
    CHECK(lo[0] > -1.3 && lo[0] < -0.9 && hi[0] > 1.9 && hi[0] < 2.3, "x range %.3f %.3f",
          lo[0], hi[0]);
    CHECK(lo[1] > -0.8 && lo[1] < -0.4 && hi[1] > 0.9 && hi[1] < 1.3, "y range %.3f %.3f",
          lo[1], hi[1]);
}

/* (t cos t, t sin t) / 5 + N(0, 0.05^2), t uniform on [1.5 pi, 4.5 pi].
 * Radius = t / 5 in [0.942, 2.827] (+-0.3 noise, 6 sd); mean radius 3 pi / 5
 * = 1.885, sd of t / 5 is 0.544 -> se 0.0054 -> +-0.03. The angle of the
 * point must be t = 5 |p| modulo 2 pi: radial noise moves 5 |p| by sd 0.25
 * rad, so the mean absolute angle error is about 0.2 (E|N(0, 0.25)|); an
 * unrelated angle would give pi / 2. */
TEST(toy_swissroll)
{
    real *xy = sample(CG_TOY_SWISSROLL, 3);
    double rmean = 0, rlo = 9, rhi = 0, angerr = 0;
    for (int i = 0; i < N; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1], r = hypot(x, y);
        rmean += r / N;
        rlo = fmin(rlo, r);
        rhi = fmax(rhi, r);
        double d = remainder(atan2(y, x) - 5 * r, 2 * M_PI);
        angerr += fabs(d) / N;
    }
    CHECK_NEAR(rmean, 3 * M_PI / 5, 0.03);
    CHECK(rlo > 0.3 * M_PI - 0.3 && rlo < 0.3 * M_PI + 0.1, "min radius %.3f", rlo);
    CHECK(rhi < 0.9 * M_PI + 0.3 && rhi > 0.9 * M_PI - 0.1, "max radius %.3f", rhi);
    CHECK(angerr < 0.3, "mean angle error %.3f", angerr);
}

/* Uniform on the 8 squares of [-2, 2]^2 with floor(x) + floor(y) even; each
 * square 1/8: binomial sd 33 -> +-165. */
TEST(toy_checkerboard)
{
    real *xy = sample(CG_TOY_CHECKERBOARD, 4);
    int count[4][4] = {{0}}, outside = 0, light = 0;
    for (int i = 0; i < N; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        if (!(x >= -2 && x < 2 && y >= -2 && y < 2)) {
            outside++;
            continue;
        }
        int c = (int)floor(x) + 2, r = (int)floor(y) + 2;
        light += (c + r) % 2;
        count[r][c]++;
    }
    CHECK(outside == 0 && light == 0, "%d outside, %d on light squares", outside, light);
    for (int r = 0; r < 4; r++)
        for (int c = (r % 2); c < 4; c += 2)
            CHECK(count[r][c] > 1250 - 165 && count[r][c] < 1250 + 165, "square (%d, %d): %d",
                  r, c, count[r][c]);
}

/* Mean b, covariance A A^T = [[1, 0.75], [0.75, 0.8125]]. se of a mean <= 1 /
 * 100 -> +-0.05; se of a (co)variance <= sqrt(2 / n) * 1 = 0.014 -> +-0.07. */
TEST(toy_linear_gaussian)
{
    real *xy = sample(CG_TOY_GAUSSIAN, 5);
    double mean[2], cov[4];
    moments(xy, mean, cov);
    const double *A = cg_toy_gaussian_A, *b = cg_toy_gaussian_b;
    double want[4] = {A[0] * A[0] + A[1] * A[1], A[0] * A[2] + A[1] * A[3], 0,
                      A[2] * A[2] + A[3] * A[3]};
    CHECK_NEAR(want[0], 1.0, 1e-12);
    CHECK_NEAR(want[1], 0.75, 1e-12);
    CHECK_NEAR(want[3], 0.8125, 1e-12);
    CHECK(fabs(mean[0] - b[0]) < 0.05 && fabs(mean[1] - b[1]) < 0.05, "mean %.4f %.4f",
          mean[0], mean[1]);
    CHECK(fabs(cov[0] - want[0]) < 0.07 && fabs(cov[1] - want[1]) < 0.07 &&
          fabs(cov[3] - want[3]) < 0.07, "cov %.4f %.4f %.4f", cov[0], cov[1], cov[3]);
}

/* Every point is one of the six, each 1/6 of the time: sd 37 -> +-186. */
TEST(toy_notebook_points)
{
    real *xy = sample(CG_TOY_NOTEBOOK, 6);
    int count[6] = {0}, other = 0;
    for (int i = 0; i < N; i++) {
        int k = 0;
        while (k < 6 && !(xy[2 * i] == (real)cg_gaussian_notebook_points[2 * k] &&
                          xy[2 * i + 1] == (real)cg_gaussian_notebook_points[2 * k + 1]))
            k++;
        if (k == 6)
            other++;
        else
            count[k]++;
    }
    CHECK(other == 0, "%d points not in the set", other);
    for (int k = 0; k < 6; k++)
        CHECK(count[k] > 1667 - 186 && count[k] < 1667 + 186, "point %d: %d", k, count[k]);
}
