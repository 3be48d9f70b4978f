/*
 * cudnn.cu: the cuDNN handle, the shared workspace, TF32 opt-in and the CUDA
 * event timer of the benchmarks (see cudnn.cuh, cuda.h), and their release
 * (cu_cudnn_release, from cg_cuda_shutdown).
 */
#include "cudnn.cuh"

/* ---- handle --------------------------------------------------------------------- */
static cudnnHandle_t cudnn;

cg_status cu_cudnn(cudnnHandle_t *h)
{
    if (!cudnn) {
        cudaStream_t s;
        cg_status st = cu_stream(&s);
        if (st != CG_OK)
            return st;
        /* published only once it is on cugen's stream (see cu_cublas) */
        cudnnHandle_t made;
        CUDNN_TRY(cudnnCreate(&made));
        st = cu_check_cudnn(cudnnSetStream(made, s), "cudnnSetStream", __FILE__, __LINE__);
        if (st != CG_OK) {
            cudnnDestroy(made);
            return st;
        }
        cudnn = made;
    }
    *h = cudnn;
    return CG_OK;
}

/* ---- workspace ---------------------------------------------------------------------
 * Grown in whole MiB; the old block is freed after the stream drained
 * (cg_cuda_free waits), since queued calls may still use it. */
static void *ws;
static size_t ws_size;

cg_status cu_workspace(size_t bytes, void **p)
{
    *p = NULL;
    if (bytes == 0)
        return CG_OK;
    if (bytes > ws_size) {
        size_t want = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
        cg_cuda_free(ws);
        ws = NULL;
        ws_size = 0;
        cg_status st = cg_cuda_malloc(&ws, want, "cuDNN workspace");
        if (st != CG_OK)
            return st;
        ws_size = want;
    }
    *p = ws;
    return CG_OK;
}

/* ---- TF32 ------------------------------------------------------------------------- */
int cu_tf32(void)
{
    return cg_cuda_tf32() && !cg_cuda_deterministic();
}

/* ---- event timer ------------------------------------------------------------------- */
static cudaEvent_t t_start, t_stop;

extern "C" cg_status cg_cuda_timer_start(void)
{
    cudaStream_t s;
    cg_status st = cu_stream(&s);
    if (st != CG_OK)
        return st;
    if (!t_start) {  /* both or neither */
        cudaEvent_t a, b;
        CU_TRY(cudaEventCreate(&a));
        st = CU_CHECK(cudaEventCreate(&b));
        if (st != CG_OK) {
            cudaEventDestroy(a);
            return st;
        }
        t_start = a;
        t_stop = b;
    }
    return CU_CHECK(cudaEventRecord(t_start, s));
}

extern "C" cg_status cg_cuda_timer_stop(double *ms)
{
    cudaStream_t s;
    cg_status st = cu_stream(&s);
    if (st != CG_OK)
        return st;
    if (!t_start)
        return cu_fail(CG_ERR_CUDA, __FILE__, __LINE__, "cg_cuda_timer_stop without a start");
    CU_TRY(cudaEventRecord(t_stop, s));
    CU_TRY(cudaEventSynchronize(t_stop));
    float f = 0;
    CU_TRY(cudaEventElapsedTime(&f, t_start, t_stop));
    *ms = f;
    return CG_OK;
}

/* ---- release ------------------------------------------------------------------------
 * Called by cg_cuda_shutdown after the stream drained and before the stream
 * is destroyed: the plans' descriptors first (conv.cu), then the handle
 * they were used with, the workspace and the timer events. */
void cu_cudnn_release(void)
{
    cu_conv_release();
    if (cudnn) {
        cu_check_cudnn(cudnnDestroy(cudnn), "cudnnDestroy", __FILE__, __LINE__);
        cudnn = NULL;
    }
    cg_cuda_free(ws);
    ws = NULL;
    ws_size = 0;
    if (t_start) {
        CU_CHECK(cudaEventDestroy(t_start));
        CU_CHECK(cudaEventDestroy(t_stop));
        t_start = t_stop = NULL;
    }
}
