/*
 * test_flow.c: the 2-D RealNVP: coupling layers forward and inverse, the
 * whole flow's NLL and its gradients against PyTorch (tests/ref/flow.ref from
 * scripts/make_vae_flow_ref.py); inverse(forward(x)) = x; bad inputs; and a
 * short training run on two moons that must beat the best single Gaussian.
 * (The log-determinant against a finite-difference Jacobian is in
 * tests/grad/grad_flow.c, in double precision.)
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/flow.h"
#include "cugen/optim.h"
#include "cugen/ops.h"
#include "cugen/tape.h"
#include "harness.h"
#include "ref.h"

/* Bound: float64 reference on the same float32 values; cugen's float32
 * forward through 3 small linear layers, tanh and exp is good to ~1e-7
 * relative (measured values printed). 1e-4 is the parity bound. */
#define TOL 1e-4

static int build_from_ref(cg_flow2d *m, const ref_file *rf)
{
    cg_flow2d_arch a = {.layers = (int)ref_cfg(rf, 0), .hidden = (int)ref_cfg(rf, 1)};
    char err[256];
    if (cg_flow2d_build(m, &a, err, sizeof err) != CG_OK)
        return 0;
    for (int i = 0; i < m->p.count; i++) {
        char key[80];
        snprintf(key, sizeof key, "w.%s", m->p.t[i]->name);
        const ref_tensor *t = REF_GET(rf, key);
        if (!t || t->n != m->p.t[i]->n)
            return 0;
        memcpy(m->p.t[i]->data, t->data, sizeof(real) * (size_t)t->n);
    }
    return 1;
}

TEST(flow_couplings_and_nll_match_pytorch)
{
    ref_file rf;
    if (!REF_OPEN(&rf, "flow"))
        return;
    cg_flow2d m;
    REQUIRE(build_from_ref(&m, &rf), "the reference's state_dict does not fit the flow");
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = REF_LEAF(&rf, "x"), *yin = REF_CONST(&rf, "yin");
    REQUIRE(x && yin);
    double worst = 0;
    for (int i = 0; i < m.a.layers; i++) {
        char key[32];
        cg_tensor *ld, *ild;
        int prev = cg_set_grad(&ctx, 0);
        cg_tensor *y = cg_flow2d_coupling_fwd(&ctx, &m, i, x, &ld);
        cg_tensor *xi = cg_flow2d_coupling_inv(&ctx, &m, i, yin, &ild);
        cg_set_grad(&ctx, prev);
        REQUIRE_OK(&ctx);
        snprintf(key, sizeof key, "y.%d", i);
        worst = fmax(worst, REF_CHECK_DATA(&rf, key, y, TOL));
        snprintf(key, sizeof key, "logdet.%d", i);
        worst = fmax(worst, REF_CHECK_DATA(&rf, key, ld, TOL));
        snprintf(key, sizeof key, "inv.%d", i);
        worst = fmax(worst, REF_CHECK_DATA(&rf, key, xi, TOL));
        snprintf(key, sizeof key, "invlogdet.%d", i);
        worst = fmax(worst, REF_CHECK_DATA(&rf, key, ild, TOL));
        cg_ctx_step_end(&ctx);
    }
    cg_tensor *ld, *z = cg_flow2d_forward(&ctx, &m, x, &ld);
    REQUIRE_OK(&ctx);
    REF_CHECK_DATA(&rf, "z", z, TOL);
    REF_CHECK_DATA(&rf, "logdet", ld, TOL);
    cg_ctx_step_end(&ctx);
    cg_tensor *nll = cg_flow2d_nll(&ctx, &m, x);
    REQUIRE(nll, "%s", ctx.errmsg);
    REF_CHECK_DATA(&rf, "nll", nll, TOL);
    REQUIRE(cg_backward(&ctx, nll) == CG_OK, "%s", ctx.errmsg);
    REF_CHECK_GRAD(&rf, "dx", x, TOL);
    for (int i = 0; i < m.p.count; i++) {
        char key[80];
        snprintf(key, sizeof key, "grad.%s", m.p.t[i]->name);
        worst = fmax(worst, REF_CHECK_GRAD(&rf, key, m.p.t[i], TOL));
    }
    cg_ctx_free(&ctx);
    cg_flow2d_free(&m);
    ref_free(&rf);
}

