/*
 * memory.cu: device memory, copies, the context's pinned upload buffer, and
 * the two memory kernels the tape needs (fill, accumulate). See cuda.h for
 * the memory model.
 *
 * The pinned buffer is bump-allocated during a step like the step arena:
 * each staged upload takes the next slice, so no upload waits for the one
 * before it. At the end of a step the buffer is recycled: the first upload
 * of the next step waits for the last copy out of it (an event, normally
 * long done). A step that needed more than the buffer holds grows it at the
 * step's end, so an unchanged step allocates no pinned memory after the
 * first.
 */
#include <cstdlib>
#include <cstring>

#include "cuda_check.h"

/* ---- raw memory ----------------------------------------------------------------- */
extern "C" cg_status cg_cuda_malloc(void **p, size_t bytes, const char *what)
{
    *p = NULL;
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e == cudaSuccess)
        return CG_OK;
    *p = NULL;
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    cudaGetLastError();
    cg_status st = e == cudaErrorMemoryAllocation ? CG_ERR_NOMEM : CG_ERR_CUDA;
    return cu_fail(st, __FILE__, __LINE__, "cudaMalloc of %zu bytes (%s): %s (%zu of %zu MiB "
                   "free)", bytes, what, cudaGetErrorString(e), free_b >> 20, total_b >> 20);
}

/* Waits for the stream first: a block being freed may still be read by
 * queued kernels (the arena merges its blocks at a step's end). */
extern "C" void cg_cuda_free(void *p)
{
    if (!p)
        return;
    cudaStream_t s;
    if (cu_stream(&s) == CG_OK)
        CU_CHECK(cudaStreamSynchronize(s));
    CU_CHECK(cudaFree(p));
}

extern "C" cg_status cg_cuda_memset0(void *p, size_t bytes)
{
    cudaStream_t s;
    cg_status st = cu_stream(&s);
    if (st != CG_OK || bytes == 0)
        return st;
    return CU_CHECK(cudaMemsetAsync(p, 0, bytes, s));
}

extern "C" cg_status cg_cuda_fill_u32(void *p, uint32_t bits, size_t count)
{
    uint32_t *q = (uint32_t *)p;
    return cu_map((int64_t)count, [=] __device__(int64_t i) { q[i] = bits; });
}

extern "C" cg_status cg_cuda_copy_d2d(void *dst, const void *src, size_t bytes)
{
    cudaStream_t s;
    cg_status st = cu_stream(&s);
    if (st != CG_OK || bytes == 0 || dst == src)
        return st;
    return CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s));
}

/* Both on the stream, then wait: ordered after every kernel queued before. */
static cg_status copy_sync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    cudaStream_t s;
    cg_status st = cu_stream(&s);
    if (st != CG_OK || bytes == 0)
        return st;
    CU_TRY(cudaMemcpyAsync(dst, src, bytes, kind, s));
    return CU_CHECK(cudaStreamSynchronize(s));
}

extern "C" cg_status cg_cuda_upload(void *dst, const void *src, size_t bytes)
{
    return copy_sync(dst, src, bytes, cudaMemcpyHostToDevice);
}

extern "C" cg_status cg_cuda_download(void *dst, const void *src, size_t bytes)
{
    return copy_sync(dst, src, bytes, cudaMemcpyDeviceToHost);
}

/* ---- the context's pinned upload buffer ------------------------------------------- */
typedef struct {
    unsigned char *pinned;
    size_t size, used;
    size_t step_bytes;   /* staged during this step (may exceed size while it grows) */
    cudaEvent_t last_copy;
    int copied;          /* last_copy has been recorded */
    int recycle;         /* a step ended: wait for last_copy, then start again at 0 */
} cu_ctx_state;

#define STAGE_ALIGN 256

