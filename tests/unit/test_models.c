/*
 * test_models.c: the first two models end to end through the trainer.
 */
#include <math.h>
#include <string.h>

#include "cugen/models.h"
#include "harness.h"

TEST(model_gaussian_mle_reaches_closed_form)
{
    cg_train_opts o = {.steps = 2000, .batch = 6, .lr = 0.05, .quiet = 1};
    cg_train_result r;
    char err[256];
    REQUIRE(cg_trainer_run(&cg_kind_gaussian, NULL, &o, &r, err, sizeof err) == CG_OK, "%s",
            err);
    const cg_scalars *f = &r.final;
    double nll = cg_scalars_get(f, "final_nll"), nll_mle = cg_scalars_get(f, "mle_nll");
    printf("    nll %.7f, closed form %.7f\n", nll, nll_mle);
    CHECK(r.steps == 2000);
    /* closed-form value from numpy: 6 log 2pi + 3 log det(S) + 6 with S the biased
     * sample covariance of the six points = 18.3770645 */
    CHECK_NEAR(nll_mle, 18.3770645, 1e-6);
    /* the bound: the reached NLL agrees with the MLE's to 1e-4 */
    CHECK(fabs(nll - nll_mle) < 1e-4, "gap %.3e", nll - nll_mle);
    CHECK(nll < 23);
    static const char *const fit[5] = {"mean_x", "mean_y", "cov_xx", "cov_xy", "cov_yy"},
                             *mle[5] = {"mle_mean_x", "mle_mean_y", "mle_cov_xx",
                                        "mle_cov_xy", "mle_cov_yy"};
    for (int i = 0; i < 5; i++) {
        double a = cg_scalars_get(f, fit[i]), b = cg_scalars_get(f, mle[i]);
        CHECK(fabs(a - b) < (i < 2 ? 2e-3 : 1e-2), "%s: %g vs %g", fit[i], a, b);
    }
}

TEST(model_gaussian_rejects_too_few_points)
{
    double mean[2], cov[4], nll;
    char err[256];
    CHECK(cg_gaussian_closed_form(cg_gaussian_notebook_points, 2, mean, cov, &nll, err,
                                  sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "at least 3 points") != NULL, "%s", err);
}

TEST(model_linear_game_matches_covariance_and_mean)
{
    cg_train_opts o = {.steps = 600, .batch = 128, .lr = 0.02, .seed = 0, .quiet = 1};
    cg_train_result r;
    char err[256];
    REQUIRE(cg_trainer_run(&cg_kind_linear_game, NULL, &o, &r, err, sizeof err) == CG_OK, "%s",
            err);
    double cov_rel_err = cg_scalars_get(&r.last, "cov_rel_err"),
           mean_err = cg_scalars_get(&r.last, "mean_err");
    printf("    |WW^T - cov|/|cov| %.4f, |v - mean| %.4f, mmd2 %.5f\n", cov_rel_err, mean_err,
           cg_scalars_get(&r.final, "final_mmd2"));
    CHECK(r.steps == 600);
    /* Bounds: MMD^2 from batches of 128 resolves second moments to a few
     * percent (seeds 0-2 reach 0.020-0.053 on the covariance, 0.016-0.043 on
     * the mean); 0.1 relative on the covariance and 0.1 on the mean (data
     * spread ~1) demand convergence from the start W = I, v = 0, where both
     * errors are about 0.85. */
    CHECK(cov_rel_err < 0.1, "cov rel err %.4f", cov_rel_err);
    CHECK(mean_err < 0.1, "mean err %.4f", mean_err);
}
