/*
 * test_inception.c: the FID Inception network against torchvision's, and
 * its weights loader on malformed files.
 *
 * Reference: scripts/make_inception_ref.py fills torchvision's inception_v3
 * (with the FID changes) with the hash weights of inception_fixture.h,
 * runs it in float64 on two 3x64x64 images in [0, 1] and writes their
 * 2048-d features (tests/ref/inception_fid.ref). Here the same weights are
 * regenerated and cugen's network (float32, BN folded into the convs) runs
 * on the same images.
 *
 * Error measure: ||f_cugen - f_torch||_2 / ||f_torch||_2 over all 2 x 2048
 * features (the design's relative error). Bound 1e-4: each of the ~20
 * layers on the deepest path adds a float32 rounding of its sums (relative
 * ~1e-7 growing like sqrt of the reduction length: 1e-6 for the 3x3x448
 * sums) plus the BN fold's rounding of every weight (6e-8); errors of
 * independent layers add in quadrature and ReLU/pooling do not amplify them,
 * so the expected total is a few 1e-6. 1e-4 is the design's whole-network
 * bound with room to spare; the measured value is printed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/data.h"
#include "cugen/io.h"
#include "cugen/metrics.h"
#include "cugen/tape.h"
#include "harness.h"
#include "inception_fixture.h"
#include "ref.h"

#define NET_TOL 1e-4

TEST(inception_matches_torchvision)
{
    ref_file rf;
    if (!REF_OPEN(&rf, "inception_fid"))
        return;
    int count = 0;
    cg_st_tensor *t = incfix_tensors(470, &count);
    REQUIRE(t && count == 470, "incfix_tensors: %d tensors", count);
    cg_inception *m = NULL;
    char err[512];
    cg_status st = cg_inception_from_tensors(t, count, &m, err, sizeof err);
    incfix_free(t, count);
    REQUIRE(st == CG_OK, "%s", err);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_set_grad(&ctx, 0);
    cg_tensor *x = REF_CONST(&rf, "x");
    cg_tensor *f = cg_inception_forward(&ctx, m, x);
    REQUIRE_OK(&ctx);
    REF_CHECK_DATA(&rf, "features", f, NET_TOL);
    cg_ctx_free(&ctx);
    cg_inception_free(m);
    ref_free(&rf);
}

TEST(inception_layout_names)
{
    cg_inception_entry e[470];
    REQUIRE(cg_inception_layout(e, 470) == 470);
    /* 94 BasicConv2d, five tensors each, in the state_dict's names */
    CHECK(strcmp(e[0].name, "Conv2d_1a_3x3.conv.weight") == 0, "%s", e[0].name);
    CHECK(e[0].ndim == 4 && e[0].shape[0] == 32 && e[0].shape[1] == 3, "first conv");
    CHECK(strcmp(e[469].name, "Mixed_7c.branch_pool.bn.running_var") == 0, "%s", e[469].name);
    int found = 0;
    for (int i = 0; i < 470; i++)
        if (strcmp(e[i].name, "Mixed_6b.branch7x7_2.conv.weight") == 0)
            found = e[i].shape[0] == 128 && e[i].shape[2] == 1 && e[i].shape[3] == 7;
    CHECK(found, "Mixed_6b.branch7x7_2.conv.weight is (128, 128, 1, 7)");
}

/* The first layer's five tensors (a small file) with one changed by `how`,
 * saved; loading it must fail naming `want`. Unchanged, the load fails at
 * the second layer's first tensor, so each case checks an error that comes
 * before that. */
enum { NONE, DROP, RESHAPE, TO_F64, NEG_VAR };