static cg_status ctx_state(cg_ctx *ctx, cu_ctx_state **out)
{
    if (!ctx->cuda) {
        cu_ctx_state *c = (cu_ctx_state *)calloc(1, sizeof *c);
        if (!c)
            return cu_fail(CG_ERR_NOMEM, __FILE__, __LINE__, "out of host memory");
        cudaError_t e = cudaEventCreateWithFlags(&c->last_copy, cudaEventDisableTiming);
        if (e != cudaSuccess) {
            free(c);
            return cu_check(e, "cudaEventCreateWithFlags", __FILE__, __LINE__);
        }
        ctx->cuda = c;
    }
    *out = (cu_ctx_state *)ctx->cuda;
    return CG_OK;
}

/* Replace the pinned buffer by one of `size` bytes, once nothing reads it. */
static cg_status pinned_resize(cu_ctx_state *c, size_t size)
{
    if (c->copied)
        CU_TRY(cudaEventSynchronize(c->last_copy));
    if (c->pinned)
        CU_TRY(cudaFreeHost(c->pinned));
    c->pinned = NULL;
    c->size = c->used = 0;
    cudaError_t e = cudaMallocHost((void **)&c->pinned, size);
    if (e != cudaSuccess) {
        c->pinned = NULL;
        cudaGetLastError();
        return cu_fail(CG_ERR_NOMEM, __FILE__, __LINE__, "cudaMallocHost of %zu bytes (pinned "
                       "upload buffer): %s", size, cudaGetErrorString(e));
    }
    c->size = size;
    return CG_OK;
}

extern "C" cg_status cg_cuda_upload_staged(cg_ctx *ctx, void *dst, const void *src, size_t bytes)
{
    if (bytes == 0)
        return CG_OK;
    cu_ctx_state *c = NULL;
    cudaStream_t s;
    cg_status st = ctx_state(ctx, &c);
    if (st == CG_OK)
        st = cu_stream(&s);
    if (st != CG_OK)
        return st;
    if (c->recycle) {
        if (c->copied)
            CU_TRY(cudaEventSynchronize(c->last_copy));
        c->used = c->step_bytes = 0;
        c->recycle = 0;
    }
    size_t need = (bytes + STAGE_ALIGN - 1) & ~(size_t)(STAGE_ALIGN - 1);
    if (c->used + need > c->size) {
        /* the first step grows; the slices staged so far are waited for */
        size_t want = c->size * 2 > c->step_bytes + need ? c->size * 2 : c->step_bytes + need;
        st = pinned_resize(c, want < ((size_t)1 << 20) ? (size_t)1 << 20 : want);
        if (st != CG_OK)
            return st;
    }
    unsigned char *slice = c->pinned + c->used;
    memcpy(slice, src, bytes);
    CU_TRY(cudaMemcpyAsync(dst, slice, bytes, cudaMemcpyHostToDevice, s));
    CU_TRY(cudaEventRecord(c->last_copy, s));
    c->copied = 1;
    c->used += need;
    c->step_bytes += need;
    return CG_OK;
}

extern "C" void cg_cuda_ctx_step_end(cg_ctx *ctx)
{
    cu_ctx_state *c = (cu_ctx_state *)ctx->cuda;
    if (!c)
        return;
    /* a step that outgrew the buffer: one buffer for all of it from now on
     * (a failure leaves none; the next upload makes one and reports) */
    if (c->step_bytes > c->size)
        pinned_resize(c, c->step_bytes);
    c->recycle = 1;
}

extern "C" void cg_cuda_ctx_free(cg_ctx *ctx)
{
    cu_ctx_state *c = (cu_ctx_state *)ctx->cuda;
    if (!c)
        return;
    if (c->copied)
        CU_CHECK(cudaEventSynchronize(c->last_copy));
    if (c->pinned)
        CU_CHECK(cudaFreeHost(c->pinned));
    CU_CHECK(cudaEventDestroy(c->last_copy));
    free(c);
    ctx->cuda = NULL;
}

/* ---- kernels the tape uses -------------------------------------------------------- */
extern "C" cg_status cuda_fill(real *p, double v, int64_t n)
{
    const real r = (real)v;
    return cu_map(n, [=] __device__(int64_t i) { p[i] = r; });
}

extern "C" cg_status cuda_accumulate(real *dst, const real *src, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { dst[i] += src[i]; });
}
