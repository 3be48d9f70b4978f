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

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* DIR/train-{images-idx3,labels-idx1}-ubyte: FX_COUNT 28x28 images of a
 * bright bar on a dark ground, at a place and width that vary per image */
static char *fixture(void)
{
    char *dir = th_tmpdir();
    if (!dir)
        return NULL;
    size_t n = 16 + (size_t)FX_COUNT * 28 * 28;
    uint8_t *img = th_alloc(n), *lab = th_alloc(8 + FX_COUNT);
    be32(img, 0x803);
    be32(img + 4, FX_COUNT);
    be32(img + 8, 28);
    be32(img + 12, 28);
    be32(lab, 0x801);
    be32(lab + 4, FX_COUNT);
    for (int i = 0; i < FX_COUNT; i++) {
        uint8_t *px = img + 16 + (size_t)i * 784;
        int x0 = 3 + (i * 7) % 18, w = 3 + i % 5;
        for (int y = 4; y < 24; y++)
            for (int x = x0; x < x0 + w && x < 28; x++)
                px[y * 28 + x] = (uint8_t)(180 + (i * 13 + y) % 70);
        lab[8 + i] = (uint8_t)(i % 10);
    }
    if (!th_write_file(th_path(dir, "train-images-idx3-ubyte"), img, n) ||
        !th_write_file(th_path(dir, "train-labels-idx1-ubyte"), lab, 8 + FX_COUNT))
        return NULL;
    return dir;
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

/* A run killed with SIGKILL at an arbitrary moment after its first
 * checkpoint, then resumed, computes the same losses step for step and ends
 * with the same weights, bit for bit, as an uninterrupted run. */
TEST(cli_dcgan_killed_and_resumed_is_bit_identical)
{
    const char *bin = getenv("CUGEN_BIN");
    if (!bin)
        SKIP("CUGEN_BIN not set (run through make test)");
    th_run_result r;
    char *fx = fixture(), *a = th_tmpdir(), *b = th_tmpdir();
    REQUIRE(fx && a && b);
    NEED_BIN(&r, "train", "dcgan", SMALL, "--data-dir", fx, "--steps", "100", "--ckpt-every",
             "3", "--deterministic", "--out", a);
    REQUIRE(r.code == 0, "uninterrupted run: exit %d: %s", r.code, r.err);

    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(bin, bin, "train", "dcgan", SMALL, "--data-dir", fx, "--steps", "100",
              "--ckpt-every", "3", "--deterministic", "--out", b, (char *)NULL);
        _exit(127);
    }
    struct stat sb;
    const char *ck = th_path(b, "checkpoint.safetensors");
    for (int i = 0; i < 40000 && stat(ck, &sb) != 0; i++)
        usleep(250);
    usleep(40000);  /* somewhere later, maybe inside a save */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status), "the run finished before it could be killed");

    NEED_BIN(&r, "train", "dcgan", SMALL, "--data-dir", fx, "--steps", "100", "--ckpt-every",
             "3", "--deterministic", "--out", b, "--resume");
    CHECK(r.code == 0, "resume: exit %d: %s", r.code, r.err);
    char *la = losses(a), *lb = losses(b);
    REQUIRE(la && lb);
    CHECK(th_count_lines(lb) == 100, "%d loss lines after the resume", th_count_lines(lb));
    CHECK(strcmp(la, lb) == 0, "losses differ:\n%s\n---\n%s", la, lb);
    CHECK(same_file(th_path(a, "G.safetensors"), th_path(b, "G.safetensors")) &&
          same_file(th_path(a, "D.safetensors"), th_path(b, "D.safetensors")) &&
          same_file(th_path(a, "checkpoint.safetensors"), th_path(b, "checkpoint.safetensors")),
          "final weights differ");

    /* other flags than the run's are refused */
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, "--image-size", "32",
             "--nz", "8", "--ngf", "6", "--ndf", "4", "--batch", "8", "--out", b, "--resume");
    CHECK(r.code == 2 && strstr(r.err, "give the same flags") && th_count_lines(r.err) == 1,
          "exit %d: %s", r.code, r.err);
    th_rmtree(fx);
    th_rmtree(a);
    th_rmtree(b);
}

/* SIGTERM: a checkpoint of the step in progress, where it is said, a
 * non-zero exit; the resumed run ends where the uninterrupted one does. */
TEST(cli_dcgan_sigterm_saves_and_resumes)
{
    th_run_result r;
    char *fx = fixture(), *a = th_tmpdir(), *b = th_tmpdir();
    REQUIRE(fx && a && b);
    NEED_BIN(&r, "train", "dcgan", SMALL, "--data-dir", fx, "--steps", "60", "--out", a);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);

    const char *const run[] = {"train", "dcgan", SMALL, "--data-dir", fx, "--steps", "60",
                               "--ckpt-every", "5", "--out", b, NULL};
    th_run_cugen_signalled(&r, run, th_path(b, "checkpoint.safetensors"), SIGTERM);
    if (r.code == 0)
        SKIP("the run finished before SIGTERM arrived");
    CHECK(r.code == 128 + SIGTERM, "exit %d", r.code);
    CHECK(strstr(r.err, "interrupted by SIGTERM") && strstr(r.err, "checkpoint.safetensors") &&
          strstr(r.err, "--resume"), "%s", r.err);
    NEED_BIN(&r, "train", "dcgan", SMALL, "--data-dir", fx, "--steps", "60", "--out", b,
             "--resume");
    CHECK(r.code == 0, "resume: exit %d: %s", r.code, r.err);
    CHECK(same_file(th_path(a, "G.safetensors"), th_path(b, "G.safetensors")),
          "G after SIGTERM and resume differs from the uninterrupted run's");
    th_rmtree(fx);
    th_rmtree(a);
    th_rmtree(b);
}

/* A step whose loss is NaN stops the run with a message naming the step;
 * the last good checkpoint (step 6: the end of the first epoch of 6 steps)
 * stays and resumes. */
TEST(cli_dcgan_nan_loss_stops_and_keeps_last_good_checkpoint)
{
    th_run_result r;
    char *fx = fixture(), *run = th_tmpdir();
    REQUIRE(fx && run);
    setenv("CUGEN_FAULT_NAN_STEP", "7", 1);
    NEED_BIN(&r, "train", "dcgan", SMALL, "--data-dir", fx, "--steps", "20", "--ckpt-every",
             "5", "--out", run);
    unsetenv("CUGEN_FAULT_NAN_STEP");
    CHECK(r.code == 1, "exit %d", r.code);
    CHECK(th_count_lines(r.err) == 1, "%s", r.err);
    CHECK(strstr(r.err, "step 7 ") && strstr(r.err, "nan") &&
          strstr(r.err, "last good checkpoint") && strstr(r.err, "(step 6)"), "%s", r.err);
    NEED_BIN(&r, "train", "dcgan", SMALL, "--data-dir", fx, "--steps", "20", "--out", run,
             "--resume");
    CHECK(r.code == 0, "resume after the NaN: exit %d: %s", r.code, r.err);
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
