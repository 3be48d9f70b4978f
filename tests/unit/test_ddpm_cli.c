/*
 * test_ddpm_cli.c: `cugen train ddpm` and `cugen sample` on a DDPM
 * checkpoint, end to end on a small MNIST-format fixture: the run
 * directory's files, a resume that reproduces the uninterrupted run bit for
 * bit (also after SIGTERM), the NaN guard, one-line errors (exit 2) for every bad flag, the
 * CelebA path: 64x64 RGB images from a packed file, and --device cuda (a
 * usage error without a GPU; with one, runs that move between the devices).
 */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cugen/data.h"
#include "cugen/cuda.h"
#include "cugen/io.h"
#include "gpu_check.h"
#include "harness.h"

#define FX_COUNT 24

/* image i: a bright disc whose centre and radius vary with i */
static int draw_disc(int split, int i, uint8_t *px, void *arg)
{
    (void)split;
    (void)arg;
    int cx = 8 + (i * 5) % 12, cy = 8 + (i * 3) % 12, rad = 4 + i % 5;
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
            if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= rad * rad)
                px[y * 28 + x] = (uint8_t)(200 + i);
    return i % 10;
}

/* FX_COUNT discs in MNIST's layout */
static char *fixture(void)
{
    return th_mnist_fixture(FX_COUNT, 0, draw_disc, NULL);
}

/* a tiny UNet at 32x32: ch 8, levels at 32 and 16,
 * attention at 16, dropout on (its stream is part of the resumed state) */
#define ARCH "--data", "mnist", "--image-size", "32", "--ch", "8", "--ch-mult", "1,2", \
             "--num-res-blocks", "1", "--attn", "16", "--batch", "4", "--quiet"
/* on the CPU also where a GPU is (auto would take it): the bit-for-bit
 * resume tests are about the oracle; the GPU test names its devices */
#define SMALL ARCH, "--device", "cpu"

static int exists(const char *dir, const char *name)
{
    struct stat sb;
    return stat(th_path(dir, name), &sb) == 0 && sb.st_size > 0;
}

/* the "loss" values of metrics.jsonl, one per line */
static char *losses(const char *dir)
{
    size_t len;
    char *s = (char *)th_read_file(th_path(dir, "metrics.jsonl"), &len);
    if (!s)
        return NULL;
    char *out = th_alloc(len + 1), *o = out;
    for (char *p = s; (p = strstr(p, "\"loss\": ")) != NULL; p += 8) {
        size_t k = strcspn(p + 8, ",}");
        memcpy(o, p + 8, k);
        o += k;
        *o++ = '\n';
    }
    *o = 0;
    return out;
}

