/*
 * bmm.c: reference batched matmul, one cpu_gemm per batch entry.
 *
 * With C = op(A) op(B):  d op(A) = dC op(B)^T  and  d op(B) = op(A)^T dC.
 * A transposed operand is stored transposed, so its gradient is the
 * transpose of those: dA = op(B) dC^T (K, M) when ta, dB = dC^T op(A) (N, K)
 * when tb. Each case below is one gemm with the matching flags.
 */
#include "cpu/cpu_dense.h"
#include "cpu/cpu_gemm.h"

void cpu_bmm_fwd(real *c, const real *a, const real *b, int B, int M, int N, int K, int ta,
                 int tb)
{
    int lda = ta ? M : K, ldb = tb ? K : N;
    for (int i = 0; i < B; i++)
        cpu_gemm(ta, tb, M, N, K, 1, a + (int64_t)i * M * K, lda, b + (int64_t)i * K * N, ldb,
                 0, c + (int64_t)i * M * N, N);
}

void cpu_bmm_bwd(real *da, real *db, const real *dc, const real *a, const real *b, int B,
                 int M, int N, int K, int ta, int tb)
{
    for (int i = 0; i < B; i++) {
        const real *ai = a + (int64_t)i * M * K, *bi = b + (int64_t)i * K * N;
        const real *dci = dc + (int64_t)i * M * N;  /* (M, N) */
        if (da) {
            real *d = da + (int64_t)i * M * K;
            if (!ta && !tb)       /* dA (M, K) = dC (M, N) B^T, B (K, N) */
                cpu_gemm(0, 1, M, K, N, 1, dci, N, bi, N, 0, d, K);
            else if (!ta)         /* dA (M, K) = dC (M, N) B, B (N, K) */
                cpu_gemm(0, 0, M, K, N, 1, dci, N, bi, K, 0, d, K);
            else if (!tb)         /* dA (K, M) = B (K, N) dC^T */
                cpu_gemm(0, 1, K, M, N, 1, bi, N, dci, N, 0, d, M);
            else                  /* dA (K, M) = B^T (K, N) dC^T, B (N, K) */
                cpu_gemm(1, 1, K, M, N, 1, bi, K, dci, N, 0, d, M);
        }
        if (db) {
            real *d = db + (int64_t)i * K * N;
            if (!tb && !ta)       /* dB (K, N) = A^T dC, A (M, K) */
                cpu_gemm(1, 0, K, N, M, 1, ai, K, dci, N, 0, d, N);
            else if (!tb)         /* dB (K, N) = A dC, A (K, M) */
                cpu_gemm(0, 0, K, N, M, 1, ai, M, dci, N, 0, d, N);
            else if (!ta)         /* dB (N, K) = dC^T A, A (M, K) */
                cpu_gemm(1, 0, N, K, M, 1, dci, N, ai, K, 0, d, K);
            else                  /* dB (N, K) = dC^T A^T, A (K, M) */
                cpu_gemm(1, 1, N, K, M, 1, dci, N, ai, M, 0, d, K);
        }
    }
}
