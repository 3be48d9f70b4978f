/*
 * test_conv.c: conv2d and conv_transpose2d (float build) against direct
 * loops over every (output pixel, input pixel, kernel tap) connection with
 * double accumulation, forward and all gradients, on small odd shapes and the
 * DCGAN 64x64 layers at batch 2; their adjoint relation; upsample2x and
 * avgpool2x against closed forms; malformed inputs.
 *
 * Tolerance: the CPU path multiplies float matrices (sgemm); a sum of K
 * float products with random signs is off by about eps sqrt(K) relative to
 * its size (eps = 6e-8), so with K up to 8192 (Cin k k of the last DCGAN
 * layer) we expect at most ~5e-6 (seen: <= 5e-7) and require
 * ||a - b|| / ||b|| < 1e-5 for every output. The double reference's own
 * error is negligible.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "cpu/cpu_conv.h"
#include "cugen/ops.h"
#include "harness.h"

#define REL_TOL 1e-5

static real *rand_buf(int64_t n, uint64_t seed)
{
    return th_const(CG_SHAPE((int)n), seed, 0.1, 1.0, 1)->data;
}

/* ||a - b|| / ||b|| with b in double */
static double rel_err_d(const real *a, const double *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        num += e * e;
        den += b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static int64_t idx4(int a, int b, int c, int d, int B, int C, int D)
{
    return (((int64_t)a * B + b) * C + c) * D + d;
}

/* Direct conv2d: y = fwd, dx, dw, db = gradients of sum(dy * y), all in double. */
static void ref_conv2d(double *y, double *dx, double *dw, double *db, const real *x,
                       const real *w, const real *b, const real *dy, const cg_conv_geom *d)
{
    int kh = d->kh, kw = d->kw, s = d->stride, ph = d->ph, pw = d->pw;
    for (int n = 0; n < d->N; n++)
        for (int co = 0; co < d->Cout; co++)
            for (int oh = 0; oh < d->Ho; oh++)
                for (int ow = 0; ow < d->Wo; ow++) {
                    int64_t o = idx4(n, co, oh, ow, d->Cout, d->Ho, d->Wo);
                    double acc = b ? b[co] : 0, g = dy[o];
                    for (int ci = 0; ci < d->Cin; ci++)
                        for (int ki = 0; ki < kh; ki++)
                            for (int kj = 0; kj < kw; kj++) {
                                int ih = oh * s - ph + ki, iw = ow * s - pw + kj;
                                if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W)
                                    continue;
                                int64_t xi = idx4(n, ci, ih, iw, d->Cin, d->H, d->W);
                                int64_t wi = idx4(co, ci, ki, kj, d->Cin, kh, kw);
                                acc += (double)x[xi] * w[wi];
                                dx[xi] += g * w[wi];
                                dw[wi] += g * x[xi];
                            }
                    y[o] = acc;
                    db[co] += g;
                }
}

/* Direct conv_transpose2d: x[n, ci, ih, iw] w[ci, co, ki, kj] lands on
 * y[n, co, ih s - p + ki, iw s - p + kj]. */
static void ref_convt(double *y, double *dx, double *dw, double *db, const real *x,
                      const real *w, const real *b, const real *dy, const cg_conv_geom *d)
{
    int k = d->kh, s = d->stride, p = d->ph;
    for (int n = 0; n < d->N; n++)
        for (int ci = 0; ci < d->Cin; ci++)
            for (int ih = 0; ih < d->H; ih++)
                for (int iw = 0; iw < d->W; iw++) {
                    int64_t xi = idx4(n, ci, ih, iw, d->Cin, d->H, d->W);
                    for (int co = 0; co < d->Cout; co++)
                        for (int ki = 0; ki < k; ki++)
                            for (int kj = 0; kj < k; kj++) {
                                int oh = ih * s - p + ki, ow = iw * s - p + kj;
                                if (oh < 0 || oh >= d->Ho || ow < 0 || ow >= d->Wo)
                                    continue;
                                int64_t o = idx4(n, co, oh, ow, d->Cout, d->Ho, d->Wo);
                                int64_t wi = idx4(ci, co, ki, kj, d->Cout, k, k);
                                y[o] += (double)x[xi] * w[wi];
                                dx[xi] += (double)dy[o] * w[wi];
                                dw[wi] += (double)dy[o] * x[xi];
                            }
                }
    for (int n = 0; n < d->N; n++)
        for (int co = 0; co < d->Cout; co++)
            for (int64_t i = 0; i < (int64_t)d->Ho * d->Wo; i++) {
                int64_t o = ((int64_t)n * d->Cout + co) * d->Ho * d->Wo + i;
                if (b)
                    y[o] += b[co];
                db[co] += dy[o];
            }
}

