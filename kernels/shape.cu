/*
 * shape.cu: the CUDA twin of host/cpu/shape.c's channel block copy, which
 * concat and split (forward and backward) are made of. One thread per
 * value moved. Reshape needs no kernel (a view; its backward is a copy).
 */
#include "cuda_check.h"

/* dst[n, dc0 + c, s] = (or +=) src[n, sc0 + c, s], c < Cp; dst (N, dC, S), src (N, sC, S) */
extern "C" cg_status cuda_channel_copy(real *dst, int dC, int dc0, const real *src, int sC,
                                       int sc0, int Cp, int N, int S, int accumulate)
{
    const int64_t len = (int64_t)Cp * S;  /* contiguous in both within one sample */
    return cu_map((int64_t)N * len, [=] __device__(int64_t i) {
        int64_t n = i / len, k = i % len;
        real v = src[(n * sC + sc0) * S + k];
        real *d = dst + (n * dC + dc0) * S + k;
        if (accumulate)
            *d += v;
        else
            *d = v;
    });
}
