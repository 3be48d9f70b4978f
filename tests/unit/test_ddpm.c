/*
 * test_ddpm.c: the DDPM UNet and diffusion. One training step of a tiny UNet
 * against PyTorch (tests/ref/ddpm_tiny.ref from scripts/make_ddpm_ref.py):
 * the noisy input, the UNet's output, the loss and every parameter's
 * gradient. The schedules against their formulas, q(x_t | x_0) against the
 * forward process iterated step by step, the samplers' bookkeeping, the
 * architecture checks and the flag parsers.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/ddpm.h"
#include "cugen/tape.h"
#include "harness.h"
#include "ref.h"

/* Bound: the reference runs in float64 on the same float32 inputs; cugen in
 * float32 with double accumulation inside each op. Between ops activations
 * are rounded to float32 (relative 6e-8 each); through ~60 layers and the
 * softmax of the attention the output and gradients carry a few 1e-7 to
 * 1e-6 of relative error (printed). The bound is the task's 1e-4. */
#define TOL 1e-4

static cg_unet_arch tiny_arch(const ref_file *rf)
{
    cg_unet_arch a = {.in_ch = (int)ref_cfg(rf, 0), .image_size = (int)ref_cfg(rf, 1),
                      .ch = (int)ref_cfg(rf, 2), .nlevels = 2,
                      .ch_mult = {(int)ref_cfg(rf, 3), (int)ref_cfg(rf, 4)},
                      .num_res_blocks = (int)ref_cfg(rf, 5), .attn = (unsigned)ref_cfg(rf, 6),
                      .groups = (int)ref_cfg(rf, 7), .dropout = 0};
    return a;
}

