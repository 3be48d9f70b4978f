/*
 * test_pixelcnn.c: the PixelCNN (cugen/pixelcnn.h): one training step of
 * each output (binary, 256 levels) against PyTorch (tests/ref/pixelcnn_step.ref,
 * pixelcnn256_step.ref from scripts/make_refs.py with the module of
 * scripts/pixelcnn_torch.py); the masks' causality by perturbation; the
 * cropped forward the sampler runs against the whole one; the test-set
 * likelihood against a closed form; bad flags of train, sample and eval.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/ops.h"
#include "cugen/pixelcnn.h"
#include "cugen/tape.h"
#include "harness.h"
#include "ref.h"

/* Float32 convolutions of at most 2h 9 = 16 terms per sum over 3 blocks, and
 * sums of a few hundred pixel losses: relative errors near 1e-7; 1e-5 (the
 * parity asked of a step) leaves two orders of magnitude. */
#define TOL 1e-5

static void step_parity(const char *name)
{
    ref_file rf;
    if (!REF_OPEN(&rf, name))
        return;
    cg_pixelcnn_arch a = {.levels = (int)ref_cfg(&rf, 0), .hidden = (int)ref_cfg(&rf, 1),
                          .blocks = (int)ref_cfg(&rf, 2)};
    double lr = ref_cfg(&rf, 3);
    cg_pixelcnn m;
    char err[256];
    REQUIRE(cg_pixelcnn_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    for (int i = 0; i < m.p.count; i++) {
        char key[80];
        snprintf(key, sizeof key, "init.%s", m.p.t[i]->name);
        const ref_tensor *t = REF_GET(&rf, key);
        REQUIRE(t && t->n == m.p.t[i]->n, "%s", key);
        memcpy(m.p.t[i]->data, t->data, sizeof(real) * (size_t)t->n);
    }
    const ref_tensor *xr = REF_GET(&rf, "x"), *lr_ = REF_GET(&rf, "labels");
    REQUIRE(xr && lr_);
    int32_t *lab = th_alloc(sizeof(int32_t) * (size_t)lr_->n);
    for (int64_t i = 0; i < lr_->n; i++)
        lab[i] = (int32_t)lr_->data[i];
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = cg_wrap(&ctx, xr->data, xr->shape, xr->ndim);
    cg_tensor *z = cg_pixelcnn_logits(&ctx, &m, x);
    REQUIRE(z, "%s", ctx.errmsg);
    double e_z = REF_CHECK_DATA(&rf, "logits", z, TOL);
    cg_tensor *nll = cg_pixelcnn_nll(&ctx, &m, x, lab);
    REQUIRE(nll, "%s", ctx.errmsg);
    double e_nll = REF_CHECK_DATA(&rf, "nll", nll, TOL);
    cg_tensor *loss = cg_scale(&ctx, nll, 1.0 / x->shape[0]);
    REQUIRE(cg_backward(&ctx, loss) == CG_OK, "%s", ctx.errmsg);
    double worst_g = 0, worst_w = 0;
    for (int i = 0; i < m.p.count; i++) {
        char key[80];
        snprintf(key, sizeof key, "grad.%s", m.p.t[i]->name);
        worst_g = fmax(worst_g, REF_CHECK_GRAD(&rf, key, m.p.t[i], TOL));
    }
    cg_ctx_step_end(&ctx);
    cg_params_zero_grad(&m.p);

    cg_adam opt;
    cg_adam_init(&opt, lr, 0.9, 0.999, 1e-8, 0, 0);
    x = cg_wrap(&ctx, xr->data, xr->shape, xr->ndim);
    double got;
    REQUIRE(cg_pixelcnn_step(&ctx, &m, &opt, x, lab, &got) == CG_OK, "%s", ctx.errmsg);
    const ref_tensor *want = REF_GET(&rf, "nll");
    CHECK(fabs(got * x->shape[0] - want->data[0]) < TOL * fabs(want->data[0]),
          "the step's nll %.8g per image, PyTorch %.8g", got, want->data[0] / x->shape[0]);
    for (int i = 0; i < m.p.count; i++) {
        char key[80];
        snprintf(key, sizeof key, "final.%s", m.p.t[i]->name);
        worst_w = fmax(worst_w, REF_CHECK_DATA_QUIET(&rf, key, m.p.t[i], TOL));
    }
    printf("    rel errors: logits %.1e, nll %.1e, gradients %.1e, weights after Adam %.1e\n",
           e_z, e_nll, worst_g, worst_w);
    cg_ctx_free(&ctx);
    cg_pixelcnn_free(&m);
    ref_free(&rf);
}

TEST(pixelcnn_binary_one_step_matches_pytorch)
{
    step_parity("pixelcnn_step");
}

TEST(pixelcnn_256_levels_one_step_matches_pytorch)
{
    step_parity("pixelcnn256_step");
}

static int build_random(cg_pixelcnn *m, int levels, int blocks, int hidden)
{
    char err[256];
    cg_pixelcnn_arch a = {.hidden = hidden, .blocks = blocks, .levels = levels};
    if (cg_pixelcnn_build(m, &a, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "%s", err);
        return 0;
    }
    cg_pixelcnn_init(m, 17, 1);
    return 1;
}

/* the logits of one S x S image x, per pixel L values, into z */
static int logits_of(cg_pixelcnn *m, cg_ctx *ctx, real *x, int rows, int S, real *z)
{
    cg_tensor *t = cg_pixelcnn_logits(ctx, m, cg_wrap(ctx, x, CG_SHAPE(1, 1, rows, S)));
    if (!t) {
        th_fail(__FILE__, __LINE__, "%s", ctx->errmsg);
        return 0;
    }
    memcpy(z, t->data, sizeof(real) * (size_t)t->n);
    cg_ctx_step_end(ctx);
    return 1;
}

/* For every pixel i of a 7 x 7 image: the logits at i are the same, bit for
 * bit, when every pixel from i on is changed (a masked weight is exactly 0,
 * so a changed pixel it meets adds exactly 0), and differ when only the
 * pixel left of i is (mask A sees it: the test can fail). */
static void causality(int levels, int blocks)
{
    enum { S = 7, D = S * S };
    cg_pixelcnn m;
    if (!build_random(&m, levels, blocks, 3))
        return;
    int L = levels == 2 ? 1 : 256;
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_set_grad(&ctx, 0);
    cg_rng r;
    cg_rng_init(&r, 3, 0);
    real x[D], y[D], u[D];
    real *z = th_alloc(sizeof(real) * D * (size_t)L), *z2 = th_alloc(sizeof(real) * D * (size_t)L);
    cg_rng_uniform(&r, x, D);
    REQUIRE(logits_of(&m, &ctx, x, S, S, z));
    int leaks = 0, blind = 0;
    for (int i = 0; i < D; i++) {
        cg_rng_uniform(&r, u, D);
        memcpy(y, x, sizeof x);
        for (int j = i; j < D; j++)
            y[j] = 2 * u[j] + 1;   /* another value, outside [0, 1] even */
        REQUIRE(logits_of(&m, &ctx, y, S, S, z2));
        for (int k = 0; k < L; k++) {
            /* binary: (1, 1, S, S); 256: (1, S S, 256) */
            int64_t at = levels == 2 ? i : (int64_t)i * 256 + k;
            leaks += z[at] != z2[at];
        }
        if (i % S > 0) {
            memcpy(y, x, sizeof x);
            y[i - 1] += 1;
            REQUIRE(logits_of(&m, &ctx, y, S, S, z2));
            blind += z[levels == 2 ? i : (int64_t)i * 256] == z2[levels == 2 ? i : (int64_t)i * 256];
        }
    }
    CHECK(leaks == 0, "levels %d: %d logits changed with a pixel at or after theirs", levels,
          leaks);
    CHECK(blind == 0, "levels %d: %d pixels do not see their left neighbour", levels, blind);
    cg_ctx_free(&ctx);
    cg_pixelcnn_free(&m);
}

TEST(pixelcnn_masks_are_causal)
{
    causality(2, 2);
    causality(256, 1);
}

/* The sampler's pass for row r runs over rows r - R .. r only: row r's
 * logits there are the whole image's (to float rounding: the GEMMs have
 * other sizes). */
TEST(pixelcnn_cropped_rows_give_the_whole_images_logits)
{
    enum { S = 12, D = S * S };
    cg_pixelcnn m;
    if (!build_random(&m, 2, 3, 8))
        return;
    int R = cg_pixelcnn_reach(&m);
    CHECK(R == 6, "reach %d, want 3 + 3 blocks", R);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_set_grad(&ctx, 0);
    cg_rng r;
    cg_rng_init(&r, 4, 0);
    /* weights of order 1: PyTorch's initial ones pass a change 6 rows up
     * through 3 blocks scaled by ~1e-6, too little to tell from rounding */
    for (int i = 0; i < m.p.count; i++)
        cg_init_uniform(m.p.t[i], &r, -0.8, 0.8);
    real x[D], z[D], zc[D];
    cg_rng_uniform(&r, x, D);
    REQUIRE(logits_of(&m, &ctx, x, S, S, z));
    double d2 = 0, n2 = 0;
    for (int row = R; row < S; row++) {
        int top = row - R;
        REQUIRE(logits_of(&m, &ctx, x + top * S, R + 1, S, zc));
        for (int c = 0; c < S; c++) {
            double d = zc[R * S + c] - z[row * S + c];
            d2 += d * d, n2 += (double)z[row * S + c] * z[row * S + c];
        }
    }
    double worst = sqrt(d2 / n2);
    /* float32 sums of at most 49 terms per layer, summed in another order: ~1e-7 */
    CHECK(worst < 1e-5, "row logits from the crop differ by %.2e", worst);
    /* one row less and the padding reaches row r: the crop is no larger than needed */
    REQUIRE(logits_of(&m, &ctx, x + (S - R) * S, R, S, zc));
    d2 = n2 = 0;
    for (int c = 0; c < S; c++) {
        double d = zc[(R - 1) * S + c] - z[(S - 1) * S + c];
        d2 += d * d, n2 += (double)z[(S - 1) * S + c] * z[(S - 1) * S + c];
    }
    double off = sqrt(d2 / n2);
    printf("    crop of R + 1 rows: %.1e relative; of R rows: %.1e\n", worst, off);
    CHECK(off > 1e-3, "a crop of R rows gives the last row's logits too (%.2e)", off);
    cg_ctx_free(&ctx);
    cg_pixelcnn_free(&m);
}

/* Every weight 0 but out2's bias b: each pixel is 1 with probability
 * sigmoid(b), and -log p(x) sums softplus(-b) over the 1s and softplus(b)
 * over the 0s of the binarized images. */
TEST(pixelcnn_test_likelihood_against_closed_form)
{
    cg_pixelcnn m;
    if (!build_random(&m, 2, 1, 3))
        return;
    for (int i = 0; i < m.p.count; i++)
        cg_init_const(m.p.t[i], 0.0);
    double b = -0.4;
    cg_init_const(m.out2.bias, b);
    enum { N = 130, S = 5 };   /* two evaluation batches, the second partial */
    cg_dataset ds = {.count = N, .channels = 1, .height = S, .width = S};
    uint8_t *px = th_alloc(N * S * S);
    int64_t ones = 0;
    for (int i = 0; i < N * S * S; i++) {
        px[i] = (uint8_t)((i * 37 + i / 25 * 11) % 256);
        ones += px[i] >= 128;
    }
    ds.pixels = px;
    snprintf(ds.name, sizeof ds.name, "tiny");
    double nats, want = (ones * log1p(exp(-b)) + (N * S * S - ones) * log1p(exp(b))) / N;
    int64_t count;
    char err[256];
    REQUIRE(cg_pixelcnn_evaluate(&m, &ds, 0, &nats, &count, err, sizeof err) == CG_OK, "%s",
            err);
    CHECK(count == N, "%lld images", (long long)count);
    /* float32 per-pixel losses summed over 100 x 25 values: ~1e-6 relative */
    CHECK(fabs(nats - want) < 1e-5 * want, "nll %.8g, closed form %.8g", nats, want);
    CHECK_NEAR(cg_pixelcnn_bpd(nats, S * S), nats / (S * S * log(2.0)), 1e-12);
    REQUIRE(cg_pixelcnn_evaluate(&m, &ds, 7, &nats, &count, err, sizeof err) == CG_OK, "%s",
            err);
    CHECK(count == 7, "--n 7 measured %lld images", (long long)count);
    ds.channels = 3;
    CHECK(cg_pixelcnn_evaluate(&m, &ds, 0, &nats, &count, err, sizeof err) == CG_ERR_ARG &&
              strstr(err, "one-channel"), "3 channels: %s", err);
    cg_pixelcnn_free(&m);
}

/* Levels 2 binarizes at 0.5 of the 8-bit value; 256 gives it back */
TEST(pixelcnn_pixels_binarize_and_quantise)
{
    real img[4] = {(real)(127 / 127.5 - 1), (real)(128 / 127.5 - 1), -1, 1}, x[4];
    int32_t lab[4];
    cg_pixelcnn_pixels(2, img, 4, x, lab);
    CHECK(lab[0] == 0 && lab[1] == 1 && lab[2] == 0 && lab[3] == 1 && x[1] == 1 && x[0] == 0,
          "binary %d %d %d %d", lab[0], lab[1], lab[2], lab[3]);
    cg_pixelcnn_pixels(256, img, 4, x, lab);
    CHECK(lab[0] == 127 && lab[1] == 128 && lab[2] == 0 && lab[3] == 255 &&
              fabs(x[1] - 128 / 255.0) < 1e-7, "256 levels %d %d %d %d", lab[0], lab[1],
          lab[2], lab[3]);
}

TEST(pixelcnn_bad_flags_one_line)
{
    static const char *const bad[][4] = {
        {"--levels", "3", NULL},
        {"--hidden", "0", NULL},
        {"--blocks", "33", NULL},
        {"--latent", "2", NULL},   /* a flag of another model */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        th_run_result r;
        NEED_BIN(&r, "train", "pixelcnn", bad[i][0], bad[i][1], "--steps", "1");
        CHECK(r.code == 2 && th_count_lines(r.err) == 1 && strstr(r.err, bad[i][0]),
              "%s %s: exit %d: %s", bad[i][0], bad[i][1], r.code, r.err);
    }
    th_run_result r;
    NEED_BIN(&r, "train", "pixelcnn", "--help");
    CHECK(r.code == 0 && strstr(r.out, "--levels") && strstr(r.out, "--blocks"),
          "--help: exit %d: %s", r.code, r.out);
}

static int draw_grey(int split, int i, uint8_t *px, void *arg)
{
    (void)arg;
    for (int k = 0; k < 784; k++)
        px[k] = (uint8_t)((k * 7 + i * 13 + split * 5) % 256);
    return i % 10;
}

/* A run samples (--size gives other sides) and measures; bad flags of
 * sample and eval are refused in one line. */
TEST(pixelcnn_sample_and_eval_cli)
{
    char *data = th_mnist_fixture(16, 8, draw_grey, NULL);
    char *dir = th_tmpdir();
    REQUIRE(data && dir);
    th_run_result r;
    NEED_BIN(&r, "train", "pixelcnn", "--data", "mnist", "--data-dir", data, "--hidden", "2",
             "--blocks", "1", "--grid", "8", "--batch", "8", "--steps", "2", "--quiet", "--out",
             dir);
    REQUIRE(r.code == 0, "train: exit %d: %s", r.code, r.err);
    struct stat sb;
    CHECK(stat(th_path(dir, "samples.png"), &sb) == 0, "no samples.png");
    const char *png = th_path(dir, "s.png");
    NEED_BIN(&r, "sample", dir, "--n", "3", "--size", "9", "--out", png, "--device", "cpu");
    CHECK(r.code == 0 && strstr(r.out, "81 forward passes"), "sample --size 9: exit %d: %s%s",
          r.code, r.out, r.err);
    NEED_BIN(&r, "sample", dir, "--size", "0", "--out", png);
    CHECK(r.code == 2 && th_count_lines(r.err) == 1 && strstr(r.err, "--size"),
          "sample --size 0: exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "eval", dir, "--metric", "bpd", "--data", "mnist", "--data-dir", data,
             "--split", "test", "--device", "cpu");
    double bpd = -1;   /* the number that starts the line "  X bits per dimension" */
    const char *p = strstr(r.out, "bits per dimension");
    if (p) {
        while (p > r.out && p[-1] != '\n')
            p--;
        bpd = strtod(p, NULL);
    }
    CHECK(r.code == 0 && strstr(r.out, "8 images") && bpd > 0 && bpd < 4,
          "eval --metric bpd: exit %d: %s%s", r.code, r.out, r.err);
    NEED_BIN(&r, "eval", dir, "--metric", "nll", "--k", "2");
    CHECK(r.code == 2 && th_count_lines(r.err) == 1 && strstr(r.err, "--k"),
          "eval --k: exit %d: %s", r.code, r.err);
    th_rmtree(dir);
    th_rmtree(data);
}
