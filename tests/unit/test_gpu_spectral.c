/*
 * test_gpu_spectral.c: the CUDA twins of spectral normalisation against the
 * CPU reference (host/cpu/spectral.c), called directly on guarded, poisoned
 * outputs: the power iteration (u and v written in place), sigma, W / sigma,
 * and the accumulating weight gradient; dim 0 and dim 1 shapes, eval and
 * training. Then a training forward and backward through the front end and
 * the tape on both devices. Skipped without a GPU (failed under make
 * test-gpu).
 *
 * Bound: the op tests' 1e-5 relative L2. Every sum is in double on both
 * devices, in another order (block trees against a loop), so the results
 * differ by a float rounding or two at most.
 */
#include <string.h>

#include "cpu/cpu_spectral.h"
#include "cugen/ops.h"
#include "gpu_check.h"
#include "ops/cuda_ops.h"

#define TOL 1e-5

static void check_kernels(int A, int h, int R, int update, uint64_t seed)
{
    char what[96];
    int64_t cols = (int64_t)A * R, n = cols * h;
    real *w = gpu_rand(seed, n, 0.1, 2, 1), *dy = gpu_rand(seed + 1, n, 0.1, 2, 1);
    real *u = gpu_rand(seed + 2, h, 0.1, 1, 1), *v = gpu_rand(seed + 3, cols, 0.1, 1, 1);
    real *dw0 = gpu_rand(seed + 4, n, 0.1, 1, 1);  /* an earlier gradient */
    real *y = th_alloc(sizeof(real) * (size_t)n), *dw = th_alloc(sizeof(real) * (size_t)n);
    real *uc = th_alloc(sizeof(real) * (size_t)h), *vc = th_alloc(sizeof(real) * (size_t)cols);
    double *acc = th_alloc(sizeof(double) * (size_t)(h + cols));
    real sigma;
    memcpy(uc, u, sizeof(real) * (size_t)h);
    memcpy(vc, v, sizeof(real) * (size_t)cols);
    memcpy(dw, dw0, sizeof(real) * (size_t)n);
    cpu_spectral_norm_fwd(y, &sigma, uc, vc, w, A, h, R, update, 1e-12, acc);
    cpu_spectral_norm_bwd(dw, dy, w, uc, vc, &sigma, A, h, R);

    real *wd = gpu_from(w, n), *dyd = gpu_from(dy, n);
    real *ud = gpu_out_init(u, h), *vd = gpu_out_init(v, cols);
    real *yd = gpu_out(n), *sd = gpu_out(1), *dwd = gpu_out_init(dw0, n);
    double *accd = (double *)gpu_out(2 * (h + cols)), *dotd = (double *)gpu_out(2);
    if (!wd || !dyd || !ud || !vd || !yd || !sd || !dwd || !accd || !dotd)
        return;
    CHECK(cuda_spectral_norm_fwd(yd, sd, ud, vd, wd, A, h, R, update, 1e-12, accd) == CG_OK,
          "%s", cg_cuda_last_error());
    CHECK(cuda_spectral_norm_bwd(dwd, dyd, wd, ud, vd, sd, A, h, R, dotd) == CG_OK, "%s",
          cg_cuda_last_error());
    const char *mode = update ? "training" : "eval";
    snprintf(what, sizeof what, "spectral_norm (%d, %d, %d) %s: u", A, h, R, mode);
    gpu_compare(what, gpu_fetch(what, ud, h), uc, h, TOL);
    snprintf(what, sizeof what, "spectral_norm (%d, %d, %d) %s: v", A, h, R, mode);
    gpu_compare(what, gpu_fetch(what, vd, cols), vc, cols, TOL);
    snprintf(what, sizeof what, "spectral_norm (%d, %d, %d) %s: sigma", A, h, R, mode);
    gpu_compare(what, gpu_fetch(what, sd, 1), &sigma, 1, TOL);
    snprintf(what, sizeof what, "spectral_norm (%d, %d, %d) %s: y", A, h, R, mode);
    gpu_compare(what, gpu_fetch(what, yd, n), y, n, TOL);
    snprintf(what, sizeof what, "spectral_norm (%d, %d, %d) %s: dw", A, h, R, mode);
    gpu_compare(what, gpu_fetch(what, dwd, n), dw, n, TOL);
}

TEST(gpu_spectral_norm_kernels_match_cpu)
{
    GPU_OR_SKIP();
    for (int update = 0; update < 2; update++) {
        check_kernels(1, 7, 5, update, 10);        /* Linear (7, 5) */
        check_kernels(1, 33, 3 * 16, update, 20);  /* Conv2d (33, 3, 4, 4) */
        check_kernels(17, 9, 16, update, 30);      /* ConvTranspose2d (17, 9, 4, 4), dim 1 */
        check_kernels(1, 1, 301, update, 40);      /* one row: the last conv of a D */
        check_kernels(1, 300, 1, update, 50);      /* one column, rows over a block */
    }
    gpu_free_all();
}

/* The op through the tape: L = sum(c * sn(w)), training mode, on each
 * device from the same values; u, v, the output and w's gradient agree. */
TEST(gpu_spectral_norm_through_the_tape_matches_cpu)
{
    GPU_OR_SKIP();
    enum { A = 5, H = 6, R = 9, N = A * H * R };
    cg_tensor *wh = TH_LEAF(60, A, H, 3, 3), *ch = th_const(CG_SHAPE(A, H, 3, 3), 61, 0.1, 1, 1);
    cg_tensor *uh = th_const(CG_SHAPE(H), 62, 0.1, 1, 1), *vh = th_const(CG_SHAPE(A * R), 63, 0.1, 1, 1);
    real y[2][N], g[2][N], u[2][H], v[2][A * R];
    for (int d = 0; d < 2; d++) {
        cg_device dev = d ? CG_CUDA : CG_CPU;
        cg_ctx ctx;
        REQUIRE(cg_ctx_init(&ctx) == CG_OK);
        cg_tensor *w = cg_to_device(&ctx, wh, dev), *c = cg_to_device(&ctx, ch, dev);
        cg_tensor *ut = cg_to_device(&ctx, uh, dev), *vt = cg_to_device(&ctx, vh, dev);
        REQUIRE(w && c && ut && vt, "%s", ctx.errmsg);
        w->requires_grad = 1;
        cg_tensor *yt = cg_spectral_norm(&ctx, w, ut, vt, 1, 1);
        cg_backward(&ctx, cg_sum(&ctx, cg_mul(&ctx, yt, c)));
        REQUIRE_OK(&ctx);
        cg_copy_to_host(&ctx, y[d], yt);
        cg_memcpy_to_host(&ctx, g[d], w->grad, dev, N);
        cg_copy_to_host(&ctx, u[d], ut);
        cg_copy_to_host(&ctx, v[d], vt);
        REQUIRE_OK(&ctx);
        cg_ctx_free(&ctx);
    }
    gpu_compare("spectral_norm through the tape: y", y[1], y[0], N, TOL);
    gpu_compare("spectral_norm through the tape: dw", g[1], g[0], N, TOL);
    gpu_compare("spectral_norm through the tape: u", u[1], u[0], H, TOL);
    gpu_compare("spectral_norm through the tape: v", v[1], v[0], A * R, TOL);
    gpu_free_all();
}
