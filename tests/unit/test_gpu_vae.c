/*
 * test_gpu_vae.c: the VAE on the GPU against the CPU reference: three
 * training steps of each architecture and likelihood (the same batches and,
 * through Philox, the same eps), with no device allocation after the first
 * step; the ELBO and the importance-weighted NLL of cg_vae_evaluate; the
 * decoded pictures; a run resumed across devices. Skipped without a GPU.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/metrics.h"
#include "cugen/vae.h"
#include "gpu_check.h"

#define STEPS 3
#define BATCH 6

typedef struct {
    real loss[STEPS], rec[STEPS], kl[STEPS];
    int64_t mallocs[STEPS];
    real *w;     /* the flat weights after STEPS steps (th_alloc'd) */
    int64_t n;
} trained;

static int build(cg_vae *m, const cg_vae_arch *a)
{
    char err[256];
    if (cg_vae_build(m, a, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "build: %s", err);
        return 0;
    }
    cg_vae_init(m, 5, 1);
    if (m->dec_logvar)
        cg_init_const(m->dec_logvar, -0.7);  /* not 0: the variance takes part */
    return 1;
}

/* STEPS steps of cg_vae_train_step on dev; images (STEPS * BATCH, D) */
static int train(cg_device dev, const cg_vae_arch *a, const real *images, trained *t)
{
    cg_vae m;
    char err[256] = "";
    if (!build(&m, a))
        return 0;
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK) {
        th_fail(__FILE__, __LINE__, "out of memory");
        cg_vae_free(&m);
        return 0;
    }
    int ok = dev == CG_CPU || cg_vae_to_device(&m, CG_CUDA, err, sizeof err) == CG_OK;
    cg_adam opt;
    cg_adam_init(&opt, 1e-3, 0.9, 0.999, 1e-8, 0, 0);
    cg_rng noise;
    cg_rng_init(&noise, 5, 3);
    for (int k = 0; ok && k < STEPS; k++) {
        cg_vae_stats s;
        ok = cg_vae_train_step(&ctx, &m, &opt, images + (int64_t)k * BATCH * a->x_dim, BATCH,
                               &noise, &s) == CG_OK;
        snprintf(err, sizeof err, "%s", ctx.errmsg);
        t->loss[k] = (real)s.loss;
        t->rec[k] = (real)s.rec;
        t->kl[k] = (real)s.kl;
        t->mallocs[k] = ctx.dev_arena.n_mallocs;
    }
    if (ok && dev == CG_CUDA)
        ok = cg_vae_to_device(&m, CG_CPU, err, sizeof err) == CG_OK;
    if (ok) {
        t->n = m.p.n;
        t->w = th_alloc(sizeof(real) * (size_t)m.p.n);
        memcpy(t->w, m.p.w, sizeof(real) * (size_t)m.p.n);
    } else {
        th_fail(__FILE__, __LINE__, "%s: %s", dev == CG_CUDA ? "GPU" : "CPU", err);
    }
    cg_ctx_free(&ctx);
    cg_vae_free(&m);
    return ok;
}

static void steps_match(const cg_vae_arch *a)
{
    /* loader-range pixels on the 8-bit grid, as training sees them */
    real *img = gpu_rand(900 + a->kind * 10 + a->lik, (int64_t)STEPS * BATCH * a->x_dim, 0, 1,
                         1);
    for (int64_t i = 0; i < (int64_t)STEPS * BATCH * a->x_dim; i++)
        img[i] = (real)(floor((img[i] + 1) * 127.5 + 0.5) / 127.5 - 1);
    trained c = {0}, g = {0};
    if (!train(CG_CPU, a, img, &c) || !train(CG_CUDA, a, img, &g))
        return;
    REQUIRE(c.n == g.n);
    /* DESIGN.md's bounds: a loss is one op chain's output (1e-5); weights
     * after 3 Adam steps 1e-4 (Adam divides by sqrt(v), which amplifies the
     * fp32 differences of near-zero gradients) */
    gpu_compare("loss per step", g.loss, c.loss, STEPS, 1e-5);
    gpu_compare("reconstruction term", g.rec, c.rec, STEPS, 1e-5);
    gpu_compare("KL term", g.kl, c.kl, STEPS, 1e-5);
    gpu_compare("weights after 3 steps", g.w, c.w, c.n, 1e-4);
    for (int k = 1; k < STEPS; k++)
        CHECK(g.mallocs[k] == g.mallocs[0], "step %d made %lld device allocations", k + 1,
              (long long)(g.mallocs[k] - g.mallocs[0]));
    CHECK(cg_cuda_sync() == CG_OK, "%s", cg_cuda_last_error());
}

