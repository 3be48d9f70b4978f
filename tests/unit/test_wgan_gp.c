/*
 * test_wgan_gp.c: the WGAN-GP critic and one critic step with its gradient
 * penalty against PyTorch (tests/ref/wgan_gp32.ref, from
 * scripts/make_wgan_gp_ref.py): the same weights, batch, fakes and
 * interpolation weights eps; the losses, the per-parameter gradients of the
 * loss (through the penalty's second derivative), and the weights after
 * Adam(1e-4, betas (0, 0.9)). On the CPU and on the GPU.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/wgan_gp.h"
#include "gpu_check.h"
#include "harness.h"
#include "ref.h"

/* The reference runs in float64 on the float32 inputs, cugen in float32
 * with double sums; the bound is the 1e-5 the step is specified to, on
 * relative L2 errors (the measured ones are printed). */
#define TOL 1e-5

typedef struct {
    cg_params p;
    cg_nn nn;
    cg_wgan_critic c;
    cg_tensor *g_dummy;   /* a parameter of another group, which the step must not move */
} critic_model;

static int build(critic_model *m, int nc, int ndf, int size)
{
    memset(m, 0, sizeof *m);
    cg_params_init(&m->p);
    cg_nn_begin(&m->nn, &m->p);
    m->nn.group = 0;
    m->g_dummy = cg_param(&m->p, "G.dummy", CG_SHAPE(5), 0);
    m->nn.group = 1;
    cg_wgan_critic_declare(&m->nn, &m->c, "D.", nc, ndf, size, 1);
    char err[256];
    cg_status st = cg_nn_alloc(&m->nn, err, sizeof err);
    CHECK(st == CG_OK, "%s", err);
    return st == CG_OK;
}

/* "<prefix><name>" of the reference into the parameters; the count */
static int load_prefixed(const ref_file *rf, const char *prefix, cg_params *p)
{
    size_t k = strlen(prefix);
    int n = 0;
    for (int i = 0; i < rf->count; i++) {
        const ref_tensor *t = &rf->t[i];
        if (strncmp(t->name, prefix, k) != 0)
            continue;
        char name[96];
        snprintf(name, sizeof name, "D.%s", t->name + k);
        cg_tensor *dst = cg_params_find(p, name);
        CHECK(dst && dst->n == t->n, "the critic has no tensor %s of %lld values", name,
              (long long)t->n);
        if (!dst || dst->n != t->n)
            return -1;
        memcpy(dst->data, t->data, sizeof(real) * (size_t)t->n);
        n++;
    }
    return n;
}

static double rel(double got, double want)
{
    return fabs(got - want) / fmax(fabs(want), 1e-30);
}

static cg_tensor *upload(cg_ctx *ctx, cg_device dev, const ref_tensor *t)
{
    cg_tensor *x = cg_new_on(ctx, dev, t->shape, t->ndim);
    return x && cg_copy_from_host(ctx, x, t->data) == CG_OK ? x : NULL;
}

/* The worst relative L2 error of "<prefix><name>" against the critic's
 * tensors (values, or gradients when grads). */
static double compare_all(const ref_file *rf, const char *prefix, cg_params *p, int grads,
                          const char **worst_name)
{
    size_t k = strlen(prefix);
    double worst = 0;
    for (int i = 0; i < rf->count; i++) {
        const ref_tensor *t = &rf->t[i];
        if (strncmp(t->name, prefix, k) != 0)
            continue;
        char name[96];
        snprintf(name, sizeof name, "D.%s", t->name + k);
        cg_tensor *mine = cg_params_find(p, name);
        if (!mine)
            continue;
        double e = ref_check_impl(__FILE__, __LINE__, rf, t->name, grads ? mine->grad : mine->data,
                                  mine, TOL, 1);
        if (e > worst) {
            worst = e;
            *worst_name = t->name;
        }
    }
    return worst;
}

