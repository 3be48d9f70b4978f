/*
 * test_gpu_pixelcnn.c: the PixelCNN on the GPU against the CPU reference:
 * three training steps of each output (binary, 256 levels) on the same
 * batches, the test-set likelihood, and samples drawn pixel by pixel.
 * Skipped without a GPU.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/pixelcnn.h"
#include "gpu_check.h"

#define STEPS 3
#define BATCH 4
#define S 8

static int build(cg_pixelcnn *m, int levels, cg_device dev)
{
    char err[256];
    cg_pixelcnn_arch a = {.hidden = 4, .blocks = 2, .levels = levels};
    if (cg_pixelcnn_build(m, &a, err, sizeof err) != CG_OK ||
        cg_pixelcnn_init(m, 9, 1) != CG_OK ||
        (dev == CG_CUDA && cg_pixelcnn_to_device(m, CG_CUDA, err, sizeof err) != CG_OK)) {
        th_fail(__FILE__, __LINE__, "build: %s", err);
        return 0;
    }
    return 1;
}

/* STEPS steps on dev: the nll of each, the flat weights after (th_alloc'd) */
static real *train(cg_device dev, int levels, const real *images, real *nll)
{
    cg_pixelcnn m;
    if (!build(&m, levels, dev))
        return NULL;
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK)
        return NULL;
    cg_adam opt;
    cg_adam_init(&opt, 1e-3, 0.9, 0.999, 1e-8, 0, 0);
    real x[BATCH * S * S];
    int32_t lab[BATCH * S * S];
    int ok = 1;
    for (int k = 0; ok && k < STEPS; k++) {
        cg_pixelcnn_pixels(levels, images + k * BATCH * S * S, BATCH * S * S, x, lab);
        cg_tensor *t = cg_new_on(&ctx, dev, CG_SHAPE(BATCH, 1, S, S));
        double v;
        ok = t && cg_copy_from_host(&ctx, t, x) == CG_OK &&
             cg_pixelcnn_step(&ctx, &m, &opt, t, lab, &v) == CG_OK;
        nll[k] = (real)v;
    }
    if (!ok)
        th_fail(__FILE__, __LINE__, "step on %s: %s", dev == CG_CUDA ? "GPU" : "CPU",
                ctx.errmsg);
    real *w = NULL;
    if (ok && dev == CG_CUDA)
        w = gpu_get(m.p.w, m.p.n);
    else if (ok) {
        w = th_alloc(sizeof(real) * (size_t)m.p.n);
        memcpy(w, m.p.w, sizeof(real) * (size_t)m.p.n);
    }
    cg_ctx_free(&ctx);
    cg_pixelcnn_free(&m);
    return w;
}

static void three_steps(int levels)
{
    real *img = gpu_rand(700 + levels, STEPS * BATCH * S * S, 0, 1, 1);  /* in [-1, 1] */
    real nc[STEPS], ng[STEPS];
    real *wc = train(CG_CPU, levels, img, nc), *wg = train(CG_CUDA, levels, img, ng);
    REQUIRE(wc && wg);
    cg_pixelcnn m;
    REQUIRE(build(&m, levels, CG_CPU));
    /* float32 sums in another order: 1e-5 for the losses, and 1e-4 for weights
     * that moved through three Adam steps (a gradient near 0 flips an update's
     * sign at the rounding level) */
    gpu_compare("nll per step", ng, nc, STEPS, 1e-5);
    gpu_compare("weights after 3 steps", wg, wc, m.p.n, 1e-4);
    cg_pixelcnn_free(&m);
}

TEST(gpu_pixelcnn_binary_three_steps_match_cpu)
{
    GPU_OR_SKIP();
    three_steps(2);
}

TEST(gpu_pixelcnn_256_three_steps_match_cpu)
{
    GPU_OR_SKIP();
    three_steps(256);
}

/* The test likelihood and 4 samples of the same model on both devices: the
 * samples the same pixel for pixel (a uniform would have to fall within the
 * ~1e-6 by which the devices' probabilities differ to flip one) */
TEST(gpu_pixelcnn_likelihood_and_samples_match_cpu)
{
    GPU_OR_SKIP();
    enum { N = 12 };
    cg_dataset ds = {.count = N, .channels = 1, .height = S, .width = S};
    uint8_t *px = th_alloc(N * S * S);
    for (int i = 0; i < N * S * S; i++)
        px[i] = (uint8_t)((i * 53 + i / 64 * 7) % 256);
    ds.pixels = px;
    snprintf(ds.name, sizeof ds.name, "tiny");
    for (int levels = 2; levels <= 256; levels += 254) {
        cg_pixelcnn mc, mg;
        REQUIRE(build(&mc, levels, CG_CPU) && build(&mg, levels, CG_CUDA));
        double nc, ng;
        int64_t count;
        char err[256];
        REQUIRE(cg_pixelcnn_evaluate(&mc, &ds, 0, &nc, &count, err, sizeof err) == CG_OK, "%s",
                err);
        REQUIRE(cg_pixelcnn_evaluate(&mg, &ds, 0, &ng, &count, err, sizeof err) == CG_OK, "%s",
                err);
        CHECK(fabs(ng - nc) < 1e-5 * fabs(nc), "levels %d: nll GPU %.8g, CPU %.8g", levels, ng,
              nc);
        real sc[4 * 36], sg[4 * 36];
        REQUIRE(cg_pixelcnn_sample(&mc, 4, 6, 3, 7, sc, err, sizeof err) == CG_OK, "%s", err);
        REQUIRE(cg_pixelcnn_sample(&mg, 4, 6, 3, 7, sg, err, sizeof err) == CG_OK, "%s", err);
        int diff = 0;
        for (int i = 0; i < 4 * 36; i++)
            diff += sc[i] != sg[i];
        CHECK(diff == 0, "levels %d: %d of %d sampled pixels differ", levels, diff, 4 * 36);
        cg_pixelcnn_free(&mc);
        cg_pixelcnn_free(&mg);
    }
}
