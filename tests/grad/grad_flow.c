/*
 * grad_flow.c: the 2-D RealNVP in double precision: each coupling layer's
 * log-determinant and the whole flow's against log|det J| of the Jacobian
 * taken by central differences, and a gradcheck of its NLL with respect to
 * the points (the ops it is made of are gradchecked on their own).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/flow.h"
#include "cugen/ops.h"
#include "harness.h"

/* A flow of `layers` couplings with random weights (all of them, so that
 * every layer moves the points). */
static int random_flow(cg_flow2d *m, int layers)
{
    char err[256];
    cg_flow2d_arch a = {.layers = layers, .hidden = 7};
    if (cg_flow2d_build(m, &a, err, sizeof err) != CG_OK)
        return 0;
    cg_rng r;
    cg_rng_init(&r, 17, 1);
    for (int i = 0; i < m->p.count; i++)
        cg_init_normal(m->p.t[i], &r, 0.0, 0.7);
    return 1;
}

/* f(x) of one point through layer `layer` (or all layers when -1) */
static void map(cg_ctx *ctx, cg_flow2d *m, int layer, const double x[2], double y[2],
                double *logdet)
{
    real xy[2] = {(real)x[0], (real)x[1]};
    cg_tensor *t = cg_wrap(ctx, xy, CG_SHAPE(1, 2)), *ld, *out;
    out = layer < 0 ? cg_flow2d_forward(ctx, m, t, &ld)
                    : cg_flow2d_coupling_fwd(ctx, m, layer, t, &ld);
    y[0] = out ? out->data[0] : NAN;
    y[1] = out ? out->data[1] : NAN;
    if (logdet)
        *logdet = ld ? ld->data[0] : NAN;
    cg_ctx_step_end(ctx);
}

/* log|det J| by central differences, step h: the truncation error is
 * O(h^2 f''') ~ 1e-10 and the rounding error ~1e-16 / h ~ 1e-11 for h = 1e-5,
 * so 1e-7 absolute leaves a wide margin and still catches any wrong term. */
static double fd_logdet(cg_ctx *ctx, cg_flow2d *m, int layer, const double x[2])
{
    const double h = 1e-5;
    double J[2][2];
    for (int j = 0; j < 2; j++) {
        double xp[2] = {x[0], x[1]}, xm[2] = {x[0], x[1]}, yp[2], ym[2];
        xp[j] += h;
        xm[j] -= h;
        map(ctx, m, layer, xp, yp, NULL);
        map(ctx, m, layer, xm, ym, NULL);
        J[0][j] = (yp[0] - ym[0]) / (2 * h);
        J[1][j] = (yp[1] - ym[1]) / (2 * h);
    }
    return log(fabs(J[0][0] * J[1][1] - J[0][1] * J[1][0]));
}

TEST(flow_logdet_equals_log_abs_det_jacobian)
{
    cg_flow2d m;
    REQUIRE(random_flow(&m, 4));
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_set_grad(&ctx, 0);
    const double pts[5][2] = {{0.3, -0.7}, {-1.2, 0.4}, {2.1, 1.5}, {-0.05, 0.9}, {0.8, -1.9}};
    double worst = 0, spread = 0;
    for (int p = 0; p < 5; p++)
        for (int layer = -1; layer < m.a.layers; layer++) {
            double y[2], ld;
            map(&ctx, &m, layer, pts[p], y, &ld);
            double fd = fd_logdet(&ctx, &m, layer, pts[p]);
            worst = fmax(worst, fabs(ld - fd));
            spread = fmax(spread, fabs(ld));
            CHECK(fabs(ld - fd) < 1e-7, "point %d layer %d: logdet %.12f, finite differences "
                  "%.12f", p, layer, ld, fd);
        }
    printf("    max |logdet - log|det J|| = %.2e over log-dets up to %.2f\n", worst, spread);
    CHECK(spread > 0.5, "the log-determinants are all near 0 (%g): weak test", spread);
    cg_ctx_free(&ctx);
    cg_flow2d_free(&m);
}

static cg_tensor *f_nll(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_flow2d_nll(ctx, arg, in[0]);
}

TEST(gradcheck_flow_nll_wrt_points)
{
    cg_flow2d m;
    REQUIRE(random_flow(&m, 3));
    cg_tensor *in[1] = {TH_LEAF(61, 5, 2)};
    GRADCHECK("realnvp nll (5 points, 3 layers)", f_nll, &m, in, 1);
    cg_flow2d_free(&m);
}

/* ---- the image RealNVP -------------------------------------------------------- */

/* Every weight random, act-norms set (not data-initialised), batchnorm
 * running statistics random and in eval mode, so that the map is a fixed
 * function of each image. */