/* Runs one op on random data and compares y, dx, dw, db with the reference.
 * dx starts as NaN (must be written), dw and db as 1 (must accumulate). */
static void check_values(const char *what, int transpose, cg_conv_geom d, int bias)
{
    if (transpose) {
        d.Ho = (d.H - 1) * d.stride - 2 * d.ph + d.kh;
        d.Wo = (d.W - 1) * d.stride - 2 * d.pw + d.kw;
    } else {
        d.Ho = (d.H + 2 * d.ph - d.kh) / d.stride + 1;
        d.Wo = (d.W + 2 * d.pw - d.kw) / d.stride + 1;
    }
    int64_t nx = (int64_t)d.N * d.Cin * d.H * d.W, ny = (int64_t)d.N * d.Cout * d.Ho * d.Wo;
    int64_t nw = (int64_t)d.Cout * d.Cin * d.kh * d.kw;
    real *x = rand_buf(nx, 1), *w = rand_buf(nw, 2), *dy = rand_buf(ny, 3);
    real *b = bias ? rand_buf(d.Cout, 4) : NULL;
    int64_t ns = transpose ? cpu_conv_transpose2d_scratch(&d, 1) : cpu_conv2d_scratch(&d, 1);
    real *scratch = th_alloc(sizeof(real) * (size_t)ns);
    real *y = th_alloc(sizeof(real) * (size_t)ny), *dx = th_alloc(sizeof(real) * (size_t)nx);
    real *dw = th_alloc(sizeof(real) * (size_t)nw), *db = th_alloc(sizeof(real) * d.Cout);
    for (int64_t i = 0; i < nx; i++)
        dx[i] = NAN;
    for (int64_t i = 0; i < nw; i++)
        dw[i] = 1;
    for (int i = 0; i < d.Cout; i++)
        db[i] = 1;
    double *ry = th_alloc(sizeof(double) * (size_t)ny), *rdx = th_alloc(sizeof(double) * (size_t)nx);
    double *rdw = th_alloc(sizeof(double) * (size_t)nw), *rdb = th_alloc(sizeof(double) * d.Cout);
    if (transpose) {
        cpu_conv_transpose2d_fwd(y, x, w, b, scratch, &d);
        cpu_conv_transpose2d_bwd(dx, dw, bias ? db : NULL, dy, x, w, scratch, &d);
        ref_convt(ry, rdx, rdw, rdb, x, w, b, dy, &d);
    } else {
        cpu_conv2d_fwd(y, x, w, b, scratch, &d);
        cpu_conv2d_bwd(dx, dw, bias ? db : NULL, dy, x, w, scratch, &d);
        ref_conv2d(ry, rdx, rdw, rdb, x, w, b, dy, &d);
    }
    for (int64_t i = 0; i < nw; i++)
        rdw[i] += 1;
    for (int i = 0; i < d.Cout; i++)
        rdb[i] += 1;
    double e[4] = {rel_err_d(y, ry, ny), rel_err_d(dx, rdx, nx), rel_err_d(dw, rdw, nw),
                   bias ? rel_err_d(db, rdb, d.Cout) : 0};
    printf("    %-44s y %.1e dx %.1e dw %.1e db %.1e\n", what, e[0], e[1], e[2], e[3]);
    static const char *name[4] = {"y", "dx", "dw", "db"};
    for (int i = 0; i < 4; i++)
        CHECK(e[i] < REL_TOL, "%s: %s rel err %.3e", what, name[i], e[i]);
}

