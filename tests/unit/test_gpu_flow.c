/*
 * test_gpu_flow.c: the image RealNVP's training step on the GPU against the
 * CPU: 3 steps of cg_flowimg_step (dequantisation noise from Philox, the
 * same on both devices; act-norm initialised from the first batch, read back
 * on the GPU; batchnorm's running statistics updated on the device) from the
 * same weights and batches give the same losses, parameters and buffers.
 * Skipped without a GPU.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/flow.h"
#include "cugen/optim.h"
#include "gpu_check.h"

/* The DESIGN's bound for a whole training step after 3 steps, fp32: the
 * flow's ops are each within 1e-5 of the CPU, and 3 Adam steps at lr 1e-3
 * move weights by ~3e-3, so differences of that order stay well below. */
#define STEP_TOL 1e-4

static void flow_steps_match(int norm, int scales)
{
    cg_flowimg c, g;
    char err[256];
    cg_flowimg_arch a = {.channels = 1, .size = 8, .layers = 1, .width = 4, .scales = scales,
                         .norm = norm};
    REQUIRE(cg_flowimg_build(&c, &a, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(cg_flowimg_build(&g, &a, err, sizeof err) == CG_OK, "%s", err);
    cg_flowimg_init(&c, 7, 1);
    cg_flowimg_init(&g, 7, 1);
    cg_rng r;   /* the zeroed last convolutions random too, so that every part moves */
    cg_rng_init(&r, 8, 1);
    for (int i = 0; i < c.count; i++)
        cg_init_normal(c.l[i].out.weight, &r, 0, 0.05);
    cg_rng_init(&r, 8, 1);
    for (int i = 0; i < g.count; i++)
        cg_init_normal(g.l[i].out.weight, &r, 0, 0.05);
    REQUIRE(cg_flowimg_to_device(&g, CG_CUDA, err, sizeof err) == CG_OK, "%s", err);
    /* the checkerboard masks moved with the parameters: the GPU step uses them
     * instead of uploading masks (and they are the CPU's: a copy, so exact;
     * the bound only has to exceed 0) */
    for (int k = 0; k < g.a.scales; k++)
        CHECK(g.mask[k][0][0]->dev == CG_CUDA && g.mask[k][1][1]->dev == CG_CUDA,
              "scale %d's masks stayed on the host", k);
    gpu_compare("checkerboard masks", gpu_get(g.masks.buf, g.masks.nbuf), c.masks.buf,
                c.masks.nbuf, 1e-30);
    cg_ctx cc, cgpu;
    REQUIRE(cg_ctx_init(&cc) == CG_OK && cg_ctx_init(&cgpu) == CG_OK);
    /* Adam's eps 1e-3, not 1e-8: with batch norm, the biases a batch norm
     * follows (the couplings' t bias, a norm's bias before the next norm)
     * have a gradient of exactly zero in exact arithmetic, ~1e-7 of
     * rounding on each device, which eps 1e-8 would turn into steps of +-lr
     * of unrelated signs on the two devices: the comparison would measure
     * rounding noise magnified 1e4 times. With 1e-3 a gradient under 1e-6
     * moves its weight by under 1e-3 lr, while the real gradients (1e-2 and
     * up) still take Adam's normalised steps. */
    cg_adam ac, ag;
    cg_adam_init(&ac, 1e-3, 0.9, 0.999, 1e-3, 0, 0);
    ag = ac;
    cg_rng dc, dg;
    cg_rng_init(&dc, 9, 2);
    cg_rng_init(&dg, 9, 2);
    double lc[6], lg[6];
    int ok = 1;
    for (int step = 0; step < 3 && ok; step++) {
        /* pixels k / 127.5 - 1 as the loader gives them */
        real *x = gpu_rand(60 + step, 4 * 64, 0, 1, 0);
        for (int i = 0; i < 4 * 64; i++)
            x[i] = (real)(floor(x[i] * 255) / 127.5 - 1);
        cg_tensor *xc = cg_wrap(&cc, x, CG_SHAPE(4, 1, 8, 8));
        cg_tensor *xg = cg_to_device(&cgpu, xc, CG_CUDA);
        ok = cg_flowimg_step(&cc, &c, &ac, xc, &dc, &lc[2 * step], &lc[2 * step + 1]) == CG_OK;
        CHECK(ok, "CPU step %d: %s", step, cc.errmsg);
        ok = ok && cg_flowimg_step(&cgpu, &g, &ag, xg, &dg, &lg[2 * step],
                                   &lg[2 * step + 1]) == CG_OK;
        CHECK(ok, "GPU step %d: %s (%s)", step, cgpu.errmsg, cg_cuda_last_error());
        cg_ctx_step_end(&cc);
        cg_ctx_step_end(&cgpu);
    }
    if (ok) {
        real rc[6], rg[6];
        for (int i = 0; i < 6; i++) {
            rc[i] = (real)lc[i];
            rg[i] = (real)lg[i];
        }
        printf("    %s, %d scales: NLL %.5f (CPU) %.5f (GPU) at step 3\n",
               cg_flowimg_norm_name(norm), scales, lc[4], lg[4]);
        gpu_compare("NLLs and log-dets of 3 steps", rg, rc, 6, STEP_TOL);
        gpu_compare("parameters after 3 Adam steps", gpu_get(g.p.w, g.p.n), c.p.w, c.p.n,
                    STEP_TOL);
        gpu_compare("buffers after 3 steps", gpu_get(g.p.buf, g.p.nbuf), c.p.buf, c.p.nbuf,
                    STEP_TOL);
    }
    cg_ctx_free(&cc);
    cg_ctx_free(&cgpu);
    cg_flowimg_free(&c);
    cg_flowimg_free(&g);
    gpu_free_all();
}

TEST(gpu_flowimg_actnorm_steps_match_cpu)
{
    GPU_OR_SKIP();
    flow_steps_match(CG_FLOWIMG_ACTNORM, 2);
}

TEST(gpu_flowimg_batchnorm_steps_match_cpu)
{
    GPU_OR_SKIP();
    flow_steps_match(CG_FLOWIMG_BATCHNORM, 3);
}
