/*
 * test_eval_cli.c: `cugen train classifier` and `cugen eval` end to end on a
 * small labelled fixture (ten classes of bars), the FMNIST network's shapes,
 * and the errors of bad flags and sources.
 */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cugen/io.h"
#include "cugen/metrics.h"
#include "harness.h"

/* class k: a vertical bar at column 2 + 2.5 k, 2 pixels wide, rows from a
 * random top to a random bottom, on a noisy ground */
static int draw_class_bar(int split, int i, uint8_t *px, void *arg)
{
    (void)split;
    (void)i;
    uint32_t u[4];
    cg_rng_u32(arg, u, 4);
    int k = (int)(u[0] % 10), top = 2 + (int)(u[1] % 8), bottom = 18 + (int)(u[2] % 8);
    for (int p = 0; p < 784; p++)
        px[p] = (uint8_t)((u[3] >> (p % 24)) & 31);
    int x0 = 2 + (5 * k) / 2;
    for (int y = top; y < bottom; y++)
        for (int x = x0; x < x0 + 2; x++)
            px[y * 28 + x] = 230;
    return k;
}

/* train (300) and t10k (100) images of 10 classes */
static char *fixture(void)
{
    cg_rng r;
    cg_rng_init(&r, 1, 1);
    return th_mnist_fixture(300, 100, draw_class_bar, &r);
}

static double number_after(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

TEST(cli_classifier_then_fid_and_mmd)
{
    th_run_result r;
    char *fx = fixture(), *run = th_tmpdir();
    REQUIRE(fx && run);
    NEED_BIN(&r, "train", "classifier", "--data", "mnist", "--data-dir", fx, "--epochs", "4",
             "--batch", "20", "--quiet", "--out", run);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    double acc = number_after(r.out, "\n  test accuracy ");
    /* the bars' columns tell the classes apart; measured 1.0 after 4 epochs,
     * chance is 0.1 */
    CHECK(acc >= 0.9, "test accuracy %g: %s", acc, r.out);
    CHECK(strstr(r.out, "Epoch 004 |"), "%s", r.out);

    size_t tl = strlen(fx) + 8;
    char *test = th_alloc(tl);
    snprintf(test, tl, "%s:test", fx);
    NEED_BIN(&r, "eval", "--metric", "fid", "--net", run, "--real", test, "--fake", test);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    double same = number_after(r.out, "FMNIST-FID ");
    /* identical sets: 2 tr S - 2 tr S up to the eigensolver's rounding */
    CHECK(fabs(same) < 1e-3, "FID of a set with itself %g: %s", same, r.out);
    NEED_BIN(&r, "eval", "--metric", "fid", "--net", run, "--real", test, "--fake", fx);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    double split_fid = number_after(r.out, "FMNIST-FID ");
    CHECK(split_fid > 0 && strstr(r.out, "300 images") && strstr(r.out, "100 images"), "%s",
          r.out);

    NEED_BIN(&r, "eval", "--metric", "mmd", "--real", test, "--fake", test, "--device", "cpu");
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(number_after(r.out, "MMD^2 ") < 1e-9, "%s", r.out);
    NEED_BIN(&r, "eval", "--metric", "mmd", "--real", test, "--fake", fx, "--n", "50",
             "--device", "cpu");
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(strstr(r.out, "50 images") && number_after(r.out, "MMD ") > 0, "%s", r.out);

    /* a generator as the fake set: an mlp-gan run of a few steps */
    char *gan = th_tmpdir();
    NEED_BIN(&r, "train", "mlp-gan", "--data", "mnist", "--data-dir", fx, "--hidden", "8",
             "--steps", "3", "--batch", "10", "--noise", "normal", "--quiet", "--out", gan);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "eval", "--metric", "fid", "--net", run, "--real", test, "--fake", gan, "--n",
             "64");
    CHECK(r.code == 0 && number_after(r.out, "FMNIST-FID ") > split_fid &&
          strstr(r.out, "generated"), "exit %d: %s %s", r.code, r.out, r.err);
    /* a 32 x 32 DCGAN: its images are resized to the real 28 x 28 */
    char *dc = th_tmpdir();
    NEED_BIN(&r, "train", "dcgan", "--data", "mnist", "--data-dir", fx, "--image-size", "32",
             "--nz", "8", "--ngf", "4", "--ndf", "4", "--steps", "2", "--batch", "10",
             "--device", "cpu", "--quiet", "--out", dc);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "eval", "--metric", "fid", "--net", run, "--real", test, "--fake", dc, "--n",
             "64");
    CHECK(r.code == 0 && strstr(r.out, "32x32 resized to 28x28") &&
          number_after(r.out, "FMNIST-FID ") > 0, "exit %d: %s %s", r.code, r.out, r.err);
    NEED_BIN(&r, "eval", "--metric", "mmd", "--real", test, "--fake", dc, "--n", "64",
             "--device", "cpu");
    CHECK(r.code == 0 && number_after(r.out, "MMD ") > 0, "exit %d: %s %s", r.code, r.out,
          r.err);
    th_rmtree(fx);
    th_rmtree(run);
    th_rmtree(gan);
    th_rmtree(dc);
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
#define BAD(want, ...) expect_error(2, (want), (const char *const[]){__VA_ARGS__, NULL})

