/*
 * cpu_embed.h: reference sinusoidal timestep embedding (backward writes dt,
 * =) and row lookup in a table (backward accumulates into dw, +=).
 */
#ifndef CUGEN_CPU_EMBED_H
#define CUGEN_CPU_EMBED_H

#include <stdint.h>

#include "cugen/tensor.h"

/* y (N, 2h) = [cos(t f_0 .. t f_{h-1}), sin(t f_0 .. t f_{h-1})],
 * t (N), f_j = max_period^(-j / h) */
void cpu_timestep_embedding_fwd(real *y, const real *t, int N, int h, double max_period);
/* dt (N) = sum_j f_j (cos(t f_j) dy_sin_j - sin(t f_j) dy_cos_j) */
void cpu_timestep_embedding_bwd(real *dt, const real *dy, const real *t, int N, int h,
                                double max_period);

/* y (N, dim): y[n] = w[idx[n]], w (num, dim); every idx[n] in [0, num) (the
 * front end checks, before any row is read). */
void cpu_embedding_fwd(real *y, const int32_t *idx, const real *w, int N, int dim);
/* dw (num, dim) += the rows of dy (N, dim) by index: for each row r, the sum
 * of dy[n] over the n with idx[n] == r, in double, in increasing n, added to
 * dw[r] once; a row no index names is left as it is. acc: dim doubles of
 * scratch. */
void cpu_embedding_bwd(real *dw, double *acc, const real *dy, const int32_t *idx, int N,
                       int num, int dim);

#endif
