/*
 * shape.c: reference channel block copies (concat, split) and the reshape
 * backward copy.
 */
#include <string.h>

#include "cpu/cpu_shape.h"

void cpu_channel_copy(real *dst, int dC, int dc0, const real *src, int sC, int sc0, int Cp,
                      int N, int S, int accumulate)
{
    int64_t len = (int64_t)Cp * S;  /* contiguous in both within one sample */
    for (int n = 0; n < N; n++) {
        real *d = dst + ((int64_t)n * dC + dc0) * S;
        const real *s = src + ((int64_t)n * sC + sc0) * S;
        if (accumulate)
            for (int64_t i = 0; i < len; i++)
                d[i] += s[i];
        else
            memcpy(d, s, sizeof(real) * (size_t)len);
    }
}

void cpu_reshape_bwd(real *dx, const real *dy, int64_t n)
{
    memcpy(dx, dy, sizeof(real) * (size_t)n);
}