static cg_conv_geom dims(int N, int Cin, int H, int W, int Cout, int k, int s, int p)
{
    cg_conv_geom d = {.N = N, .Cin = Cin, .H = H, .W = W, .Cout = Cout, .kh = k, .kw = k,
                       .stride = s, .ph = p, .pw = p};
    return d;
}

static cg_conv_geom dims_hw(int N, int Cin, int H, int W, int Cout, int kh, int kw, int s,
                             int ph, int pw)
{
    cg_conv_geom d = {.N = N, .Cin = Cin, .H = H, .W = W, .Cout = Cout, .kh = kh, .kw = kw,
                       .stride = s, .ph = ph, .pw = pw};
    return d;
}

/* Rectangular kernels with per-axis padding: Inception's 1x7 / 7x1 (pad 0, 3 /
 * 3, 0), 1x3 / 3x1, and odd strides and pads that differ by axis. */
TEST(conv2d_rect_matches_direct_loops)
{
    check_values("k1x7 s1 p0,3 (2,5,9,8) bias", 0, dims_hw(2, 5, 9, 8, 4, 1, 7, 1, 0, 3), 1);
    check_values("k7x1 s1 p3,0 (2,5,9,8)", 0, dims_hw(2, 5, 9, 8, 4, 7, 1, 1, 3, 0), 0);
    check_values("k1x3 s1 p0,1 (3,4,6,7) bias", 0, dims_hw(3, 4, 6, 7, 6, 1, 3, 1, 0, 1), 1);
    check_values("k3x1 s1 p1,0 (3,4,6,7)", 0, dims_hw(3, 4, 6, 7, 6, 3, 1, 1, 1, 0), 0);
    check_values("k2x5 s2 p1,2 (2,3,11,9) bias", 0, dims_hw(2, 3, 11, 9, 4, 2, 5, 2, 1, 2), 1);
    check_values("k5x2 s3 p0,1 (2,3,13,7)", 0, dims_hw(2, 3, 13, 7, 4, 5, 2, 3, 0, 1), 0);
    check_values("k3x2 s1 p0,0 (2,3,3,2) dense", 0, dims_hw(2, 3, 3, 2, 4, 3, 2, 1, 0, 0), 1);
    check_values("k1x7 s1 p0,3 (2,128,17,17)", 0, dims_hw(2, 128, 17, 17, 64, 1, 7, 1, 0, 3),
                 0);
}

TEST(conv2d_matches_direct_loops)
{
    check_values("k3 s1 p1 (2,3,7,5) bias", 0, dims(2, 3, 7, 5, 4, 3, 1, 1), 1);
    check_values("k3 s2 p0 (2,3,7,5)", 0, dims(2, 3, 7, 5, 4, 3, 2, 0), 0);
    check_values("k3 s2 p2 (2,3,7,5) bias", 0, dims(2, 3, 7, 5, 4, 3, 2, 2), 1);
    check_values("k3 s3 p1 (1,2,10,11)", 0, dims(1, 2, 10, 11, 3, 3, 3, 1), 0);
    check_values("k4 s2 p1 (3,8,12,20) bias", 0, dims(3, 8, 12, 20, 6, 4, 2, 1), 1);
    /* 5 images in chunks of 3 and 2 */
    check_values("k4 s2 p1 (5,16,32,32) bias", 0, dims(5, 16, 32, 32, 32, 4, 2, 1), 1);
    check_values("k4 s1 p0 (3,7,4,4) dense bias", 0, dims(3, 7, 4, 4, 5, 4, 1, 0), 1);
    check_values("k2 s3 p1 (2,3,7,5) bias", 0, dims(2, 3, 7, 5, 4, 2, 3, 1), 1);
    check_values("k1 s1 p0 (2,3,5,4)", 0, dims(2, 3, 5, 4, 4, 1, 1, 0), 0);
}

