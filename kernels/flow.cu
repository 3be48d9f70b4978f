/*
 * flow.cu: the CUDA twins of host/cpu/flow.c, squeeze2x (each 2x2 block of
 * a channel becomes four channels) and its inverse. A pure permutation: one
 * thread per value of the depth side, the CPU's index map, exact copies.
 */
#include "cuda_check.h"

/* depth (N, 4C, H/2, W/2) <-> space (N, C, H, W); element i of the depth side */
__device__ static int64_t space_index(int64_t i, int C, int H, int W)
{
    const int h = H / 2, w = W / 2;
    int j = (int)(i % w);
    int64_t r = i / w;
    int ii = (int)(r % h);
    r /= h;
    int q = (int)(r % (4 * C));  /* 4 c + 2 a + b */
    int64_t n = r / (4 * C);
    int c = q / 4, a = (q / 2) % 2, b = q % 2;
    return ((n * C + c) * H + 2 * ii + a) * W + 2 * j + b;
}

extern "C" cg_status cuda_squeeze2x_fwd(real *y, const real *x, int N, int C, int H, int W)
{
    return cu_map((int64_t)N * C * H * W, [=] __device__(int64_t i) {
        y[i] = x[space_index(i, C, H, W)];
    });
}

extern "C" cg_status cuda_unsqueeze2x_fwd(real *x, const real *y, int N, int C, int H, int W)
{
    return cu_map((int64_t)N * C * H * W, [=] __device__(int64_t i) {
        x[space_index(i, C, H, W)] = y[i];
    });
}
