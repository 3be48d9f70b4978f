/*
 * test_dcgan_variants_cli.c: `cugen train dcgan` with --loss, --spectral-norm,
 * --spectral-norm-g and --conditional, and `cugen sample --class`, end to end
 * on small fixtures: the flags' errors (one line each), the conditional
 * grid and classes, a conditional run on an ImageFolder of class folders,
 * a resume that refuses another loss; and every flag at once on the GPU, on
 * Fashion-MNIST-shaped (1x32x32) and CelebA-shaped (3x64x64) data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gpu_check.h"
#include "harness.h"
#include "img_fixtures.h"

#define SMALL "--nz", "8", "--ngf", "4", "--ndf", "4", "--batch", "8", "--quiet"
#define ARCH "--image-size", "32", SMALL, "--device", "cpu"

static int exists(const char *dir, const char *name)
{
    struct stat sb;
    return stat(th_path(dir, name), &sb) == 0 && sb.st_size > 0;
}

/* an error: exit 2 (a usage error) or 1, one line naming what is wrong */
static void check_refused(const th_run_result *r, const char *want, const char *what)
{
    CHECK(r->code != 0 && th_count_lines(r->err) == 1 && strstr(r->err, want),
          "%s: exit %d, stderr: %s", what, r->code, r->err);
    printf("    %s: %s", what, r->err);
}

TEST(dcgan_variant_flags_refuse_bad_values)
{
    th_run_result r;
    char *fx = th_mnist_fixture(24, 0, th_draw_bar, NULL);
    REQUIRE(fx);
    char *out = th_path(fx, "run");
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "1",
             "--loss", "wgan", "--out", out);
    check_refused(&r, "wgan", "--loss wgan");
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "1",
             "--embed-dim", "5", "--out", out);
    check_refused(&r, "--embed-dim", "--embed-dim without --conditional");
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "1",
             "--conditional", "--embed-dim", "0", "--out", out);
    check_refused(&r, "--embed-dim", "--embed-dim 0");

    /* an image folder of loose images has no labels */
    char img_dir[64];
    REQUIRE(fx_tmpdir(img_dir, sizeof img_dir));
    uint8_t *img = fx_solid(3, 16, 16, 90, 20, 200);
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d.jpg", i);
        REQUIRE(fx_jpeg(img_dir, name, img, 3, 16, 16));
    }
    free(img);
    NEED_BIN(&r, "train", "dcgan", "--data", "imagefolder", "--data-dir", img_dir, ARCH,
             "--steps", "1", "--conditional", "--out", out);
    check_refused(&r, "--conditional needs labels", "--conditional on unlabelled images");
    th_rmtree(img_dir);

    /* --class: an unconditional run has none; a conditional one has 10 */
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "1",
             "--out", out);
    REQUIRE(r.code == 0, "%s", r.err);
    NEED_BIN(&r, "sample", out, "--class", "1", "--out", th_path(fx, "s.png"));
    check_refused(&r, "--class is for conditional generators", "--class, unconditional");
    th_rmtree(fx);
}

/* A conditional run on MNIST's layout (10 labels): the training grid and
 * sample's default grid have a row of 8 per class; --class gives --n; a
 * resume with another --loss or without --spectral-norm is refused. */
TEST(dcgan_conditional_hinge_sn_run_samples_by_class)
{
    th_run_result r;
    char *fx = th_mnist_fixture(24, 0, th_draw_bar, NULL);
    REQUIRE(fx);
    char *out = th_path(fx, "run");
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, ARCH, "--steps", "2",
             "--loss", "hinge", "--spectral-norm", "--spectral-norm-g", "--conditional",
             "--out", out);
    REQUIRE(r.code == 0, "%s", r.err);
    CHECK(exists(out, "samples.png") && exists(out, "G.safetensors"));
    th_run_cugen(&r, (const char *const[]){"sample", out, "--out", th_path(fx, "grid.png"),
                                           NULL});
    CHECK(r.code == 0 && strstr(r.out, "80 samples") && strstr(r.out, "a row of 8 per class"),
          "exit %d: %s%s", r.code, r.out, r.err);
    th_run_cugen(&r, (const char *const[]){"sample", out, "--class", "9", "--n", "16", "--out",
                                           th_path(fx, "nine.png"), NULL});
    CHECK(r.code == 0 && strstr(r.out, "16 samples") && strstr(r.out, "class 9"),
          "exit %d: %s%s", r.code, r.out, r.err);
    th_run_cugen(&r, (const char *const[]){"sample", out, "--class", "10", NULL});
    check_refused(&r, "classes 0 to 9", "--class 10 of 10 classes");
    th_run_cugen(&r, (const char *const[]){"train", "dcgan", "--data", "mnist", "--data-dir", fx,
                                           ARCH, "--steps", "4", "--loss", "bce",
                                           "--spectral-norm", "--spectral-norm-g",
                                           "--conditional", "--out", out, "--resume", NULL});
    check_refused(&r, "--loss hinge", "--resume with another --loss");
    th_run_cugen(&r, (const char *const[]){"train", "dcgan", "--data", "mnist", "--data-dir", fx,
                                           ARCH, "--steps", "4", "--loss", "hinge",
                                           "--spectral-norm", "--spectral-norm-g",
                                           "--conditional", "--out", out, "--resume", NULL});
    CHECK(r.code == 0, "resume with the same flags: %s", r.err);
    th_rmtree(fx);
}