/* 8 layers of random weights (last layers too: the default init is the
 * identity, which would test nothing), 200 points: the round trip is exact
 * up to float32 rounding through 16 affine maps of scale within [1/e, e]:
 * each step adds ~1e-7 |x| e^1, far below 1e-4. */
TEST(flow_inverse_of_forward_is_the_identity)
{
    cg_flow2d m;
    char err[256];
    cg_flow2d_arch a = {.layers = 8, .hidden = 16};
    REQUIRE(cg_flow2d_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    cg_rng r;
    cg_rng_init(&r, 5, 1);
    for (int i = 0; i < m.p.count; i++)
        cg_init_normal(m.p.t[i], &r, 0.0, 0.5);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_set_grad(&ctx, 0);
    cg_tensor *x = th_const(CG_SHAPE(200, 2), 9, 0.0, 2.5, 1), *ld;
    cg_tensor *z = cg_flow2d_forward(&ctx, &m, x, &ld);
    cg_tensor *back = cg_flow2d_inverse(&ctx, &m, z);
    REQUIRE(back, "%s", ctx.errmsg);
    double worst = 0, moved = 0;
    for (int64_t i = 0; i < x->n; i++) {
        worst = fmax(worst, fabs((double)back->data[i] - x->data[i]));
        moved = fmax(moved, fabs((double)z->data[i] - x->data[i]));
    }
    printf("    max |f^-1(f(x)) - x| = %.2e (f moved points by up to %.2f)\n", worst, moved);
    CHECK(worst < 1e-4, "%g", worst);
    CHECK(moved > 0.5, "the flow is nearly the identity (%g): the test tests nothing", moved);
    cg_ctx_free(&ctx);
    cg_flow2d_free(&m);
}

TEST(flow_rejects_bad_shapes_and_layers)
{
    cg_flow2d m;
    char err[256];
    cg_flow2d_arch a = {.layers = 0, .hidden = 8};
    CHECK(cg_flow2d_build(&m, &a, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "layers"), "%s", err);
    a.layers = CG_FLOW2D_MAX_LAYERS + 1;
    CHECK(cg_flow2d_build(&m, &a, err, sizeof err) == CG_ERR_ARG);
    a.layers = 2;
    REQUIRE(cg_flow2d_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *ld;
    CHECK_ARG_ERROR(&ctx, cg_flow2d_coupling_fwd(&ctx, &m, 0, th_const(CG_SHAPE(4, 3), 1, 0.1,
                                                                         1, 1), &ld), "realnvp");
    CHECK_ARG_ERROR(&ctx, cg_flow2d_coupling_inv(&ctx, &m, 2, th_const(CG_SHAPE(4, 2), 1, 0.1,
                                                                         1, 1), &ld), "realnvp");
    CHECK_ARG_ERROR(&ctx, cg_flow2d_nll(&ctx, &m, th_const(CG_SHAPE(8), 1, 0.1, 1, 1)),
                    "realnvp");
    cg_ctx_free(&ctx);
    cg_flow2d_free(&m);
}

/* The Gaussian MLE NLL in closed form: for points (+-1, 0), (0, +-2) the
 * mean is 0 and the covariance diag(0.5, 2): NLL = log 2 pi + 0.5 log 1 + 1. */
TEST(flow_gaussian_mle_nll_closed_form)
{
    const real xy[8] = {1, 0, -1, 0, 0, 2, 0, -2};
    CHECK_NEAR(cg_gaussian_mle_nll(xy, 4), log(2 * M_PI) + 1.0, 1e-12);
}

/* 400 Adam steps (4 layers of width 32, batch 128) on two moons: the flow's
 * NLL on 20000 fresh points must be below that of the maximum-likelihood
 * Gaussian of the same points (1.88 nats) by at least 0.3 nats. Measured:
 * 1.04. */
TEST(flow_two_moons_beats_the_best_gaussian)
{
    cg_train_opts o = {.steps = 400, .batch = 128, .lr = 1e-3, .seed = 0, .quiet = 1,
                       .data = "moons"};
    cg_realnvp_flags f = {.layers = 4, .hidden = 32};
    cg_train_result r;
    char err[512];
    REQUIRE(cg_trainer_run(&cg_kind_realnvp_2d, &f, &o, &r, err, sizeof err) == CG_OK, "%s",
            err);
    double nll = cg_scalars_get(&r.final, "eval_nll"),
           start = cg_scalars_get(&r.final, "eval_nll_start"),
           gauss = cg_scalars_get(&r.final, "gauss_nll");
    printf("    NLL: flow %.4f (untrained %.4f), best Gaussian %.4f\n", nll, start, gauss);
    CHECK(r.steps == 400 && nll < gauss - 0.3, "flow %.4f, Gaussian %.4f", nll, gauss);
}

/* ---- the image RealNVP -------------------------------------------------------- */

/* A flow of architecture a with every weight random (std 0.1), act-norms
 * set, batchnorm running statistics random (mean in [-0.5, 0.5], variance
 * in [0.5, 2]) and in eval mode: a fixed map of its input. */
static int random_img_flow(cg_flowimg *m, const cg_flowimg_arch *a, uint64_t seed)
{
    char err[256];
    if (cg_flowimg_build(m, a, err, sizeof err) != CG_OK) {
        printf("    %s\n", err);
        return 0;
    }
    cg_rng r;
    cg_rng_init(&r, seed, 1);
    for (int i = 0; i < m->p.count; i++)
        cg_init_normal(m->p.t[i], &r, 0.0, 0.1);
    for (int i = 0; i < m->count; i++) {
        cg_flowimg_coupling *l = &m->l[i];
        if (l->inited)
            l->inited->data[0] = 1;
        if (l->run_mean) {
            cg_init_uniform(l->run_mean, &r, -0.5, 0.5);
            cg_init_uniform(l->run_var, &r, 0.5, 2.0);
        }
    }
    m->training = 0;
    return 1;
}

/* f^-1(f(y)) = y through every coupling and normalisation, squeeze and
 * factor-out, for the one-scale layout of earlier files, 2 and 3 scales,
 * act-norm and batchnorm (eval mode: the map is then invertible per image);
 * float32 rounding through affine maps of bounded scale stays far below
 * 1e-4. (Weights of std 0.1: at 0.3 the random map blows values up to
 * ~2000, where float32 cannot invert the shifts to 1e-4 absolute; trained
 * flows are not like that.) */
TEST(flowimg_inverse_of_forward_is_the_identity)
{
    const cg_flowimg_arch archs[] = {
        {.channels = 1, .size = 8, .layers = 3, .last = 3, .width = 5, .scales = 2},
        {.channels = 1, .size = 8, .layers = 3, .width = 5, .scales = 3},
        {.channels = 3, .size = 8, .layers = 2, .width = 4, .scales = 2},
        {.channels = 1, .size = 8, .layers = 2, .width = 5, .scales = 3,
         .norm = CG_FLOWIMG_BATCHNORM},
        {.channels = 1, .size = 4, .layers = 1, .width = 3, .scales = 1,
         .norm = CG_FLOWIMG_BATCHNORM},
    };
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_set_grad(&ctx, 0);
    for (size_t c = 0; c < sizeof archs / sizeof archs[0]; c++) {
        cg_flowimg m;
        REQUIRE(random_img_flow(&m, &archs[c], 31 + c));
        int C = archs[c].channels, S = archs[c].size;
        cg_tensor *y = th_const(CG_SHAPE(3, C, S, S), 5 + c, 0.0, 3.0, 1), *ld;
        cg_tensor *z = cg_flowimg_forward(&ctx, &m, y, &ld);
        cg_tensor *back = cg_flowimg_inverse(&ctx, &m, z);
        REQUIRE(back, "%s", ctx.errmsg);
        double worst = 0, moved = 0;
        for (int64_t i = 0; i < y->n; i++) {
            worst = fmax(worst, fabs((double)back->data[i] - y->data[i]));
            moved = fmax(moved, fabs((double)z->data[i] - y->data[i]));
        }
        printf("    %d scales, %d+%d couplings, %s: max |f^-1(f(y)) - y| = %.2e (moved by "
               "up to %.2f)\n", m.a.scales, m.a.layers, m.a.last,
               cg_flowimg_norm_name(m.a.norm), worst, moved);
        CHECK(worst < 1e-4, "config %zu: %g", c, worst);
        CHECK(moved > 0.5, "config %zu: nearly the identity: weak test", c);
        cg_ctx_step_end(&ctx);
        cg_flowimg_free(&m);
    }
    cg_flowimg m;
    cg_flowimg_arch a = archs[1];
    REQUIRE(random_img_flow(&m, &a, 3));
    cg_tensor *ld;
    CHECK_ARG_ERROR(&ctx, cg_flowimg_forward(&ctx, &m, th_const(CG_SHAPE(1, 1, 6, 6), 1, 0.1, 1,
                                                                  1), &ld), "realnvp");
    CHECK_ARG_ERROR(&ctx, cg_flowimg_inverse(&ctx, &m, th_const(CG_SHAPE(2, 60), 1, 0.1, 1, 1)),
                    "realnvp");
    cg_ctx_free(&ctx);
    cg_flowimg_free(&m);
    /* sides that the scales do not divide, or that leave less than 2 */
    char err[256];
    const int bad[][2] = {{7, 2}, {28, 4}, {8, 4}, {32, 6}, {8, 0 - 1}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        a.size = bad[k][0];
        a.scales = bad[k][1];
        CHECK(cg_flowimg_build(&m, &a, err, sizeof err) == CG_ERR_ARG,
              "side %d with %d scales accepted", a.size, a.scales);
        CHECK(strstr(err, "scales") != NULL, "%s", err);
    }
    a.size = 28;
    a.scales = 3;
    REQUIRE(cg_flowimg_build(&m, &a, err, sizeof err) == CG_OK, "28 with 3 scales: %s", err);
    CHECK(m.count == 3 * 4 + 4, "%d couplings", m.count);
    cg_flowimg_free(&m);
}

/* The dequantisation's log-det: for pixel 0 and 255 with u = 1/2 the logit
 * point is known; the bpd of a model that assigns y its standard normal
 * density equals, in closed form, the sum below. */
/* The masks made with the flow: scale k's (1, C 2^k, S / 2^k, S / 2^k), 1
 * where (i + j) % 2 == parity (or the complement), the four per scale. */
TEST(flowimg_masks_made_once_per_scale)
{
    cg_flowimg m;
    char err[256];
    cg_flowimg_arch a = {.channels = 3, .size = 8, .layers = 1, .width = 2, .scales = 3};
    REQUIRE(cg_flowimg_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    for (int k = 0; k < 3; k++)
        for (int q = 0; q < 4; q++) {
            const cg_tensor *b = m.mask[k][q / 2][q % 2];
            int S = 8 >> k, bad = 0;
            REQUIRE(b && b->dev == CG_CPU);
            CHECK(b->ndim == 4 && b->shape[0] == 1 && b->shape[1] == 3 << k &&
                  b->shape[2] == S && b->shape[3] == S, "scale %d: %s", k, cg_shape_str(b, (char[64]){0}, 64));
            for (int c = 0; c < b->shape[1]; c++)
                for (int i = 0; i < S; i++)
                    for (int j = 0; j < S; j++)
                        bad += b->data[((int64_t)c * S + i) * S + j] !=
                               (real)(((i + j) % 2 == q / 2) != q % 2);
            CHECK(bad == 0, "scale %d parity %d complement %d: %d wrong", k, q / 2, q % 2, bad);
        }
    cg_flowimg_free(&m);
}

TEST(flowimg_bits_per_dim_identity_closed_form)
{
    /* With every coupling's last conv zero and act-norms at the identity, the
     * flow is the identity: -log p(y) = 0.5 y^2 + 0.5 log 2 pi per dimension. */
    cg_flowimg m;
    char err[256];
    cg_flowimg_arch a = {.channels = 1, .size = 4, .layers = 1, .width = 3};
    REQUIRE(cg_flowimg_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    cg_flowimg_init(&m, 0, 1);
    for (int i = 0; i < m.count; i++)
        m.l[i].inited->data[0] = 1;   /* keep logs = bias = 0 */
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real img[16];
    for (int i = 0; i < 16; i++)
        img[i] = (real)((i * 17) / 127.5 - 1.0);   /* pixels 0, 17, ..., 255 */
    cg_rng r;
    cg_rng_init(&r, 3, 2);
    double ld;
    cg_tensor *y = cg_flowimg_preprocess(&ctx, img, 1, 1, 4, &r, &ld);
    cg_tensor *nll = cg_flowimg_nll(&ctx, &m, y);
    REQUIRE(nll, "%s", ctx.errmsg);
    double want_nll = 0, want_ld = 0;
    cg_rng_init(&r, 3, 2);
    real u[16];
    cg_rng_uniform(&r, u, 16);
    for (int i = 0; i < 16; i++) {
        double x = (i * 17 + (double)u[i]) / 256.0, s = 0.05 + 0.9 * x;
        double yy = log(s / (1 - s));
        want_nll += 0.5 * yy * yy + 0.5 * log(2 * M_PI);
        want_ld += log(0.9 / (s * (1 - s))) - log(256.0);
    }
    /* float32 y: ~1e-7 relative per term */
    CHECK_NEAR(nll->data[0], want_nll, 1e-5);
    CHECK_NEAR(ld, want_ld, 1e-5);
    double bpd = cg_flowimg_bpd(nll->data[0], ld, 16);
    CHECK_NEAR(bpd, (want_nll - want_ld) / (16 * log(2.0)), 1e-5);
    cg_ctx_free(&ctx);
    cg_flowimg_free(&m);
}

/* 40 Adam steps (lr 1e-3, batch 16, 1 coupling per stage of width 8) on
 * Fashion-MNIST lower the bits per dimension of the first 200 test images by
 * more than 0.5. Measured: from 7.65 to 6.69. */
TEST(flowimg_fashion_mnist_steps_lower_bits_per_dim)
{
    cg_dataset train, test;
    char err[512];
    cg_data_spec spec = {.name = "fashion-mnist"};
    if (cg_dataset_open(&spec, &train, err, sizeof err) != CG_OK)
        SKIP("no Fashion-MNIST in /usr/share/datasets/fashion-mnist");
    spec.split = "test";
    REQUIRE(cg_dataset_open(&spec, &test, err, sizeof err) == CG_OK, "%s", err);
    cg_flowimg m;
    cg_flowimg_arch a = {.channels = 1, .size = 28, .layers = 1, .width = 8};
    REQUIRE(cg_flowimg_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    cg_flowimg_init(&m, 0, 1);
    cg_loader *L;
    cg_loader_opts lo = cg_loader_defaults(16, 0);
    REQUIRE(cg_loader_open(&L, &train, &lo, err, sizeof err) == CG_OK, "%s", err);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_adam opt;
    cg_adam_init(&opt, 1e-3, 0.9, 0.999, 1e-8, 0, 0);
    cg_rng deq;
    cg_rng_init(&deq, 0, 2);
    double before = NAN, after;
    for (int s = 0; s < 40; s++) {
        cg_batch b;
        cg_loader_next(L, &b);
        double ld;
        cg_tensor *y = cg_flowimg_preprocess(&ctx, b.x, b.n, 1, 28, &deq, &ld);
        cg_tensor *nll = cg_flowimg_nll(&ctx, &m, y);
        REQUIRE(nll && cg_backward(&ctx, nll) == CG_OK, "%s", ctx.errmsg);
        if (s == 0)   /* the act-norms are initialised now: measure the start */
            REQUIRE(cg_flowimg_evaluate(&m, &test, 200, 0, &before, err, sizeof err) == CG_OK,
                    "%s", err);
        REQUIRE(cg_adam_step(&opt, &m.p) == CG_OK);
        cg_params_zero_grad(&m.p);
        cg_ctx_step_end(&ctx);
    }
    REQUIRE(cg_flowimg_evaluate(&m, &test, 200, 0, &after, err, sizeof err) == CG_OK, "%s",
            err);
    printf("    test bits/dim %.3f -> %.3f after 40 steps\n", before, after);
    CHECK(after < before - 0.5, "%.3f -> %.3f", before, after);
    cg_loader_close(L);
    cg_ctx_free(&ctx);
    cg_flowimg_free(&m);
    cg_dataset_free(&train);
    cg_dataset_free(&test);
}

/* The image flow against PyTorch (tests/ref/flowimg*.ref: the module
 * ImageRealNVP of scripts/make_vae_flow_ref.py, with F.pixel_unshuffle as the
 * squeeze): z, the log-det, the NLL and every gradient; batchnorm in
 * training mode also its running statistics after the two passes. Same
 * bound and reasoning as the 2-D flow's. */
static void flowimg_against(const char *name)
{
    ref_file rf;
    if (!REF_OPEN(&rf, name))
        return;
    cg_flowimg m;
    char err[256];
    cg_flowimg_arch a = {.channels = (int)ref_cfg(&rf, 0), .size = (int)ref_cfg(&rf, 1),
                         .layers = (int)ref_cfg(&rf, 2), .width = (int)ref_cfg(&rf, 3),
                         .scales = (int)ref_cfg(&rf, 5), .last = (int)ref_cfg(&rf, 6),
                         .norm = (int)ref_cfg(&rf, 7)};
    REQUIRE(cg_flowimg_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    m.training = 1;
    int loaded = 0;
    for (int i = 0; i < rf.count; i++) {
        if (strncmp(rf.t[i].name, "w.", 2) != 0)
            continue;
        cg_tensor *t = cg_params_find(&m.p, rf.t[i].name + 2);
        CHECK(t && t->n == rf.t[i].n, "%s missing or of another size", rf.t[i].name + 2);
        if (!t || t->n != rf.t[i].n)
            continue;
        memcpy(t->data, rf.t[i].data, sizeof(real) * (size_t)t->n);
        loaded++;
    }
    CHECK(loaded == m.p.count + m.p.bcount, "%d tensors in the state_dict, %d in the flow",
          loaded, m.p.count + m.p.bcount);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *y = REF_LEAF(&rf, "y"), *ld;
    REQUIRE(y);
    cg_tensor *z = cg_flowimg_forward(&ctx, &m, y, &ld);
    REQUIRE(z, "%s", ctx.errmsg);
    REF_CHECK_DATA(&rf, "z", z, TOL);
    REF_CHECK_DATA(&rf, "logdet", ld, TOL);
    cg_ctx_step_end(&ctx);
    cg_tensor *nll = cg_flowimg_nll(&ctx, &m, y);
    REQUIRE(nll, "%s", ctx.errmsg);
    REF_CHECK_DATA(&rf, "nll", nll, TOL);
    REQUIRE(cg_backward(&ctx, nll) == CG_OK, "%s", ctx.errmsg);
    REF_CHECK_GRAD(&rf, "dy", y, TOL);
    double worst = 0;
    for (int i = 0; i < m.p.count; i++) {
        char key[96];
        snprintf(key, sizeof key, "grad.%s", m.p.t[i]->name);
        const ref_tensor *t = ref_find(&rf, key);
        CHECK(t, "no %s in the reference", key);
        if (t) {
            cg_tensor like = *m.p.t[i];
            worst = fmax(worst, ref_check_impl(__FILE__, __LINE__, &rf, key, like.grad, &like,
                                               TOL, 1));
        }
    }
    for (int i = 0; i < m.p.bcount; i++) {
        char key[96];
        snprintf(key, sizeof key, "final.%s", m.p.b[i]->name);
        if (ref_find(&rf, key))
            REF_CHECK_DATA(&rf, key, m.p.b[i], TOL);
    }
    printf("    %s: %d scales, %s; parameter gradients: worst rel error %.2e\n", name,
           m.a.scales, cg_flowimg_norm_name(m.a.norm), worst);
    cg_ctx_free(&ctx);
    cg_flowimg_free(&m);
    ref_free(&rf);
}

TEST(flowimg_matches_pytorch)
{
    flowimg_against("flowimg");      /* the one-scale layout */
    flowimg_against("flowimg_ms");   /* 3 scales */
    flowimg_against("flowimg_bn");   /* batchnorm, training mode */
}
