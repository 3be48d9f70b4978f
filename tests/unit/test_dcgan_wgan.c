/*
 * test_dcgan_wgan.c: one step of `cugen train dcgan --loss wgan-gp`
 * (cg_dcgan_wgan_step: n_critic critic steps with the gradient penalty, then
 * the generator's step) against PyTorch (tests/ref/dcgan_wgan32.ref and, for
 * the conditional projection critic, dcgan_wgan_cond32.ref, from
 * scripts/make_wgan_gp_ref.py): the same weights, batches, z, eps and labels;
 * each critic step's loss, Wasserstein estimate and penalty, G's loss, and
 * every parameter and buffer of G and the critic afterwards (G's batch norm
 * running statistics after its n_critic + 1 forwards). CPU and GPU.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/dcgan.h"
#include "gpu_check.h"
#include "harness.h"
#include "ref.h"

/* The reference runs in float64 from the same float32 values, cugen in
 * float32 with double sums: the 1e-5 the step is specified to, on relative
 * L2 errors (the measured ones are printed). */
#define TOL 1e-5
#define MAX_K 4

static cg_tensor *upload(cg_ctx *ctx, cg_device dev, const ref_tensor *t,
                         const int *shape, int ndim)
{
    cg_tensor *x = t ? cg_new_on(ctx, dev, shape, ndim) : NULL;
    return x && x->n == t->n && cg_copy_from_host(ctx, x, t->data) == CG_OK ? x : NULL;
}

static const ref_tensor *get_i(const ref_file *rf, const char *name, int i)
{
    char key[48];
    snprintf(key, sizeof key, "%s.%d", name, i);
    return REF_GET(rf, key);
}

static void parity(const char *name, cg_device dev)
{
    ref_file rf;
    if (!REF_OPEN(&rf, name))
        return;
    cg_dcgan_arch a = {.nz = (int)ref_cfg(&rf, 0), .ngf = (int)ref_cfg(&rf, 1),
                       .ndf = (int)ref_cfg(&rf, 2), .nc = (int)ref_cfg(&rf, 3),
                       .image_size = (int)ref_cfg(&rf, 4), .num_classes = (int)ref_cfg(&rf, 7),
                       .embed_dim = (int)ref_cfg(&rf, 8), .critic = 1};
    int B = (int)ref_cfg(&rf, 5), K = (int)ref_cfg(&rf, 6), S = a.image_size;
    double lambda = ref_cfg(&rf, 9);
    REQUIRE(K >= 1 && K <= MAX_K);
    cg_dcgan m;
    char err[256];
    REQUIRE(cg_dcgan_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    /* every parameter and buffer of ours is in the state_dicts and vice versa */
    int n = 0;
    for (int i = 0; i < rf.count; i++) {
        const ref_tensor *t = &rf.t[i];
        if (strncmp(t->name, "init.", 5) != 0)
            continue;
        cg_tensor *dst = cg_params_find(&m.p, t->name + 5);
        CHECK(dst && dst->n == t->n, "the model has no tensor %s of %lld values", t->name + 5,
              (long long)t->n);
        if (dst && dst->n == t->n) {
            memcpy(dst->data, t->data, sizeof(real) * (size_t)t->n);
            n++;
        }
    }
    CHECK(n == m.p.count + m.p.bcount, "%d tensors in the reference, %d in the model", n,
          m.p.count + m.p.bcount);
    if (dev == CG_CUDA) {
        cg_cuda_set_deterministic(1);
        REQUIRE(cg_dcgan_to_device(&m, CG_CUDA, err, sizeof err) == CG_OK, "%s", err);
    }
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x[MAX_K], *z[MAX_K + 1], *eps[MAX_K];
    int32_t ys[MAX_K][16];
    const int32_t *y[MAX_K];
    REQUIRE(B <= 16);
    for (int i = 0; i <= K; i++) {
        z[i] = upload(&ctx, dev, get_i(&rf, "z", i), CG_SHAPE(B, a.nz));
        REQUIRE(z[i], "z.%d: %s", i, ctx.errmsg);
        if (i == K)
            break;
        x[i] = upload(&ctx, dev, get_i(&rf, "real", i), CG_SHAPE(B, a.nc, S, S));
        eps[i] = upload(&ctx, dev, get_i(&rf, "eps", i), CG_SHAPE(B));
        REQUIRE(x[i] && eps[i], "batch %d: %s", i, ctx.errmsg);
        y[i] = ys[i];
        const ref_tensor *yr = a.num_classes ? get_i(&rf, "y", i) : NULL;
        for (int j = 0; yr && j < B; j++)
            ys[i][j] = (int32_t)yr->data[j];
    }
    cg_adam ad, ag;
    cg_adam_init(&ad, CG_WGAN_GP_LR, CG_WGAN_GP_BETA1, CG_WGAN_GP_BETA2, 1e-8, 0, 0);
    cg_adam_init(&ag, CG_WGAN_GP_LR, CG_WGAN_GP_BETA1, CG_WGAN_GP_BETA2, 1e-8, 0, 0);
    real each[3 * MAX_K];
    cg_dcgan_wgan_batch in = {.n_critic = K, .lambda = lambda, .real = x,
                              .y = a.num_classes ? y : NULL, .z = z, .eps = eps};
    cg_dcgan_wgan_stats s = {.each = each};
    REQUIRE(cg_dcgan_wgan_step(&ctx, &m, &ad, &ag, &in, &s) == CG_OK, "%s", ctx.errmsg);
    CHECK(ad.t == K && ag.t == 1, "Adam steps: D %lld, G %lld", (long long)ad.t,
          (long long)ag.t);
    /* D(real) - D(fake) is a difference of the loss's size: its error is
     * measured against the loss, as test_wgan_gp.c does */
    double worst_scalar = 0;
    for (int i = 0; i < K; i++) {
        double loss = get_i(&rf, "loss", i)->data[0];
        const char *names[3] = {"loss", "wasserstein", "penalty"};
        for (int j = 0; j < 3; j++) {
            double want = get_i(&rf, names[j], i)->data[0];
            double e = fabs(each[3 * i + j] - want) / fmax(fabs(j == 1 ? loss : want), 1e-30);
            worst_scalar = fmax(worst_scalar, e);
            CHECK(e < TOL, "critic step %d %s: %.8g, PyTorch %.8g (rel %.2e)", i, names[j],
                  (double)each[3 * i + j], want, e);
        }
    }
    double want_g = REF_GET(&rf, "loss_G")->data[0];
    double e_g = fabs(s.loss_g - want_g) / fmax(fabs(want_g), 1e-30);
    CHECK(e_g < TOL, "loss_G %.8g, PyTorch %.8g (rel %.2e)", s.loss_g, want_g, e_g);
    if (dev == CG_CUDA)
        REQUIRE(cg_dcgan_to_device(&m, CG_CPU, err, sizeof err) == CG_OK, "%s", err);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < rf.count; i++) {
        const ref_tensor *t = &rf.t[i];
        if (strncmp(t->name, "final.", 6) != 0)
            continue;
        cg_tensor *mine = cg_params_find(&m.p, t->name + 6);
        CHECK(mine != NULL, "no tensor %s", t->name + 6);
        if (!mine)
            continue;
        double e = REF_CHECK_DATA_QUIET(&rf, t->name, mine, TOL);
        if (e > worst) {
            worst = e;
            worst_name = t->name + 6;
        }
    }
    printf("    %s on the %s: %d critic steps and G's; worst rel error: critic scalars %.2e, "
           "loss_G %.2e, parameters and buffers %.2e (%s)\n", name,
           dev == CG_CUDA ? "GPU" : "CPU", K, worst_scalar, e_g, worst, worst_name);
    cg_ctx_free(&ctx);
    cg_dcgan_free(&m);
    ref_free(&rf);
}

