/*
 * test_fid_train.c: FID during training (`cugen train dcgan --fid-every N
 * --fid-n M --fid-net PATH`, and the other kinds that draw images: vae,
 * mlp-gan, ddpm, the image realnvp) end to end on a small MNIST-format
 * fixture: the metrics lines, training unchanged by it, resume, and bad flags.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/io.h"
#include "cugen/metrics.h"
#include "gpu_check.h"
#include "harness.h"

static double number_after(const char *s, const char *key)
{
    const char *p = s ? strstr(s, key) : NULL;
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

static void expect_error(int code, const char *want, const char *const *args)
{
    th_run_result r;
    if (!th_run_cugen(&r, args)) {
        th_skip("CUGEN_BIN not set (run through make test)");
        return;
    }
    CHECK(r.code == code, "exit code %d (want %d) for %s %s", r.code, code, args[0], args[1]);
    CHECK(th_count_lines(r.err) == 1, "stderr should be one line, got: %s", r.err);
    CHECK(strstr(r.err, want) != NULL, "stderr lacks '%s': %s", want, r.err);
}
#define FAILS(code, want, ...) expect_error((code), (want), (const char *const[]){__VA_ARGS__, NULL})

#define FX_COUNT 48
/* a DCGAN small enough for a test, on the CPU (the oracle) */
#define SMALL "--data", "mnist", "--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4", \
              "--batch", "8", "--quiet", "--device", "cpu"

/* An untrained FMNIST classifier (PyTorch's default init, seed 3): FID only
 * needs some fixed features */
static char *classifier_file(const char *dir)
{
    cg_fmnist_net m;
    char err[512], *path = th_path(dir, "classifier.safetensors");
    if (cg_fmnist_net_build(&m, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "%s", err);
        return NULL;
    }
    cg_fmnist_net_init(&m, 3, 1);
    cg_status st = cg_weights_save(path, &m.p, err, sizeof err);
    cg_fmnist_net_free(&m);
    if (st != CG_OK) {
        th_fail(__FILE__, __LINE__, "%s", err);
        return NULL;
    }
    return path;
}

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    unsigned char *x = th_read_file(a, &la), *y = th_read_file(b, &lb);
    return x && y && la == lb && memcmp(x, y, la) == 0;
}

/* The "fid" values of DIR/metrics.jsonl by step, at most max: their count
 * (the lines of the measurements; a run's end line repeats its last) */
static int fid_lines(const char *dir, int64_t *step, double *fid, int max)
{
    size_t len;
    char *s = (char *)th_read_file(th_path(dir, "metrics.jsonl"), &len);
    int n = 0;
    for (char *line = s; line && *line && n < max;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (strstr(line, "\"fid\"") && !strstr(line, "\"img_per_s\"")) {
            step[n] = (int64_t)number_after(line, "\"step\": ");
            fid[n++] = number_after(line, "\"fid\": ");
        }
        line = end ? end + 1 : line + strlen(line);
    }
    return n;
}

/* the step lines of metrics.jsonl without their timings: what the steps computed */
static char *step_lines(const char *dir)
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
        char *loss = strstr(line, "\"loss_D\"");
        if (loss && loss < line + k) {
            memcpy(o, line, (size_t)(cut - line));
            o += cut - line;
            *o++ = '\n';
        }
        line += k + (end ? 1 : 0);
    }
    *o = '\0';
    return out;
}

/* 6 steps with FID every 3 on 20 images: FID lines at steps 3 and 6 in the
 * log, the last in result.json, a panel in curves.png; the same run without
 * FID trains the same weights byte for byte and logs the same steps; a run
 * stopped at step 3 and resumed logs each FID once, with the same values
 * (the same G, the same z stream, the same real images); a generated 32 x
 * 32 image meets the 28 x 28 classifier resized, as in cugen eval */
