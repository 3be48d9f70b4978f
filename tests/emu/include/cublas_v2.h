/*
 * cublas_v2.h (emulated device): the part of cuBLAS that kernels/ uses, for
 * building the .cu files of kernels/ with the host C++ compiler;
 * tests/emu/cublas.cc runs it on the CPU.
 *
 * Enum values are cuBLAS's own, so a status printed here means what it means
 * on a GPU. Semantics follow the cuBLAS documentation: column-major
 * matrices, pointer mode host (alpha and beta read at the call), beta == 0
 * meaning C is not read, the documented argument checks. The product is
 * queued on the handle's stream and runs at the next synchronization point.
 *
 * Not for: anything kernels/ does not call. A missing function is a compile
 * error here on purpose: add it with the semantics cuBLAS documents.
 */
#ifndef CUGEN_EMU_CUBLAS_V2_H
#define CUGEN_EMU_CUBLAS_V2_H

#include "cuda_runtime.h"

enum cublasStatus_t {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
    CUBLAS_STATUS_LICENSE_ERROR = 16,
};

enum cublasOperation_t {
    CUBLAS_OP_N = 0,
    CUBLAS_OP_T = 1,
    CUBLAS_OP_C = 2,  /* = CUBLAS_OP_T for real data */
};

/* DEFAULT and PEDANTIC: full FP32. TF32_TENSOR_OP: inputs rounded to TF32
 * (10-bit mantissa) before the products, as tensor cores do. */
enum cublasMath_t {
    CUBLAS_DEFAULT_MATH = 0,
    CUBLAS_PEDANTIC_MATH = 2,
    CUBLAS_TF32_TENSOR_OP_MATH = 3,
};

typedef struct cublasContext *cublasHandle_t;

cublasStatus_t cublasCreate(cublasHandle_t *handle);
/* Waits for all queued device work first (cuBLAS documents an implicit
 * cudaDeviceSynchronize). */
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
const char *cublasGetStatusString(cublasStatus_t status);

/* C (m, n) = alpha op(A) op(B) + beta C, column-major; op(A) is (m, k). */
cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float *alpha,
                           const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc);
/* batchCount of the above, matrix i at A + i * strideA (and so for B, C). */
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda,
                                         long long int strideA, const float *B, int ldb,
                                         long long int strideB, const float *beta, float *C,
                                         int ldc, long long int strideC, int batchCount);

#endif
