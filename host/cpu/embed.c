/*
 * embed.c: reference sinusoidal timestep embedding (DDPM). Frequencies and
 * angles in double.
 */
#include <math.h>

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
