/*
 * test_gauss_init.c: the Gaussian-initialised MLP generator of the "useless
 * trick" notebook: its Jacobian by the backward pass against the closed
 * form, W J J^T W^T = diag(sigma^2), the moments of its outputs against the
 * Xavier baseline's, a short GAN from that start, and the command's flags.
 */
#include <math.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/metrics.h"
#include "cugen/trainer.h"
#include "harness.h"

TEST(gauss_init_jacobian_by_backward_is_the_closed_form)
{
    cg_gauss_gen g;
    char err[256];
    REQUIRE(cg_gauss_gen_build(&g, 5, 9, 2, err, sizeof err) == CG_OK, "%s", err);
    cg_rng r;
    cg_rng_init(&r, 2, 1);
    cg_init_normal(g.fc1.weight, &r, 0, 0.7);
    cg_init_normal(g.fc1.bias, &r, 0, 0.5);
    cg_init_normal(g.fc2.weight, &r, 0, 0.7);
    cg_init_normal(g.fc2.bias, &r, 0, 0.5);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    double J[9 * 5];
    REQUIRE(cg_gauss_gen_jacobian(&ctx, &g, J) == CG_OK, "%s", ctx.errmsg);
    /* at z = 0: J = diag(1 - tanh^2(u2)) W2 diag(1 - tanh^2(b1)) W1, u2 = W2 tanh(b1) + b2 */
    double t1[9], d1[9];
    for (int j = 0; j < 9; j++) {
        t1[j] = tanh(g.fc1.bias->data[j]);
        d1[j] = 1 - t1[j] * t1[j];
    }
    double maxerr = 0, maxv = 0;
    for (int i = 0; i < 9; i++) {
        double u2 = g.fc2.bias->data[i];
        for (int j = 0; j < 9; j++)
            u2 += g.fc2.weight->data[i * 9 + j] * t1[j];
        double d2 = 1 - tanh(u2) * tanh(u2);
        for (int a = 0; a < 5; a++) {
            double want = 0;
            for (int j = 0; j < 9; j++)
                want += g.fc2.weight->data[i * 9 + j] * d1[j] * g.fc1.weight->data[j * 5 + a];
            want *= d2;
            maxerr = fmax(maxerr, fabs(J[i * 5 + a] - want));
            maxv = fmax(maxv, fabs(want));
        }
    }
    /* float forward and backward through 2 layers of 9: a few ulps of 1e-7 */
    CHECK(maxerr < 1e-6 * maxv, "max error %g of %g", maxerr, maxv);
    for (int64_t i = 0; i < g.p.n; i++)
        REQUIRE(g.p.g[i] == 0, "the Jacobian pass leaves the weight gradients zero");
    cg_ctx_free(&ctx);
    cg_gauss_gen_free(&g);
}

TEST(gauss_init_solves_for_the_target_covariance)
{
    const double mu[2] = {2, 4}, sigma[2] = {1.5, 0.8};
    cg_gauss_gen g;
    char err[256];
    REQUIRE(cg_gauss_gen_build(&g, 3, 5, 2, err, sizeof err) == CG_OK, "%s", err);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_rng r;
    cg_rng_init(&r, 0, 1);
    REQUIRE(cg_gauss_gen_init(&ctx, &g, &r, 0.25, mu, sigma, err, sizeof err) == CG_OK, "%s",
            err);
    double J[5 * 3];
    REQUIRE(cg_gauss_gen_jacobian(&ctx, &g, J) == CG_OK);
    /* M = W3 J (2 x 3); the notebook asserts M M^T == diag(sigma^2) at atol 1e-6 */
    double M[6] = {0};
    for (int o = 0; o < 2; o++)
        for (int a = 0; a < 3; a++)
            for (int j = 0; j < 5; j++)
                M[o * 3 + a] += g.fc3.weight->data[o * 5 + j] * J[j * 3 + a];
    double MMt[4] = {0};
    for (int o = 0; o < 2; o++)
        for (int p = 0; p < 2; p++)
            for (int a = 0; a < 3; a++)
                MMt[o * 2 + p] += M[o * 3 + a] * M[p * 3 + a];
    /* W3 is stored in float: relative 6e-8 per entry, so 1e-6 relative to sigma^2 */
    CHECK_NEAR(MMt[0], 2.25, 1e-6);
    CHECK_NEAR(MMt[3], 0.64, 1e-6);
    CHECK(fabs(MMt[1]) < 1e-6 && fabs(MMt[2]) < 1e-6, "off-diagonal %g %g", MMt[1], MMt[2]);
    CHECK(g.fc3.bias->data[0] == 2 && g.fc3.bias->data[1] == 4);
    /* a generator with more outputs than inputs cannot be made Gaussian this way */
    cg_gauss_gen bad;
    CHECK(cg_gauss_gen_build(&bad, 1, 5, 2, err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "outputs <= inputs"), "%s", err);
    cg_gauss_gen_free(&bad);
    cg_ctx_free(&ctx);
    cg_gauss_gen_free(&g);
}

