/*
 * test_dcgan_cli.c: `cugen train dcgan` and `cugen sample` end to end on a
 * small MNIST-format fixture: the run directory's files, a kill at any
 * moment and a resume that reproduces the uninterrupted run bit for bit,
 * SIGTERM, a diverging step, and the errors of bad flags and files.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cugen/data.h"
#include "cugen/io.h"
#include "gpu_check.h"
#include "harness.h"

#define FX_COUNT 48

/* FX_COUNT 28x28 images of a bright bar on a dark ground, at a place and
 * width that vary per image, in MNIST's layout */
static char *fixture(void)
{
    return th_mnist_fixture(FX_COUNT, 0, th_draw_bar, NULL);
}

/* the small run every test trains */
#define ARCH "--data", "mnist", "--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", \
             "4", "--batch", "8", "--quiet"
/* on the CPU also where a GPU is (auto would take it): these tests are about
 * the oracle, and several compare weights bit for bit; the GPU test names
 * its device */
#define SMALL ARCH, "--device", "cpu"

static int exists(const char *dir, const char *name)
{
    struct stat sb;
    return stat(th_path(dir, name), &sb) == 0 && sb.st_size > 0;
}

/* metrics.jsonl reduced to what a step computed: each line up to its
 * timing fields */
static char *losses(const char *dir)
{
    size_t len;
    char *s = (char *)th_read_file(th_path(dir, "metrics.jsonl"), &len);
    if (!s)
        return NULL;
    char *out = th_alloc(len + 1), *o = out;
    for (char *line = s; *line;) {
        char *end = strchr(line, '\n');
        size_t k = end ? (size_t)(end - line) : strlen(line);
        char *cut = strstr(line, ", \"steps_per_s\"");
        if (!cut || cut > line + k)
            cut = line + k;
        if (strstr(line, "\"loss_D\"") && strstr(line, "\"loss_D\"") < line + k) {
            memcpy(o, line, (size_t)(cut - line));
            o += cut - line;
            *o++ = '\n';
        }
        line += k + (end ? 1 : 0);
    }
    *o = '\0';
    return out;
}

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    unsigned char *x = th_read_file(a, &la), *y = th_read_file(b, &lb);
    return x && y && la == lb && memcmp(x, y, la) == 0;
}

