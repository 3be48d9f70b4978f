/*
 * test_rbm.c: the restricted Boltzmann machine: log p*(v) and exact log Z
 * against brute force, AIS against the exact log Z of small RBMs, CD-k and
 * PCD raising the exact log-likelihood of a small data set, and `cugen train
 * rbm` end to end.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/classic.h"
#include "harness.h"

/* A small RBM with W ~ N(0, sw^2) and biases ~ N(0, sb^2) from seed. */
static int small_rbm(cg_rbm *m, int nv, int nh, uint64_t seed, double sw, double sb)
{
    char err[256];
    if (cg_rbm_build(m, nv, nh, 0, err, sizeof err) != CG_OK)
        return 0;
    cg_rng r;
    cg_rng_init(&r, seed, 9);
    cg_init_normal(m->W, &r, 0, sw);
    cg_init_normal(m->vb, &r, 0, sb);
    cg_init_normal(m->hb, &r, 0, sb);
    return 1;
}

/* log Z by summing exp(-E(v, h)) over every joint state, in double */
static double brute_log_z(const cg_rbm *m)
{
    int nv = m->nv, nh = m->nh;
    double mx = -INFINITY, sum = 0;
    for (int64_t vs = 0; vs < ((int64_t)1 << nv); vs++)
        for (int64_t hs = 0; hs < ((int64_t)1 << nh); hs++) {
            double e = 0;
            for (int i = 0; i < nv; i++)
                if (vs >> i & 1)
                    e += m->vb->data[i];
            for (int j = 0; j < nh; j++)
                if (hs >> j & 1) {
                    e += m->hb->data[j];
                    for (int i = 0; i < nv; i++)
                        if (vs >> i & 1)
                            e += m->W->data[j * nv + i];
                }
            if (e > mx) {
                sum = sum * exp(mx - e) + 1;
                mx = e;
            } else {
                sum += exp(e - mx);
            }
        }
    return mx + log(sum);
}

TEST(rbm_exact_log_z_and_free_energy_against_brute_force)
{
    cg_rbm a, b;
    REQUIRE(small_rbm(&a, 9, 7, 1, 1.0, 0.5) && small_rbm(&b, 7, 9, 2, 1.0, 0.5));
    char err[256];
    for (int t = 0; t < 2; t++) {  /* enumerates the hidden layer, then the visible one */
        cg_rbm *m = t ? &b : &a;
        double z, want = brute_log_z(m);
        REQUIRE(cg_rbm_log_z_exact(m, &z, err, sizeof err) == CG_OK, "%s", err);
        /* both sums in double over <= 65536 terms: agreement to rounding */
        CHECK_NEAR(z, want, 1e-10);
    }
    /* log p*(v) = log sum_h exp(-E(v, h)) for every v of the 9-unit model */
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real v[512 * 9];
    double lp[512];
    for (int s = 0; s < 512; s++)
        for (int i = 0; i < 9; i++)
            v[s * 9 + i] = (real)(s >> i & 1);
    REQUIRE(cg_rbm_log_pstar(&ctx, &a, v, 512, lp) == CG_OK, "%s", ctx.errmsg);
    double mx = -INFINITY, sum = 0;
    for (int s = 0; s < 512; s++) {
        double direct = 0;
        for (int i = 0; i < 9; i++)
            direct += a.vb->data[i] * v[s * 9 + i];
        for (int j = 0; j < 7; j++) {
            double x = a.hb->data[j];
            for (int i = 0; i < 9; i++)
                x += a.W->data[j * 9 + i] * v[s * 9 + i];
            direct += log(1 + exp(x));
        }
        /* the pre-activations go through a float GEMM: ~1e-6 relative on values ~ 5 */
        CHECK(fabs(lp[s] - direct) < 1e-5, "v %d: %.9f vs %.9f", s, lp[s], direct);
        mx = fmax(mx, lp[s]);
    }
    for (int s = 0; s < 512; s++)
        sum += exp(lp[s] - mx);
    double z;
    cg_rbm_log_z_exact(&a, &z, err, sizeof err);
    CHECK(fabs(mx + log(sum) - z) < 1e-5, "sum of p* %.9f vs log Z %.9f", mx + log(sum), z);
    cg_rbm big;
    REQUIRE(cg_rbm_build(&big, 30, 25, 0, err, sizeof err) == CG_OK);
    CHECK(cg_rbm_log_z_exact(&big, &z, err, sizeof err) == CG_ERR_ARG && strstr(err, "2^25"),
          "%s", err);
    cg_ctx_free(&ctx);
    cg_rbm_free(&a);
    cg_rbm_free(&b);
    cg_rbm_free(&big);
}

