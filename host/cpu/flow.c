/*
 * flow.c: CPU reference of squeeze2x and its inverse (cpu_flow.h).
 */
#include "cpu/cpu_flow.h"

/* Moves one value per (n, c, i, j, a, b); `to_depth` picks the direction. */
static void permute(real *depth, real *space, int N, int C, int H, int W, int to_depth)
{
    int h = H / 2, w = W / 2;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) {
                    real *d = depth + (((int64_t)n * 4 * C + 4 * c + 2 * a + b) * h) * w;
                    real *s = space + ((int64_t)n * C + c) * H * W;
                    for (int i = 0; i < h; i++)
                        for (int j = 0; j < w; j++) {
                            real *dp = d + (int64_t)i * w + j;
                            real *sp = s + (int64_t)(2 * i + a) * W + 2 * j + b;
                            if (to_depth)
                                *dp = *sp;
                            else
                                *sp = *dp;
                        }
                }
}

void cpu_squeeze2x_fwd(real *y, const real *x, int N, int C, int H, int W)
{
    permute(y, (real *)x, N, C, H, W, 1);
}

void cpu_unsqueeze2x_fwd(real *x, const real *y, int N, int C, int H, int W)
{
    permute((real *)y, x, N, C, H, W, 0);
}
