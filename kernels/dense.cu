/*
 * dense.cu: the CUDA twins of host/cpu/linear.c and bmm.c on cuBLAS.
 *
 * cuBLAS is column-major; cugen's matrices are row-major. A row-major
 * (R, C) matrix with leading dimension ld is, read column-major, its (C, R)
 * transpose with the same ld. So C = op(A) op(B) (row-major, what cpu_gemm
 * computes) is computed as C^T = op(B)^T op(A)^T: one column-major gemm with
 * the operands swapped, the sizes M and N swapped, and the same transpose
 * flags. gemm_rm below takes exactly cpu_gemm's arguments, so each call here
 * reads like the CPU reference line it twins.
 *
 * The bias of linear and its gradient are small kernels: y += b per row, and
 * db[o] += the sum over the batch of dy[., o], one thread per o summing in
 * double in the CPU's order (the same bits as the CPU).
 */
#include "cuda_check.h"

/* C (M, N) = alpha op(A) op(B) + beta C, row-major, batch of `count` with
 * element strides sa, sb, sc between the matrices (count 1: plain gemm). */
static cg_status gemm_rm(int ta, int tb, int M, int N, int K, float alpha, const real *A,
                         int lda, int64_t sa, const real *B, int ldb, int64_t sb, float beta,
                         real *C, int ldc, int64_t sc, int count)
{
    if (M <= 0 || N <= 0 || count <= 0)
        return CG_OK;
    cublasHandle_t h;
    cg_status st = cu_cublas(&h);
    if (st != CG_OK)
        return st;
    if (K <= 0) {  /* an empty sum: C = beta C, and beta is 0 or 1 here */
        if (beta != 0)
            return CG_OK;
        int64_t mn = (int64_t)M * N;
        return cu_map(count * mn, [=] __device__(int64_t i) {
            int64_t r = i % mn;
            C[i / mn * sc + r / N * ldc + r % N] = 0;
        });
    }
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (count == 1)
        CUBLAS_TRY(cublasSgemm(h, opb, opa, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
    else
        CUBLAS_TRY(cublasSgemmStridedBatched(h, opb, opa, N, M, K, &alpha, B, ldb, sb, A, lda,
                                             sa, &beta, C, ldc, sc, count));
    return CG_OK;
}

static cg_status gemm1(int ta, int tb, int M, int N, int K, const real *A, int lda,
                       const real *B, int ldb, float beta, real *C, int ldc)
{
    return gemm_rm(ta, tb, M, N, K, 1.0f, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

/* ---- linear: y (N, O) = x (N, I) w^T + b, w (O, I) ---------------------------------- */
extern "C" cg_status cuda_linear_fwd(real *y, const real *x, const real *w, const real *b,
                                     int N, int I, int O)
{
    cg_status st = gemm1(0, 1, N, O, I, x, I, w, I, 0.0f, y, O);
    if (st != CG_OK || !b)
        return st;
    return cu_map((int64_t)N * O, [=] __device__(int64_t i) { y[i] += b[i % O]; });
}

extern "C" cg_status cuda_linear_bwd(real *dx, real *dw, real *db, const real *dy,
                                     const real *x, const real *w, int N, int I, int O)
{
    cg_status st = CG_OK;
    if (dx)  /* dx (N, I) = dy (N, O) w (O, I) */
        st = gemm1(0, 0, N, I, O, dy, O, w, I, 0.0f, dx, I);
    if (st == CG_OK && dw)  /* dw (O, I) += dy^T (O, N) x (N, I) */
        st = gemm1(1, 0, O, I, N, dy, O, x, I, 1.0f, dw, I);
    if (st == CG_OK && db)
        st = cu_map(O, [=] __device__(int64_t o) {
            double s = 0;
            for (int n = 0; n < N; n++)
                s += dy[(int64_t)n * O + o];
            db[o] += (real)s;
        });
    return st;
}

/* ---- batched matmul: c (B, M, N) = op(a) op(b), see host/cpu/bmm.c ------------------ */
extern "C" cg_status cuda_bmm_fwd(real *c, const real *a, const real *b, int B, int M, int N,
                                  int K, int ta, int tb)
{
    int lda = ta ? M : K, ldb = tb ? K : N;
    int64_t sa = (int64_t)M * K, sb = (int64_t)K * N, sc = (int64_t)M * N;
    return gemm_rm(ta, tb, M, N, K, 1.0f, a, lda, sa, b, ldb, sb, 0.0f, c, N, sc, B);
}

extern "C" cg_status cuda_bmm_bwd(real *da, real *db, const real *dc, const real *a,
                                  const real *b, int B, int M, int N, int K, int ta, int tb)
{
    int64_t sa = (int64_t)M * K, sb = (int64_t)K * N, sc = (int64_t)M * N;
    cg_status st = CG_OK;
    if (da) {
        if (!ta && !tb)       /* dA (M, K) = dC (M, N) B^T, B (K, N) */
            st = gemm_rm(0, 1, M, K, N, 1, dc, N, sc, b, N, sb, 0, da, K, sa, B);
        else if (!ta)         /* dA (M, K) = dC (M, N) B, B (N, K) */
            st = gemm_rm(0, 0, M, K, N, 1, dc, N, sc, b, K, sb, 0, da, K, sa, B);
        else if (!tb)         /* dA (K, M) = B (K, N) dC^T */
            st = gemm_rm(0, 1, K, M, N, 1, b, N, sb, dc, N, sc, 0, da, M, sa, B);
        else                  /* dA (K, M) = B^T (K, N) dC^T, B (N, K) */
            st = gemm_rm(1, 1, K, M, N, 1, b, K, sb, dc, N, sc, 0, da, M, sa, B);
    }
    if (st == CG_OK && db) {
        if (!tb && !ta)       /* dB (K, N) = A^T dC, A (M, K) */
            st = gemm_rm(1, 0, K, N, M, 1, a, K, sa, dc, N, sc, 0, db, N, sb, B);
        else if (!tb)         /* dB (K, N) = A dC, A (K, M) */
            st = gemm_rm(0, 0, K, N, M, 1, a, M, sa, dc, N, sc, 0, db, N, sb, B);
        else if (!ta)         /* dB (N, K) = dC^T A, A (M, K) */
            st = gemm_rm(1, 0, N, K, M, 1, dc, N, sc, a, K, sa, 0, db, K, sb, B);
        else                  /* dB (N, K) = dC^T A^T, A (K, M) */
            st = gemm_rm(1, 1, N, K, M, 1, dc, N, sc, a, M, sa, 0, db, K, sb, B);
    }
    return st;
}
