/*
 * runtime.cu: device discovery, versions, the error message of the last
 * failed call, the stream and the cuBLAS handle (see cuda_check.h), and
 * cg_cuda_shutdown, which releases all of the backend's state. With no
 * driver or no GPU the device count is 0 and the reason is kept.
 */
#include <cstdarg>
#include <cstdio>

#include "cudnn.cuh"

/* ---- errors ------------------------------------------------------------------- */
static thread_local char last_error[512];

extern "C" const char *cg_cuda_last_error(void)
{
    return last_error;
}

cg_status cu_fail(cg_status st, const char *file, int line, const char *fmt, ...)
{
    int k = snprintf(last_error, sizeof last_error, "%s:%d: ", file, line);
    if (k < 0 || k >= (int)sizeof last_error)
        k = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error + k, sizeof last_error - (size_t)k, fmt, ap);
    va_end(ap);
    return st;
}

cg_status cu_check(cudaError_t e, const char *call, const char *file, int line)
{
    if (e == cudaSuccess)
        return CG_OK;
    cudaGetLastError();  /* clear a non-sticky error so the next call starts clean */
    cg_status st = e == cudaErrorMemoryAllocation ? CG_ERR_NOMEM : CG_ERR_CUDA;
    return cu_fail(st, file, line, "%s: %s (%s)", call, cudaGetErrorString(e),
                   cudaGetErrorName(e));
}

cg_status cu_check_cublas(cublasStatus_t e, const char *call, const char *file, int line)
{
    if (e == CUBLAS_STATUS_SUCCESS)
        return CG_OK;
    cg_status st = e == CUBLAS_STATUS_ALLOC_FAILED ? CG_ERR_NOMEM : CG_ERR_CUDA;
    return cu_fail(st, file, line, "%s: %s", call, cublasGetStatusString(e));
}

cg_status cu_check_cudnn(cudnnStatus_t e, const char *call, const char *file, int line)
{
    if (e == CUDNN_STATUS_SUCCESS)
        return CG_OK;
    cg_status st = e == CUDNN_STATUS_ALLOC_FAILED ? CG_ERR_NOMEM : CG_ERR_CUDA;
    return cu_fail(st, file, line, "%s: %s", call, cudnnGetErrorString(e));
}

/* ---- devices ------------------------------------------------------------------ */
extern "C" int cg_cuda_built(void) { return 1; }

extern "C" int cg_cuda_device_count(char *why, size_t why_len)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        const char *what = e == cudaErrorNoDevice ? "no CUDA device found"
                         : e == cudaErrorInsufficientDriver ? "no usable NVIDIA driver"
                         : "CUDA unavailable";
        if (why)
            snprintf(why, why_len, "%s (cudaGetDeviceCount: %s)", what, cudaGetErrorString(e));
        cudaGetLastError();  /* clear */
        return 0;
    }
    if (n == 0 && why)
        snprintf(why, why_len, "no CUDA device found");
    return n;
}

extern "C" cg_status cg_cuda_select(int dev)
{
    int n = cg_cuda_device_count(NULL, 0);
    if (dev < 0 || dev >= n)
        return cu_fail(CG_ERR_ARG, __FILE__, __LINE__, "no CUDA device %d (%d found)", dev, n);
    CU_TRY(cudaSetDevice(dev));
    return CG_OK;
}

extern "C" cg_status cg_cuda_device_info_get(int dev, cg_cuda_device_info *info)
{
    cudaDeviceProp p;
    CU_TRY(cudaGetDeviceProperties(&p, dev));
    snprintf(info->name, sizeof info->name, "%.127s", p.name);
    info->major = p.major;
    info->minor = p.minor;
    info->total_mem = p.totalGlobalMem;
    info->multiprocessors = p.multiProcessorCount;
    return CG_OK;
}

extern "C" const char *cg_cuda_runtime_version(void)
{
    static char buf[32];
    int v = 0;
    if (CU_CHECK(cudaRuntimeGetVersion(&v)) != CG_OK)
        return "unknown";
    snprintf(buf, sizeof buf, "%d.%d", v / 1000, (v % 1000) / 10);
    return buf;
}

