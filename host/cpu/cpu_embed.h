/*
 * cpu_embed.h: reference sinusoidal timestep embedding. Backward writes dt (=).
 */
#ifndef CUGEN_CPU_EMBED_H
#define CUGEN_CPU_EMBED_H

#include "cugen/tensor.h"

/* y (N, 2h) = [cos(t f_0 .. t f_{h-1}), sin(t f_0 .. t f_{h-1})],
 * t (N), f_j = max_period^(-j / h) */
void cpu_timestep_embedding_fwd(real *y, const real *t, int N, int h, double max_period);
/* dt (N) = sum_j f_j (cos(t f_j) dy_sin_j - sin(t f_j) dy_cos_j) */
void cpu_timestep_embedding_bwd(real *dt, const real *dy, const real *t, int N, int h,
                                double max_period);

#endif