TEST(cli_dcgan_writes_the_run_directory_and_samples)
{
    th_run_result r;
    char *fx = fixture(), *run = th_tmpdir();
    REQUIRE(fx && run);
    /* 48 images, batch 8: 6 steps per epoch */
    NEED_BIN(&r, "train", "dcgan", SMALL, "--data-dir", fx, "--epochs", "2", "--out", run);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    const char *files[] = {"checkpoint.safetensors", "G.safetensors", "D.safetensors",
                           "epoch_001.png", "epoch_002.png", "samples.png", "real.png",
                           "metrics.jsonl", "result.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        CHECK(exists(run, files[i]), "no %s in the run directory", files[i]);
    CHECK(strstr(r.out, "12 steps (2 epochs complete)"), "%s", r.out);
    char *l = losses(run);
    REQUIRE(l);
    CHECK(th_count_lines(l) == 12, "%d metric lines with losses", th_count_lines(l));
    CHECK(strstr(l, "\"D_x\"") && strstr(l, "\"D_G_z1\"") && strstr(l, "\"D_G_z2\"") &&
          strstr(l, "\"loss_G\""), "%s", l);
    cg_image8 im;
    char err[256];
    REQUIRE(cg_png_read(th_path(run, "samples.png"), &im, err, sizeof err) == CG_OK, "%s", err);
    /* 64 images of 32x32 at 8 per row with 2 pixels of padding */
    CHECK(im.width == 8 * 34 + 2 && im.height == 8 * 34 + 2 && im.channels == 1,
          "%dx%dx%d", im.width, im.height, im.channels);
    cg_image8_free(&im);

    /* sampling from the directory, the checkpoint and G alone */
    const char *srcs[] = {run, th_path(run, "checkpoint.safetensors"),
                          th_path(run, "G.safetensors")};
    for (int i = 0; i < 3; i++) {
        const char *png = th_path(run, i == 0 ? "s0.png" : i == 1 ? "s1.png" : "s2.png");
        NEED_BIN(&r, "sample", srcs[i], "--n", "16", "--out", png, "--seed", "3");
        CHECK(r.code == 0, "sample %s: exit %d: %s", srcs[i], r.code, r.err);
        CHECK(strstr(r.out, "nz 8, ngf 4, 1 channel"), "%s", r.out);
    }
    CHECK(same_file(th_path(run, "s0.png"), th_path(run, "s2.png")) &&
          same_file(th_path(run, "s1.png"), th_path(run, "s2.png")),
          "the same generator from three sources gave different samples");
    REQUIRE(cg_png_read(th_path(run, "s0.png"), &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.width == 8 * 34 + 2 && im.height == 2 * 34 + 2, "%dx%d", im.width, im.height);
    cg_image8_free(&im);
    NEED_BIN(&r, "sample", run, "--n", "24", "--interpolate", "--bn", "running", "--out",
             th_path(run, "lines.png"));
    CHECK(r.code == 0 && strstr(r.out, "straight latent lines"), "exit %d: %s %s", r.code,
          r.out, r.err);
    th_rmtree(fx);
    th_rmtree(run);
}

static void expect_error(int code, const char *want, const char *const *args)
{
    th_run_result r;
    if (!th_run_cugen(&r, args)) {
        th_skip("CUGEN_BIN not set (run through make test)");
        return;
    }
    CHECK(r.code == code, "exit %d (want %d) for %s %s: %s", r.code, code, args[0], args[1],
          r.err);
    CHECK(th_count_lines(r.err) == 1, "stderr should be one line, got: %s", r.err);
    CHECK(strstr(r.err, want) != NULL, "stderr lacks '%s': %s", want, r.err);
}
#define FAILS(code, want, ...) expect_error((code), (want), (const char *const[]){__VA_ARGS__, NULL})

TEST(cli_dcgan_bad_flags_and_files)
{
    char *fx = fixture(), *dir = th_tmpdir();
    REQUIRE(fx && dir);
    FAILS(2, "--ngf is not a flag of this model", "train", "gaussian", "--ngf", "8");
    FAILS(2, "--image-size must be 32 or 64", "train", "dcgan", "--image-size", "48");
    FAILS(2, "--bn expects one of", "train", "dcgan", "--bn", "moving");
    FAILS(2, "--data expects one of", "train", "dcgan", "--data", "cifar");
    FAILS(2, "--ngf expects an integer", "train", "dcgan", "--ngf", "0");
    FAILS(2, "--tf32 and --deterministic exclude each other", "train", "dcgan", "--tf32",
          "--deterministic");
    FAILS(2, "--tf32 is not a flag of this model", "train", "gaussian", "--tf32");
    FAILS(1, "/nonexistent", "train", "dcgan", "--data", "celeba", "--data-dir",
          "/nonexistent/celeba.cgpk", "--steps", "1");
    FAILS(2, "mnist: needs --data-dir", "train", "dcgan", "--data", "mnist", "--steps", "1");
    FAILS(2, "larger than the data set", "train", "dcgan", "--data", "mnist", "--data-dir", fx,
          "--image-size", "32", "--batch", "64");
    FAILS(2, "no checkpoint in", "train", "dcgan", SMALL, "--data-dir", fx, "--out", dir,
          "--resume");
    FAILS(2, "give one checkpoint", "sample");
    FAILS(2, "multiple of 8", "sample", dir, "--interpolate", "--n", "10");
    FAILS(1, "G.safetensors", "sample", dir);
    /* files that are not a generator */
    const char *junk = th_path(dir, "junk.safetensors");
    REQUIRE(th_write_file(junk, "not a safetensors file", 22));
    FAILS(1, "junk.safetensors", "sample", junk);
    th_rmtree(fx);
    th_rmtree(dir);
}

/* cugen bench step dcgan: the model's flags as cugen train takes them, the
 * bench's own, and the other names of those refused with the right one */
TEST(cli_bench_step_dcgan_takes_the_train_flags)
{
    th_run_result r;
    const char *const run[] = {"bench", "step", "dcgan", "--image-size", "32", "--ngf", "4",
                               "--ndf", "4", "--nz", "8", "--batch", "4", "--warmup", "0",
                               "--repeat", "3", "--no-torch", NULL};
    if (!th_run_cugen(&r, run)) {
        th_skip("CUGEN_BIN not set (run through make test)");
        return;
    }
    CHECK(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(strstr(r.out, "1x32x32, nz 8, ngf 4, ndf 4") && strstr(r.out, "batch 4") &&
          strstr(r.out, "median of 3 steps after 1 warm-up"), "%s", r.out);
    CHECK(strstr(r.out, "cugen:   step_ms ") && strstr(r.out, " precision fp32 "), "%s", r.out);
    FAILS(2, "the timed runs are --repeat", "bench", "step", "dcgan", "--repeats", "3");
    FAILS(2, "runs unless --no-torch", "bench", "step", "dcgan", "--torch");
    FAILS(2, "--precision tf32", "bench", "step", "dcgan", "--tf32");
    FAILS(2, "the timed steps are --repeat", "bench", "step", "dcgan", "--steps", "3");
    FAILS(2, "--ch is not a flag of this model", "bench", "step", "dcgan", "--ch", "8");
    FAILS(2, "--ngf expects an integer", "bench", "step", "dcgan", "--ngf", "0");
    FAILS(2, "--precision tf32 is for --device cuda", "bench", "step", "dcgan", "--precision",
          "tf32");
    FAILS(2, "1 or 3 channels", "bench", "step", "dcgan", "--nc", "2");
}

/* The CelebA path: a packed file of RGB 64x64 images (what `cugen prepare
 * celeba` writes) through the 64x64 networks (5 convolutions each). */
TEST(cli_dcgan_trains_64x64_rgb_from_a_packed_file)
{
    th_run_result r;
    char *dir = th_tmpdir();
    REQUIRE(dir);
    enum { N = 24, S = 64 };
    uint8_t *px = th_alloc((size_t)N * 3 * S * S);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < S * S; k++)
                px[((size_t)i * 3 + c) * S * S + k] =
                    (uint8_t)((k / S > 16 + i && k / S < 48 ? 200 : 30) + 20 * c);
    cg_dataset d = {.count = N, .channels = 3, .height = S, .width = S, .pixels = px};
    snprintf(d.name, sizeof d.name, "faces-fixture");
    const char *packed = th_path(dir, "faces.cgpk");
    char err[256];
    REQUIRE(cg_packed_write(packed, &d, err, sizeof err) == CG_OK, "%s", err);
    const char *run = th_path(dir, "run");
    NEED_BIN(&r, "train", "dcgan", "--data", "celeba", "--data-dir", packed, "--image-size",
             "64", "--nz", "8", "--ngf", "4", "--ndf", "4", "--batch", "8", "--steps", "4",
             "--device", "cpu", "--out", run, "--quiet");
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    cg_image8 im;
    REQUIRE(cg_png_read(th_path(run, "samples.png"), &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.width == 8 * 66 + 2 && im.channels == 3, "%dx%dx%d", im.width, im.height,
          im.channels);
    cg_image8_free(&im);
    NEED_BIN(&r, "sample", run, "--n", "8", "--out", th_path(dir, "s.png"));
    CHECK(r.code == 0 && strstr(r.out, "64x64 DCGAN") && strstr(r.out, "3 channels"),
          "exit %d: %s %s", r.code, r.out, r.err);
    th_rmtree(dir);
}

TEST(cli_dcgan_device_cuda_with_no_device_is_a_usage_error)
{
    if (cg_cuda_device_count(NULL, 0) > 0)
        SKIP("a GPU is present (gpu_cli_dcgan_trains_on_the_gpu covers --device cuda)");
    FAILS(2, "--device cuda: ", "train", "dcgan", "--device", "cuda", "--steps", "1");
}

/* The same small run on the GPU: it trains, writes its files, resumes. */
TEST(gpu_cli_dcgan_trains_on_the_gpu)
{
    GPU_OR_SKIP();
    th_run_result r;
    char *fx = fixture(), *run = th_tmpdir();
    REQUIRE(fx && run);
    NEED_BIN(&r, "train", "dcgan", ARCH, "--data-dir", fx, "--steps", "12", "--device", "cuda",
             "--deterministic", "--out", run);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(strstr(r.out, "device: cuda"), "%s", r.out);
    CHECK(exists(run, "samples.png") && exists(run, "G.safetensors"));
    CHECK(th_count_lines(losses(run)) == 12);
    NEED_BIN(&r, "train", "dcgan", ARCH, "--data-dir", fx, "--steps", "20", "--device", "cuda",
             "--deterministic", "--out", run, "--resume");
    CHECK(r.code == 0, "resume on the GPU: exit %d: %s", r.code, r.err);
    CHECK(th_count_lines(losses(run)) == 20);
    th_rmtree(fx);
    th_rmtree(run);
}
