/*
 * gemm.c: CPU GEMM through OpenBLAS's cblas, and the naive reference.
 */
#include <cblas.h>

#include "cpu/cpu_gemm.h"
#include "cpu/cpu_parallel.h"

/* Below this many flops a GEMM runs on one thread: waking the pool costs
 * more than it saves. */
#define GEMM_PAR_MIN_FLOPS 4e6

static void gemm1(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A,
                  int lda, const real *B, int ldb, real beta, real *C, int ldc)
{
#ifdef CUGEN_DOUBLE
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

typedef struct {
    int trans_a, trans_b, M, N, K, lda, ldb, ldc, by_rows;
    real alpha, beta;
    const real *A, *B;
    real *C;
} gemm_job;

/* A block of rows (or columns) of C: the same K-order sums per element as
 * the whole product, so the split does not change a single bit */
static void gemm_part(void *arg, int t, int nt)
{
    const gemm_job *j = arg;
    int64_t lo, hi;
    if (j->by_rows) {
        cpu_split(j->M, t, nt, &lo, &hi);
        const real *A = j->trans_a ? j->A + lo : j->A + lo * j->lda;
        gemm1(j->trans_a, j->trans_b, (int)(hi - lo), j->N, j->K, j->alpha, A, j->lda, j->B,
              j->ldb, j->beta, j->C + lo * j->ldc, j->ldc);
    } else {
        cpu_split(j->N, t, nt, &lo, &hi);
        const real *B = j->trans_b ? j->B + lo * j->ldb : j->B + lo;
        gemm1(j->trans_a, j->trans_b, j->M, (int)(hi - lo), j->K, j->alpha, j->A, j->lda, B,
              j->ldb, j->beta, j->C + lo, j->ldc);
    }
}

void cpu_gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
              const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    int nt = cpu_threads();
    if (nt > 1 && 2.0 * M * N * K >= GEMM_PAR_MIN_FLOPS) {
        gemm_job j = {trans_a, trans_b, M, N, K, lda, ldb, ldc, M >= N, alpha, beta, A, B, C};
        int parts = j.by_rows ? M : N;
        cpu_parallel(gemm_part, &j, parts < nt ? parts : nt);
        return;
    }
    gemm1(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void cpu_gemm_naive(int trans_a, int trans_b, int M, int N, int K, real alpha,
                    const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) {
                double a = trans_a ? A[(long)k * lda + i] : A[(long)i * lda + k];
                double b = trans_b ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                acc += a * b;
            }
            double c = beta == 0 ? 0.0 : (double)beta * C[(long)i * ldc + j];
            C[(long)i * ldc + j] = (real)(c + (double)alpha * acc);
        }
    }
}
