/*
 * softmax.c: reference softmax over the last dim. The row maximum is
 * subtracted before exp so that inputs of any magnitude stay finite; the sum
 * is taken in double. The float build takes each e^(x - max) once, from
 * cpu_expf (vectorised, within 2 float ulps); the gradcheck build from libm.
 */
#include <math.h>

#include "cpu/cpu_fastexp.h"
#include "cpu/cpu_softmax.h"

void cpu_softmax_fwd(real *y, const real *x, int64_t R, int D)
{
    for (int64_t r = 0; r < R; r++) {
        const real *xr = x + r * D;
        real *yr = y + r * D;
        double mx = xr[0];
        for (int j = 1; j < D; j++)
            if (xr[j] > mx)
                mx = xr[j];
#ifdef CUGEN_DOUBLE
        double s = 0;
        for (int j = 0; j < D; j++)
            s += exp((double)xr[j] - mx);
        double inv = 1.0 / s;
        for (int j = 0; j < D; j++)
            yr[j] = (real)(exp((double)xr[j] - mx) * inv);
#else
        float m = (float)mx;
        for (int j = 0; j < D; j++)
            yr[j] = cpu_expf(xr[j] - m);
        double s = 0;
        for (int j = 0; j < D; j++)
            s += yr[j];
        double inv = 1.0 / s;
        for (int j = 0; j < D; j++)
            yr[j] = (real)(yr[j] * inv);
#endif
    }
}

void cpu_softmax_bwd(real *dx, const real *dy, const real *y, int64_t R, int D)
{
    for (int64_t r = 0; r < R; r++) {
        const real *dyr = dy + r * D, *yr = y + r * D;
        real *dxr = dx + r * D;
        double dot = 0;
        for (int j = 0; j < D; j++)
            dot += (double)dyr[j] * yr[j];
        for (int j = 0; j < D; j++)
            dxr[j] = (real)(yr[j] * (dyr[j] - dot));
    }
}
