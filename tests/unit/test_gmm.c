/*
 * test_gmm.c: Gaussian mixtures by EM and the box model: monotone
 * log-likelihood, the closed form at k = 1, recovery of a known mixture, a
 * normalised density, the sampler's moments, and `cugen train gmm`.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/classic.h"
#include "harness.h"

#define N_DISC 500

TEST(gmm_loglik_never_decreases)
{
    double xy[2 * N_DISC];
    for (int seed = 0; seed < 3; seed++) {
        cg_rng r;
        cg_rng_init(&r, (uint64_t)seed, 1);
        cg_noisy_disc(&r, xy, N_DISC);
        for (int k = 1; k <= 6; k++) {
            cg_gmm g;
            char err[256];
            cg_rng_init(&r, (uint64_t)seed, 3);
            REQUIRE(cg_gmm_init(&g, k, xy, N_DISC, &r, err, sizeof err) == CG_OK, "%s", err);
            double prev = -INFINITY, ll;
            for (int it = 0; it < 150; it++) {
                REQUIRE(cg_gmm_em_step(&g, xy, N_DISC, &ll, err, sizeof err) == CG_OK,
                        "seed %d k %d it %d: %s", seed, k, it, err);
                /* ll sums 500 terms of size ~6 in double: its rounding error is below
                 * 500 * 2^-53 * 3000 = 1.7e-10 nats; a real decrease is far larger */
                REQUIRE(ll >= prev - 1e-9, "seed %d k %d: iteration %d lowered the "
                        "log-likelihood from %.12f to %.12f", seed, k, it, prev, ll);
                prev = ll;
            }
            double w = 0;
            for (int j = 0; j < k; j++)
                w += g.w[j];
            CHECK_NEAR(w, 1.0, 1e-12);
        }
    }
}

TEST(gmm_one_component_is_the_closed_form)
{
    double xy[2 * N_DISC];
    cg_rng r;
    cg_rng_init(&r, 7, 1);
    cg_noisy_disc(&r, xy, N_DISC);
    cg_gmm g;
    char err[256];
    REQUIRE(cg_gmm_init(&g, 1, xy, N_DISC, &r, err, sizeof err) == CG_OK, "%s", err);
    double ll;
    REQUIRE(cg_gmm_em_step(&g, xy, N_DISC, &ll, err, sizeof err) == CG_OK, "%s", err);
    double m0 = 0, m1 = 0, c00 = 0, c01 = 0, c11 = 0;
    for (int i = 0; i < N_DISC; i++) {
        m0 += xy[2 * i] / N_DISC;
        m1 += xy[2 * i + 1] / N_DISC;
    }
    for (int i = 0; i < N_DISC; i++) {
        double a = xy[2 * i] - m0, b = xy[2 * i + 1] - m1;
        c00 += a * a / N_DISC;
        c01 += a * b / N_DISC;
        c11 += b * b / N_DISC;
    }
    CHECK_NEAR(g.mu[0][0], m0, 1e-12);
    CHECK_NEAR(g.mu[0][1], m1, 1e-12);
    CHECK_NEAR(g.cov[0][0], c00, 1e-10);
    CHECK_NEAR(g.cov[0][1], c01, 1e-10);
    CHECK_NEAR(g.cov[0][3], c11, 1e-10);
    /* the Gaussian MLE's log-likelihood: -n log 2pi - n/2 log det S - n */
    double want = -N_DISC * log(2 * M_PI) - 0.5 * N_DISC * log(c00 * c11 - c01 * c01) - N_DISC;
    CHECK_NEAR(cg_gmm_loglik(&g, xy, N_DISC), want, 1e-10);
}

/* A known mixture: 0.3 N((-4, 0), I) + 0.7 N((3, 2), [[2, 0.8], [0.8, 1]]). */
static const cg_gmm known = {
    .k = 2, .w = {0.3, 0.7}, .mu = {{-4, 0}, {3, 2}}, .cov = {{1, 0, 0, 1}, {2, 0.8, 0.8, 1}}};