TEST(cli_ddpm_writes_the_run_directory_and_samples)
{
    th_run_result r;
    char *fx = fixture(), *run = th_tmpdir();
    REQUIRE(fx && run);
    NEED_BIN(&r, "train", "ddpm", SMALL, "--data-dir", fx, "--steps", "3", "--ddim-steps",
             "2", "--out", run);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    const char *files[] = {"checkpoint.safetensors", "unet_ema.safetensors", "samples.png",
                           "real.png", "metrics.jsonl", "result.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        CHECK(exists(run, files[i]), "no %s", files[i]);
    CHECK(strstr(r.out, "DDPM: 3 steps") != NULL, "%s", r.out);
    char *l = losses(run);
    CHECK(l && th_count_lines(l) == 3, "%s", l ? l : "(no metrics)");
    const char *grid = th_path(run, "g.png"), *chain = th_path(run, "chain.png");
    NEED_BIN(&r, "sample", run, "--n", "3", "--ddim-steps", "4", "--device", "cpu", "--out", grid);
    CHECK(r.code == 0 && exists(run, "g.png") && strstr(r.out, "DDIM, 4 steps"), "exit %d: %s%s",
          r.code, r.out, r.err);
    NEED_BIN(&r, "sample", th_path(run, "checkpoint.safetensors"), "--n", "2", "--ddim-steps", "5",
             "--progress", "--device", "cpu", "--out", chain);
    CHECK(r.code == 0 && exists(run, "chain.png") && strstr(r.out, "denoising chains"),
          "exit %d: %s%s", r.code, r.out, r.err);
    /* --dump: x_T and the samples, 3 x 1 x 32 x 32 float32 each */
    NEED_BIN(&r, "sample", run, "--n", "3", "--ddim-steps", "2", "--no-clip", "--device", "cpu",
             "--out", grid, "--dump", th_path(run, "d"));
    size_t lz = 0, lx = 0;
    CHECK(r.code == 0 && strstr(r.out, "not clipped"), "exit %d: %s%s", r.code, r.out, r.err);
    CHECK(th_read_file(th_path(run, "d.z.f32"), &lz) && lz == 3 * 1024 * 4, "%zu", lz);
    CHECK(th_read_file(th_path(run, "d.images.f32"), &lx) && lx == 3 * 1024 * 4, "%zu", lx);
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
#define TRAIN "train", "ddpm", "--data", "mnist", "--data-dir", fx, "--steps", "1", "--quiet"

TEST(cli_ddpm_bad_flags)
{
    char *fx = fixture(), *run = th_tmpdir();
    REQUIRE(fx && run);
    FAILS(2, "--ch expects an integer", TRAIN, "--ch", "1");
    FAILS(2, "--ch expects an integer", TRAIN, "--ch", "wide");
    FAILS(2, "--ch must be even", TRAIN, "--ch", "9");
    FAILS(2, "--ch-mult must be", TRAIN, "--ch-mult", "1,,2");
    FAILS(2, "--ch-mult must be", TRAIN, "--ch-mult", "0,1");
    FAILS(2, "--ch-mult must be", TRAIN, "--ch-mult", "1,2,2,2,2,2,2");
    FAILS(2, "--num-res-blocks expects an integer", TRAIN, "--num-res-blocks", "0");
    FAILS(2, "--num-res-blocks expects an integer", TRAIN, "--num-res-blocks", "9");
    FAILS(2, "--attn must be", TRAIN, "--attn", "12");
    FAILS(2, "--attn must be", TRAIN, "--attn", "16,");
    FAILS(2, "--attn names a resolution", TRAIN, "--attn", "64");
    FAILS(2, "--dropout expects", TRAIN, "--dropout", "1");
    FAILS(2, "--dropout expects", TRAIN, "--dropout", "x");
    FAILS(2, "--schedule expects one of", TRAIN, "--schedule", "quadratic");
    FAILS(2, "--ema-decay expects", TRAIN, "--ema-decay", "1.5");
    FAILS(2, "--ema-decay expects", TRAIN, "--ema-decay", "-0.1");
    FAILS(2, "--ddim-steps expects", TRAIN, "--ddim-steps", "1001");
    FAILS(2, "--ddim-steps expects", TRAIN, "--ddim-steps", "-1");
    FAILS(2, "--ch is not a flag of this model", "train", "dcgan", "--ch", "8");
    FAILS(2, "--ngf is not a flag of this model", "train", "ddpm", "--ngf", "8");
    /* sampling: flags of the other model, bad values */
    th_run_result r;
    NEED_BIN(&r, "train", "ddpm", SMALL, "--data-dir", fx, "--steps", "1", "--ddim-steps", "0",
             "--out", run);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    FAILS(2, "--sampler expects one of", "sample", run, "--sampler", "euler");
    FAILS(2, "--ddim-steps expects an integer", "sample", run, "--ddim-steps", "0");
    FAILS(2, "only 1000 timesteps", "sample", run, "--ddim-steps", "1001");
    FAILS(2, "--ddim-steps sets DDIM's steps", "sample", run, "--sampler", "ddpm", "--ddim-steps", "10");
    FAILS(2, "--interpolate is for DCGAN generators", "sample", run, "--interpolate");
    FAILS(2, "--bn is for DCGAN generators", "sample", run, "--bn", "running");
    FAILS(2, "--progress is for DDPM checkpoints", "sample", "/nonexistent", "--progress");
    FAILS(2, "--no-clip is for DDPM checkpoints", "sample", "/nonexistent", "--no-clip");
    FAILS(2, "DCGAN generators sample on the CPU only", "sample", "/nonexistent", "--device",
          "cuda");
    FAILS(2, "--no-clip takes no value", "sample", run, "--no-clip=1");
    FAILS(2, "--device expects one of", "sample", run, "--device", "tpu");
    FAILS(2, "--device expects one of", "bench", "step", "ddpm", "--device", "gpu");
    if (cg_cuda_device_count(NULL, 0) == 0) {
        FAILS(2, "--device cuda: ", "sample", run, "--device", "cuda");
        FAILS(2, "--device cuda: ", "bench", "step", "ddpm", "--device", "cuda", "--no-torch");
    }
    FAILS(2, "--ch-mult must be", "bench", "step", "ddpm", "--ch-mult", "2,x");
    FAILS(2, "--attn must be", "bench", "step", "ddpm", "--attn", "10");
    FAILS(2, "1 or 3 channels", "bench", "step", "ddpm", "--nc", "2");
    FAILS(2, "--sample-n expects", "bench", "step", "ddpm", "--sample-n", "-1");
    /* bench step names the DDIM steps of --sample-n as cugen train does */
    FAILS(2, "are --ddim-steps", "bench", "step", "ddpm", "--steps", "0");
    FAILS(2, "--ddim-steps expects", "bench", "step", "ddpm", "--ddim-steps", "1001");
    FAILS(2, "unknown model 'unet'", "bench", "step", "unet");
    th_rmtree(fx);
    th_rmtree(run);
}

/* The CelebA path: a packed file of RGB 64x64 images (what `cugen prepare
 * celeba` writes) through a 3-level UNet (64, 32, 16; attention at 16). */
TEST(cli_ddpm_trains_64x64_rgb_from_a_packed_file)
{
    th_run_result r;
    char *dir = th_tmpdir();
    REQUIRE(dir);
    enum { N = 8, S = 64 };
    uint8_t *px = th_alloc((size_t)N * 3 * S * S);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < S * S; k++)
                px[((size_t)i * 3 + c) * S * S + k] =
                    (uint8_t)((k % S > 10 + i && k % S < 50 ? 210 : 40) + 15 * c);
    cg_dataset d = {.count = N, .channels = 3, .height = S, .width = S, .pixels = px};
    snprintf(d.name, sizeof d.name, "faces-fixture");
    const char *packed = th_path(dir, "faces.cgpk");
    char err[256];
    REQUIRE(cg_packed_write(packed, &d, err, sizeof err) == CG_OK, "%s", err);
    const char *run = th_path(dir, "run");
    NEED_BIN(&r, "train", "ddpm", "--data", "celeba", "--data-dir", packed, "--image-size",
             "64", "--ch", "4", "--ch-mult", "1,1,2", "--num-res-blocks", "1", "--batch", "2",
             "--steps", "2", "--ddim-steps", "1", "--device", "cpu", "--out", run, "--quiet");
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    cg_image8 im;
    REQUIRE(cg_png_read(th_path(run, "samples.png"), &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.width == 8 * 66 + 2 && im.channels == 3, "%dx%dx%d", im.width, im.height,
          im.channels);
    cg_image8_free(&im);
    NEED_BIN(&r, "sample", run, "--n", "2", "--ddim-steps", "2", "--device", "cpu", "--out",
             th_path(dir, "s.png"));
    CHECK(r.code == 0 && strstr(r.out, "64x64 DDPM") && strstr(r.out, "3 channels"),
          "exit %d: %s %s", r.code, r.out, r.err);
    th_rmtree(dir);
}

TEST(cli_ddpm_device_cuda_with_no_device_is_a_usage_error)
{
    if (cg_cuda_device_count(NULL, 0) > 0)
        SKIP("a GPU is present (gpu_cli_ddpm_runs_move_between_devices covers --device cuda)");
    char *fx = fixture();
    REQUIRE(fx);
    FAILS(2, "--device cuda: ", TRAIN, "--device", "cuda");
    th_rmtree(fx);
}

/* Two lists of losses (one a line) agree to tol relative, line by line. */
static void same_losses(const char *what, const char *a, const char *b, double tol)
{
    int lines = 0;
    while (a && b && *a && *b) {
        char *ea, *eb;
        double x = strtod(a, &ea), y = strtod(b, &eb);
        CHECK(ea != a && eb != b && fabs(x - y) <= tol * fabs(y), "%s: step %d: %.9g vs %.9g",
              what, lines + 1, x, y);
        a = ea + strspn(ea, "\n");
        b = eb + strspn(eb, "\n");
        lines++;
    }
    CHECK(a && b && !*a && !*b && lines > 0, "%s: the runs have different step counts", what);
}

/* 6 steps on the CPU; 3 on the GPU resumed on the CPU to 6; 3 on the CPU
 * resumed on the GPU to 6: the checkpoint is the same file either way, and
 * the losses agree to 1e-4 (GPU vs CPU after a few steps, DESIGN.md's bound;
 * the same timesteps and noise on both). */
TEST(gpu_cli_ddpm_runs_move_between_devices)
{
    GPU_OR_SKIP();
    th_run_result r;
    char *fx = fixture(), *a = th_tmpdir(), *b = th_tmpdir(), *c = th_tmpdir();
    REQUIRE(fx && a && b && c);
    NEED_BIN(&r, "train", "ddpm", ARCH, "--data-dir", fx, "--steps", "6", "--ddim-steps",
             "0", "--device", "cpu", "--out", a);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "train", "ddpm", ARCH, "--data-dir", fx, "--steps", "3", "--ddim-steps",
             "2", "--device", "cuda", "--deterministic", "--out", b);
    REQUIRE(r.code == 0, "GPU: exit %d: %s", r.code, r.err);
    CHECK(strstr(r.out, "device: cuda") && exists(b, "samples.png"), "%s", r.out);
    NEED_BIN(&r, "train", "ddpm", ARCH, "--data-dir", fx, "--steps", "6", "--ddim-steps",
             "0", "--device", "cpu", "--out", b, "--resume");
    REQUIRE(r.code == 0, "GPU run resumed on the CPU: exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "train", "ddpm", ARCH, "--data-dir", fx, "--steps", "3", "--ddim-steps",
             "0", "--device", "cpu", "--out", c);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "train", "ddpm", ARCH, "--data-dir", fx, "--steps", "6", "--ddim-steps",
             "0", "--device", "cuda", "--deterministic", "--out", c, "--resume");
    REQUIRE(r.code == 0, "CPU run resumed on the GPU: exit %d: %s", r.code, r.err);
    char *la = losses(a);
    same_losses("GPU then CPU", losses(b), la, 1e-4);
    same_losses("CPU then GPU", losses(c), la, 1e-4);
    /* DDIM on both devices from the same x_T: the same images to float
     * rounding (bound as in test_gpu_ddpm.c's sampling comparison) */
    NEED_BIN(&r, "sample", a, "--n", "4", "--ddim-steps", "10", "--device", "cuda", "--out",
             th_path(a, "g.png"), "--dump", th_path(a, "g"));
    REQUIRE(r.code == 0 && strstr(r.out, "on the GPU"), "exit %d: %s%s", r.code, r.out, r.err);
    NEED_BIN(&r, "sample", a, "--n", "4", "--ddim-steps", "10", "--device", "cpu", "--out",
             th_path(a, "c.png"), "--dump", th_path(a, "c"));
    REQUIRE(r.code == 0 && strstr(r.out, "on the CPU"), "exit %d: %s%s", r.code, r.out, r.err);
    size_t lg = 0, lc = 0;
    const float *xg = (const float *)th_read_file(th_path(a, "g.images.f32"), &lg);
    const float *xc = (const float *)th_read_file(th_path(a, "c.images.f32"), &lc);
    REQUIRE(xg && xc && lg == lc && lg == 4 * 1024 * sizeof(float), "%zu, %zu", lg, lc);
    double d = 0, n2 = 0;
    for (size_t i = 0; i < lg / sizeof(float); i++) {
        d += ((double)xg[i] - xc[i]) * ((double)xg[i] - xc[i]);
        n2 += (double)xc[i] * xc[i];
    }
    CHECK(sqrt(d / n2) < 1e-4, "DDIM samples GPU vs CPU: rel %.2e", sqrt(d / n2));
    th_rmtree(fx);
    th_rmtree(a);
    th_rmtree(b);
    th_rmtree(c);
}