TEST(dcgan_wgan_gp_step_matches_pytorch)
{
    parity("dcgan_wgan32", CG_CPU);
}

TEST(dcgan_wgan_gp_conditional_step_matches_pytorch)
{
    parity("dcgan_wgan_cond32", CG_CPU);
}

TEST(gpu_dcgan_wgan_gp_step_matches_pytorch)
{
    GPU_OR_SKIP();
    parity("dcgan_wgan32", CG_CUDA);
    parity("dcgan_wgan_cond32", CG_CUDA);
}

/* The critic's state_dict is DCGAN's D's names without the batch norms'
 * running statistics; the checkpoint's sampler finds it; spectral
 * normalisation of the critic is refused. */
TEST(dcgan_wgan_gp_critic_names_and_refusals)
{
    cg_dcgan_arch a = {.nz = 8, .ngf = 4, .ndf = 4, .nc = 1, .image_size = 32, .critic = 1};
    cg_dcgan m;
    char err[256];
    REQUIRE(cg_dcgan_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    cg_tensor *ln = cg_params_find(&m.p, "D.main.3.weight");
    CHECK(ln && ln->ndim == 3 && ln->shape[0] == 8 && ln->shape[1] == 8 && ln->shape[2] == 8,
          "D.main.3.weight: %s", ln ? CG_SHAPE_STR(ln) : "none");
    CHECK(!cg_params_find(&m.p, "D.main.3.running_mean"), "the critic has running statistics");
    CHECK(cg_params_find(&m.p, "D.main.8.weight") && cg_params_find(&m.p, "D.main.6.bias"));
    CHECK(cg_params_find(&m.p, "G.main.1.running_mean"), "G keeps its batch norms");
    cg_dcgan_free(&m);
    a.sn = CG_DCGAN_SN_D;
    CHECK(cg_dcgan_build(&m, &a, err, sizeof err) == CG_ERR_ARG &&
              strstr(err, "spectral normalisation"), "%s", err);
}