TEST(gmm_recovers_a_known_mixture)
{
    enum { N = 4000 };
    static double xy[2 * N];
    cg_rng r;
    cg_rng_init(&r, 11, 0);
    cg_gmm_sample(&known, &r, xy, N);
    cg_gmm g;
    char err[256];
    cg_rng_init(&r, 11, 3);
    REQUIRE(cg_gmm_init(&g, 2, xy, N, &r, err, sizeof err) == CG_OK, "%s", err);
    double ll;
    for (int it = 0; it < 100; it++)
        REQUIRE(cg_gmm_em_step(&g, xy, N, &ll, err, sizeof err) == CG_OK, "%s", err);
    int a = g.mu[0][0] < g.mu[1][0] ? 0 : 1, b = 1 - a;  /* component order is arbitrary */
    /* standard errors at n = 4000: weight sqrt(.21 / 4000) = 0.007, means
     * sqrt(var / n_j) <= 0.03, covariance entries ~ 0.03; bounds are 4-5 of them */
    CHECK_NEAR(g.w[a], 0.3, 0.03);
    CHECK(fabs(g.mu[a][0] + 4) < 0.12 && fabs(g.mu[a][1]) < 0.12, "(%g, %g)", g.mu[a][0],
          g.mu[a][1]);
    CHECK(fabs(g.mu[b][0] - 3) < 0.12 && fabs(g.mu[b][1] - 2) < 0.12, "(%g, %g)", g.mu[b][0],
          g.mu[b][1]);
    for (int e = 0; e < 4; e++)
        CHECK(fabs(g.cov[b][e] - known.cov[1][e]) < 0.15, "cov[%d] %g vs %g", e, g.cov[b][e],
              known.cov[1][e]);
    /* the fit's likelihood is at least the truth's (EM maximises it) */
    CHECK(cg_gmm_loglik(&g, xy, N) >= cg_gmm_loglik(&known, xy, N));
}

TEST(gmm_density_integrates_to_one_and_samples_have_its_moments)
{
    /* Riemann sum over [-12, 12]^2 at step 0.02: the known mixture's mass outside
     * is < 1e-20 and the midpoint rule's error on a smooth density ~ h^2 = 4e-4
     * times the curvature (measured error 1e-9) */
    double sum = 0, h = 0.02;
    for (double x = -12 + h / 2; x < 12; x += h)
        for (double y = -12 + h / 2; y < 12; y += h)
            sum += exp(cg_gmm_logpdf(&known, (double[]){x, y}));
    CHECK_NEAR(sum * h * h, 1.0, 1e-6);

    enum { N = 200000 };
    static double xy[2 * N];
    cg_rng r;
    cg_rng_init(&r, 5, 4);
    cg_gmm_sample(&known, &r, xy, N);
    double m[2] = {0, 0}, c[3] = {0, 0, 0};
    for (int i = 0; i < N; i++) {
        m[0] += xy[2 * i] / N;
        m[1] += xy[2 * i + 1] / N;
    }
    for (int i = 0; i < N; i++) {
        double a = xy[2 * i] - m[0], b = xy[2 * i + 1] - m[1];
        c[0] += a * a / N;
        c[1] += a * b / N;
        c[2] += b * b / N;
    }
    /* mixture moments: mean sum w mu = (0.9, 1.4); covariance sum w (S + mu mu^T)
     * - mean mean^T = [[11.99, 3.50], [3.50, 1.84]]; standard errors at n = 2e5:
     * mean ~ sqrt(12 / 2e5) = 0.008, covariance ~ 0.05; bounds 4 of them */
    CHECK_NEAR(m[0], 0.9, 0.03);
    CHECK_NEAR(m[1], 1.4, 0.03);
    CHECK(fabs(c[0] - 11.99) < 0.2 && fabs(c[1] - 3.50) < 0.1 && fabs(c[2] - 1.84) < 0.03,
          "cov [[%g, %g], [., %g]]", c[0], c[1], c[2]);
}

TEST(gmm_box_model_likelihood_and_samples)
{
    double xy[] = {0, 0, 2, 1, 1, 3, 0.5, 0.5};
    cg_box b;
    cg_box_fit(&b, xy, 4);
    CHECK(b.lo[0] == 0 && b.hi[0] == 2 && b.lo[1] == 0 && b.hi[1] == 3);
    int out;
    CHECK_NEAR(cg_box_loglik(&b, xy, 4, &out), -4 * log(6.0), 1e-14);
    CHECK(out == 0);
    double test[] = {1, 1, 3, 1, -1, -1};
    CHECK(cg_box_loglik(&b, test, 3, &out) == -INFINITY && out == 2, "%d outside", out);
    double s[2000];
    cg_rng r;
    cg_rng_init(&r, 1, 5);
    cg_box_sample(&b, &r, s, 1000);
    CHECK(cg_box_loglik(&b, s, 1000, &out) > -INFINITY && out == 0);
}

