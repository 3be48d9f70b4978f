/*
 * test_dcgan_wgan_cli.c: `cugen train dcgan --loss wgan-gp` end to end on
 * small fixtures: its flags' errors (one line each), the paper's defaults,
 * the loader handing out --n-critic batches a step, the logged scalars,
 * `cugen sample` of its run and checkpoint, a resume that refuses another
 * --n-critic; and the conditional critic on the GPU, on Fashion-MNIST-shaped
 * (1x32x32) and CelebA-shaped (3x64x64) data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gpu_check.h"
#include "harness.h"
#include "img_fixtures.h"

#define SMALL "--nz", "8", "--ngf", "4", "--ndf", "4", "--batch", "4", "--quiet"
#define ARCH "--image-size", "32", SMALL, "--device", "cpu"

static void check_refused(const th_run_result *r, const char *want, const char *what)
{
    CHECK(r->code != 0 && th_count_lines(r->err) == 1 && strstr(r->err, want),
          "%s: exit %d, stderr: %s", what, r->code, r->err);
    printf("    %s: %s", what, r->err);
}

TEST(dcgan_wgan_gp_flags_refuse_bad_values)
{
    th_run_result r;
    char *fx = th_mnist_fixture(24, 0, th_draw_bar, NULL);
    REQUIRE(fx);
    char *out = th_path(fx, "run");
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "1",
             "--loss", "wgan-gp", "--n-critic", "0", "--out", out);
    check_refused(&r, "--n-critic", "--n-critic 0");
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "1",
             "--loss", "wgan-gp", "--gp-lambda", "-1", "--out", out);
    check_refused(&r, "--gp-lambda", "--gp-lambda -1");
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "1",
             "--loss", "wgan-gp", "--gp-lambda", "ten", "--out", out);
    check_refused(&r, "--gp-lambda", "--gp-lambda ten");
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "1",
             "--n-critic", "3", "--out", out);
    check_refused(&r, "--n-critic", "--n-critic without wgan-gp");
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "1",
             "--loss", "hinge", "--gp-lambda", "5", "--out", out);
    check_refused(&r, "--gp-lambda", "--gp-lambda with hinge");
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "1",
             "--loss", "wgan-gp", "--spectral-norm", "--out", out);
    check_refused(&r, "--spectral-norm", "--spectral-norm with wgan-gp");
    /* 24 images, batches of 4: 7 critic batches a step do not fit */
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "1",
             "--loss", "wgan-gp", "--n-critic", "7", "--out", out);
    check_refused(&r, "7 batches of 4", "--n-critic 7 of 4 on 24 images");
    th_rmtree(fx);
}

/* 24 images, batches of 4, 2 critic steps a step: 3 steps an epoch; the
 * paper's lr; the scalars; sample from the run and from its checkpoint */
TEST(dcgan_wgan_gp_run_counts_generator_steps_and_samples)
{
    th_run_result r;
    size_t len;
    char *fx = th_mnist_fixture(24, 0, th_draw_bar, NULL);
    REQUIRE(fx);
    char *out = th_path(fx, "run");
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "4",
             "--loss", "wgan-gp", "--n-critic", "2", "--out", out);
    REQUIRE(r.code == 0, "%s", r.err);
    char *log = (char *)th_read_file(th_path(out, "metrics.jsonl"), &len);
    REQUIRE(log);
    CHECK(strstr(log, "\"loss_D\"") && strstr(log, "\"loss_G\"") && strstr(log, "\"gp\"") &&
          strstr(log, "\"wasserstein\""), "%s", log);
    /* step 4 is the first of the second epoch */
    CHECK(strstr(log, "{\"step\": 3, \"epoch\": 1") && strstr(log, "{\"step\": 4, \"epoch\": 2"),
          "%s", log);
    char *set = (char *)th_read_file(th_path(out, "settings.json"), &len);
    REQUIRE(set);
    CHECK(strstr(set, "\"lr\": \"0.0001\""), "the paper's lr: %s", set);
    th_run_cugen(&r, (const char *const[]){"sample", out, "--n", "8", "--out",
                                           th_path(fx, "s.png"), NULL});
    CHECK(r.code == 0 && strstr(r.out, "8 samples"), "exit %d: %s%s", r.code, r.out, r.err);
    th_run_cugen(&r, (const char *const[]){"sample", th_path(out, "checkpoint.safetensors"),
                                           "--n", "8", "--out", th_path(fx, "c.png"), NULL});
    CHECK(r.code == 0 && strstr(r.out, "8 samples"), "checkpoint: exit %d: %s%s", r.code, r.out,
          r.err);
    th_run_cugen(&r, (const char *const[]){"train", "dcgan", "--data", "mnist", "--data-dir", fx,
                                           ARCH, "--steps", "6", "--loss", "wgan-gp",
                                           "--n-critic", "3", "--out", out, "--resume", NULL});
    check_refused(&r, "--n-critic", "--resume with another --n-critic");
    /* an explicit --lr wins over the paper's */
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "1",
             "--loss", "wgan-gp", "--n-critic", "2", "--lr", "5e-4", "--out",
             th_path(fx, "lr"));
    REQUIRE(r.code == 0, "%s", r.err);
    set = (char *)th_read_file(th_path(th_path(fx, "lr"), "settings.json"), &len);
    CHECK(set && strstr(set, "\"lr\": \"0.0005"), "%s", set ? set : "no settings.json");
    th_rmtree(fx);
}

TEST(gpu_dcgan_wgan_gp_trains_on_the_gpu)
{
    GPU_OR_SKIP();
    th_run_result r;
    char *fx = th_mnist_fixture(24, 0, th_draw_bar, NULL);
    char *runs = th_tmpdir();
    REQUIRE(fx && runs);
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, "--image-size", "32",
             SMALL, "--device", "cuda", "--steps", "2", "--loss", "wgan-gp", "--n-critic", "2",
             "--conditional", "--out", th_path(runs, "fm"));
    CHECK(r.code == 0, "1x32x32: %s", r.err);
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, "--image-size", "64",
             SMALL, "--device", "cuda", "--steps", "1", "--loss", "wgan-gp", "--n-critic", "2",
             "--spectral-norm-g", "--out", th_path(runs, "fm64"));
    CHECK(r.code == 0, "1x64x64, spectral norm on G: %s", r.err);
    th_rmtree(runs);
    th_rmtree(fx);
}