/* torchvision's ImageFolder layout: two class folders give a conditional
 * run of two classes (its grid: two rows) */
TEST(dcgan_conditional_on_imagefolder_classes)
{
    th_run_result r;
    char dir[64], sub[160];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    for (int k = 0; k < 2; k++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, k ? "red" : "blue");
        REQUIRE(mkdir(sub, 0755) == 0);
        uint8_t *img = fx_solid(3, 16, 16, k ? 220 : 10, 30, k ? 10 : 220);
        for (int i = 0; i < 8; i++) {
            char name[16];
            snprintf(name, sizeof name, "%d.jpg", i);
            REQUIRE(fx_jpeg(sub, name, img, 3, 16, 16));
        }
        free(img);
    }
    char *runs = th_tmpdir();   /* not inside the data folder: it would be a class */
    REQUIRE(runs);
    char *out = th_path(runs, "run");
    NEED_BIN(&r, "train", "dcgan", "--data", "imagefolder", "--data-dir", dir, ARCH, "--steps",
             "2", "--conditional", "--out", out);
    REQUIRE(r.code == 0, "%s", r.err);
    th_run_cugen(&r, (const char *const[]){"sample", out, "--out", th_path(runs, "g.png"),
                                           NULL});
    CHECK(r.code == 0 && strstr(r.out, "16 samples") && strstr(r.out, "(2 classes)"),
          "exit %d: %s%s", r.code, r.out, r.err);
    th_rmtree(runs);
    th_rmtree(dir);
}

/* A folder of n_class class folders of 8 solid-colour 3 x side x side JPEGs */
static char *class_folders(int n_class, int side)
{
    static char dir[64];
    if (!fx_tmpdir(dir, sizeof dir))
        return NULL;
    for (int k = 0; k < n_class; k++) {
        char sub[160];
        snprintf(sub, sizeof sub, "%s/class%d", dir, k);
        if (mkdir(sub, 0755) != 0)
            return NULL;
        uint8_t *img = fx_solid(3, side, side, 40 * k, 200 - 30 * k, 90);
        for (int i = 0; i < 8; i++) {
            char name[16];
            snprintf(name, sizeof name, "%d.jpg", i);
            if (!fx_jpeg(sub, name, img, 3, side, side)) {
                free(img);
                return NULL;
            }
        }
        free(img);
    }
    return dir;
}

TEST(gpu_dcgan_variants_train_on_the_gpu)
{
    GPU_OR_SKIP();
    th_run_result r;
    char *fx = th_mnist_fixture(24, 0, th_draw_bar, NULL);
    char *runs = th_tmpdir();
    REQUIRE(fx && runs);
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, "--image-size", "32",
             SMALL, "--device", "cuda", "--steps", "3", "--loss", "hinge", "--spectral-norm",
             "--spectral-norm-g", "--conditional", "--out", th_path(runs, "fm"));
    CHECK(r.code == 0 && exists(th_path(runs, "fm"), "samples.png"), "1x32x32: %s", r.err);
    char *celeb = class_folders(3, 64);
    REQUIRE(celeb);
    NEED_BIN(&r, "train", "dcgan", "--data", "imagefolder", "--data-dir", celeb,
             "--image-size", "64", SMALL, "--device", "cuda", "--steps", "3", "--loss", "hinge",
             "--spectral-norm", "--conditional", "--out", th_path(runs, "celeb"));
    CHECK(r.code == 0 && exists(th_path(runs, "celeb"), "samples.png"), "3x64x64: %s", r.err);
    NEED_BIN(&r, "train", "dcgan", "--data", "imagefolder", "--data-dir", celeb,
             "--image-size", "64", SMALL, "--device", "cuda", "--steps", "2",
             "--spectral-norm-g", "--out", th_path(runs, "celeb-g"));
    CHECK(r.code == 0, "3x64x64, spectral norm on G, BCE: %s", r.err);
    th_rmtree(celeb);
    th_rmtree(runs);
    th_rmtree(fx);
}