/* Stride 1 on grids large enough for the shifted GEMMs (conv.c: the padded
 * grid at most a quarter larger each way): the RealNVP's 28x28 and 14x14
 * layers, 8x8 with several images per GEMM (5 images: chunks of 3 and 2;
 * junk columns read into the next image), no padding (the last junk
 * columns read the zeroed tail), a rectangular kernel with per-axis
 * padding. dx starting as NaN and dw as 1 (check_values) catch junk that
 * leaks. */
TEST(conv2d_shift_matches_direct_loops)
{
    check_values("k3 s1 p1 (2,4,28,28) shift bias", 0, dims(2, 4, 28, 28, 6, 3, 1, 1), 1);
    check_values("k3 s1 p1 (3,5,14,14) shift", 0, dims(3, 5, 14, 14, 4, 3, 1, 1), 0);
    check_values("k3 s1 p1 (5,4,8,8) shift, 3 per GEMM", 0, dims(5, 4, 8, 8, 6, 3, 1, 1), 1);
    check_values("k3 s1 p0 (2,3,12,30) shift", 0, dims(2, 3, 12, 30, 5, 3, 1, 0), 1);
    check_values("k3x5 s1 p1,2 (2,3,9,20) shift", 0, dims_hw(2, 3, 9, 20, 4, 3, 5, 1, 1, 2),
                 0);
    check_values("k3 s1 p1 (1,32,28,28) shift, width 32", 0, dims(1, 32, 28, 28, 32, 3, 1, 1),
                 1);
}

TEST(conv2d_matches_direct_loops_dcgan)
{
    check_values("D 3->64 64x64 -> 32x32", 0, dims(2, 3, 64, 64, 64, 4, 2, 1), 0);
    check_values("D 64->128 32x32 -> 16x16", 0, dims(2, 64, 32, 32, 128, 4, 2, 1), 0);
    check_values("D 128->256 16x16 -> 8x8", 0, dims(2, 128, 16, 16, 256, 4, 2, 1), 0);
    check_values("D 256->512 8x8 -> 4x4", 0, dims(2, 256, 8, 8, 512, 4, 2, 1), 0);
    check_values("D 512->1 4x4 -> 1x1", 0, dims(2, 512, 4, 4, 1, 4, 1, 0), 0);
}

TEST(conv_transpose2d_matches_direct_loops)
{
    check_values("k3 s1 p0 (2,3,4,3) bias", 1, dims(2, 3, 4, 3, 4, 3, 1, 0), 1);
    check_values("k3 s2 p1 (2,3,4,3)", 1, dims(2, 3, 4, 3, 4, 3, 2, 1), 0);
    check_values("k3 s3 p2 (1,2,5,4) bias", 1, dims(1, 2, 5, 4, 3, 3, 3, 2), 1);
    check_values("k4 s2 p1 (3,6,5,7) bias", 1, dims(3, 6, 5, 7, 4, 4, 2, 1), 1);
    /* 5 images in chunks of 3 and 2 */
    check_values("k4 s2 p1 (5,16,8,8)", 1, dims(5, 16, 8, 8, 8, 4, 2, 1), 0);
    check_values("k4 s1 p0 (3,7,1,1) dense bias", 1, dims(3, 7, 1, 1, 5, 4, 1, 0), 1);
    check_values("k2 s3 p1 (2,3,4,3) bias", 1, dims(2, 3, 4, 3, 4, 2, 3, 1), 1);
    check_values("k1 s2 p0 (2,3,5,4)", 1, dims(2, 3, 5, 4, 4, 1, 2, 0), 0);
}

/* The batch is split between the BLAS's threads; any count must match:
 * uneven shares (5 or 7 images over 2 and 3 threads), several private dw
 * summed, and with a 4x4 grid several images per GEMM within a thread. */
