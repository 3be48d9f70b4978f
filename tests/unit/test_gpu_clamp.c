/*
 * test_gpu_clamp.c: clamp's NaN rule on both devices: NaN passes the forward
 * and gets no gradient (its values and gradients against the CPU are rows of
 * the op table, tests/op_cases.c). Skipped without a GPU (failed under make
 * test-gpu).
 */
#include <math.h>

#include "cpu/cpu_elementwise.h"
#include "gpu_check.h"
#include "ops/cuda_ops.h"

#define LO (-0.7)
#define HI 1.3

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