static int random_image_flow(cg_flowimg *m, const cg_flowimg_arch *a, uint64_t seed)
{
    char err[256];
    if (cg_flowimg_build(m, a, err, sizeof err) != CG_OK)
        return 0;
    cg_rng r;
    cg_rng_init(&r, seed, 1);
    for (int i = 0; i < m->p.count; i++)
        cg_init_normal(m->p.t[i], &r, 0.0, 0.4);
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

static const cg_flowimg_arch img_archs[] = {
    /* the one-scale layout of earlier files, 1 x 4 x 4 */
    {.channels = 1, .size = 4, .layers = 2, .last = 2, .width = 3, .scales = 2},
    /* 3 scales on 1 x 8 x 8 (stages a..e), the paper's last = layers + 1 */
    {.channels = 1, .size = 8, .layers = 1, .width = 3, .scales = 3},
    /* batchnorm (eval mode), 2 scales on 1 x 8 x 8 */
    {.channels = 1, .size = 8, .layers = 2, .width = 3, .scales = 2,
     .norm = CG_FLOWIMG_BATCHNORM},
};

/* log|det J| of the D x D Jacobian (D = 16 or 64), each row dz_k/dx taken
 * by the tape (backward from z seeded with e_k), then LU with partial
 * pivoting, against the flow's summed log-det. Both are exact up to double
 * rounding through a few dozen layers: 1e-9 absolute. (Central differences
 * are not usable here: the random 8x8 maps are ill-conditioned enough that
 * their log|det| moves by 1e-4 to 1e-2 with the step.) Batchnorm in
 * training mode couples the images of a batch (its statistics are the
 * batch's), so its log-det is not that of a per-image map: it is checked by
 * the gradcheck below and against PyTorch. */
TEST(flowimg_logdet_equals_log_abs_det_jacobian)
{
    enum { DMAX = 64 };
    static double J[DMAX][DMAX];
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    for (size_t c = 0; c < sizeof img_archs / sizeof img_archs[0]; c++) {
        cg_flowimg m;
        REQUIRE(random_image_flow(&m, &img_archs[c], 23 + c));
        int S = m.a.size, D = S * S;
        cg_tensor *x = TH_LEAF(29 + c, 1, 1, S, S), *ld = NULL;
        cg_rng r;
        cg_rng_init(&r, 29, 1);
        cg_rng_normal(&r, x->data, D, 0.0, 1.0);
        real e[DMAX];
        double want = 0;
        for (int k = 0; k < D; k++) {
            memset(x->grad, 0, sizeof(real) * (size_t)D);
            cg_tensor *z = cg_flowimg_forward(&ctx, &m, x, &ld);
            REQUIRE(z, "%s", ctx.errmsg);
            want = ld->data[0];
            for (int q = 0; q < D; q++)
                e[q] = q == k;
            REQUIRE(cg_backward_from(&ctx, z, e) == CG_OK, "%s", ctx.errmsg);
            for (int q = 0; q < D; q++)
                J[k][q] = x->grad[q];
            cg_ctx_step_end(&ctx);
        }
        double logdet = 0;
        for (int q = 0; q < D; q++) {
            int piv = q;
            for (int k = q + 1; k < D; k++)
                if (fabs(J[k][q]) > fabs(J[piv][q]))
                    piv = k;
            for (int k = 0; k < D; k++) {
                double t = J[q][k];
                J[q][k] = J[piv][k];
                J[piv][k] = t;
            }
            logdet += log(fabs(J[q][q]));
            for (int k = q + 1; k < D; k++) {
                double f = J[k][q] / J[q][q];
                for (int u = q; u < D; u++)
                    J[k][u] -= f * J[q][u];
            }
        }
        printf("    %dx%d, %d scales, %s: log-det %.12f, log|det J| %.12f\n", S, S,
               m.a.scales, cg_flowimg_norm_name(m.a.norm), want, logdet);
        CHECK(fabs(want - logdet) < 1e-9, "config %zu: %.12f vs %.12f", c, want, logdet);
        CHECK(fabs(want) > 0.5, "config %zu: log-det %g near 0: weak test", c, want);
        cg_flowimg_free(&m);
    }
    cg_ctx_free(&ctx);
}

static cg_tensor *f_img_nll(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_flowimg_nll(ctx, arg, in[0]);
}

TEST(gradcheck_flowimg_nll_wrt_images)
{
    for (size_t c = 0; c < sizeof img_archs / sizeof img_archs[0]; c++) {
        cg_flowimg m;
        REQUIRE(random_image_flow(&m, &img_archs[c], 23 + c));
        int S = m.a.size;
        cg_tensor *in[1] = {TH_LEAF(63 + c, 2, 1, S, S)};
        GRADCHECK("image realnvp nll", f_img_nll, &m, in, 1);
        cg_flowimg_free(&m);
    }
}

/* Batchnorm in training mode: the NLL, log-det included, through the batch
 * mean and variance, with respect to the images and to the normalisation's
 * parameters. The running statistics move on every call but do not enter
 * the training-mode output, so f stays a function of its inputs. */
typedef struct {
    cg_flowimg m;
    cg_tensor *logs, *bias;   /* stand-ins wired into coupling 1's normalisation */
} bn_case;

static cg_tensor *f_bn_nll(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    bn_case *b = arg;
    b->m.l[1].logs = in[1];
    b->m.l[1].bias = in[2];
    return cg_flowimg_nll(ctx, &b->m, in[0]);
}

TEST(gradcheck_flowimg_batchnorm_training_nll)
{
    bn_case b;
    cg_flowimg_arch a = {.channels = 1, .size = 4, .layers = 1, .width = 3, .scales = 2,
                         .norm = CG_FLOWIMG_BATCHNORM};
    REQUIRE(random_image_flow(&b.m, &a, 41));
    b.m.training = 1;
    int ch = b.m.l[1].ch;
    cg_tensor *in[3] = {TH_LEAF(71, 3, 1, 4, 4), TH_LEAF(72, 1, ch, 1, 1),
                        TH_LEAF(73, 1, ch, 1, 1)};
    GRADCHECK("image realnvp nll, batchnorm training (3, 1, 4, 4)", f_bn_nll, &b, in, 3);
    cg_flowimg_free(&b.m);
}