TEST(gpu_vae_mlp_three_steps_match_cpu)
{
    GPU_OR_SKIP();
    cg_vae_arch a = {.x_dim = 196, .hidden = 48, .latent = 5};
    steps_match(&a);
}

TEST(gpu_vae_conv_gaussian_three_steps_match_cpu)
{
    GPU_OR_SKIP();
    cg_vae_arch a = {.x_dim = 1024, .latent = 3, .kind = CG_VAE_CONV, .lik = CG_VAE_GAUSSIAN,
                     .channels = 1, .size = 32, .width = 4};
    steps_match(&a);
}

TEST(gpu_vae_conv_rgb_three_steps_match_cpu)
{
    GPU_OR_SKIP();
    cg_vae_arch a = {.x_dim = 3 * 1024, .latent = 4, .kind = CG_VAE_CONV, .channels = 3,
                     .size = 32, .width = 4};
    steps_match(&a);
}

/* n images of side s (c channels) with varied pixel values */
static cg_dataset some_images(int n, int c, int s)
{
    cg_dataset ds = {.count = n, .channels = c, .height = s, .width = s};
    int64_t P = (int64_t)n * c * s * s;
    uint8_t *px = th_alloc((size_t)P);
    for (int64_t i = 0; i < P; i++)
        px[i] = (uint8_t)((i * 37 + i / 16 * 11) % 256);
    ds.pixels = px;
    snprintf(ds.name, sizeof ds.name, "some");
    return ds;
}