TEST(gmm_rejects_bad_k)
{
    double xy[20] = {0};
    cg_gmm g;
    char err[256];
    cg_rng r;
    cg_rng_init(&r, 1, 1);
    CHECK(cg_gmm_init(&g, 0, xy, 10, &r, err, sizeof err) == CG_ERR_ARG);
    CHECK(cg_gmm_init(&g, 11, xy, 10, &r, err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "from 1 to 10"), "%s", err);
    /* ten identical points: the covariance is singular, a clear error, not NaN */
    REQUIRE(cg_gmm_init(&g, 1, xy, 10, &r, err, sizeof err) == CG_OK);
    double ll;
    g.cov[0][0] = g.cov[0][3] = 1;
    CHECK(cg_gmm_em_step(&g, xy, 10, &ll, err, sizeof err) == CG_ERR_NUMERIC &&
          strstr(err, "collapsed"), "%s", err);
}

/* One component: the first M step reaches the closed form, the next
 * iteration gains nothing, and the run ends there as done (the trainer's
 * stop), well before --steps; the scores are those of the README's table. */
TEST(gmm_run_stops_when_em_converges)
{
    cg_train_opts o = {.steps = 50, .batch = 500, .lr = 1, .seed = 0, .quiet = 1};
    int64_t k = 1;  /* the kind's settings: its one flag */
    cg_train_result r;
    char err[512];
    REQUIRE(cg_trainer_run(&cg_kind_gmm, &k, &o, &r, err, sizeof err) == CG_OK, "%s", err);
    CHECK(r.steps >= 2 && r.steps < 10, "%lld steps", (long long)r.steps);
    CHECK(cg_scalars_get(&r.final, "converged") == 1);
    CHECK(cg_scalars_get(&r.final, "iterations") == (double)r.steps);
    CHECK_NEAR(cg_scalars_get(&r.final, "loglik_train"), -6.1058, 5e-5);
    CHECK_NEAR(cg_scalars_get(&r.final, "loglik_test"), -6.1140, 5e-5);
}

static void expect_usage_error(const char *want, const char *const *args)
{
    th_run_result r;
    if (!th_run_cugen(&r, args)) {
        th_skip("CUGEN_BIN not set (run through make test)");
        return;
    }
    CHECK(r.code == 2, "exit code %d for %s %s", r.code, args[0], args[1]);
    CHECK(th_count_lines(r.err) == 1, "stderr should be one line, got: %s", r.err);
    CHECK(strstr(r.err, want) != NULL, "stderr lacks '%s': %s", want, r.err);
}
#define BAD(want, ...) expect_usage_error((want), (const char *const[]){__VA_ARGS__, NULL})

TEST(cli_gmm_run_and_bad_flags)
{
    BAD("--k must be from 1 to 64", "train", "gmm", "--k", "65");
    BAD("--k expects an integer from 1", "train", "gmm", "--k", "0");
    BAD("--k is not a flag of this model", "train", "dcgan", "--k", "3");
    BAD("this model keeps no checkpoints", "train", "gmm", "--resume", "--out", "/tmp/x");
    th_run_result r;
    char *dir = th_tmpdir();
    REQUIRE(dir);
    if (!th_run_cugen(&r, (const char *const[]){"train", "gmm", "--k", "4", "--quiet",
                                                "--out", dir, NULL}))
        SKIP("CUGEN_BIN not set (run through make test)");
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(strstr(r.out, "Gaussian mixture, 4 components") && strstr(r.out, "box model"), "%s",
          r.out);
    const char *files[] = {"gmm.png", "box.png", "metrics.jsonl", "result.json"};
    for (int i = 0; i < 4; i++) {
        struct stat sb;
        CHECK(stat(th_path(dir, files[i]), &sb) == 0 && sb.st_size > 0, "no %s", files[i]);
    }
    size_t len;
    char *res = (char *)th_read_file(th_path(dir, "result.json"), &len);
    CHECK(res && strstr(res, "\"loglik_test\": -") && strstr(res, "\"k\": 4"), "%s", res);
    /* without --quiet: one line per iteration, log-likelihoods never falling */
    REQUIRE(th_run_cugen(&r, (const char *const[]){"train", "gmm", "--steps", "6", "--no-out", NULL}));
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    int lines = 0;
    double prev = -INFINITY;
    for (const char *p = strstr(r.out, "  iteration "); p; p = strstr(p + 1, "  iteration ")) {
        const char *q = strstr(p, "log-likelihood ");
        REQUIRE(q);
        double ll = strtod(q + 15, NULL);
        CHECK(ll >= prev - 1e-6, "line %d: %.6f after %.6f (printed to 6 decimals)", lines + 1,
              ll, prev);
        prev = ll;
        lines++;
    }
    CHECK(lines == 6, "%d iteration lines: %s", lines, r.out);
    th_rmtree(dir);
}
