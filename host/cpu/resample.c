/*
 * resample.c: reference 2x nearest upsampling and 2x2 average pooling.
 * H and W are always the forward input's (small for upsampling, large for
 * pooling); NC = N C planes are processed alike, row by row.
 *
 * Not for: shape checks (host/ops/resample.c).
 */
#include "cpu/cpu_resample.h"

void cpu_upsample2x_fwd(real *y, const real *x, int64_t NC, int H, int W)
{
    int W2 = 2 * W;
    for (int64_t p = 0; p < NC * H; p++) {  /* one input row -> two output rows */
        const real *src = x + p * W;
        real *r0 = y + 2 * p * W2, *r1 = r0 + W2;
        for (int j = 0; j < W; j++) {
            r0[2 * j] = r0[2 * j + 1] = src[j];
            r1[2 * j] = r1[2 * j + 1] = src[j];
        }
    }
}

void cpu_upsample2x_bwd(real *dx, const real *dy, int64_t NC, int H, int W)
{
    int W2 = 2 * W;
    for (int64_t p = 0; p < NC * H; p++) {
        const real *r0 = dy + 2 * p * W2, *r1 = r0 + W2;
        real *dst = dx + p * W;
        for (int j = 0; j < W; j++) {
            double s = (double)r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1];
            dst[j] = (real)s;
        }
    }
}

void cpu_avgpool2x_fwd(real *y, const real *x, int64_t NC, int H, int W)
{
    int Wh = W / 2;
    for (int64_t p = 0; p < NC * (H / 2); p++) {  /* one output row from two input rows */
        const real *r0 = x + 2 * p * W, *r1 = r0 + W;
        real *dst = y + p * Wh;
        for (int j = 0; j < Wh; j++) {
            double s = (double)r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1];
            dst[j] = (real)(0.25 * s);
        }
    }
}

void cpu_avgpool2x_bwd(real *dx, const real *dy, int64_t NC, int H, int W)
{
    int Wh = W / 2;
    for (int64_t p = 0; p < NC * (H / 2); p++) {
        const real *src = dy + p * Wh;
        real *r0 = dx + 2 * p * W, *r1 = r0 + W;
        for (int j = 0; j < Wh; j++) {
            real g = (real)(0.25 * (double)src[j]);
            r0[2 * j] = r0[2 * j + 1] = g;
            r1[2 * j] = r1[2 * j + 1] = g;
        }
    }
}