TEST(cli_train_fid_every_leaves_training_unchanged)
{
    th_run_result r;
    char *fx = th_mnist_fixture(FX_COUNT, 0, th_draw_bar, NULL), *nets = th_tmpdir();
    char *a = th_tmpdir(), *b = th_tmpdir(), *c = th_tmpdir();
    REQUIRE(fx && nets && a && b && c);
    char *clf = classifier_file(nets);
    REQUIRE(clf);
    NEED_BIN(&r, "train", "dcgan", SMALL, "--data-dir", fx, "--steps", "6", "--ckpt-every", "3",
             "--fid-every", "3", "--fid-n", "20", "--fid-net", clf, "--out", a);
    REQUIRE(r.code == 0, "exit %d: %s %s", r.code, r.out, r.err);
    int64_t step[8];
    double fid[8];
    int n = fid_lines(a, step, fid, 8);
    size_t len;
    CHECK(n == 2 && step[0] == 3 && step[1] == 6 && fid[0] > 0 && fid[1] > 0 && isfinite(fid[0]),
          "%d FID lines: %s", n, (char *)th_read_file(th_path(a, "metrics.jsonl"), &len));
    char *res = (char *)th_read_file(th_path(a, "result.json"), &len);
    CHECK(res && fabs(number_after(res, "\"fid\": ") - fid[1]) < 1e-6 * fid[1], "%s", res);
    CHECK(strstr(r.out, "fid "), "the result shows the last FID: %s", r.out);
    struct stat sb;
    CHECK(stat(th_path(a, "curves.png"), &sb) == 0 && sb.st_size > 0, "curves.png");

    NEED_BIN(&r, "train", "dcgan", SMALL, "--data-dir", fx, "--steps", "6", "--ckpt-every", "3",
             "--out", b);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    const char *files[3] = {"G.safetensors", "D.safetensors", "checkpoint.safetensors"};
    for (int i = 0; i < 3; i++)
        CHECK(same_file(th_path(a, files[i]), th_path(b, files[i])), "%s differs with FID",
              files[i]);
    char *la = step_lines(a), *lb = step_lines(b);
    CHECK(la && lb && strcmp(la, lb) == 0, "the steps differ:\n%s\n%s", la, lb);

    NEED_BIN(&r, "train", "dcgan", SMALL, "--data-dir", fx, "--steps", "3", "--fid-every", "3",
             "--fid-n", "20", "--fid-net", clf, "--out", c);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "train", "dcgan", SMALL, "--data-dir", fx, "--steps", "6", "--fid-every", "3",
             "--fid-n", "20", "--fid-net", clf, "--out", c, "--resume");
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    int64_t step2[8];
    double fid2[8];
    int n2 = fid_lines(c, step2, fid2, 8);
    CHECK(n2 == 2 && step2[0] == 3 && step2[1] == 6 && fid2[0] == fid[0] && fid2[1] == fid[1],
          "resumed: %d lines, %g %g vs %g %g", n2, n2 > 0 ? fid2[0] : NAN,
          n2 > 1 ? fid2[1] : NAN, fid[0], fid[1]);
    CHECK(same_file(th_path(a, "G.safetensors"), th_path(c, "G.safetensors")), "resumed G");
    th_rmtree(fx);
    th_rmtree(nets);
    th_rmtree(a);
    th_rmtree(b);
    th_rmtree(c);
}

TEST(cli_train_fid_every_bad_flags)
{
    char *fx = th_mnist_fixture(FX_COUNT, 0, th_draw_bar, NULL), *dir = th_tmpdir();
    REQUIRE(fx && dir);
    FAILS(2, "--fid-every needs --fid-net PATH", "train", "dcgan", SMALL, "--data-dir", fx,
          "--fid-every", "2");
    FAILS(2, "--fid-n and --fid-net go with --fid-every N", "train", "dcgan", SMALL,
          "--data-dir", fx, "--fid-n", "20");
    FAILS(2, "--fid-n and --fid-net go with --fid-every N", "train", "dcgan", SMALL,
          "--data-dir", fx, "--fid-net", dir);
    FAILS(2, "--fid-every expects an integer from 1", "train", "dcgan", "--fid-every", "0");
    FAILS(2, "--fid-n expects an integer from 2", "train", "dcgan", "--fid-every", "5",
          "--fid-n", "1");
    /* a model that draws no images during training */
    FAILS(2, "--fid-every is not a flag of this model", "train", "classifier", "--fid-every",
          "2");
    /* no classifier there: the loader's message, before any step */
    FAILS(1, "--fid-net: ", "train", "dcgan", SMALL, "--data-dir", fx, "--steps", "2",
          "--fid-every", "1", "--fid-net", dir, "--no-out");
    th_rmtree(fx);
    th_rmtree(dir);
}