static void evaluate_matches(const cg_vae_arch *a, const cg_dataset *ds)
{
    cg_vae m;
    if (!build(&m, a))
        return;
    char err[256];
    cg_vae_eval c, g;
    REQUIRE(cg_vae_evaluate(&m, ds, 0, 30, 3, &c, err, sizeof err) == CG_OK, "%s", err);
    int L = a->latent, D = a->x_dim, n = 5;
    real *h = gpu_rand(77, (int64_t)n * L, 0, 2, 1);
    real *pc = th_alloc(sizeof(real) * (size_t)n * D), *pg = th_alloc(sizeof(real) * (size_t)n * D);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_set_grad(&ctx, 0);
    REQUIRE(cg_vae_decode_images(&ctx, &m, h, n, pc) == CG_OK, "%s", ctx.errmsg);
    REQUIRE(cg_vae_to_device(&m, CG_CUDA, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(cg_vae_evaluate(&m, ds, 0, 30, 3, &g, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(cg_vae_decode_images(&ctx, &m, h, n, pg) == CG_OK, "%s", ctx.errmsg);
    printf("    ELBO cpu %.6f gpu %.6f, NLL (k 30) cpu %.6f gpu %.6f\n", c.elbo, g.elbo, c.nll,
           g.nll);
    /* the same eps on both; every value is a float sum over pixels in another
     * order (cuBLAS against the CPU's double accumulation): ~1e-7 relative
     * per sum, 1e-5 leaves a factor of 100 */
    CHECK(fabs(g.elbo - c.elbo) <= 1e-5 * fabs(c.elbo), "ELBO %.8g vs %.8g", g.elbo, c.elbo);
    CHECK(fabs(g.kl - c.kl) <= 1e-5 * fabs(c.kl), "KL %.8g vs %.8g", g.kl, c.kl);
    CHECK(fabs(g.nll - c.nll) <= 1e-5 * fabs(c.nll), "NLL %.8g vs %.8g", g.nll, c.nll);
    gpu_compare("decoded pictures", pg, pc, (int64_t)n * D, 1e-5);
    cg_ctx_free(&ctx);
    cg_vae_free(&m);
}

TEST(gpu_vae_evaluate_matches_cpu)
{
    GPU_OR_SKIP();
    cg_dataset small = some_images(23, 1, 8);
    cg_vae_arch mlp = {.x_dim = 64, .hidden = 40, .latent = 6};
    evaluate_matches(&mlp, &small);
    cg_dataset big = some_images(7, 1, 32);
    cg_vae_arch conv = {.x_dim = 1024, .latent = 3, .kind = CG_VAE_CONV, .lik = CG_VAE_GAUSSIAN,
                        .channels = 1, .size = 32, .width = 4};
    evaluate_matches(&conv, &big);
}

/* A run that moves between devices at checkpoints: 1 step on the CPU, to 2
 * on the GPU, to 3 on the CPU again, against 3 steps on the CPU. */
TEST(gpu_vae_cli_resumes_across_devices)
{
    GPU_OR_SKIP();
    struct stat sb;
    if (stat("/usr/share/datasets/fashion-mnist", &sb) != 0)
        SKIP("no Fashion-MNIST in /usr/share/datasets/fashion-mnist");
    char *a = th_tmpdir(), *b = th_tmpdir();
    REQUIRE(a && b);
    th_run_result r;
#define RUN_VAE(dir, steps, dev, ...)                                                          \
    if (!th_run_cugen(&r, (const char *const[]){"train", "vae", "--hidden", "32", "--latent", \
                                                 "2", "--batch", "32", "--quiet", "--steps",   \
                                                 steps, "--device", dev, "--out", dir,         \
                                                 __VA_ARGS__ NULL}))                           \
        SKIP("CUGEN_BIN not set (run through make test)");                                     \
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err)
    RUN_VAE(a, "3", "cpu", );
    RUN_VAE(b, "1", "cpu", );
    RUN_VAE(b, "2", "cuda", "--resume", );
    RUN_VAE(b, "3", "cpu", "--resume", );
#undef RUN_VAE
    cg_vae ma, mb;
    char err[4600];
    REQUIRE(cg_vae_load(a, &ma, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(cg_vae_load(b, &mb, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(ma.p.n == mb.p.n);
    /* one of the three steps on the GPU: DESIGN.md's 3-step bound */
    gpu_compare("weights after cpu, gpu, cpu steps", mb.p.w, ma.p.w, ma.p.n, 1e-4);
    cg_vae_free(&ma);
    cg_vae_free(&mb);
    th_rmtree(a);
    th_rmtree(b);
}

/* The notes' MMD score on the GPU (the op's forward with the score's kernel
 * width) against the CPU's blocked double GEMM. */
TEST(gpu_mmd_score_matches_cpu)
{
    GPU_OR_SKIP();
    const int n = 150, m = 170, d = 49;
    real *fake = gpu_rand(501, (int64_t)n * d, 0, 1, 1);
    real *real_x = gpu_rand(502, (int64_t)m * d, 0, 1, 1);
    for (int64_t i = 0; i < (int64_t)n * d; i++)
        fake[i] = (real)(0.8 * fake[i] + 0.1);  /* a shifted set: an MMD well above 0 */
    const double sigmas[2] = {1, 0.3};
    for (int s = 0; s < 2; s++) {
        double c2, c, g2, g;
        char err[256];
        REQUIRE(cg_mmd_score(fake, n, real_x, m, d, sigmas[s], &c2, &c) == CG_OK);
        REQUIRE(cg_mmd_score_on(CG_CUDA, fake, n, real_x, m, d, sigmas[s], &g2, &g, err,
                                sizeof err) == CG_OK, "%s", err);
        printf("    sigma %g: MMD^2 cpu %.9f gpu %.9f\n", sigmas[s], c2, g2);
        /* both sum the kernels in double; the GPU's result is rounded once to
         * float (6e-8) and its scale comes from the closed form: 1e-5 */
        CHECK(c2 > 1e-3 && fabs(g2 - c2) <= 1e-5 * c2, "MMD^2 %.9g vs %.9g", g2, c2);
    }
}
