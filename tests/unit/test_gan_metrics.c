/*
 * test_gan_metrics.c: the Inception Score and KID (host/metrics/), against
 * PyTorch / numpy references and direct double-precision implementations.
 *
 * Inception Score: scripts/make_inception_is_ref.py fills torchvision's
 * inception_v3 (the FID variant, as make_inception_ref.py) and a 1008-way
 * fc with the hash weights of inception_fixture.h, and writes the logits
 * (without the bias, as the published score) of 20 images and their score
 * over 10 splits (tests/ref/inception_is.ref). KID: scripts/make_kid_ref.py
 * (numpy and torch in float64, tests/ref/kid.ref).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/metrics.h"
#include "cugen/rng.h"
#include "cugen/tape.h"
#include "harness.h"
#include "inception_fixture.h"
#include "ref.h"
#include "score_bound.h"

/* the features' bound of test_inception.c (its comment derives it); the
 * logits are 2048-term sums of them with fixed weights, so the same bound */
#define NET_TOL 1e-4

/* ---- the score's formula ------------------------------------------------------- */

TEST(inception_score_formula)
{
    double mean, sd;
    /* identical rows: p(y|x) = p(y), every KL 0, the score 1 */
    real same[6 * 5];
    for (int i = 0; i < 30; i++)
        same[i] = (real)((i % 5) * 0.7 - 1);
    REQUIRE(cg_inception_score(same, 6, 5, 3, &mean, &sd) == CG_OK);
    CHECK(fabs(mean - 1) < 1e-12 && sd < 1e-12, "identical rows: %.15g +- %g", mean, sd);

    /* confident rows spread evenly over 4 of k = 6 classes in each split: the
     * score is 4 (p(y|x) one class, p(y) uniform over 4: KL = log 4); the
     * other logits are 60 below, so p(y|x) is one-hot to exp(-60) */
    real conf[16 * 6];
    for (int i = 0; i < 16; i++)
        for (int c = 0; c < 6; c++)
            conf[i * 6 + c] = (real)(c == i % 4 ? 10 : -50);
    REQUIRE(cg_inception_score(conf, 16, 6, 2, &mean, &sd) == CG_OK);
    CHECK(fabs(mean - 4) < 1e-9 && sd < 1e-9, "confident rows: %.15g +- %g", mean, sd);

    /* uneven splits (n 23 in 4: rows 0-4, 5-10, 11-16, 17-22, as i n / splits),
     * random logits, against the definition; population std of the four */
    enum { N = 23, K = 7, S = 4 };
    real l[N * K];
    cg_rng r;
    cg_rng_init(&r, 11, 0);
    cg_rng_normal(&r, l, N * K, 0.0, 2.0);
    REQUIRE(cg_inception_score(l, N, K, S, &mean, &sd) == CG_OK);
    double s[S], mu = 0, var = 0;
    for (int i = 0; i < S; i++)
        mu += (s[i] = score_direct_split(l, i * N / S, (i + 1) * N / S, K)) / S;
    for (int i = 0; i < S; i++)
        var += (s[i] - mu) * (s[i] - mu) / S;
    /* the same double arithmetic in another order: rounding, 1e-13 */
    CHECK(fabs(mean - mu) < 1e-12 && fabs(sd - sqrt(var)) < 1e-12, "%.15g +- %.15g vs %.15g "
          "+- %.15g", mean, sd, mu, sqrt(var));
    CHECK(sd > 1e-3, "the splits differ: std %g", sd);

    CHECK(cg_inception_score(l, N, K, N + 1, &mean, &sd) == CG_ERR_ARG, "more splits than rows");
    CHECK(cg_inception_score(l, N, K, 0, &mean, &sd) == CG_ERR_ARG, "no split");
    CHECK(cg_inception_score(l, N, 1, 1, &mean, &sd) == CG_ERR_ARG, "one class");
}

/* The 1008-way logits of 20 images and their score against torchvision's
 * network. Bounds: the logits as the features (NET_TOL, relative L2). The
 * score from the reference's own logits (stored as float32: each moves by
 * 6e-8 relative, up to 1e-5 absolute at |logit| < 200) through cugen's
 * formula: 1e-5 relative. The score from cugen's logits: within the bound
 * of score_bound.h from the measured largest logit error. */