/* The other kinds that draw images while they train (a VAE decoding
 * h ~ N(0, I), the notes' MLP GAN): FID at steps 2 and 4, and the
 * checkpoint byte for byte that of the run without it */
TEST(cli_train_fid_every_vae_and_mlp_gan)
{
    th_run_result r;
    char *fx = th_mnist_fixture(FX_COUNT, 0, th_draw_bar, NULL), *nets = th_tmpdir();
    REQUIRE(fx && nets);
    char *clf = classifier_file(nets);
    REQUIRE(clf);
    static const char *const model[2] = {"vae", "mlp-gan"};
    static const char *const size_flag[2] = {"--latent", "--z-size"};
    for (int m = 0; m < 2; m++) {
        char *a = th_tmpdir(), *b = th_tmpdir();
        REQUIRE(a && b);
        NEED_BIN(&r, "train", model[m], "--data", "mnist", "--data-dir", fx, "--hidden", "8",
                 size_flag[m], "4", "--batch", "8", "--steps", "4", "--quiet", "--device", "cpu",
                 "--fid-every", "2", "--fid-n", "16", "--fid-net", clf, "--out", a);
        REQUIRE(r.code == 0, "%s: exit %d: %s", model[m], r.code, r.err);
        NEED_BIN(&r, "train", model[m], "--data", "mnist", "--data-dir", fx, "--hidden", "8",
                 size_flag[m], "4", "--batch", "8", "--steps", "4", "--quiet", "--device", "cpu",
                 "--out", b);
        REQUIRE(r.code == 0, "%s: exit %d: %s", model[m], r.code, r.err);
        int64_t step[8];
        double fid[8];
        int n = fid_lines(a, step, fid, 8);
        CHECK(n == 2 && step[0] == 2 && step[1] == 4 && fid[0] > 0 && isfinite(fid[1]),
              "%s: %d FID lines", model[m], n);
        CHECK(same_file(th_path(a, "checkpoint.safetensors"),
                        th_path(b, "checkpoint.safetensors")),
              "%s: the checkpoint differs with FID", model[m]);
        th_rmtree(a);
        th_rmtree(b);
    }
    th_rmtree(fx);
    th_rmtree(nets);
}

/* DDPM (DDIM with the EMA weights) and the image RealNVP (temperature 1):
 * FID at steps 2 and 4 into metrics.jsonl, and the checkpoint byte for byte
 * that of the run without it (the EMA swapped back exactly, no stream of
 * the steps drawn, the flow's statistics untouched) */
