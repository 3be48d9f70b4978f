/*
 * grad_flow.c: the 2-D RealNVP in double precision: each coupling layer's
 * log-determinant and the whole flow's against log|det J| of the Jacobian
 * taken by central differences, and a gradcheck of its NLL with respect to
 * the points (the ops it is made of are gradchecked on their own).
 */
#include <math.h>
#include <stdio.h>

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

/* 1 x 4 x 4 images (16 dimensions), 1 coupling per stage, width 3, every
 * weight random and the act-norms set (not data-initialised) so that the map
 * is a fixed function of the input. */
static int random_image_flow(cg_flowimg *m)
{
    char err[256];
    cg_flowimg_arch a = {.channels = 1, .size = 4, .layers = 2, .width = 3};
    if (cg_flowimg_build(m, &a, err, sizeof err) != CG_OK)
        return 0;
    cg_rng r;
    cg_rng_init(&r, 23, 1);
    for (int i = 0; i < m->p.count; i++)
        cg_init_normal(m->p.t[i], &r, 0.0, 0.4);
    for (int i = 0; i < 3 * a.layers; i++)
        m->l[i].inited->data[0] = 1;
    return 1;
}

/* log|det J| of the 16 x 16 Jacobian by central differences (LU with partial
 * pivoting), against the flow's summed log-det; bound as for the 2-D flow */
TEST(flowimg_logdet_equals_log_abs_det_jacobian)
{
    cg_flowimg m;
    REQUIRE(random_image_flow(&m));
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_set_grad(&ctx, 0);
    enum { D = 16 };
    real x[D], xp[D];
    cg_rng r;
    cg_rng_init(&r, 29, 1);
    cg_rng_normal(&r, x, D, 0.0, 1.0);
    cg_tensor *ld, *z = cg_flowimg_forward(&ctx, &m, cg_wrap(&ctx, x, CG_SHAPE(1, 1, 4, 4)), &ld);
    REQUIRE(z, "%s", ctx.errmsg);
    double want = ld->data[0];
    cg_ctx_step_end(&ctx);
    double J[D][D];
    const double h = 1e-5;
    for (int j = 0; j < D; j++) {
        double col[2][D];
        for (int sgn = 0; sgn < 2; sgn++) {
            for (int k = 0; k < D; k++)
                xp[k] = x[k];
            xp[j] += sgn ? -h : h;
            cg_tensor *zz = cg_flowimg_forward(&ctx, &m, cg_wrap(&ctx, xp, CG_SHAPE(1, 1, 4, 4)),
                                               &ld);
            REQUIRE(zz, "%s", ctx.errmsg);
            for (int k = 0; k < D; k++)
                col[sgn][k] = zz->data[k];
            cg_ctx_step_end(&ctx);
        }
        for (int k = 0; k < D; k++)
            J[k][j] = (col[0][k] - col[1][k]) / (2 * h);
    }
    double logdet = 0;
    for (int c = 0; c < D; c++) {
        int piv = c;
        for (int k = c + 1; k < D; k++)
            if (fabs(J[k][c]) > fabs(J[piv][c]))
                piv = k;
        for (int k = 0; k < D; k++) {
            double t = J[c][k];
            J[c][k] = J[piv][k];
            J[piv][k] = t;
        }
        logdet += log(fabs(J[c][c]));
        for (int k = c + 1; k < D; k++) {
            double f = J[k][c] / J[c][c];
            for (int q = c; q < D; q++)
                J[k][q] -= f * J[c][q];
        }
    }
    printf("    log-det %.10f, finite differences %.10f\n", want, logdet);
    CHECK(fabs(want - logdet) < 1e-7, "%.12f vs %.12f", want, logdet);
    CHECK(fabs(want) > 0.5, "log-det %g near 0: weak test", want);
    cg_ctx_free(&ctx);
    cg_flowimg_free(&m);
}

static cg_tensor *f_img_nll(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_flowimg_nll(ctx, arg, in[0]);
}

TEST(gradcheck_flowimg_nll_wrt_images)
{
    cg_flowimg m;
    REQUIRE(random_image_flow(&m));
    cg_tensor *in[1] = {TH_LEAF(63, 2, 1, 4, 4)};
    GRADCHECK("image realnvp nll (2, 1, 4, 4)", f_img_nll, &m, in, 1);
    cg_flowimg_free(&m);
}
