/*
 * test_gpu_clamp.c: clamp's CUDA twin against its CPU reference on guarded,
 * poisoned outputs, forward and backward, odd sizes, inputs in [-3, 3]
 * with bounds that cut both tails. Both sides select one of three float
 * values per element, so they must agree exactly (an error of 0; the bound
 * passed only lets gpu_compare say so). Also the NaN rule: NaN passes the
 * forward and gets no gradient, on both devices.
 * Skipped without a GPU (failed under make test-gpu).
 */
#include <math.h>

#include "cpu/cpu_elementwise.h"
#include "gpu_check.h"
#include "ops/cuda_ops.h"

#define LO (-0.7)
#define HI 1.3

TEST(gpu_clamp_matches_cpu)
{
    GPU_OR_SKIP();
    static const int64_t sizes[] = {1, 7, 1001, 300007};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t n = sizes[s];
        real *x = gpu_rand(700 + s, n, 0.05, 3.0, 1), *dy = gpu_rand(710 + s, n, 0.1, 1.5, 1);
        real *y = th_alloc(sizeof(real) * (size_t)n), *dx = th_alloc(sizeof(real) * (size_t)n);
        cpu_clamp_fwd(y, x, LO, HI, n);
        cpu_clamp_bwd(dx, dy, x, LO, HI, n);
        real *yd = gpu_out(n), *dxd = gpu_out(n), *xd = gpu_from(x, n), *dyd = gpu_from(dy, n);
        if (!yd || !dxd || !xd || !dyd)
            return;
        CHECK(cuda_clamp_fwd(yd, xd, LO, HI, n) == CG_OK, "%s", cg_cuda_last_error());
        CHECK(gpu_compare("clamp fwd", gpu_fetch("clamp fwd", yd, n), y, n, 1e-300) == 0,
              "n=%lld", (long long)n);
        CHECK(cuda_clamp_bwd(dxd, dyd, xd, LO, HI, n) == CG_OK, "%s", cg_cuda_last_error());
        CHECK(gpu_compare("clamp bwd", gpu_fetch("clamp bwd", dxd, n), dx, n, 1e-300) == 0,
              "n=%lld", (long long)n);
    }
    gpu_free_all();
}

TEST(gpu_clamp_nan)
{
    GPU_OR_SKIP();
    const real x[4] = {NAN, -5, 0.25, 5}, dy[4] = {1, 1, 1, 1};
    real *xd = gpu_from(x, 4), *dyd = gpu_from(dy, 4), *yd = gpu_out(4), *dxd = gpu_out(4);
    if (!xd || !dyd || !yd || !dxd)
        return;
    CHECK(cuda_clamp_fwd(yd, xd, LO, HI, 4) == CG_OK, "%s", cg_cuda_last_error());
    CHECK(cuda_clamp_bwd(dxd, dyd, xd, LO, HI, 4) == CG_OK, "%s", cg_cuda_last_error());
    const real *y = gpu_fetch("clamp nan", yd, 4), *dx = gpu_fetch("clamp nan dx", dxd, 4);
    CHECK(y && isnan(y[0]) && y[1] == (real)LO && y[2] == (real)0.25 && y[3] == (real)HI,
          "clamp forward on the GPU");
    CHECK(dx && dx[0] == 0 && dx[1] == 0 && dx[2] == 1 && dx[3] == 0, "clamp backward on the GPU");
    real yc[4], dxc[4];
    cpu_clamp_fwd(yc, x, LO, HI, 4);
    cpu_clamp_bwd(dxc, dy, x, LO, HI, 4);
    CHECK(isnan(yc[0]) && dxc[0] == 0 && dxc[2] == 1, "clamp on the CPU");
    gpu_free_all();
}