TEST(rbm_ais_matches_the_exact_log_z)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    for (int seed = 0; seed < 3; seed++) {
        /* 24 visible, 12 hidden, weights N(0, 0.5^2): a multimodal model, log Z ~ 30 */
        cg_rbm m;
        REQUIRE(small_rbm(&m, 24, 12, 10 + (uint64_t)seed, 0.5, 0.5));
        char err[256];
        double exact, z, lo, hi;
        REQUIRE(cg_rbm_log_z_exact(&m, &exact, err, sizeof err) == CG_OK, "%s", err);
        real base[24];
        for (int i = 0; i < 24; i++)
            base[i] = m.vb->data[i];
        cg_rbm_ais_opts ao = {.nbetas = 2000, .runs = 200, .base = base};
        cg_rng r;
        cg_rng_init(&r, (uint64_t)seed, 5);
        REQUIRE(cg_rbm_ais(&ctx, &m, &ao, &r, &z, &lo, &hi, err, sizeof err) == CG_OK, "%s",
                err);
        printf("    seed %d: exact log Z %.5f, AIS %.5f [%.5f, %.5f]\n", seed, exact, z, lo, hi);
        /* AIS is unbiased for Z; its own 3-standard-error interval must hold the
         * truth, and 2000 temperatures x 200 runs leave an error of a few
         * hundredths (measured 0.004, 0.004, 0.011 over these seeds) */
        CHECK(lo <= exact && exact <= hi, "seed %d: %.5f outside [%.5f, %.5f]", seed, exact, lo,
              hi);
        CHECK(fabs(z - exact) < 0.05, "seed %d: AIS %.5f vs exact %.5f", seed, z, exact);
        cg_rbm_free(&m);
    }
    cg_ctx_free(&ctx);
}

/* 400 samples of 3 binary prototypes of 12 pixels with 5% of the bits
 * flipped. Returns the mean exact log-likelihood of rbm m on them. */
static double exact_mean_ll(cg_ctx *ctx, cg_rbm *m, const real *v, int n)
{
    double z, *lp = th_alloc(sizeof(double) * (size_t)n), s = 0;
    char err[256];
    cg_rbm_log_z_exact(m, &z, err, sizeof err);
    cg_rbm_log_pstar(ctx, m, v, n, lp);
    for (int i = 0; i < n; i++)
        s += lp[i];
    return s / n - z;
}

