/*
 * cpu_dense.h: reference linear and batched matmul.
 * Argument order (llm.c): outputs, inputs, weights, dims. Backward: dx is
 * written (=), weight gradients accumulate (+=); a NULL gradient pointer means
 * "not needed" and is skipped.
 */
#ifndef CUGEN_CPU_DENSE_H
#define CUGEN_CPU_DENSE_H

#include "cugen/tensor.h"

/* y (N, O) = x (N, I) w^T (O, I) + b (O) */
void cpu_linear_fwd(real *y, const real *x, const real *w, const real *b, int N, int I, int O);
void cpu_linear_bwd(real *dx, real *dw, real *db, const real *dy, const real *x,
                    const real *w, int N, int I, int O);

/* Batched matmul, per batch b: c (M, N) = op(a) (M, K) op(b) (K, N), where a
 * is stored (B, M, K), or (B, K, M) when ta, and b (B, K, N), or (B, N, K)
 * when tb. Backward writes da and db (=, both are activations), each in its
 * stored layout; NULL skips one. */
void cpu_bmm_fwd(real *c, const real *a, const real *b, int B, int M, int N, int K, int ta,
                 int tb);
void cpu_bmm_bwd(real *da, real *db, const real *dc, const real *a, const real *b, int B,
                 int M, int N, int K, int ta, int tb);

#endif
