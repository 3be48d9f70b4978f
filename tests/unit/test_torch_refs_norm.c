/*
 * test_torch_refs_norm.c: batchnorm (training and eval) and groupnorm
 * against PyTorch, from tests/ref/ (written by scripts/make_refs.py): the
 * output, the gradients of x, gamma and beta for sum(y * dy), and for
 * batchnorm the running statistics after the step.
 *
 * Cases: batchnorm on (4, 3, 5, 5), channels with different means and
 * scales, affine, momentum 0.1, eps 1e-5; training starts from running stats
 * (0, 1) and checks them after the update (variance unbiased); eval uses
 * given running stats, which must come out unchanged. groupnorm on
 * (2, 6, 5, 3) with 3 groups, affine, eps 1e-5.
 *
 * Tolerance: ||cugen - torch|| / ||torch|| < 1e-5, the per-op float32 bound
 * of the design; the references are float64 results rounded to float32, so
 * the error measured is cugen's own.
 */
#include "cugen/ops.h"
#include "harness.h"
#include "ref.h"

#define REF_TOL 1e-5

/* cfg = (training, momentum, eps) */
static void batchnorm_ref(const char *name)
{
    ref_file rf;
    if (!REF_OPEN(&rf, name))
        return;
    int training = ref_cfg(&rf, 0) != 0;
    double momentum = ref_cfg(&rf, 1), eps = ref_cfg(&rf, 2);
    cg_tensor *x = REF_LEAF(&rf, "x"), *gamma = REF_LEAF(&rf, "gamma");
    cg_tensor *beta = REF_LEAF(&rf, "beta");
    cg_tensor *rm = REF_CONST(&rf, "running_mean_in"), *rv = REF_CONST(&rf, "running_var_in");
    REQUIRE(x && gamma && beta && rm && rv);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *y = cg_batchnorm(&ctx, x, gamma, beta, rm, rv, training, momentum, eps);
    if (REF_BACKWARD(&ctx, &rf, y)) {
        REF_CHECK_DATA(&rf, "y", y, REF_TOL);
        REF_CHECK_GRAD(&rf, "dx", x, REF_TOL);
        REF_CHECK_GRAD(&rf, "dgamma", gamma, REF_TOL);
        REF_CHECK_GRAD(&rf, "dbeta", beta, REF_TOL);
        REF_CHECK_DATA(&rf, "running_mean", rm, REF_TOL);
        REF_CHECK_DATA(&rf, "running_var", rv, REF_TOL);
    }
    cg_ctx_free(&ctx);
    ref_free(&rf);
}

TEST(torch_ref_batchnorm_train) { batchnorm_ref("batchnorm_train"); }
TEST(torch_ref_batchnorm_eval) { batchnorm_ref("batchnorm_eval"); }

/* cfg = (groups, eps) */
TEST(torch_ref_groupnorm)
{
    ref_file rf;
    REQUIRE(REF_OPEN(&rf, "groupnorm"));
    int groups = (int)ref_cfg(&rf, 0);
    double eps = ref_cfg(&rf, 1);
    cg_tensor *x = REF_LEAF(&rf, "x"), *gamma = REF_LEAF(&rf, "gamma");
    cg_tensor *beta = REF_LEAF(&rf, "beta");
    REQUIRE(x && gamma && beta);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *y = cg_groupnorm(&ctx, x, gamma, beta, groups, eps);
    if (REF_BACKWARD(&ctx, &rf, y)) {
        REF_CHECK_DATA(&rf, "y", y, REF_TOL);
        REF_CHECK_GRAD(&rf, "dx", x, REF_TOL);
        REF_CHECK_GRAD(&rf, "dgamma", gamma, REF_TOL);
        REF_CHECK_GRAD(&rf, "dbeta", beta, REF_TOL);
    }
    cg_ctx_free(&ctx);
    ref_free(&rf);
}