TEST(ddpm_tiny_unet_step_matches_pytorch)
{
    ref_file rf;
    if (!REF_OPEN(&rf, "ddpm_tiny"))
        return;
    cg_unet_arch a = tiny_arch(&rf);
    cg_unet m;
    char err[256];
    REQUIRE(cg_unet_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    cg_ddpm_sched s;
    REQUIRE(cg_ddpm_sched_init(&s, CG_SCHED_LINEAR, (int)ref_cfg(&rf, 8)) == CG_OK);
    /* the model's tensors and the reference's are the same set */
    int loaded = 0;
    for (int i = 0; i < rf.count; i++) {
        const ref_tensor *t = &rf.t[i];
        if (strncmp(t->name, "init.", 5) != 0)
            continue;
        cg_tensor *dst = cg_params_find(&m.p, t->name + 5);
        CHECK(dst && dst->n == t->n, "%s: missing or of another size", t->name + 5);
        if (dst && dst->n == t->n) {
            memcpy(dst->data, t->data, sizeof(real) * (size_t)t->n);
            loaded++;
        }
    }
    REQUIRE(loaded == m.p.count, "%d reference tensors, %d parameters", loaded, m.p.count);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x0 = REF_CONST(&rf, "x0"), *eps = REF_CONST(&rf, "eps");
    const ref_tensor *tr = REF_GET(&rf, "t");
    REQUIRE(x0 && eps && tr);
    int32_t t[2] = {(int32_t)tr->data[0], (int32_t)tr->data[1]};
    cg_tensor *pred = NULL;
    cg_tensor *loss = cg_ddpm_loss(&ctx, &m, &s, x0, t, eps, NULL, &pred);
    REQUIRE_OK(&ctx);
    REQUIRE(cg_backward(&ctx, loss) == CG_OK, "%s", ctx.errmsg);
    /* x_t is recomputed here from the schedule, as the loss does */
    real xt[2 * 3 * 16 * 16];
    REQUIRE(x0->n == 2 * 3 * 16 * 16);
    cg_ddpm_q_sample(&s, xt, x0->data, eps->data, t, 2, x0->n / 2);
    cg_tensor *xtt = cg_wrap(&ctx, xt, x0->shape, 4);
    REF_CHECK_DATA(&rf, "xt", xtt, 1e-6);  /* one rounding of a float64 formula */
    REF_CHECK_DATA(&rf, "pred", pred, TOL);
    REF_CHECK_DATA(&rf, "loss", loss, TOL);
    double worst = 0;
    const char *worst_name = "";
    int checked = 0;
    for (int i = 0; i < m.p.count; i++) {
        char key[128];
        snprintf(key, sizeof key, "grad.%s", m.p.t[i]->name);
        cg_tensor *g = cg_wrap(&ctx, m.p.g + m.p.off[i], m.p.t[i]->shape, m.p.t[i]->ndim);
        const char *name = m.p.t[i]->name;
        size_t len = strlen(name);
        double e;
        if (len > 7 && strcmp(name + len - 7, ".k.bias") == 0) {
            /* exactly zero in exact arithmetic: q_i . b_k is the same for
             * every key j, and the softmax over keys ignores it. What is
             * left is rounding; it must be small next to k.weight's. */
            double got = 0, kw = 0;
            for (int64_t k = 0; k < g->n; k++)
                got += (double)g->data[k] * g->data[k];
            for (int64_t k = 0; k < m.p.t[i - 1]->n; k++)
                kw += (double)m.p.g[m.p.off[i - 1] + k] * m.p.g[m.p.off[i - 1] + k];
            e = sqrt(got / kw);
            CHECK(e < TOL, "%s: |grad| %.3g, |grad of k.weight| %.3g", name, sqrt(got),
                  sqrt(kw));
        } else {
            e = REF_CHECK_DATA_QUIET(&rf, key, g, TOL);
        }
        checked++;
        if (e > worst) {
            worst = e;
            worst_name = m.p.t[i]->name;
        }
    }
    printf("    %d parameter gradients, worst relative error %.2e (%s)\n", checked, worst,
           worst_name);
    cg_ctx_free(&ctx);
    cg_unet_free(&m);
    cg_ddpm_sched_free(&s);
    ref_free(&rf);
}

/* The linear schedule's ends are the paper's; alpha_bar_T ~ 4.0e-5 for T =
 * 1000 (prod of (1 - beta_t), computed here independently in long double
 * order); the cosine one follows its closed form and starts near 1. */
TEST(ddpm_schedules_follow_their_formulas)
{
    cg_ddpm_sched s;
    REQUIRE(cg_ddpm_sched_init(&s, CG_SCHED_LINEAR, 1000) == CG_OK);
    CHECK_NEAR(s.beta[0], 1e-4, 1e-15);
    CHECK_NEAR(s.beta[999], 0.02, 1e-15);
    long double ab = 1;
    for (int t = 0; t < 1000; t++)
        ab *= 1 - (1e-4L + (0.02L - 1e-4L) * t / 999);
    CHECK(fabs(s.alpha_bar[999] - (double)ab) < 1e-12 * (double)ab, "%.12g vs %.12Lg",
          s.alpha_bar[999], ab);
    CHECK(s.alpha_bar[999] > 3e-5 && s.alpha_bar[999] < 5e-5, "%g", s.alpha_bar[999]);
    cg_ddpm_sched_free(&s);
    REQUIRE(cg_ddpm_sched_init(&s, CG_SCHED_COSINE, 1000) == CG_OK);
    /* t = 999 is left out: its beta is the clipped one */
    for (int t = 0; t < 999; t += 111) {
        double c = cos(((t + 1) / 1000.0 + 0.008) / 1.008 * M_PI / 2);
        double c0 = cos(0.008 / 1.008 * M_PI / 2);
        CHECK_NEAR(s.alpha_bar[t], c * c / (c0 * c0), 1e-9);
    }
    CHECK(s.beta[999] == 0.999, "last cosine beta %g, clipped at 0.999", s.beta[999]);
    cg_ddpm_sched_free(&s);
    CHECK(cg_ddpm_sched_init(&s, CG_SCHED_LINEAR, 0) == CG_ERR_ARG);
}

/* q(x_t | x_0) in closed form against t steps of the forward process, from
 * the same x_0, over M = 20000 independent chains per pixel value: the mean
 * and variance of x_t must be sqrt(abar_t) x0 and 1 - abar_t on both paths.
 * Tolerance: the standard error of a sample mean is sqrt(var / M) <= 0.0071
 * and of a sample variance var sqrt(2 / M) <= 0.01 var; the checks allow 5
 * standard errors (a false failure has probability < 1e-6 per check), and the
 * Philox streams are fixed, so the test is deterministic anyway. */
TEST(ddpm_q_sample_matches_iterated_forward_process)
{
    cg_ddpm_sched s;
    REQUIRE(cg_ddpm_sched_init(&s, CG_SCHED_LINEAR, 1000) == CG_OK);
    const int M = 20000;
    const int ts[3] = {0, 99, 599};
    const real x0v[2] = {0.8f, -0.5f};
    real *x = th_alloc(sizeof(real) * M), *z = th_alloc(sizeof(real) * M);
    real *y = th_alloc(sizeof(real) * M), *x0 = th_alloc(sizeof(real) * M);
    int32_t *tt = th_alloc(sizeof(int32_t) * M);
    cg_rng r;
    cg_rng_init(&r, 42, 9);
    for (int k = 0; k < 3; k++)
        for (int v = 0; v < 2; v++) {
            int t = ts[k];
            for (int i = 0; i < M; i++) {
                x[i] = x0[i] = x0v[v];
                tt[i] = t;
            }
            for (int j = 0; j <= t; j++) {
                cg_rng_normal(&r, z, M, 0, 1);
                cg_ddpm_q_step(&s, x, z, j, M);
            }
            cg_rng_normal(&r, z, M, 0, 1);
            cg_ddpm_q_sample(&s, y, x0, z, tt, M, 1);
            double want_m = sqrt(s.alpha_bar[t]) * x0v[v], want_v = 1 - s.alpha_bar[t];
            const real *paths[2] = {x, y};
            for (int p = 0; p < 2; p++) {
                double sum = 0, sq = 0;
                for (int i = 0; i < M; i++)
                    sum += paths[p][i];
                double mean = sum / M;
                for (int i = 0; i < M; i++)
                    sq += (paths[p][i] - mean) * (paths[p][i] - mean);
                double var = sq / (M - 1);
                double se_m = sqrt(want_v / M), se_v = want_v * sqrt(2.0 / M);
                CHECK(fabs(mean - want_m) < 5 * se_m, "t %d x0 %g %s: mean %.5f, want %.5f", t,
                      (double)x0v[v], p ? "closed form" : "iterated", mean, want_m);
                CHECK(fabs(var - want_v) < 5 * se_v, "t %d x0 %g %s: var %.6f, want %.6f", t,
                      (double)x0v[v], p ? "closed form" : "iterated", var, want_v);
            }
        }
    cg_ddpm_sched_free(&s);
}

static void build_small(cg_unet *m, int ch, int size)
{
    cg_unet_arch a = {.in_ch = 1, .image_size = size, .ch = ch, .nlevels = 2,
                      .ch_mult = {1, 2}, .num_res_blocks = 1, .attn = (unsigned)size / 2};
    char err[256];
    cg_status st = cg_unet_build(m, &a, err, sizeof err);
    CHECK(st == CG_OK, "%s", err);
}

/* A UNet with conv_out zero (DDPM's init) predicts zero noise. A DDIM step
 * with eps = 0 multiplies x by sqrt(abar_prev / abar_t), so the chain ends at
 * x_T / sqrt(abar_{tau_top}) (the product telescopes; abar after the last
 * step is 1). The first frame is x_T, the last x_0. */
TEST(ddpm_ddim_with_zero_prediction_telescopes)
{
    cg_unet m;
    build_small(&m, 8, 8);
    cg_unet_init(&m, 1, 1);
    cg_ddpm_sched s;
    REQUIRE(cg_ddpm_sched_init(&s, CG_SCHED_LINEAR, 1000) == CG_OK);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    const int N = 2, n = N * 64, steps = 10, nf = 4;
    real *x = th_alloc(sizeof(real) * n), *x_T = th_alloc(sizeof(real) * n);
    real *frames = th_alloc(sizeof(real) * n * nf);
    cg_rng r;
    cg_rng_init(&r, 3, 0);
    cg_rng_normal(&r, x, n, 0, 1);
    memcpy(x_T, x, sizeof(real) * n);
    char err[256];
    REQUIRE(cg_ddpm_sample(&ctx, &m, &s, x, N, steps, 0, NULL, frames, nf, err, sizeof err) ==
            CG_OK, "%s", err);
    double scale = 1 / sqrt(s.alpha_bar[900]);  /* tau_top = 9 * 1000 / 10 */
    double worst = 0;
    for (int i = 0; i < n; i++)
        worst = fmax(worst, fabs(x[i] - x_T[i] * scale) / (fabs(x_T[i] * scale) + 1e-6));
    CHECK(worst < 1e-5, "DDIM with zero eps: worst rel error %g", worst);
    CHECK(memcmp(frames, x_T, sizeof(real) * n) == 0, "frame 0 is x_T");
    CHECK(memcmp(frames + (size_t)(nf - 1) * n, x, sizeof(real) * n) == 0, "last frame is x_0");
    cg_ctx_free(&ctx);
    cg_unet_free(&m);
    cg_ddpm_sched_free(&s);
}

/* Ancestral sampling is a pure function of the noise stream; with zero eps a
 * step is x <- x / sqrt(alpha_t) + sqrt(beta_t) z, so x_0 stays finite and
 * two runs from the same seed agree bit for bit. */
TEST(ddpm_ancestral_sampling_is_deterministic_per_seed)
{
    cg_unet m;
    build_small(&m, 8, 8);
    cg_unet_init(&m, 1, 1);
    cg_ddpm_sched s;
    REQUIRE(cg_ddpm_sched_init(&s, CG_SCHED_LINEAR, 50) == CG_OK);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    const int n = 64;
    real *a = th_alloc(sizeof(real) * n), *b = th_alloc(sizeof(real) * n);
    char err[256];
    for (int k = 0; k < 2; k++) {
        cg_rng r;
        cg_rng_init(&r, 5, 1);
        real *x = k ? b : a;
        cg_rng_normal(&r, x, n, 0, 1);
        REQUIRE(cg_ddpm_sample(&ctx, &m, &s, x, 1, 0, 0, &r, NULL, 0, err, sizeof err) == CG_OK,
                "%s", err);
    }
    CHECK(memcmp(a, b, sizeof(real) * n) == 0);
    for (int i = 0; i < n; i++)
        REQUIRE(isfinite(a[i]));
    /* with x_0 clipped to [-1, 1] every step, the chain stays near the
     * data's range: |x_0| <= sqrt(abar_prev) + sqrt(beta) |z| at t = 0 is
     * the clipped prediction itself, within [-1, 1] */
    cg_rng r;
    cg_rng_init(&r, 5, 1);
    cg_rng_normal(&r, a, n, 0, 1);
    REQUIRE(cg_ddpm_sample(&ctx, &m, &s, a, 1, 0, 1, &r, NULL, 0, err, sizeof err) == CG_OK,
            "%s", err);
    for (int i = 0; i < n; i++)
        CHECK(fabs(a[i]) <= 1.0f, "clipped ancestral sample %d: %g", i, (double)a[i]);
    CHECK(cg_ddpm_sample(&ctx, &m, &s, a, 1, 51, 0, NULL, NULL, 0, err, sizeof err) == CG_ERR_ARG);
    cg_ctx_free(&ctx);
    cg_unet_free(&m);
    cg_ddpm_sched_free(&s);
}

/* DDPM's CIFAR-10 UNet (ch 128, 1,2,2,2, 2 blocks, attention at 16):
 * 35.7 M parameters as its paper reports; PyTorch's port counts 35,746,307
 * for this module (printed by scripts/ddpm_torch.py's UNet with those
 * settings and in_ch 3). */
TEST(ddpm_cifar_unet_has_the_papers_parameter_count)
{
    cg_unet_arch a = {.in_ch = 3, .image_size = 32, .ch = 128, .nlevels = 4,
                      .ch_mult = {1, 2, 2, 2}, .num_res_blocks = 2, .attn = 16};
    cg_unet m;
    char err[256];
    REQUIRE(cg_unet_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_params_count(&m.p) == 35746307, "%lld parameters",
          (long long)cg_params_count(&m.p));
    CHECK(cg_params_find(&m.p, "down.1.attn.1.proj_out.weight") != NULL);
    CHECK(cg_params_find(&m.p, "up.3.block.2.nin_shortcut.weight") != NULL);
    CHECK(cg_params_find(&m.p, "down.3.downsample.conv.weight") == NULL);
    CHECK(cg_params_find(&m.p, "up.0.upsample.conv.weight") == NULL);
    /* widths below 32 and not multiples of it */
    CHECK(m.norm_out.groups == 32 && m.mid1.norm1.groups == 32);
    cg_unet_free(&m);
    a.ch = 8;
    a.ch_mult[1] = 6;  /* 48 channels: 24 groups of 2 */
    REQUIRE(cg_unet_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    CHECK(m.norm_out.groups == 8, "%d", m.norm_out.groups);
    CHECK(m.down[1].block[0].norm2.groups == 24, "%d", m.down[1].block[0].norm2.groups);
    cg_unet_free(&m);
}

TEST(ddpm_rejects_bad_architectures_and_flags)
{
    cg_unet m;
    char err[256];
    cg_unet_arch a = {.in_ch = 1, .image_size = 32, .ch = 16, .nlevels = 4,
                      .ch_mult = {1, 2, 2, 2}, .num_res_blocks = 2, .attn = 16};
    struct {
        const char *what, *msg;
        cg_unet_arch a;
    } bad[7];
    for (int i = 0; i < 7; i++)
        bad[i].a = a;
    bad[0].a.ch = 7, bad[0].msg = "--ch must be even", bad[0].what = "odd ch";
    bad[1].a.image_size = 36, bad[1].msg = "cannot be halved", bad[1].what = "size 36";
    bad[2].a.attn = 64, bad[2].msg = "--attn names a resolution", bad[2].what = "attn 64";
    bad[3].a.num_res_blocks = 0, bad[3].msg = "--num-res-blocks", bad[3].what = "0 blocks";
    bad[4].a.in_ch = 2, bad[4].msg = "1 or 3 channels", bad[4].what = "2 channels";
    bad[5].a.dropout = 1, bad[5].msg = "dropout", bad[5].what = "dropout 1";
    /* levels at 48 and 24: 24 = 16 + 8 in bits, yet neither 16 nor 8 is a level */
    bad[6].a.image_size = 48, bad[6].a.nlevels = 2, bad[6].a.attn = 16;
    bad[6].msg = "--attn names a resolution", bad[6].what = "attn 16 at 48, 24";
    for (int i = 0; i < 7; i++) {
        err[0] = 0;
        CHECK(cg_unet_build(&m, &bad[i].a, err, sizeof err) == CG_ERR_ARG, "%s", bad[i].what);
        CHECK(strstr(err, bad[i].msg), "%s: '%s'", bad[i].what, err);
    }
    const char *bad_mult[] = {"", "1,,2", "1,2,", "0,1", "a", "1,2,2,2,2,2,2", "1;2", "65"};
    for (size_t i = 0; i < sizeof bad_mult / sizeof *bad_mult; i++)
        CHECK(cg_unet_parse_mult(bad_mult[i], &a, err, sizeof err) == CG_ERR_ARG, "'%s'",
              bad_mult[i]);
    CHECK(cg_unet_parse_mult("1,2,3", &a, err, sizeof err) == CG_OK && a.nlevels == 3 &&
          a.ch_mult[2] == 3);
    const char *bad_attn[] = {"", "12", "16,", "x", "0", "-16"};
    for (size_t i = 0; i < sizeof bad_attn / sizeof *bad_attn; i++)
        CHECK(cg_unet_parse_attn(bad_attn[i], &a, err, sizeof err) == CG_ERR_ARG, "'%s'",
              bad_attn[i]);
    CHECK(cg_unet_parse_attn("16,8", &a, err, sizeof err) == CG_OK && a.attn == 24);
    CHECK(cg_unet_parse_attn("none", &a, err, sizeof err) == CG_OK && a.attn == 0);
}

/* A wrong image shape or timestep is an error in the context, not a crash. */
TEST(ddpm_forward_rejects_bad_inputs)
{
    cg_unet m;
    build_small(&m, 8, 8);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(2, 1, 16, 16), 1, -1, 1, 1);
    cg_tensor *t = th_const(CG_SHAPE(2), 2, 1, 5, 0);
    CHECK(cg_unet_forward(&ctx, &m, x, t, NULL, 0) == NULL && ctx.err == CG_ERR_ARG);
    CHECK(strstr(ctx.errmsg, "takes images (N, 1, 8, 8)"), "%s", ctx.errmsg);
    cg_clear_error(&ctx);
    cg_ddpm_sched s;
    REQUIRE(cg_ddpm_sched_init(&s, CG_SCHED_LINEAR, 10) == CG_OK);
    cg_tensor *x8 = th_const(CG_SHAPE(2, 1, 8, 8), 1, -1, 1, 1);
    int32_t tt[2] = {3, 10};
    CHECK(cg_ddpm_loss(&ctx, &m, &s, x8, tt, x8, NULL, NULL) == NULL);
    CHECK(strstr(ctx.errmsg, "timestep 10 outside [0, 10)"), "%s", ctx.errmsg);
    cg_ctx_free(&ctx);
    cg_unet_free(&m);
    cg_ddpm_sched_free(&s);
}