/* cudnnGetVersion: major * 10000 + minor * 100 + patch since cuDNN 9 */
extern "C" const char *cg_cuda_cudnn_version(void)
{
    static char buf[32];
    size_t v = cudnnGetVersion();
    snprintf(buf, sizeof buf, "%zu.%zu.%zu", v / 10000, (v % 10000) / 100, v % 100);
    return buf;
}

/* ---- stream, cuBLAS, determinism ------------------------------------------------ */
static cudaStream_t stream;
static cublasHandle_t cublas;
static int deterministic, tf32;

/* Non-blocking: the legacy default stream (used by libraries that are not
 * told otherwise) does not serialise with it. */
cg_status cu_stream(cudaStream_t *s)
{
    if (!stream) {
        cudaStream_t made;
        CU_TRY(cudaStreamCreateWithFlags(&made, cudaStreamNonBlocking));
        stream = made;
    }
    *s = stream;
    return CG_OK;
}

/* Full FP32 unless TF32 was opted into (and determinism was not asked for). */
static cublasMath_t cublas_math(void)
{
    return tf32 && !deterministic ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
}

/* The handle is published only once it is on cugen's stream and in the
 * mode's math: a handle left on the legacy stream would race with the
 * kernels queued on ours. */
cg_status cu_cublas(cublasHandle_t *h)
{
    if (!cublas) {
        cudaStream_t s;
        cg_status st = cu_stream(&s);
        if (st != CG_OK)
            return st;
        cublasHandle_t made;
        CUBLAS_TRY(cublasCreate(&made));
        st = cu_check_cublas(cublasSetStream(made, s), "cublasSetStream", __FILE__, __LINE__);
        if (st == CG_OK)
            st = cu_check_cublas(cublasSetMathMode(made, cublas_math()), "cublasSetMathMode",
                                 __FILE__, __LINE__);
        if (st != CG_OK) {
            cublasDestroy(made);  /* unchecked: the message kept is the failure's */
            return st;
        }
        cublas = made;
    }
    *h = cublas;
    return CG_OK;
}

/* The existing handle follows a mode change; if it cannot, it is destroyed
 * and the next cu_cublas makes one in the new mode (and reports). */
static void cublas_follow_mode(void)
{
    if (cublas && cu_check_cublas(cublasSetMathMode(cublas, cublas_math()), "cublasSetMathMode",
                                  __FILE__, __LINE__) != CG_OK) {
        cublasDestroy(cublas);
        cublas = NULL;
    }
}

extern "C" void cg_cuda_set_deterministic(int on)
{
    deterministic = on != 0;
    cublas_follow_mode();
}

extern "C" int cg_cuda_deterministic(void)
{
    return deterministic;
}

extern "C" void cg_cuda_set_tf32(int on)
{
    tf32 = on != 0;
    cublas_follow_mode();
}

extern "C" int cg_cuda_tf32(void)
{
    return tf32;
}

extern "C" cg_status cg_cuda_sync(void)
{
    cudaStream_t s;
    cg_status st = cu_stream(&s);
    if (st != CG_OK)
        return st;
    return CU_CHECK(cudaStreamSynchronize(s));
}

/* Wait for the stream, then release in reverse order of dependence: what
 * conv.cu and cudnn.cu hold (plans, the cuDNN handle, the workspace, the
 * timer events), the cuBLAS handle, and last the stream they are bound to.
 * Every static goes back to "not made yet", so the next call makes things
 * afresh. The modes (deterministic, TF32) are settings and stay. A failure
 * is kept as cg_cuda_last_error() and the release goes on. */
extern "C" void cg_cuda_shutdown(void)
{
    if (stream)
        CU_CHECK(cudaStreamSynchronize(stream));
    cu_cudnn_release();
    if (cublas) {
        cu_check_cublas(cublasDestroy(cublas), "cublasDestroy", __FILE__, __LINE__);
        cublas = NULL;
    }
    if (stream) {
        CU_CHECK(cudaStreamDestroy(stream));
        stream = NULL;
    }
}