TEST(conv_matches_direct_loops_any_thread_count)
{
    int before = openblas_get_num_threads();
    for (int nt = 1; nt <= 3; nt++) {
        openblas_set_num_threads(nt);
        char what[64];
        snprintf(what, sizeof what, "conv2d (5,16,32,32) -> 16x16, %d threads", nt);
        check_values(what, 0, dims(5, 16, 32, 32, 32, 4, 2, 1), 1);
        snprintf(what, sizeof what, "conv2d (7,128,8,8) -> 4x4, %d threads", nt);
        check_values(what, 0, dims(7, 128, 8, 8, 64, 4, 2, 1), 0);
        snprintf(what, sizeof what, "conv2d (5,8,14,14) k3 s1 p1 shift, %d threads", nt);
        check_values(what, 0, dims(5, 8, 14, 14, 6, 3, 1, 1), 1);
        snprintf(what, sizeof what, "conv2d (7,4,8,8) k3 s1 p1 shift, %d threads", nt);
        check_values(what, 0, dims(7, 4, 8, 8, 6, 3, 1, 1), 0);
        snprintf(what, sizeof what, "convT (5,32,16,16) -> 32x32, %d threads", nt);
        check_values(what, 1, dims(5, 32, 16, 16, 16, 4, 2, 1), 1);
        snprintf(what, sizeof what, "convT (7,64,4,4) -> 8x8, %d threads", nt);
        check_values(what, 1, dims(7, 64, 4, 4, 128, 4, 2, 1), 0);
    }
    openblas_set_num_threads(before);
}

TEST(conv_transpose2d_matches_direct_loops_dcgan)
{
    check_values("G 100->512 1x1 -> 4x4", 1, dims(2, 100, 1, 1, 512, 4, 1, 0), 0);
    check_values("G 512->256 4x4 -> 8x8", 1, dims(2, 512, 4, 4, 256, 4, 2, 1), 0);
    check_values("G 256->128 8x8 -> 16x16", 1, dims(2, 256, 8, 8, 128, 4, 2, 1), 0);
    check_values("G 128->64 16x16 -> 32x32", 1, dims(2, 128, 16, 16, 64, 4, 2, 1), 0);
    check_values("G 64->3 32x32 -> 64x64", 1, dims(2, 64, 32, 32, 3, 4, 2, 1), 0);
}

static double dot(const real *a, const real *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* conv_transpose2d(., w) is the adjoint of conv2d(., w): <conv2d(x), z> =
 * <x, conv_transpose2d(z)> (an independent check: the two forwards take
 * different routes, im2col + GEMM against GEMM + col2im), and
 * conv_transpose2d's forward equals conv2d's input gradient. Shapes with
 * (H + 2 pad - k) divisible by stride, so that conv_transpose2d gives back
 * x's size. */
static void check_adjoint(const char *what, int N, int C1, int H, int W, int C2, int k, int s,
                          int p)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    int Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
    cg_tensor *x = th_leaf(CG_SHAPE(N, C1, H, W), 31, 0.1, 1.0, 1);
    cg_tensor *w = th_const(CG_SHAPE(C2, C1, k, k), 32, 0.1, 1.0, 1);
    cg_tensor *z = th_const(CG_SHAPE(N, C2, Ho, Wo), 33, 0.1, 1.0, 1);
    cg_tensor *y = cg_conv2d(&ctx, x, w, NULL, s, p);
    cg_tensor *t = cg_conv_transpose2d(&ctx, z, w, NULL, s, p);
    REQUIRE_OK(&ctx);
    char st[64], sx[64];
    REQUIRE(cg_same_shape(t, x), "%s: conv_transpose2d gives %s, x is %s", what,
            cg_shape_str(t, st, sizeof st), cg_shape_str(x, sx, sizeof sx));
    double lhs = dot(y->data, z->data, y->n), rhs = dot(x->data, t->data, x->n);
    double e = fabs(lhs - rhs) / fabs(rhs);
    REQUIRE(cg_backward_from(&ctx, y, z->data) == CG_OK);
    double eg = th_rel_err(x->grad, t->data, x->n);
    printf("    %-44s <y,z> vs <x,t> %.1e, dx vs t %.1e\n", what, e, eg);
    CHECK(e < REL_TOL, "%s: <conv2d(x), z> = %.9g, <x, convT(z)> = %.9g", what, lhs, rhs);
    CHECK(eg < REL_TOL, "%s: conv2d's dx differs from conv_transpose2d by %.3e", what, eg);
    cg_ctx_free(&ctx);
}

