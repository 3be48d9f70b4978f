/*
 * resample.cu: the CUDA twins of host/cpu/resample.c, 2x nearest upsampling
 * and 2x2 average pooling of (NC, H, W) planes, H and W the forward input's.
 * One thread per small-side pixel, each touching its 2x2 block; the sums are
 * the CPU's, in the same order in double, so the results are its bits.
 */
#include "cuda_check.h"

extern "C" cg_status cuda_upsample2x_fwd(real *y, const real *x, int64_t NC, int H, int W)
{
    const int W2 = 2 * W;
    return cu_map(NC * H * W, [=] __device__(int64_t i) {
        int64_t p = i / W;  /* input row */
        int j = (int)(i % W);
        real *r0 = y + 2 * p * W2, *r1 = r0 + W2;
        real v = x[i];
        r0[2 * j] = r0[2 * j + 1] = v;
        r1[2 * j] = r1[2 * j + 1] = v;
    });
}

extern "C" cg_status cuda_upsample2x_bwd(real *dx, const real *dy, int64_t NC, int H, int W)
{
    const int W2 = 2 * W;
    return cu_map(NC * H * W, [=] __device__(int64_t i) {
        int64_t p = i / W;
        int j = (int)(i % W);
        const real *r0 = dy + 2 * p * W2, *r1 = r0 + W2;
        double s = (double)r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1];
        dx[i] = (real)s;
    });
}

extern "C" cg_status cuda_avgpool2x_fwd(real *y, const real *x, int64_t NC, int H, int W)
{
    const int Wh = W / 2;
    return cu_map(NC * (H / 2) * Wh, [=] __device__(int64_t i) {
        int64_t p = i / Wh;  /* output row */
        int j = (int)(i % Wh);
        const real *r0 = x + 2 * p * W, *r1 = r0 + W;
        double s = (double)r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1];
        y[i] = (real)(0.25 * s);
    });
}

extern "C" cg_status cuda_avgpool2x_bwd(real *dx, const real *dy, int64_t NC, int H, int W)
{
    const int Wh = W / 2;
    return cu_map(NC * (H / 2) * Wh, [=] __device__(int64_t i) {
        int64_t p = i / Wh;
        int j = (int)(i % Wh);
        real *r0 = dx + 2 * p * W, *r1 = r0 + W;
        real g = (real)(0.25 * (double)dy[i]);
        r0[2 * j] = r0[2 * j + 1] = g;
        r1[2 * j] = r1[2 * j + 1] = g;
    });
}