static double cov_rel_err(const double *cov, const double *want)
{
    double num = 0, den = 0;
    for (int i = 0; i < 4; i++) {
        num += (cov[i] - want[i]) * (cov[i] - want[i]);
        den += want[i] * want[i];
    }
    return sqrt(num / den);
}

TEST(gauss_init_outputs_are_near_the_target_and_the_gan_learns)
{
    cg_train_opts o = {.steps = 200, .batch = 256, .lr = 1e-3, .seed = 0, .quiet = 1};
    cg_gauss_init_flags go = {.z_size = 4, .hidden = 64, .mu = "2,4", .sigma = "1.5,0.8",
                              .toy = "8gaussians"};
    cg_train_result res;
    char err[512];
    REQUIRE(cg_trainer_run(&cg_kind_gauss_init, &go, &o, &res, err, sizeof err) == CG_OK, "%s",
            err);
    static const char *const names[4] = {"init_cov_xx", "init_cov_xy", "init_cov_yx",
                                         "init_cov_yy"},
                             *const xnames[4] = {"xavier_cov_xx", "xavier_cov_xy",
                                                 "xavier_cov_yx", "xavier_cov_yy"};
    struct {
        double mean[2], cov[4], cov_x[4], mmd_start, mmd_end;
        int64_t steps;
    } r = {.mean = {cg_scalars_get(&res.final, "init_mean_x"),
                    cg_scalars_get(&res.final, "init_mean_y")},
           .mmd_start = cg_scalars_get(&res.final, "mmd2_start"),
           .mmd_end = cg_scalars_get(&res.final, "mmd2_end"), .steps = res.steps};
    for (int i = 0; i < 4; i++) {
        r.cov[i] = cg_scalars_get(&res.final, names[i]);
        r.cov_x[i] = cg_scalars_get(&res.final, xnames[i]);
    }
    const double want[4] = {2.25, 0, 0, 0.64};
    double eg = cov_rel_err(r.cov, want), ex = cov_rel_err(r.cov_x, want);
    printf("    covariance relative error: Gaussian init %.3f, Xavier %.3f; MMD^2 %.4f -> "
           "%.4f\n", eg, ex, r.mmd_start, r.mmd_end);
    /* mean: standard error 1.5 / sqrt(1e5) = 0.005, bound 4 of them */
    CHECK(fabs(r.mean[0] - 2) < 0.02 && fabs(r.mean[1] - 4) < 0.02, "(%g, %g)", r.mean[0],
          r.mean[1]);
    /* tanh squashes the tails: the variances come out 8-10% low (measured
     * 0.103 relative over the matrix, as the notebook remarks); Xavier's
     * output is not the target at all (measured 0.56) */
    CHECK(eg < 0.15, "Gaussian init: %.3f", eg);
    CHECK(ex > 2 * eg, "Xavier %.3f vs Gaussian init %.3f", ex, eg);
    /* 200 GAN steps on 8 Gaussians: measured 0.819 -> 0.006 */
    CHECK(r.steps == 200);
    CHECK(r.mmd_end < 0.1 * r.mmd_start, "%.4f -> %.4f", r.mmd_start, r.mmd_end);
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

TEST(cli_gauss_init_bad_flags_exit_2_with_one_line)
{
    BAD("--mu expects two numbers as a,b", "train", "gauss-init-gan", "--mu", "2");
    BAD("--mu expects two numbers as a,b", "train", "gauss-init-gan", "--mu", "2,4,5");
    BAD("--sigma expects two numbers", "train", "gauss-init-gan", "--sigma", "1,x");
    BAD("--sigma must be positive", "train", "gauss-init-gan", "--sigma", "1,-1");
    BAD("--toy expects one of", "train", "gauss-init-gan", "--toy", "spiral");
    BAD("outputs <= inputs", "train", "gauss-init-gan", "--z-size", "1");
    BAD("--mu is not a flag of this model", "train", "mlp-gan", "--mu", "1,2");
}