TEST(rbm_cd_and_pcd_raise_the_exact_log_likelihood)
{
    enum { N = 400, V = 12, H = 8, B = 20 };
    static const char *proto[3] = {"111111000000", "000000111111", "101010101010"};
    real *data = th_alloc(sizeof(real) * N * V);
    cg_rng r;
    cg_rng_init(&r, 4, 0);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < V; i++) {
            real u;
            cg_rng_uniform(&r, &u, 1);
            int bit = proto[n % 3][i] == '1';
            data[n * V + i] = (real)(u < 0.05 ? !bit : bit);
        }
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    for (int pcd = 0; pcd < 2; pcd++) {
        cg_rbm m;
        char err[256];
        REQUIRE(cg_rbm_build(&m, V, H, 0, err, sizeof err) == CG_OK);
        cg_rbm_init(&m, 3, 1);
        double start = exact_mean_ll(&ctx, &m, data, N);
        cg_sgd sgd;
        cg_sgd_init(&sgd, 0.1, 0.5, 0, 0, 0);
        real chains[B * V];
        for (int i = 0; i < B * V; i++)
            chains[i] = (real)(i % 2);
        double first_recon = 0, last_recon = 0;
        for (int step = 0; step < 2000; step++) {
            cg_tensor *v = cg_new(&ctx, CG_SHAPE(B, V));
            REQUIRE_OK(&ctx);
            for (int b = 0; b < B; b++)
                memcpy(v->data + b * V, data + (size_t)cg_rng_below(&r, N) * V,
                       sizeof(real) * V);
            double recon;
            REQUIRE(cg_rbm_cd_step(&ctx, &m, &sgd, v, 1, pcd ? chains : NULL, &r, &recon) ==
                    CG_OK, "%s", ctx.errmsg);
            if (step < 100)
                first_recon += recon / (100.0 * B);
            if (step >= 1900)
                last_recon += recon / (100.0 * B);
        }
        double end = exact_mean_ll(&ctx, &m, data, N);
        printf("    %s-1: exact log-likelihood %.4f -> %.4f nats per sample; reconstruction "
               "error %.3f -> %.3f\n", pcd ? "PCD" : "CD", start, end, first_recon, last_recon);
        /* start: weights N(0, 0.01^2) and zero biases, all but the uniform model,
         * 12 log 2 = 8.318 nats. The data's entropy is log 3 + 12 H(0.05) = 1.10 +
         * 2.39 = 3.49 nats, the best any model can do; the best model of
         * independent pixels (marginals 0.35 / 0.65) scores 12 H(0.35) = 7.77.
         * Measured: CD-1 3.76, PCD-1 5.09 (noisier at this lr); -6 demands
         * structure beyond the pixel marginals by 1.8 nats */
        CHECK(fabs(start + 12 * log(2.0)) < 0.01, "start %.6f", start);
        CHECK(end > -6.0, "%s: %.4f", pcd ? "PCD" : "CD", end);
        CHECK(last_recon < 0.5 * first_recon, "%.3f -> %.3f", first_recon, last_recon);
        cg_rbm_free(&m);
    }
    cg_ctx_free(&ctx);
}

TEST(rbm_bernoulli_sampler_and_bad_inputs)
{
    enum { N = 100000 };
    real *p = th_alloc(sizeof(real) * N), *x = th_alloc(sizeof(real) * N);
    for (int i = 0; i < N; i++)
        p[i] = 0.3f;
    cg_rng r;
    cg_rng_init(&r, 1, 1);
    cg_rbm_bernoulli(&r, p, x, N);
    double s = 0;
    for (int i = 0; i < N; i++) {
        REQUIRE(x[i] == 0 || x[i] == 1);
        s += x[i];
    }
    /* standard error sqrt(0.21 / 1e5) = 0.0014; 4 of them */
    CHECK_NEAR(s / N, 0.3, 0.006);
    cg_rbm m;
    char err[256];
    CHECK(cg_rbm_build(&m, 0, 5, 0, err, sizeof err) == CG_ERR_ARG && strstr(err, "visible"),
          "%s", err);
    REQUIRE(cg_rbm_build(&m, 4, 3, 0, err, sizeof err) == CG_OK);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_sgd sgd;
    cg_sgd_init(&sgd, 0.1, 0, 0, 0, 0);
    double recon;
    CHECK(cg_rbm_cd_step(&ctx, &m, &sgd, cg_new(&ctx, CG_SHAPE(2, 4)), 0, NULL, &r, &recon) ==
          CG_ERR_ARG && strstr(ctx.errmsg, "k >= 1"), "%s", ctx.errmsg);
    cg_clear_error(&ctx);
    real base[4] = {0};
    cg_rbm_ais_opts ao = {.nbetas = 2, .runs = 10, .base = base};
    double z;
    CHECK(cg_rbm_ais(&ctx, &m, &ao, &r, &z, NULL, NULL, err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "at least 3 temperatures"), "%s", err);
    cg_ctx_free(&ctx);
    cg_rbm_free(&m);
}

