/*
 * test_gan_metrics_cli.c: `cugen eval --metric is|kid` end to end on a
 * small labelled MNIST-format fixture, and their bad flags.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/data.h"
#include "cugen/io.h"
#include "cugen/metrics.h"
#include "cugen/rng.h"
#include "cugen/tape.h"
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

/* class k: a vertical bar at column 2 + 2.5 k on a noisy ground (as
 * test_eval_cli.c draws them) */
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

/* A packed file of n copies of one grey 28 x 28 image */
static char *constant_set(const char *dir, int n)
{
    uint8_t *px = th_alloc((size_t)n * 784);
    for (int i = 0; i < n; i++)
        for (int p = 0; p < 784; p++)
            px[i * 784 + p] = (uint8_t)(p % 28 < 14 ? 40 : 200);
    cg_dataset d = {.count = n, .channels = 1, .height = 28, .width = 28, .pixels = px};
    char *path = th_path(dir, "constant.packed"), err[512];
    if (cg_packed_write(path, &d, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "%s", err);
        return NULL;
    }
    return path;
}

/* The features (or logits) of the fixture's test split through the
 * classifier of run, in process, as the command computes them */
static real *rows_of(const char *run, const char *fx, int logits, int64_t *n, int *width)
{
    cg_feature_net net;
    char err[1024];
    if (cg_fmnist_feature_net(run, &net, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "%s", err);
        return NULL;
    }
    cg_data_spec spec = {.name = "mnist", .dir = fx, .split = "test"};
    cg_dataset d;
    if (cg_dataset_open(&spec, &d, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "%s", err);
        net.free(&net);
        return NULL;
    }
    real *x = th_alloc(sizeof(real) * (size_t)d.count * 784);
    for (int64_t i = 0; i < d.count * 784; i++)
        x[i] = (real)(d.pixels[i] / 127.5 - 1);
    *width = logits ? net.classes : net.dim;
    real *out = th_alloc(sizeof(real) * (size_t)d.count * *width);
    if (cg_feature_rows(&net, x, d.count, logits, out, err, sizeof err) != CG_OK)
        th_fail(__FILE__, __LINE__, "%s", err);
    *n = d.count;
    cg_dataset_free(&d);
    net.free(&net);
    return out;
}

/* A classifier trained on the bars (4 epochs: 1.0 test accuracy, as
 * test_eval_cli.c measures), then: the score of its 100 test images, the
 * number the command prints equal to the library's on the same logits
 * (printed to 4 decimals), high for the ten well-told classes and 1 for a
 * set of one image; KID of train against test near 0 and far below that of
 * the constant set; the subset rules; and the bad flags of both. */