static void expect_load_error(const char *dir, const char *name, int how, const char *want)
{
    int count = 0;
    cg_st_tensor *t = incfix_tensors(5, &count);
    REQUIRE(t);
    int k = 0;
    while (k < count && strcmp(t[k].name, name) != 0)
        k++;
    REQUIRE(k < count, "%s not in the layout", name);
    cg_st_tensor saved = t[k];
    double *d64 = NULL;
    if (how == DROP) {
        t[k] = t[count - 1];
        t[count - 1] = saved;
    } else if (how == RESHAPE) {
        t[k].shape[t[k].ndim - 1] += 1;
        t[k].nbytes = (size_t)cg_st_numel(&t[k]) * 4;
        free((void *)t[k].data);
        t[k].data = calloc(t[k].nbytes, 1);
    } else if (how == TO_F64) {
        d64 = calloc((size_t)cg_st_numel(&t[k]), sizeof(double));
        t[k].dtype = CG_ST_F64;
        t[k].nbytes = (size_t)cg_st_numel(&t[k]) * 8;
        free((void *)t[k].data);
        t[k].data = d64;
    } else if (how == NEG_VAR) {
        ((float *)t[k].data)[3] = -0.5f;
    }
    char *path = th_path(dir, "bad.safetensors"), err[512];
    cg_status st = cg_st_save(path, t, how == DROP ? count - 1 : count, NULL, 0, err,
                              sizeof err);
    incfix_free(t, count);
    REQUIRE(st == CG_OK, "%s", err);
    cg_inception *m = NULL;
    st = cg_inception_load(path, &m, err, sizeof err);
    CHECK(st == CG_ERR_ARG && m == NULL, "loading with %s changed: status %d", name, st);
    CHECK(strstr(err, want) != NULL, "error lacks '%s': %s", want, err);
    CHECK(strchr(err, '\n') == NULL, "one line: %s", err);
    printf("    %s\n", err);
    cg_inception_free(m);
}

TEST(inception_weights_malformed)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    expect_load_error(dir, "Conv2d_1a_3x3.conv.weight", NONE,
                      "tensor 'Conv2d_2a_3x3.conv.weight' is missing");
    expect_load_error(dir, "Conv2d_1a_3x3.bn.running_mean", DROP,
                      "tensor 'Conv2d_1a_3x3.bn.running_mean' is missing");
    expect_load_error(dir, "Conv2d_1a_3x3.conv.weight", RESHAPE,
                      "tensor 'Conv2d_1a_3x3.conv.weight' has shape (32, 3, 3, 4), "
                      "expected (32, 3, 3, 3)");
    expect_load_error(dir, "Conv2d_1a_3x3.bn.weight", TO_F64,
                      "tensor 'Conv2d_1a_3x3.bn.weight' is F64, expected F32");
    expect_load_error(dir, "Conv2d_1a_3x3.bn.running_var", NEG_VAR,
                      "tensor 'Conv2d_1a_3x3.bn.running_var' has -0.5 at 3");
    /* not a safetensors file at all, and a missing file */
    char *junk = th_path(dir, "junk.safetensors"), err[512];
    REQUIRE(th_write_file(junk, "not safetensors", 15));
    cg_inception *m = NULL;
    CHECK(cg_inception_load(junk, &m, err, sizeof err) != CG_OK && strstr(err, junk), "%s", err);
    CHECK(cg_inception_load(th_path(dir, "none"), &m, err, sizeof err) != CG_OK, "missing file");
    CHECK(!cg_inception_weights_file(junk), "junk is not an inception file");
    th_rmtree(dir);
}

/* ---- cugen eval --metric fid with the Inception weights ------------------------------ */