static void parity(cg_device dev)
{
    ref_file rf;
    if (!REF_OPEN(&rf, "wgan_gp32"))
        return;
    int nc = (int)ref_cfg(&rf, 0), ndf = (int)ref_cfg(&rf, 1), size = (int)ref_cfg(&rf, 2);
    double lambda = ref_cfg(&rf, 4);
    critic_model m;
    if (!build(&m, nc, ndf, size))
        return;
    int n = load_prefixed(&rf, "init.D.", &m.p);
    CHECK(n == m.p.count - 1, "%d tensors in the reference, %d in the critic", n, m.p.count - 1);
    for (int i = 0; i < 5; i++)
        m.g_dummy->data[i] = (real)(i + 1);
    char err[256];
    if (dev == CG_CUDA) {
        cg_cuda_set_deterministic(1);
        REQUIRE(cg_params_to_device(&m.p, err, sizeof err) == CG_OK, "%s", err);
    }
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = upload(&ctx, dev, REF_GET(&rf, "real"));
    cg_tensor *fake = upload(&ctx, dev, REF_GET(&rf, "fake"));
    cg_tensor *eps = upload(&ctx, dev, REF_GET(&rf, "eps"));
    REQUIRE(x && fake && eps, "%s", ctx.errmsg);

    /* the loss and its gradients, as the step computes them */
    cg_tensor *d_real = cg_mean(&ctx, cg_wgan_critic_fwd(&ctx, &m.c, x));
    cg_tensor *d_fake = cg_mean(&ctx, cg_wgan_critic_fwd(&ctx, &m.c, fake));
    cg_tensor *gp = cg_wgan_gp_penalty(&ctx, &m.c, x, fake, eps, lambda);
    cg_tensor *loss = cg_add(&ctx, cg_sub(&ctx, d_fake, d_real), gp);
    REQUIRE(loss && cg_backward(&ctx, loss) == CG_OK, "%s", ctx.errmsg);
    if (dev == CG_CUDA)
        REQUIRE(cg_params_to_host(&m.p, err, sizeof err) == CG_OK, "%s", err);
    const char *wg = "";
    double eg = compare_all(&rf, "grad.D.", &m.p, 1, &wg);
    CHECK(eg < TOL, "gradient %s off by %.2e", wg, eg);
    if (dev == CG_CUDA)
        REQUIRE(cg_params_to_device(&m.p, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(cg_params_zero_grad(&m.p) == CG_OK);
    cg_ctx_step_end(&ctx);

    /* the step itself */
    cg_adam opt;
    cg_adam_init(&opt, CG_WGAN_GP_LR, CG_WGAN_GP_BETA1, CG_WGAN_GP_BETA2, 1e-8, 0, 0);
    x = upload(&ctx, dev, REF_GET(&rf, "real"));
    fake = upload(&ctx, dev, REF_GET(&rf, "fake"));
    eps = upload(&ctx, dev, REF_GET(&rf, "eps"));
    cg_wgan_gp_stats s;
    REQUIRE(cg_wgan_gp_critic_step(&ctx, &m.c, &m.p, 1, &opt, x, fake, eps, lambda, &s) == CG_OK,
            "%s", ctx.errmsg);
    cg_ctx_step_end(&ctx);
    double want_loss = REF_GET(&rf, "loss")->data[0], want_gp = REF_GET(&rf, "penalty")->data[0];
    double want_w = (double)REF_GET(&rf, "d_real")->data[0] - REF_GET(&rf, "d_fake")->data[0];
    double e_loss = rel(s.loss, want_loss), e_gp = rel(s.penalty, want_gp);
    double e_w = fabs(s.wasserstein - want_w) / fmax(fabs(want_loss), 1e-30);
    CHECK(e_loss < TOL, "loss %.8g, PyTorch %.8g", s.loss, want_loss);
    CHECK(e_gp < TOL, "penalty %.8g, PyTorch %.8g", s.penalty, want_gp);
    /* D(real) - D(fake) is a small difference of the loss's size: its error
     * is measured against the loss */
    CHECK(e_w < TOL, "wasserstein %.8g, PyTorch %.8g", s.wasserstein, want_w);
    if (dev == CG_CUDA)
        REQUIRE(cg_params_to_host(&m.p, err, sizeof err) == CG_OK, "%s", err);
    const char *ww = "";
    double ew = compare_all(&rf, "final.D.", &m.p, 0, &ww);
    CHECK(ew < TOL, "weights after the step: %s off by %.2e", ww, ew);
    for (int i = 0; i < 5; i++)
        CHECK(m.g_dummy->data[i] == (real)(i + 1), "the other group moved");
    CHECK(opt.t == 1);
    printf("    wgan_gp32 on the %s: rel errors: loss %.2e, penalty %.2e, wasserstein %.2e, "
           "gradients %.2e (%s), weights after Adam %.2e (%s)\n",
           dev == CG_CUDA ? "GPU" : "CPU", e_loss, e_gp, e_w, eg, wg, ew, ww);
    cg_ctx_free(&ctx);
    cg_params_free(&m.p);
    ref_free(&rf);
}

TEST(wgan_gp_critic_step_matches_pytorch)
{
    parity(CG_CPU);
}

TEST(gpu_wgan_gp_critic_step_matches_pytorch)
{
    GPU_OR_SKIP();
    parity(CG_CUDA);
}

/* Names and shapes of the critic's state_dict (5 convolutions, 3 layer
 * norms): DCGAN's D with LayerNorm([C, H, W]) in place of BatchNorm2d
 * (PyTorch's, for nc 3, ndf 64, 64x64). */
TEST(wgan_gp_critic_state_dict_names)
{
    cg_params p;
    cg_params_init(&p);
    cg_nn nn;
    cg_nn_begin(&nn, &p);
    cg_wgan_critic c;
    cg_wgan_critic_declare(&nn, &c, "D.", 3, 64, 64, 1);
    char err[256];
    REQUIRE(cg_nn_alloc(&nn, err, sizeof err) == CG_OK, "%s", err);
    static const struct {
        const char *name;
        int ndim, shape[4];
    } want[] = {{"D.main.0.weight", 4, {64, 3, 4, 4}},   {"D.main.2.weight", 4, {128, 64, 4, 4}},
                {"D.main.3.weight", 3, {128, 16, 16}},   {"D.main.3.bias", 3, {128, 16, 16}},
                {"D.main.5.weight", 4, {256, 128, 4, 4}}, {"D.main.6.weight", 3, {256, 8, 8}},
                {"D.main.8.weight", 4, {512, 256, 4, 4}}, {"D.main.9.bias", 3, {512, 4, 4}},
                {"D.main.11.weight", 4, {1, 512, 4, 4}}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cg_tensor *t = cg_params_find(&p, want[i].name);
        CHECK(t != NULL, "no %s", want[i].name);
        if (t)
            CHECK(t->ndim == want[i].ndim &&
                  memcmp(t->shape, want[i].shape, sizeof(int) * (size_t)t->ndim) == 0,
                  "%s is %s", want[i].name, CG_SHAPE_STR(t));
    }
    CHECK(p.count == 11 && p.bcount == 0, "%d parameters, %d buffers", p.count, p.bcount);
    cg_params_free(&p);

    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    cg_wgan_critic_declare(&nn, &c, "D.", 1, 8, 48, 1);
    CHECK(cg_nn_alloc(&nn, err, sizeof err) == CG_ERR_ARG && strstr(err, "32 or 64"), "%s", err);
    cg_params_free(&p);
}