TEST(conv_transpose2d_is_adjoint_of_conv2d)
{
    check_adjoint("k3 s1 p1 (2,3,7,5) -> 4", 2, 3, 7, 5, 4, 3, 1, 1);
    check_adjoint("k4 s2 p1 (3,8,16,12) -> 6", 3, 8, 16, 12, 6, 4, 2, 1);
    check_adjoint("k4 s1 p0 (4,9,4,4) -> 5 (1x1)", 4, 9, 4, 4, 5, 4, 1, 0);
    check_adjoint("k3 s3 p0 (2,2,9,12) -> 3", 2, 2, 9, 12, 3, 3, 3, 0);
}

/* Closed forms: every output pixel of upsample2x is its source pixel; every
 * avgpool2x output the mean of its block; avgpool2x(upsample2x(x)) = x
 * exactly; gradients: 4 dy summed, dy / 4 spread. */
TEST(upsample2x_and_avgpool2x_values)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_leaf(CG_SHAPE(2, 3, 5, 3), 41, 0.1, 1.0, 1);
    cg_tensor *u = cg_upsample2x(&ctx, x);
    REQUIRE_OK(&ctx);
    REQUIRE(u->shape[2] == 10 && u->shape[3] == 6);
    int bad = 0;
    for (int p = 0; p < 6; p++)
        for (int i = 0; i < 10; i++)
            for (int j = 0; j < 6; j++)
                bad += u->data[(p * 10 + i) * 6 + j] != x->data[(p * 5 + i / 2) * 3 + j / 2];
    CHECK(bad == 0, "%d upsampled pixels differ from their source", bad);
    cg_tensor *a = cg_avgpool2x(&ctx, u);
    REQUIRE_OK(&ctx);
    REQUIRE(cg_same_shape(a, x));
    CHECK(memcmp(a->data, x->data, sizeof(real) * (size_t)x->n) == 0,
          "avgpool2x(upsample2x(x)) != x");
    /* d sum(g * avgpool2x(upsample2x(x))) / dx = g */
    real *g = rand_buf(a->n, 42);
    REQUIRE(cg_backward_from(&ctx, a, g) == CG_OK);
    CHECK(th_rel_err(x->grad, g, x->n) < 1e-7, "gradient through both is not the identity");

    cg_tensor *v = th_const(CG_SHAPE(1, 2, 4, 6), 43, 0.1, 1.0, 1);
    cg_tensor *m = cg_avgpool2x(&ctx, v);
    REQUIRE_OK(&ctx);
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) {
                const real *r = v->data + (c * 4 + 2 * i) * 6 + 2 * j;
                double mean = ((double)r[0] + r[1] + r[6] + r[7]) / 4;
                CHECK_NEAR(m->data[(c * 2 + i) * 3 + j], mean, 1e-7);
            }
    cg_ctx_free(&ctx);
}

/* A malformed call returns NULL, sets CG_ERR_ARG and names the op. */
static void expect_arg_error(cg_ctx *ctx, const cg_tensor *out, const char *op,
                             const char *what)
{
    CHECK(out == NULL, "%s: returned a tensor", what);
    CHECK(ctx->err == CG_ERR_ARG, "%s: status %s", what, cg_status_str(ctx->err));
    CHECK(strncmp(ctx->errmsg, op, strlen(op)) == 0 && ctx->errmsg[strlen(op)] == ':',
          "%s: message '%s' does not start with '%s:'", what, ctx->errmsg, op);
    printf("    %-30s %s\n", what, ctx->errmsg);
    cg_clear_error(ctx);
}

