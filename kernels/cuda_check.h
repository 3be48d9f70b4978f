/*
 * cuda_check.h: what every .cu file in kernels/ shares (CUDA C++ only).
 *
 *   - One check for every cuda*, cublas* and cudnn* call: CU_TRY(call)
 *     returns from the enclosing function with a status when the call
 *     failed, after keeping "file:line: call: CUDA's message" as this
 *     thread's cg_cuda_last_error(). CU_CHECK(call) gives the status without
 *     returning. Out of memory becomes CG_ERR_NOMEM, everything else
 *     CG_ERR_CUDA.
 *   - The stream all of cugen's GPU work is queued on (cu_stream), and the
 *     cuBLAS handle bound to it (cu_cublas), both made on first use so that
 *     a process that forks before touching the GPU (the test runner) is fine.
 *   - cu_map(n, f): run the device lambda f(i) for i in [0, n), one thread
 *     per element (grid-stride), on the stream. Needs --extended-lambda.
 *
 * Not for: reductions (kernels/reduce.cuh).
 */
#ifndef CUGEN_KERNELS_CUDA_CHECK_H
#define CUGEN_KERNELS_CUDA_CHECK_H

#include <cstdint>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "cugen/cuda.h"
#include "ops/cuda_ops.h"

static_assert(sizeof(real) == sizeof(float), "the CUDA kernels are built for real = float");

/* Keep a message as cg_cuda_last_error() and return st. */
cg_status cu_fail(cg_status st, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
cg_status cu_check(cudaError_t e, const char *call, const char *file, int line);
cg_status cu_check_cublas(cublasStatus_t e, const char *call, const char *file, int line);
cg_status cu_check_cudnn(cudnnStatus_t e, const char *call, const char *file, int line);

#define CU_CHECK(call) cu_check((call), #call, __FILE__, __LINE__)
#define CU_TRY(call)                                                        \
    do {                                                                    \
        cg_status cu_st_ = CU_CHECK(call);                                  \
        if (cu_st_ != CG_OK)                                                \
            return cu_st_;                                                  \
    } while (0)
#define CUBLAS_TRY(call)                                                    \
    do {                                                                    \
        cg_status cu_st_ = cu_check_cublas((call), #call, __FILE__, __LINE__); \
        if (cu_st_ != CG_OK)                                                \
            return cu_st_;                                                  \
    } while (0)
#define CUDNN_TRY(call)                                                     \
    do {                                                                    \
        cg_status cu_st_ = cu_check_cudnn((call), #call, __FILE__, __LINE__); \
        if (cu_st_ != CG_OK)                                                \
            return cu_st_;                                                  \
    } while (0)
/* After a kernel launch: a bad configuration shows here, a fault in the
 * kernel at the next synchronizing call. */
#define CU_LAUNCHED() cu_check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)

/* The stream (made on first use). */
cg_status cu_stream(cudaStream_t *s);
/* The cuBLAS handle on that stream: full FP32 math unless cg_cuda_set_tf32
 * opted into TF32 and cg_cuda_set_deterministic did not forbid it. */
cg_status cu_cublas(cublasHandle_t *h);

/* Every kernel launch: kernel<<<grid, block, 0, stream>>>(args...). The
 * emulated device (tests/emu/) defines its own CU_LAUNCH in its stand-in
 * cuda_runtime.h, which runs the kernel's threads on the host. */
#ifndef CU_LAUNCH
#define CU_LAUNCH(kernel, grid, block, stream, ...) \
    kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#endif

#define CU_THREADS 256

/* Blocks for n elements at CU_THREADS each, capped (the loops stride). */
static inline unsigned cu_blocks(int64_t n)
{
    int64_t b = (n + CU_THREADS - 1) / CU_THREADS;
    return (unsigned)(b < 1 ? 1 : b > 65536 ? 65536 : b);
}

template <class F>
__global__ void cu_map_kernel(int64_t n, F f)
{
    int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
        f(i);
}

template <class F>
static cg_status cu_map(int64_t n, F f)
{
    if (n <= 0)
        return CG_OK;
    cudaStream_t s;
    cg_status st = cu_stream(&s);
    if (st != CG_OK)
        return st;
    CU_LAUNCH(cu_map_kernel, cu_blocks(n), CU_THREADS, s, n, f);
    return CU_LAUNCHED();
}

#endif
