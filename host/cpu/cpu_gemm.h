/*
 * cpu_gemm.h: the one CPU matrix multiply every op goes through.
 * Row-major C (M x N) = alpha * op(A) (M x K) * op(B) (K x N) + beta * C.
 */
#ifndef CUGEN_CPU_GEMM_H
#define CUGEN_CPU_GEMM_H

#include "cugen/tensor.h"

/* OpenBLAS (sgemm for float builds, dgemm for the gradcheck build). */
void cpu_gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
              const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc);
/* Triple loop with a double accumulator: the reference cpu_gemm is tested against. */
void cpu_gemm_naive(int trans_a, int trans_b, int M, int N, int K, real alpha,
                    const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc);

#endif
