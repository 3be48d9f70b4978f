/*
 * test_gpu_autoencoder.c: the plain autoencoder on the GPU against the CPU
 * reference: three training steps (the same batches, Adam with weight
 * decay) with no device allocation after the first, the codes and the
 * reconstruction error of a data set, and a run trained on the GPU and
 * resumed on the CPU. Skipped without a GPU.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/autoencoder.h"
#include "gpu_check.h"

#define STEPS 3
#define BATCH 6

typedef struct {
    real loss[STEPS];
    int64_t mallocs[STEPS];
    real *w;     /* the flat weights after STEPS steps (th_alloc'd) */
    int64_t n;
} trained;

static const cg_ae_arch ARCH = {.x_dim = 196, .h1 = 48, .h2 = 24, .latent = 2};

static int build(cg_ae *m, cg_device dev)
{
    char err[256];
    if (cg_ae_build(m, &ARCH, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "build: %s", err);
        return 0;
    }
    cg_ae_init(m, 5, 1);
    if (dev == CG_CUDA && cg_ae_to_device(m, CG_CUDA, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "to the GPU: %s", err);
        cg_ae_free(m);
        return 0;
    }
    return 1;
}

/* STEPS steps of cg_ae_step on dev; images (STEPS * BATCH, D) */
static int train(cg_device dev, const real *images, trained *t)
{
    cg_ae m;
    char err[256] = "";
    if (!build(&m, dev))
        return 0;
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK) {
        th_fail(__FILE__, __LINE__, "out of memory");
        cg_ae_free(&m);
        return 0;
    }
    cg_adam opt;
    cg_adam_init(&opt, 1e-3, 0.9, 0.999, 1e-8, 1e-2, 0);
    int ok = 1;
    for (int k = 0; ok && k < STEPS; k++) {
        cg_tensor *x = cg_new_on(&ctx, dev, CG_SHAPE(BATCH, ARCH.x_dim));
        if (x)
            cg_copy_from_host(&ctx, x, images + (int64_t)k * BATCH * ARCH.x_dim);
        double loss;
        ok = cg_ae_step(&ctx, &m, &opt, x, &loss) == CG_OK;
        snprintf(err, sizeof err, "%s", ctx.errmsg);
        t->loss[k] = (real)loss;
        t->mallocs[k] = ctx.dev_arena.n_mallocs;
    }
    if (ok && dev == CG_CUDA)
        ok = cg_ae_to_device(&m, CG_CPU, err, sizeof err) == CG_OK;
    if (ok) {
        t->n = m.p.n;
        t->w = th_alloc(sizeof(real) * (size_t)m.p.n);
        memcpy(t->w, m.p.w, sizeof(real) * (size_t)m.p.n);
    } else {
        th_fail(__FILE__, __LINE__, "%s: %s", dev == CG_CUDA ? "GPU" : "CPU", err);
    }
    cg_ctx_free(&ctx);
    cg_ae_free(&m);
    return ok;
}

TEST(gpu_autoencoder_three_steps_match_cpu)
{
    GPU_OR_SKIP();
    /* loader-range pixels on the 8-bit grid, as training sees them */
    int64_t n = (int64_t)STEPS * BATCH * ARCH.x_dim;
    real *img = gpu_rand(931, n, 0, 1, 1);
    for (int64_t i = 0; i < n; i++)
        img[i] = (real)(floor((img[i] + 1) * 127.5 + 0.5) / 127.5 - 1);
    trained c = {0}, g = {0};
    if (!train(CG_CPU, img, &c) || !train(CG_CUDA, img, &g))
        return;
    REQUIRE(c.n == g.n);
    /* DESIGN.md's bounds: a loss is one op chain's output (1e-5); weights
     * after 3 Adam steps 1e-4 (Adam divides by sqrt(v), which amplifies the
     * fp32 differences of near-zero gradients) */
    gpu_compare("loss per step", g.loss, c.loss, STEPS, 1e-5);
    gpu_compare("weights after 3 steps", g.w, c.w, c.n, 1e-4);
    for (int k = 1; k < STEPS; k++)
        CHECK(g.mallocs[k] == g.mallocs[0], "step %d made %lld device allocations", k + 1,
              (long long)(g.mallocs[k] - g.mallocs[0]));
    CHECK(cg_cuda_sync() == CG_OK, "%s", cg_cuda_last_error());
}

/* 14 x 14 images of deterministic grey values, as a data set */
static cg_dataset tiny_set(int count)
{
    cg_dataset ds = {.count = count, .channels = 1, .height = 14, .width = 14};
    uint8_t *px = th_alloc((size_t)count * 196);
    for (int i = 0; i < count * 196; i++)
        px[i] = (uint8_t)((i * 37 + i / 196 * 11) % 256);
    ds.pixels = px;
    snprintf(ds.name, sizeof ds.name, "tiny");
    return ds;
}

TEST(gpu_autoencoder_codes_and_mse_match_cpu)
{
    GPU_OR_SKIP();
    cg_dataset ds = tiny_set(700);  /* two chunks of cg_ae_encode_set */
    real *codes[2];
    double mse[2];
    for (int d = 0; d < 2; d++) {
        cg_ae m;
        if (!build(&m, d ? CG_CUDA : CG_CPU))
            return;
        char err[256];
        codes[d] = th_alloc(sizeof(real) * 700 * 2);
        CHECK(cg_ae_encode_set(&m, &ds, 0, codes[d], &mse[d], err, sizeof err) == CG_OK, "%s",
              err);
        cg_ae_free(&m);
    }
    /* a forward of three layers (1e-5, DESIGN.md); the MSE a sum over
     * 137200 values, in double across chunks */
    gpu_compare("codes", codes[1], codes[0], 700 * 2, 1e-5);
    CHECK(fabs(mse[1] - mse[0]) <= 1e-5 * mse[0], "MSE GPU %.9g, CPU %.9g", mse[1], mse[0]);
}

/* cugen train autoencoder on the GPU, resumed on the CPU: the files of a
 * run on either device */
TEST(gpu_autoencoder_cli_trains_on_gpu_and_resumes_on_cpu)
{
    GPU_OR_SKIP();
    char *data = th_mnist_fixture(64, 32, th_draw_bar, NULL);
    const char *run = th_path(th_tmpdir(), "run");
    th_run_result r;
    NEED_BIN(&r, "train", "autoencoder", "--data", "mnist", "--data-dir", data, "--hidden",
             "32,16", "--batch", "16", "--steps", "2", "--ckpt-every", "2", "--device", "cuda",
             "--quiet", "--out", run);
    REQUIRE(r.code == 0, "GPU: exit %d: %s%s", r.code, r.out, r.err);
    th_run_cugen(&r, (const char *const[]){"train", "autoencoder", "--data", "mnist",
                                           "--data-dir", data, "--hidden", "32,16", "--batch",
                                           "16", "--steps", "4", "--device", "cpu", "--quiet",
                                           "--out", run, "--resume", NULL});
    CHECK(r.code == 0 && strstr(r.out, "test_mse"), "resumed on the CPU: exit %d: %s%s", r.code,
          r.out, r.err);
}