TEST(conv_rejects_malformed_input)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(2, 4, 7, 5), 51, 0.1, 1.0, 1);
    cg_tensor *w3 = th_const(CG_SHAPE(4, 3, 3, 3), 52, 0.1, 1.0, 1);
    cg_tensor *w4 = th_const(CG_SHAPE(6, 4, 3, 3), 53, 0.1, 1.0, 1);
    cg_tensor *rank3 = th_const(CG_SHAPE(6, 4, 3), 54, 0.1, 1.0, 1);
    cg_tensor *big = th_const(CG_SHAPE(6, 4, 8, 8), 55, 0.1, 1.0, 1);
    cg_tensor *rect = th_const(CG_SHAPE(6, 4, 3, 2), 56, 0.1, 1.0, 1);
    cg_tensor *b5 = th_const(CG_SHAPE(5), 57, 0.1, 1.0, 1);
    cg_tensor *x3 = th_const(CG_SHAPE(4, 7, 5), 58, 0.1, 1.0, 1);

    expect_arg_error(&ctx, cg_conv2d(&ctx, x, w3, NULL, 1, 0), "conv2d", "channels");
    expect_arg_error(&ctx, cg_conv2d(&ctx, x, rank3, NULL, 1, 0), "conv2d", "weight rank");
    expect_arg_error(&ctx, cg_conv2d(&ctx, x3, w4, NULL, 1, 0), "conv2d", "input rank");
    /* 8 > 5 + 2 * 1 */
    expect_arg_error(&ctx, cg_conv2d(&ctx, x, big, NULL, 1, 1), "conv2d", "kernel > input");
    expect_arg_error(&ctx, cg_conv2d(&ctx, x, rect, NULL, 1, 0), "conv2d", "non-square kernel");
    expect_arg_error(&ctx, cg_conv2d(&ctx, x, w4, b5, 1, 0), "conv2d", "bias size");
    expect_arg_error(&ctx, cg_conv2d(&ctx, x, w4, NULL, 0, 0), "conv2d", "stride 0");
    expect_arg_error(&ctx, cg_conv2d(&ctx, x, w4, NULL, 1, -1), "conv2d", "negative pad");

    /* conv_transpose2d weights are (Cin, Cout, k, k): w3 expects 4 channels in dim 0 */
    cg_tensor *xt = th_const(CG_SHAPE(2, 3, 4, 4), 59, 0.1, 1.0, 1);
    expect_arg_error(&ctx, cg_conv_transpose2d(&ctx, xt, w3, NULL, 2, 1), "conv_transpose2d",
                     "channels");
    expect_arg_error(&ctx, cg_conv_transpose2d(&ctx, x, rank3, NULL, 2, 1), "conv_transpose2d",
                     "weight rank");
    /* Wo = (5 - 1) 1 - 2 4 + 3 = -1 */
    cg_tensor *wt = th_const(CG_SHAPE(4, 2, 3, 3), 61, 0.1, 1.0, 1);
    expect_arg_error(&ctx, cg_conv_transpose2d(&ctx, x, wt, NULL, 1, 4), "conv_transpose2d",
                     "empty output");

    cg_tensor *odd = th_const(CG_SHAPE(1, 2, 5, 4), 60, 0.1, 1.0, 1);
    expect_arg_error(&ctx, cg_avgpool2x(&ctx, odd), "avgpool2x", "odd H");
    expect_arg_error(&ctx, cg_upsample2x(&ctx, x3), "upsample2x", "input rank");

    /* sticky: an earlier error makes every op return NULL with that error kept */
    cg_fail(&ctx, CG_ERR_NUMERIC, "earlier");
    CHECK(cg_conv2d(&ctx, x, w4, NULL, 1, 0) == NULL && ctx.err == CG_ERR_NUMERIC);
    cg_ctx_free(&ctx);
}