TEST(cli_train_fid_every_ddpm_and_image_flow)
{
    th_run_result r;
    char *fx = th_mnist_fixture(FX_COUNT, 0, th_draw_bar, NULL), *nets = th_tmpdir();
    REQUIRE(fx && nets);
    char *clf = classifier_file(nets);
    REQUIRE(clf);
    static const char *const model[2] = {"ddpm", "realnvp"};
    for (int m = 0; m < 2; m++) {
        char *a = th_tmpdir(), *b = th_tmpdir();
        REQUIRE(a && b);
        /* with FID into a; the same run without it into b (its flags end at the NULL) */
        for (int fid = 1; fid >= 0; fid--) {
            const char *dir = fid ? a : b;
            if (m == 0)
                NEED_BIN(&r, "train", "ddpm", "--data", "mnist", "--data-dir", fx,
                         "--image-size", "32", "--ch", "4", "--ch-mult", "1,2",
                         "--num-res-blocks", "1", "--attn", "none", "--ddim-steps", "2",
                         "--batch", "8", "--steps", "4", "--quiet", "--device", "cpu",
                         "--out", dir, fid ? "--fid-every" : NULL, "2", "--fid-n", "16",
                         "--fid-net", clf);
            else
                NEED_BIN(&r, "train", "realnvp", "--data", "mnist", "--data-dir", fx,
                         "--width", "4", "--layers", "1", "--batch", "8", "--steps", "4",
                         "--quiet", "--device", "cpu", "--out", dir,
                         fid ? "--fid-every" : NULL, "2", "--fid-n", "16", "--fid-net", clf);
            REQUIRE(r.code == 0, "%s: exit %d: %s", model[m], r.code, r.err);
        }
        int64_t step[8];
        double fid[8];
        int n = fid_lines(a, step, fid, 8);
        CHECK(n == 2 && step[0] == 2 && step[1] == 4 && fid[0] > 0 && isfinite(fid[0]) &&
              fid[1] > 0 && isfinite(fid[1]), "%s: %d FID lines", model[m], n);
        CHECK(fid_lines(b, step, fid, 8) == 0, "%s: FID lines without --fid-every", model[m]);
        CHECK(same_file(th_path(a, "checkpoint.safetensors"),
                        th_path(b, "checkpoint.safetensors")),
              "%s: the checkpoint differs with FID", model[m]);
        th_rmtree(a);
        th_rmtree(b);
    }
    /* the 2-D flow draws no images */
    FAILS(2, "--fid-every is not a flag of RealNVP (2-D), the model this --data trains",
          "train", "realnvp", "--data", "moons", "--fid-every", "2", "--fid-net", clf);
    th_rmtree(fx);
    th_rmtree(nets);
}

/* The same on the GPU: DDPM's and the image flow's images generated on the
 * device, FID at steps 2 and 4, the checkpoint that of the run without it */
TEST(gpu_train_fid_every_ddpm_and_image_flow)
{
    GPU_OR_SKIP();
    th_run_result r;
    char *fx = th_mnist_fixture(FX_COUNT, 0, th_draw_bar, NULL), *nets = th_tmpdir();
    REQUIRE(fx && nets);
    char *clf = classifier_file(nets);
    REQUIRE(clf);
    static const char *const model[2] = {"ddpm", "realnvp"};
    for (int m = 0; m < 2; m++) {
        char *a = th_tmpdir(), *b = th_tmpdir();
        REQUIRE(a && b);
        /* with FID into a; the same run without it into b (its flags end at the NULL) */
        for (int fid = 1; fid >= 0; fid--) {
            const char *dir = fid ? a : b;
            if (m == 0)
                NEED_BIN(&r, "train", "ddpm", "--data", "mnist", "--data-dir", fx,
                         "--image-size", "32", "--ch", "4", "--ch-mult", "1,2",
                         "--num-res-blocks", "1", "--attn", "none", "--ddim-steps", "2",
                         "--batch", "8", "--steps", "4", "--quiet", "--device", "cuda",
                         "--deterministic", "--out", dir, fid ? "--fid-every" : NULL, "2",
                         "--fid-n", "16", "--fid-net", clf);
            else
                NEED_BIN(&r, "train", "realnvp", "--data", "mnist", "--data-dir", fx,
                         "--width", "4", "--layers", "1", "--batch", "8", "--steps", "4",
                         "--quiet", "--device", "cuda", "--deterministic", "--out", dir,
                         fid ? "--fid-every" : NULL, "2", "--fid-n", "16", "--fid-net", clf);
            REQUIRE(r.code == 0, "%s: exit %d: %s", model[m], r.code, r.err);
        }
        int64_t step[8];
        double fid[8];
        int n = fid_lines(a, step, fid, 8);
        CHECK(n == 2 && step[0] == 2 && step[1] == 4 && fid[0] > 0 && isfinite(fid[0]) &&
              fid[1] > 0 && isfinite(fid[1]), "%s: %d FID lines", model[m], n);
        CHECK(same_file(th_path(a, "checkpoint.safetensors"),
                        th_path(b, "checkpoint.safetensors")),
              "%s: the checkpoint differs with FID", model[m]);
        th_rmtree(a);
        th_rmtree(b);
    }
    th_rmtree(fx);
    th_rmtree(nets);
}
