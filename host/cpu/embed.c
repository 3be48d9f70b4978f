/*
 * embed.c: reference sinusoidal timestep embedding (DDPM), frequencies and
 * angles in double; and the row lookup of an embedding table with its
 * gradient, summed per row in double in the order of the indices (the CUDA
 * twin sums in the same order and gets the same bits).
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu_embed.h"

static double embed_freq(int j, int h, double max_period)
{
    return exp(-log(max_period) * (double)j / (double)h);
}

void cpu_timestep_embedding_fwd(real *y, const real *t, int N, int h, double max_period)
{
    for (int j = 0; j < h; j++) {
        double f = embed_freq(j, h, max_period);
        for (int n = 0; n < N; n++) {
            double a = (double)t[n] * f;
            y[(int64_t)n * 2 * h + j] = (real)cos(a);
            y[(int64_t)n * 2 * h + h + j] = (real)sin(a);
        }
    }
}

void cpu_timestep_embedding_bwd(real *dt, const real *dy, const real *t, int N, int h,
                                double max_period)
{
    for (int n = 0; n < N; n++) {
        const real *dc = dy + (int64_t)n * 2 * h, *ds = dc + h;
        double s = 0;
        for (int j = 0; j < h; j++) {
            double f = embed_freq(j, h, max_period);
            double a = (double)t[n] * f;
            s += f * (cos(a) * ds[j] - sin(a) * dc[j]);
        }
        dt[n] = (real)s;
    }
}

void cpu_embedding_fwd(real *y, const int32_t *idx, const real *w, int N, int dim)
{
    for (int n = 0; n < N; n++)
        memcpy(y + (int64_t)n * dim, w + (int64_t)idx[n] * dim, sizeof(real) * (size_t)dim);
}

/* One pass over the indices per row: num N comparisons, N dim additions. */
void cpu_embedding_bwd(real *dw, double *acc, const real *dy, const int32_t *idx, int N,
                       int num, int dim)
{
    for (int r = 0; r < num; r++) {
        int hit = 0;
        for (int j = 0; j < dim; j++)
            acc[j] = 0;
        for (int n = 0; n < N; n++) {
            if (idx[n] != r)
                continue;
            const real *g = dy + (int64_t)n * dim;
            for (int j = 0; j < dim; j++)
                acc[j] += g[j];
            hit = 1;
        }
        if (!hit)
            continue;
        real *row = dw + (int64_t)r * dim;
        for (int j = 0; j < dim; j++)
            row[j] += (real)acc[j];
    }
}