TEST(cli_eval_is_and_kid_with_the_fmnist_net)
{
    th_run_result r;
    cg_rng g;
    cg_rng_init(&g, 1, 1);
    char *fx = th_mnist_fixture(300, 100, draw_class_bar, &g), *run = th_tmpdir();
    REQUIRE(fx && run);
    NEED_BIN(&r, "train", "classifier", "--data", "mnist", "--data-dir", fx, "--epochs", "4",
             "--batch", "20", "--quiet", "--out", run);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    size_t tl = strlen(fx) + 8;
    char *test = th_alloc(tl);
    snprintf(test, tl, "%s:test", fx);
    char *flat = constant_set(run, 50);
    REQUIRE(flat);

    NEED_BIN(&r, "eval", "--metric", "is", "--net", run, "--fake", test);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    double is10 = number_after(r.out, "FMNIST-IS ");
    CHECK(strstr(r.out, "10 splits") && strstr(r.out, "100 images") &&
          strstr(r.out, "fmnist-net classifier, 10 classes"), "%s", r.out);
    int64_t n = 0;
    int k = 0;
    real *l = rows_of(run, fx, 1, &n, &k);
    REQUIRE(l && n == 100 && k == 10);
    double mean, sd;
    REQUIRE(cg_inception_score(l, n, k, 10, &mean, &sd) == CG_OK);
    CHECK(fabs(is10 - mean) < 6e-5 && fabs(number_after(r.out, " +- ") - sd) < 6e-5,
          "printed %s, library %.6f +- %.6f", r.out, mean, sd);
    NEED_BIN(&r, "eval", "--metric", "is", "--net", run, "--fake", test, "--splits", "1");
    double is1 = number_after(r.out, "FMNIST-IS ");
    /* one split of 100 predictions over 10 classes of about equal counts: at
     * most 10 (exp of the labels' entropy when every prediction is certain;
     * measured 5.8 after 4 epochs), far above an uninformative 1; 10 splits
     * of 10 images see fewer classes each, so less */
    CHECK(r.code == 0 && is1 > 3 && is1 <= 10 + 1e-9 && is1 > is10, "%g, %g: %s %s", is1, is10,
          r.out, r.err);
    NEED_BIN(&r, "eval", "--metric", "is", "--net", run, "--fake", flat);
    /* every p(y|x) the same: every KL 0 (to rounding) */
    CHECK(r.code == 0 && fabs(number_after(r.out, "FMNIST-IS ") - 1) < 1e-4, "%s %s", r.out,
          r.err);

    NEED_BIN(&r, "eval", "--metric", "kid", "--net", run, "--real", fx, "--fake", test);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    double kid_same = number_after(r.out, "FMNIST-KID ");
    CHECK(strstr(r.out, "100 subsets of 100 images"), "the smaller set's size: %s", r.out);
    NEED_BIN(&r, "eval", "--metric", "kid", "--net", run, "--real", fx, "--fake", flat);
    double kid_flat = number_after(r.out, "FMNIST-KID ");
    CHECK(r.code == 0 && fabs(kid_same) < 0.05 * kid_flat, "same %g, constant %g: %s", kid_same,
          kid_flat, r.err);
    NEED_BIN(&r, "eval", "--metric", "kid", "--net", run, "--real", test, "--fake", test,
             "--subsets", "5");
    CHECK(r.code == 0 && strstr(r.out, "one subset: both sets whole"), "%s %s", r.out, r.err);
    /* both whole: the estimate of the set against itself, as the library's */
    real *f = rows_of(run, fx, 0, &n, &k);
    REQUIRE(f);
    double whole = 0;
    REQUIRE(cg_kid_mmd2(f, n, f, n, k, &whole) == CG_OK);
    CHECK(fabs(number_after(r.out, "FMNIST-KID ") - whole) < 6e-7 * fmax(1, fabs(whole)),
          "printed %s, library %.7f", r.out, whole);
    NEED_BIN(&r, "eval", "--metric", "kid", "--net", run, "--real", fx, "--fake", test,
             "--subset-size", "20", "--subsets", "3", "--seed", "4");
    CHECK(r.code == 0 && strstr(r.out, "3 subsets of 20 images"), "%s %s", r.out, r.err);

    FAILS(2, "subsets of 101 images, but the sets have 300 and 100", "eval", "--metric", "kid",
          "--net", run, "--real", fx, "--fake", test, "--subset-size", "101");
    FAILS(2, "12 images in 20 splits", "eval", "--metric", "is", "--net", run, "--fake", test,
          "--n", "12", "--splits", "20");
    th_rmtree(fx);
    th_rmtree(run);
}

TEST(cli_eval_is_and_kid_bad_flags)
{
    FAILS(2, "--metric is rates one set of images", "eval", "--metric", "is", "--real",
          "fashion-mnist", "--fake", "fashion-mnist:test", "--net", "x");
    FAILS(2, "--metric is needs --fake SRC", "eval", "--metric", "is", "--net", "x");
    FAILS(2, "--metric is needs --net PATH", "eval", "--metric", "is", "--fake", "fashion-mnist");
    FAILS(2, "--metric kid needs --net PATH", "eval", "--metric", "kid", "--real",
          "fashion-mnist", "--fake", "fashion-mnist:test");
    FAILS(2, "needs --metric, --real and --fake", "eval", "--metric", "kid", "--fake",
          "fashion-mnist");
    FAILS(2, "--splits is for --metric is", "eval", "--metric", "fid", "--net", "x", "--real",
          "fashion-mnist", "--fake", "fashion-mnist:test", "--splits", "5");
    FAILS(2, "--subsets is for --metric kid", "eval", "--metric", "is", "--net", "x", "--fake",
          "fashion-mnist", "--subsets", "5");
    FAILS(2, "--subset-size is for --metric kid", "eval", "--metric", "mmd", "--real",
          "fashion-mnist", "--fake", "fashion-mnist:test", "--subset-size", "5");
    FAILS(2, "--sigma is for --metric mmd", "eval", "--metric", "kid", "--net", "x", "--real",
          "fashion-mnist", "--fake", "fashion-mnist:test", "--sigma", "2");
    FAILS(2, "--splits expects an integer from 1", "eval", "--metric", "is", "--splits", "0");
    FAILS(2, "--subset-size expects an integer from 2", "eval", "--metric", "kid",
          "--subset-size", "1");
}