TEST(inception_score_matches_torchvision)
{
    ref_file rf;
    if (!REF_OPEN(&rf, "inception_is"))
        return;
    int count = 0;
    cg_st_tensor *t = incfix_tensors(1 << 30, &count);
    REQUIRE(t && count == 472, "incfix_tensors: %d tensors", count);
    cg_inception *m = NULL;
    char err[512];
    cg_status st = cg_inception_from_tensors(t, count, &m, err, sizeof err);
    incfix_free(t, count);
    REQUIRE(st == CG_OK, "%s", err);
    CHECK(cg_inception_classes(m) == INCFIX_CLASSES, "%d classes", cg_inception_classes(m));
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_set_grad(&ctx, 0);
    cg_tensor *x = REF_CONST(&rf, "x");
    cg_tensor *l = cg_inception_logits(&ctx, m, cg_inception_forward(&ctx, m, x));
    REQUIRE_OK(&ctx);
    REF_CHECK_DATA(&rf, "logits", l, NET_TOL);

    const ref_tensor *want = REF_GET(&rf, "is"), *want1 = REF_GET(&rf, "is1"),
                     *rl = REF_GET(&rf, "logits");
    REQUIRE(want && want1 && rl);
    int n = l->shape[0], k = l->shape[1];
    double mean, sd, one, unused;
    REQUIRE(cg_inception_score(rl->data, n, k, 10, &mean, &sd) == CG_OK);
    REQUIRE(cg_inception_score(rl->data, n, k, 1, &one, &unused) == CG_OK);
    printf("    IS of the reference logits %.7f +- %.7f (torch %.7f +- %.7f), as one %.7f\n",
           mean, sd, want->data[0], want->data[1], one);
    CHECK(th_near(mean, want->data[0], 1e-5) && th_near(sd, want->data[1], 1e-5) &&
          th_near(one, want1->data[0], 1e-5), "the formula on the same logits");
    /* a score that added fc.bias (4 (2u - 1), up to 4 per class) would be
     * far off: check that the test can tell */
    CHECK(fabs(want->data[0] - 1) > 0.03 && want->data[1] > 0.03, "a score that tells: %g +- %g",
          want->data[0], want->data[1]);

    double e = 0, bound = score_bound(l->data, rl->data, n, k, 10, &e);
    REQUIRE(cg_inception_score(l->data, n, k, 10, &mean, &sd) == CG_OK);
    printf("    IS of cugen's logits %.7f +- %.7f; largest logit error %.3g, bound on the "
           "score %.3g\n", mean, sd, e, bound);
    CHECK(fabs(mean - want->data[0]) <= bound, "IS %.7f vs %.7f", mean, want->data[0]);
    CHECK(fabs(sd - want->data[1]) <= bound, "std %.7f vs %.7f", sd, want->data[1]);
    cg_ctx_free(&ctx);
    cg_inception_free(m);
    ref_free(&rf);
}

/* Weights without the classifier (a file converted before it was kept):
 * the features work, the logits are a one-line error; a classifier of the
 * wrong shape is refused naming it */
TEST(inception_without_or_with_bad_classifier)
{
    int count = 0;
    cg_st_tensor *t = incfix_tensors(1 << 30, &count);
    REQUIRE(t && count == 472);
    cg_inception *m = NULL;
    char err[512];
    REQUIRE(cg_inception_from_tensors(t, 470, &m, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_inception_classes(m) == 0, "no classifier");
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *f = cg_new(&ctx, CG_SHAPE(1, CG_INCEPTION_FEATURES));
    CHECK(cg_inception_logits(&ctx, m, f) == NULL && ctx.err == CG_ERR_ARG &&
          strstr(ctx.errmsg, "no classifier (fc.weight)") && !strchr(ctx.errmsg, '\n'), "%s",
          ctx.errmsg);
    cg_ctx_free(&ctx);
    cg_inception_free(m);
    t[470].shape[1] = 1024;  /* fc.weight (1008, 1024): not the features' width */
    CHECK(cg_inception_from_tensors(t, count, &m, err, sizeof err) == CG_ERR_ARG && !m &&
          strstr(err, "'fc.weight'"), "%s", err);
    printf("    %s\n", err);
    t[470].shape[1] = 2048;
    incfix_free(t, count);
}

/* ---- KID ------------------------------------------------------------------------- */

/* the estimate straight from its definition, in double, pair by pair */
static double direct_mmd2(const real *x, int n, const real *y, int m, int d)
{
    double kxx = 0, kyy = 0, kxy = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int c = 0; c < d; c++)
                s += (double)x[i * d + c] * x[j * d + c];
            kxx += i == j ? 0 : pow(s / d + 1, 3);
        }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int c = 0; c < d; c++)
                s += (double)y[i * d + c] * y[j * d + c];
            kyy += i == j ? 0 : pow(s / d + 1, 3);
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int c = 0; c < d; c++)
                s += (double)x[i * d + c] * y[j * d + c];
            kxy += pow(s / d + 1, 3);
        }
    return kxx / ((double)n * (n - 1)) + kyy / ((double)m * (m - 1)) - 2 * kxy / ((double)n * m);
}

/* Against numpy and torch (the script checks they agree to 1e-12): the
 * inputs are the same float32 values and both sides sum in double, so the
 * bound is the float32 storage of the reference value, 6e-8, with room: 1e-6 */
