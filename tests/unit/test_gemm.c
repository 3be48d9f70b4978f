/*
 * test_gemm.c: cpu_gemm (OpenBLAS) against the naive reference, every
 * transpose combination, odd sizes, alpha/beta, padded leading dimensions.
 */
#include "cpu/cpu_gemm.h"
#include "harness.h"

TEST(gemm_matches_naive_reference)
{
    const int M = 37, N = 29, K = 53, pad = 3;
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
            cg_tensor *A = th_const(CG_SHAPE((ta ? K : M) * lda), 1, 0.1, 1, 1);
            cg_tensor *B = th_const(CG_SHAPE((tb ? N : K) * ldb), 2, 0.1, 1, 1);
            cg_tensor *C1 = th_const(CG_SHAPE(M * ldc), 3, 0.1, 1, 1);
            cg_tensor *C2 = th_const(CG_SHAPE(M * ldc), 3, 0.1, 1, 1);
            cpu_gemm(ta, tb, M, N, K, 0.7f, A->data, lda, B->data, ldb, 0.3f, C1->data, ldc);
            cpu_gemm_naive(ta, tb, M, N, K, 0.7f, A->data, lda, B->data, ldb, 0.3f, C2->data,
                           ldc);
            /* float accumulation over K = 53 terms of magnitude <= 1: relative
             * error a few 1e-7; 1e-5 leaves margin and still catches any
             * indexing or transpose mistake (those give O(1) errors). */
            double e = th_rel_err(C1->data, C2->data, C1->n);
            CHECK(e < 1e-5, "trans (%d,%d): rel err %.3e", ta, tb, e);
        }
    }
}
