/*
 * test_ddpm_train.c: the DDPM learns: 300 steps of a tiny UNet on 256
 * Fashion-MNIST images at 16x16 lower the epsilon loss, with the EMA
 * following the weights.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/data.h"
#include "cugen/ddpm.h"
#include "harness.h"

/* ch 8, ch_mult 1,2 (16x16 and 8x8), one block per level, attention at 8x8,
 * batch 8, Adam lr 1e-3, T 1000 linear, dropout 0. At the start the UNet
 * predicts 0 (conv_out is zero), so the loss is E[eps^2] = 1; a model that
 * has learnt anything predicts eps well at large t, where x_t is mostly
 * eps. The loss of one batch is noisy (t is drawn per sample), so the
 * check compares the means of the first and the last 50 steps: the last must
 * be below 0.5 of the first (measured, printed: 0.16). */
TEST(ddpm_loss_falls_on_fashion_mnist)
{
    struct stat sb;
    if (stat(CG_FASHION_MNIST_DIR, &sb) != 0)
        SKIP("Debian's dataset-fashion-mnist is not installed");
    cg_dataset full, ds;
    char err[512];
    cg_data_spec spec = {.name = "fashion-mnist", .split = "test"};
    REQUIRE(cg_dataset_open(&spec, &full, err, sizeof err) == CG_OK, "%s", err);
    /* the first 256 images, resized to 16x16 (a copy the view owns) */
    ds = full;
    ds.count = 256;
    ds.owned_pixels = ds.owned_labels = ds.map = NULL;
    ds.labels = NULL;
    REQUIRE(cg_dataset_resize(&ds, 16, 16, err, sizeof err) == CG_OK, "%s", err);
    cg_unet_arch a = {.in_ch = 1, .image_size = 16, .ch = 8, .nlevels = 2, .ch_mult = {1, 2},
                      .num_res_blocks = 1, .attn = 8};
    cg_unet m;
    REQUIRE(cg_unet_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    cg_unet_init(&m, 1, 1);
    cg_ddpm_sched s;
    REQUIRE(cg_ddpm_sched_init(&s, CG_SCHED_LINEAR, 1000) == CG_OK);
    cg_loader *L;
    cg_loader_opts lo = cg_loader_defaults(8, 1);
    lo.prefetch = 0;
    REQUIRE(cg_loader_open(&L, &ds, &lo, err, sizeof err) == CG_OK, "%s", err);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_adam opt;
    cg_adam_init(&opt, 1e-3, 0.9, 0.999, 1e-8, 0, 0);
    cg_ema ema;
    REQUIRE(cg_ema_init(&ema, &m.p, 0.99) == CG_OK);
    cg_rng noise;
    cg_rng_init(&noise, 1, 3);
    double first = 0, last = 0;
    const int steps = 300, window = 50;
    for (int k = 0; k < steps; k++) {
        cg_batch b;
        cg_loader_next(L, &b);
        cg_tensor *x = cg_wrap(&ctx, (real *)b.x, CG_SHAPE(b.n, 1, 16, 16));
        double loss = 0;
        REQUIRE(cg_ddpm_step(&ctx, &m, &s, &opt, &ema, x, &noise, NULL, &loss) == CG_OK, "%s",
                ctx.errmsg);
        REQUIRE(isfinite(loss), "step %d: loss %g", k, loss);
        if (k < window)
            first += loss / window;
        if (k >= steps - window)
            last += loss / window;
    }
    printf("    mean loss: steps 1-%d %.4f, steps %d-%d %.4f (ratio %.3f)\n", window, first,
           steps - window + 1, steps, last, last / first);
    CHECK(last < 0.5 * first, "loss %.4f -> %.4f", first, last);
    /* the EMA moved from the initial weights toward the trained ones */
    double d_ema = 0;
    for (int64_t i = 0; i < m.p.n; i++)
        d_ema += fabs((double)ema.w[i] - m.p.w[i]);
    CHECK(d_ema > 0 && isfinite(d_ema));
    cg_ema_free(&ema);
    cg_ctx_free(&ctx);
    cg_loader_close(L);
    cg_unet_free(&m);
    cg_ddpm_sched_free(&s);
    cg_dataset_free(&ds);
    cg_dataset_free(&full);
}