TEST(kid_matches_numpy_and_torch)
{
    ref_file rf;
    if (!REF_OPEN(&rf, "kid"))
        return;
    const char *cases[2] = {"a", "b"};
    for (int c = 0; c < 2; c++) {
        char nx[8], ny[8], nv[12];
        snprintf(nx, sizeof nx, "%s_x", cases[c]);
        snprintf(ny, sizeof ny, "%s_y", cases[c]);
        snprintf(nv, sizeof nv, "%s_mmd2", cases[c]);
        const ref_tensor *x = REF_GET(&rf, nx), *y = REF_GET(&rf, ny), *v = REF_GET(&rf, nv);
        REQUIRE(x && y && v);
        double got = 0;
        REQUIRE(cg_kid_mmd2(x->data, x->shape[0], y->data, y->shape[0], x->shape[1], &got) ==
                CG_OK);
        printf("    case %s: %.9g (numpy %.9g)\n", cases[c], got, v->data[0]);
        CHECK(fabs(got - v->data[0]) <= 1e-6 * fabs(v->data[0]), "case %s: %.9g vs %.9g",
              cases[c], got, v->data[0]);
    }
    ref_free(&rf);
}

/* Against the pair-by-pair definition: across the GEMM's 256-row blocks (n
 * 300), unequal sizes, a width that is no multiple of anything (d 37).
 * Both in double; the GEMM sums the dot products in another order:
 * relative 1e-13 of sums of order one; bound 1e-11 of the largest term.
 * Then cg_kid's subsets against the documented draw, and its refusals. */
TEST(kid_matches_a_direct_double_implementation)
{
    enum { N = 300, M = 270, D = 37 };
    real *x = th_alloc(sizeof(real) * N * D), *y = th_alloc(sizeof(real) * M * D);
    cg_rng r;
    cg_rng_init(&r, 5, 0);
    cg_rng_normal(&r, x, N * D, 0.0, 1.0);
    cg_rng_normal(&r, y, M * D, 0.2, 1.1);
    double got = 0, want = direct_mmd2(x, N, y, M, D);
    REQUIRE(cg_kid_mmd2(x, N, y, M, D, &got) == CG_OK);
    CHECK(fabs(got - want) < 1e-11, "%.15g vs %.15g", got, want);
    CHECK(want > 0.01, "distinct sets: %g", want);

    /* subsets of 50: the draw of cugen/metrics.h, each subset's estimate
     * pair by pair, mean and population std */
    enum { SUB = 7, SIZE = 50 };
    double mean, sd;
    REQUIRE(cg_kid(x, N, y, M, D, SUB, SIZE, 9, &mean, &sd) == CG_OK);
    int32_t *ix = th_alloc(sizeof(int32_t) * N), *iy = th_alloc(sizeof(int32_t) * M);
    for (int i = 0; i < N; i++)
        ix[i] = i;
    for (int i = 0; i < M; i++)
        iy[i] = i;
    real *a = th_alloc(sizeof(real) * SIZE * D), *b = th_alloc(sizeof(real) * SIZE * D);
    double v[SUB], mu = 0, var = 0;
    cg_rng_init(&r, 9, CG_KID_STREAM);
    for (int s = 0; s < SUB; s++) {
        cg_rng_shuffle(&r, ix, N);
        cg_rng_shuffle(&r, iy, M);
        for (int i = 0; i < SIZE; i++) {
            memcpy(a + i * D, x + ix[i] * D, sizeof(real) * D);
            memcpy(b + i * D, y + iy[i] * D, sizeof(real) * D);
        }
        mu += (v[s] = direct_mmd2(a, SIZE, b, SIZE, D)) / SUB;
    }
    for (int s = 0; s < SUB; s++)
        var += (v[s] - mu) * (v[s] - mu) / SUB;
    CHECK(fabs(mean - mu) < 1e-11 && fabs(sd - sqrt(var)) < 1e-11, "%.15g +- %.15g vs %.15g +- "
          "%.15g", mean, sd, mu, sqrt(var));
    CHECK(sd > 0, "subsets differ");

    /* both sets whole: one subset, the full estimate, std 0 */
    REQUIRE(cg_kid(x, N, y, N, D, 10, N, 9, &mean, &sd) == CG_OK);
    CHECK(fabs(mean - direct_mmd2(x, N, y, N, D)) < 1e-11 && sd == 0, "%.15g +- %g", mean, sd);

    /* the same distribution: the unbiased estimate is near 0 (and may be
     * negative); the shifted one is far above it */
    real *z = th_alloc(sizeof(real) * N * D);
    cg_rng_normal(&r, z, N * D, 0.0, 1.0);
    double same = 0;
    REQUIRE(cg_kid(x, N, z, N, D, 20, 100, 1, &same, &sd) == CG_OK);
    REQUIRE(cg_kid(x, N, y, M, D, 20, 100, 1, &mean, &sd) == CG_OK);
    printf("    KID same distribution %.3g, shifted %.3g +- %.3g\n", same, mean, sd);
    CHECK(fabs(same) < 0.1 * mean, "same %g, shifted %g", same, mean);

    CHECK(cg_kid(x, N, y, M, D, 10, M + 1, 0, &mean, &sd) == CG_ERR_ARG, "subset > set");
    CHECK(cg_kid(x, N, y, M, D, 0, 10, 0, &mean, &sd) == CG_ERR_ARG, "no subset");
    CHECK(cg_kid(x, N, y, M, D, 10, 1, 0, &mean, &sd) == CG_ERR_ARG, "one image");
    CHECK(cg_kid_mmd2(x, 1, y, M, D, &got) == CG_ERR_ARG, "one row");
}