/* A VAE, a DDPM and an image RealNVP run (a few steps each on the bars) as
 * --fake: each generates the images asked for, the same ones for the same
 * seed (the whole output equal), and a DDPM with more DDIM steps than
 * timesteps is a usage error */
TEST(cli_eval_generates_from_vae_ddpm_and_flow_runs)
{
    th_run_result r;
    char *fx = fixture(), *vae = th_tmpdir(), *ddpm = th_tmpdir(), *flow = th_tmpdir();
    REQUIRE(fx && vae && ddpm && flow);
    size_t tl = strlen(fx) + 8;
    char *test = th_alloc(tl);
    snprintf(test, tl, "%s:test", fx);
    NEED_BIN(&r, "train", "vae", "--data", "mnist", "--data-dir", fx, "--hidden", "32",
             "--latent", "2", "--batch", "32", "--steps", "3", "--device", "cpu", "--quiet",
             "--out", vae);
    REQUIRE(r.code == 0, "vae: exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "train", "ddpm", "--data", "mnist", "--data-dir", fx, "--image-size", "32",
             "--ch", "8", "--ch-mult", "1,2", "--num-res-blocks", "1", "--attn", "16",
             "--batch", "4", "--steps", "2", "--ddim-steps", "0", "--device", "cpu",
             "--quiet", "--out", ddpm);
    REQUIRE(r.code == 0, "ddpm: exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "train", "realnvp", "--data", "mnist", "--data-dir", fx, "--steps", "2",
             "--batch", "8", "--width", "4", "--layers", "1", "--device", "cpu", "--quiet",
             "--out", flow);
    REQUIRE(r.code == 0, "realnvp: exit %d: %s", r.code, r.err);
    const char *runs[3] = {vae, ddpm, flow}, *kind[3] = {"(vae, generated", "(ddpm, generated",
                                                         "(realnvp, generated"};
    for (int i = 0; i < 3; i++) {
        NEED_BIN(&r, "eval", "--metric", "mmd", "--real", test, "--fake", runs[i], "--n", "12",
                 "--ddim-steps", "2", "--device", "cpu");
        CHECK(r.code == 0 && strstr(r.out, kind[i]) && strstr(r.out, "12 images") &&
              number_after(r.out, "MMD ") > 0, "%s: exit %d: %s %s", kind[i], r.code, r.out,
              r.err);
        char *first = strdup(r.out);
        NEED_BIN(&r, "eval", "--metric", "mmd", "--real", test, "--fake", runs[i], "--n", "12",
                 "--ddim-steps", "2", "--device", "cpu");
        CHECK(r.code == 0 && first && strcmp(first, r.out) == 0, "%s: a second run differs:\n"
              "%s\n%s", kind[i], first, r.out);
        free(first);
    }
    NEED_BIN(&r, "eval", "--metric", "mmd", "--real", test, "--fake", ddpm, "--n", "4",
             "--ddim-steps", "1001", "--device", "cpu");
    CHECK(r.code == 2 && strstr(r.err, "only 1000 timesteps") && th_count_lines(r.err) == 1,
          "exit %d: %s", r.code, r.err);
    th_rmtree(fx);
    th_rmtree(vae);
    th_rmtree(ddpm);
    th_rmtree(flow);
}