/* ---- the command ---------------------------------------------------------------- */

/* image i: a bar (on: 200, off: 0), label 0 */
static int draw_plain_bar(int split, int i, uint8_t *px, void *arg)
{
    (void)split;
    (void)arg;
    int x0 = 3 + (i * 7) % 18, w = 3 + i % 5;
    for (int y = 4; y < 24; y++)
        for (int x = x0; x < x0 + w && x < 28; x++)
            px[y * 28 + x] = 200;
    return 0;
}

/* train- and t10k- IDX files of 48 / 16 images of bars */
static char *fixture(void)
{
    return th_mnist_fixture(48, 16, draw_plain_bar, NULL);
}

static void expect_usage_error(const char *want, const char *const *args)
{
    th_run_result r;
    if (!th_run_cugen(&r, args)) {
        th_skip("CUGEN_BIN not set (run through make test)");
        return;
    }
    CHECK(r.code == 2, "exit code %d for %s %s", r.code, args[0], args[1]);
    CHECK(th_count_lines(r.err) == 1, "stderr should be one line, got: %s", r.err);
    CHECK(strstr(r.err, want) != NULL, "stderr lacks '%s': %s", want, r.err);
}
#define BAD(want, ...) expect_usage_error((want), (const char *const[]){__VA_ARGS__, NULL})

TEST(cli_rbm_run_and_bad_flags)
{
    BAD("--ais-runs expects an integer from 2", "train", "rbm", "--ais-runs", "1");
    BAD("--ais-betas expects an integer from 3", "train", "rbm", "--ais-betas", "2");
    BAD("--pcd is not a flag of this model", "train", "gmm", "--pcd");
    BAD("--gibbs expects an integer", "train", "rbm", "--gibbs", "x");
    th_run_result r;
    char *fx = fixture(), *dir = th_tmpdir();
    REQUIRE(fx && dir);
    if (!th_run_cugen(&r, (const char *const[]){
            "train", "rbm", "--data", "mnist", "--data-dir", fx, "--hidden", "16", "--batch",
            "8", "--epochs", "20", "--lr", "0.1", "--pcd", "--ais-betas", "300", "--ais-runs",
            "20", "--gibbs", "30", "--quiet", "--out", dir, NULL}))
        SKIP("CUGEN_BIN not set (run through make test)");
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(strstr(r.out, "RBM: 120 steps (20 epochs complete)") &&
          strstr(r.out, "\n  16 hidden units, PCD-1; reconstruction error per image: ") &&
          strstr(r.out, "Epoch 020 | reconstruction error") && strstr(r.out, "AIS (300"),
          "%s", r.out);
    const char *files[] = {"samples.png", "chains.png", "rbm.safetensors", "metrics.jsonl",
                           "result.json"};
    for (int i = 0; i < 5; i++) {
        struct stat sb;
        CHECK(stat(th_path(dir, files[i]), &sb) == 0 && sb.st_size > 0, "no %s", files[i]);
    }
    size_t len;
    char *res = (char *)th_read_file(th_path(dir, "result.json"), &len);
    REQUIRE(res);
    double first = NAN, last = NAN, test = NAN;
    char *p = strstr(res, "\"recon_first\": "), *q = strstr(res, "\"recon_last\": "),
         *t = strstr(res, "\"loglik_test\": ");
    if (p && q && t) {
        first = strtod(p + 15, NULL);
        last = strtod(q + 14, NULL);
        test = strtod(t + 15, NULL);
    }
    /* bars of 60-100 pixels: the base-rate start reconstructs them poorly
     * (measured ~ 40 per image), 20 epochs of PCD well (~ 10) */
    CHECK(last < 0.6 * first, "reconstruction %g -> %g", first, last);
    CHECK(test < 0 && test > -784 * log(2.0), "test log-likelihood %g", test);
    th_rmtree(fx);
    th_rmtree(dir);
}