static double number_after(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

/* A packed file of n random RGB images c x h x w (seed s). */
static char *packed_set(const char *dir, const char *name, int n, int c, int h, int w,
                        uint32_t s)
{
    size_t len = (size_t)n * c * h * w;
    uint8_t *px = th_alloc(len);
    for (size_t i = 0; i < len; i++) {
        s = s * 1664525u + 1013904223u;
        px[i] = (uint8_t)(s >> 24);
    }
    cg_dataset d = {.count = n, .channels = c, .height = h, .width = w, .pixels = px};
    char *path = th_path(dir, name), err[512];
    if (cg_packed_write(path, &d, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "%s", err);
        return NULL;
    }
    return path;
}

/* The hash weights written as a full weights file (95 MB in /tmp). One run
 * of the command (each costs seconds, mostly the two 2048 x 2048
 * eigendecompositions of the Frechet distance): the FID of a grey set with
 * itself is 0 up to the eigensolver's rounding (|FD| < 1e-2 against a
 * trace of 2 S near 1e4; measured ~1e-9). Then through the library: a grey
 * set's statistics equal those of the same images as RGB with three equal
 * channels (grey is repeated to three channels), at another size than the
 * net's 299 (resized inside); and --device refusals. */
TEST(cli_eval_inception_fid)
{
    th_run_result r;
    if (!th_run_cugen(&r, (const char *const[]){"--help", NULL}))
        SKIP("CUGEN_BIN not set (run through make test)");
    char *dir = th_tmpdir(), err[512];
    REQUIRE(dir);
    char *w = th_path(dir, "inception.safetensors");
    REQUIRE(incfix_write(w, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_inception_weights_file(w), "the written file is an inception file");
    char *g = packed_set(dir, "g.packed", 3, 1, 28, 28, 3);
    REQUIRE(g);

    NEED_BIN(&r, "eval", "--metric", "fid", "--net", w, "--real", g, "--fake", g);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    double same = number_after(r.out, "Inception-FID ");
    CHECK(fabs(same) < 1e-2, "Inception-FID of a set with itself %g: %s", same, r.out);
    CHECK(strstr(r.out, "3 images") && strstr(r.out, "inception-v3 features, 2048-d"), "%s",
          r.out);
    CHECK(strstr(r.err, "img/s"), "progress on stderr: %s", r.err);

    cg_feature_net net;
    REQUIRE(cg_inception_feature_net(w, CG_CPU, &net, err, sizeof err) == CG_OK, "%s", err);
    enum { N = 2, S = 23 };
    real *grey = th_alloc(sizeof(real) * N * S * S), *rgb = th_alloc(sizeof(real) * N * 3 * S * S);
    for (int i = 0; i < N * S * S; i++)
        grey[i] = (real)(((i * 37) % 101) / 50.0 - 1);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < 3; c++)
            memcpy(rgb + (n * 3 + c) * S * S, grey + n * S * S, sizeof(real) * S * S);
    cg_feat_stats a = {0}, b = {0};
    net.channels = 1, net.height = net.width = S;
    REQUIRE(cg_feature_stats(&net, grey, N, &a, err, sizeof err) == CG_OK, "%s", err);
    net.channels = 3;
    REQUIRE(cg_feature_stats(&net, rgb, N, &b, err, sizeof err) == CG_OK, "%s", err);
    double dm = 0, m2 = 0;
    for (int k = 0; k < a.d; k++) {
        dm += (a.mean[k] - b.mean[k]) * (a.mean[k] - b.mean[k]);
        m2 += a.mean[k] * a.mean[k];
    }
    /* the same arithmetic on the same values: equal */
    CHECK(dm == 0 && m2 > 0, "grey vs RGB feature means differ: %g of %g", dm, m2);
    cg_feat_stats_free(&a);
    cg_feat_stats_free(&b);
    net.free(&net);

    /* the GPU refused cleanly where there is none */
    char why[256];
    if (cg_cuda_device_count(why, sizeof why) == 0) {
        NEED_BIN(&r, "eval", "--metric", "fid", "--net", w, "--real", g, "--fake", g,
                 "--device", "cuda");
        CHECK(r.code == 2 && th_count_lines(r.err) == 1 && strstr(r.err, "cuda"),
              "exit %d: %s", r.code, r.err);
    }
    /* --device cuda with the FMNIST classifier, and a bad device */
    NEED_BIN(&r, "eval", "--metric", "fid", "--net", dir, "--real", g, "--fake", g,
             "--device", "cuda");
    CHECK(r.code == 2 && strstr(r.err, "--device cuda is for the Inception network"),
          "exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "eval", "--metric", "fid", "--net", w, "--real", g, "--fake", g, "--device",
             "tpu");
    CHECK(r.code == 2 && th_count_lines(r.err) == 1, "exit %d: %s", r.code, r.err);
    /* the benchmark's flags and weights */
    NEED_BIN(&r, "bench", "inception");
    CHECK(r.code == 2 && strstr(r.err, "needs --net FILE"), "exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "bench", "inception", "--net", g);
    CHECK(r.code == 2 && th_count_lines(r.err) == 1, "exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "bench", "inception", "--net", w, "--n", "0");
    CHECK(r.code == 2 && th_count_lines(r.err) == 1, "exit %d: %s", r.code, r.err);
    th_rmtree(dir);
}
