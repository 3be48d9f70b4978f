/*
 * test_model_helpers.c: the small helpers the model files share:
 * cg_st_load_run (a run's file from its directory or itself),
 * cg_trainer_fail_model (a model's message as a run's failure) and
 * cg_plot_ellipse (the k-sigma ellipses of the Gaussian and GMM pictures).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/io.h"
#include "cugen/trainer.h"
#include "harness.h"

TEST(st_load_run_opens_the_file_in_a_run_directory_or_the_file_itself)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *path = th_path(dir, "w.safetensors");
    float v = 1.5f;
    cg_st_tensor t = {.name = "w", .dtype = CG_ST_F32, .ndim = 1, .shape = {1}, .data = &v,
                      .nbytes = sizeof v};
    char err[512], file[4096];
    REQUIRE(cg_st_save(path, &t, 1, NULL, 0, err, sizeof err) == CG_OK, "%s", err);
    cg_st_file f;
    /* the directory: its file of that name */
    REQUIRE(cg_st_load_run(&f, dir, "w.safetensors", file, sizeof file, err, sizeof err) ==
            CG_OK, "%s", err);
    CHECK(strcmp(file, path) == 0, "%s", file);
    CHECK(cg_st_find(&f, "w") != NULL);
    cg_st_free(&f);
    /* a file: itself, whatever the name asked */
    REQUIRE(cg_st_load_run(&f, path, "other.safetensors", file, sizeof file, err, sizeof err) ==
            CG_OK, "%s", err);
    CHECK(strcmp(file, path) == 0, "%s", file);
    cg_st_free(&f);
    /* a directory without it: cg_st_load's message, which names the file */
    CHECK(cg_st_load_run(&f, dir, "missing.safetensors", file, sizeof file, err, sizeof err) ==
          CG_ERR_IO);
    CHECK(strstr(err, "missing.safetensors: cannot open"), "%s", err);
    th_rmtree(dir);
}

TEST(trainer_fail_model_says_the_model_once)
{
    static const cg_model_kind kind = {.name = "vae"};
    char err[256];
    cg_trainer t = {.kind = &kind, .err = err, .errlen = sizeof err};
    CHECK(cg_trainer_fail_model(&t, CG_ERR_ARG, "vae: latent must be positive") == CG_ERR_ARG);
    CHECK(strcmp(err, "vae: latent must be positive") == 0, "%s", err);
    /* a message without the prefix gets it */
    CHECK(cg_trainer_fail_model(&t, CG_ERR_NOMEM, "out of memory") == CG_ERR_NOMEM);
    CHECK(strcmp(err, "vae: out of memory") == 0, "%s", err);
    /* another model's name, or the name without ": ", is the message's own */
    cg_trainer_fail_model(&t, CG_ERR_ARG, "vaex: odd");
    CHECK(strcmp(err, "vae: vaex: odd") == 0, "%s", err);
    cg_trainer_fail_model(&t, CG_ERR_ARG, "vae");
    CHECK(strcmp(err, "vae: vae") == 0, "%s", err);
}

/* Every point at Mahalanobis distance k: (x - mean)^T cov^-1 (x - mean) =
 * k^2, to 1e-5 relative (the points are real, float32 in the default
 * build: a few ulps of values near 5); the first point is mean + k L e1. */
TEST(plot_ellipse_points_lie_at_mahalanobis_distance_k)
{
    const double mean[2] = {2, -1}, cov[4] = {2.0, 0.6, 0.6, 0.5};
    const double det = cov[0] * cov[3] - cov[1] * cov[2];
    for (int k = 1; k <= 3; k++) {
        real xy[2 * 40];
        cg_plot_ellipse(xy, 40, mean, cov, k);
        for (int i = 0; i < 40; i++) {
            double dx = xy[2 * i] - mean[0], dy = xy[2 * i + 1] - mean[1];
            double m2 = (cov[3] * dx * dx - 2 * cov[1] * dx * dy + cov[0] * dy * dy) / det;
            CHECK_NEAR(m2 / (k * k), 1.0, 1e-5);
        }
        CHECK_NEAR(xy[0], mean[0] + k * sqrt(cov[0]), 1e-6);
        CHECK_NEAR(xy[1], mean[1] + k * cov[2] / sqrt(cov[0]), 1e-6);
    }
}