TEST(cli_eval_bad_flags_and_sources)
{
    BAD("--metric expects one of elbo|nll|mse|bpd|mmd|fid|kid|is", "eval", "--metric", "ssim");
    BAD("needs --metric, --real and --fake", "eval", "--metric", "mmd", "--real",
        "fashion-mnist");
    BAD("--metric fid needs --net PATH", "eval", "--metric", "fid", "--real", "fashion-mnist",
        "--fake", "fashion-mnist:test");
    BAD("--net is for --metric fid", "eval", "--metric", "mmd", "--net", "x", "--real",
        "fashion-mnist", "--fake", "fashion-mnist:test");
    BAD("--n expects an integer from 2", "eval", "--metric", "mmd", "--n", "1");
    BAD("give --metric", "eval", "--n", "1");
    BAD("'cifar' is not fashion-mnist[:split], and no such file or folder", "eval", "--metric",
        "mmd", "--real", "cifar", "--fake", "fashion-mnist");
    BAD("--fake /nonexistent/dir/:", "eval", "--metric", "mmd", "--real", "fashion-mnist",
        "--fake", "/nonexistent/dir/");
    BAD("not a cugen packed file", "eval", "--metric", "mmd", "--real", "fashion-mnist", "--fake",
        "Makefile");
    char *d = th_tmpdir();
    REQUIRE(d);
    BAD("train one with: cugen train classifier", "eval", "--metric", "fid", "--net", d,
        "--real", "fashion-mnist:test", "--fake", "fashion-mnist:test", "--n", "10");
    th_rmtree(d);
}

TEST(fmnist_net_shapes_and_feature_net)
{
    cg_fmnist_net m;
    char err[256];
    REQUIRE(cg_fmnist_net_build(&m, err, sizeof err) == CG_OK, "%s", err);
    cg_fmnist_net_init(&m, 1, 1);
    /* conv1 32*9+32, conv2 64*32*9+64, fc1 3136*128+128, fc2 128*10+10 */
    CHECK(cg_params_count(&m.p) == 320 + 18496 + 401536 + 1290, "%lld",
          (long long)cg_params_count(&m.p));
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(3, 1, 28, 28), 5, 0, 1, 1), *f = NULL;
    cg_tensor *l = cg_fmnist_net_forward(&ctx, &m, x, &f);
    REQUIRE_OK(&ctx);
    CHECK(l->shape[0] == 3 && l->shape[1] == 10 && f->shape[1] == CG_FMNIST_NET_FEATURES);
    for (int64_t i = 0; i < f->n; i++)
        REQUIRE(f->data[i] >= 0, "features are after a ReLU");
    cg_tensor *bad = cg_fmnist_net_forward(&ctx, &m, th_const(CG_SHAPE(2, 1, 32, 32), 5, 0, 1,
                                                              1), NULL);
    CHECK(!bad && strstr(ctx.errmsg, "(N, 1, 28, 28)"), "%s", ctx.errmsg);
    /* saved weights load as a feature net whose features are the same */
    char *dir = th_tmpdir();
    REQUIRE(dir);
    REQUIRE(cg_weights_save(th_path(dir, "classifier.safetensors"), &m.p, err, sizeof err) ==
            CG_OK, "%s", err);
    cg_feature_net net;
    REQUIRE(cg_fmnist_feature_net(dir, &net, err, sizeof err) == CG_OK, "%s", err);
    real out[3 * CG_FMNIST_NET_FEATURES];
    cg_clear_error(&ctx);
    REQUIRE(net.features(&net, &ctx, x->data, 3, out) == CG_OK);
    CHECK(memcmp(out, f->data, sizeof out) == 0);
    net.free(&net);
    CHECK(cg_fmnist_feature_net(th_path(dir, "none.safetensors"), &net, err, sizeof err) !=
          CG_OK);
    th_rmtree(dir);
    cg_ctx_free(&ctx);
    cg_fmnist_net_free(&m);
}
