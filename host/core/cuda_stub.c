/*
 * cuda_stub.c: the CUDA backend of a CPU-only build (CUDA=0, and the f64
 * gradcheck build). Every entry point says so instead of failing at link
 * time; core's own entry points come from the list in core/core_cuda.h (the
 * op twins and the optimizers' are stubbed beside their lists:
 * ops/cuda_ops_stub.c, optim/optim_cuda_stub.c).
 */
#include <stdio.h>

#include "cugen/cuda.h"
#include "core/core_cuda.h"

static const char NO_CUDA[] = "cugen was built without CUDA (CUDA=0)";

int cg_cuda_built(void) { return 0; }

int cg_cuda_device_count(char *why, size_t why_len)
{
    if (why)
        snprintf(why, why_len, "%s", NO_CUDA);
    return 0;
}

cg_status cg_cuda_device_info_get(int dev, cg_cuda_device_info *info)
{
    (void)dev;
    (void)info;
    return CG_ERR_NO_CUDA;
}

const char *cg_cuda_runtime_version(void) { return "none"; }
const char *cg_cuda_cudnn_version(void) { return "none"; }
const char *cg_cuda_last_error(void) { return NO_CUDA; }
cg_status cg_cuda_select(int dev) { (void)dev; return CG_ERR_NO_CUDA; }
cg_status cg_cuda_sync(void) { return CG_ERR_NO_CUDA; }
void cg_cuda_shutdown(void) {}

static int deterministic;
void cg_cuda_set_deterministic(int on) { deterministic = on != 0; }
int cg_cuda_deterministic(void) { return deterministic; }
static int tf32;
void cg_cuda_set_tf32(int on) { tf32 = on != 0; }
int cg_cuda_tf32(void) { return tf32; }
cg_status cg_cuda_timer_start(void) { return CG_ERR_NO_CUDA; }
cg_status cg_cuda_timer_stop(double *ms)
{
    *ms = 0;
    return CG_ERR_NO_CUDA;
}

cg_status cg_cuda_malloc(void **p, size_t bytes, const char *what)
{
    *p = NULL;
    return CG_ERR_NO_CUDA;
}

void cg_cuda_free(void *p) { (void)p; }
cg_status cg_cuda_memset0(void *p, size_t bytes) { return CG_ERR_NO_CUDA; }
cg_status cg_cuda_fill_u32(void *p, uint32_t bits, size_t count) { return CG_ERR_NO_CUDA; }
cg_status cg_cuda_copy_d2d(void *dst, const void *src, size_t bytes) { return CG_ERR_NO_CUDA; }
cg_status cg_cuda_upload(void *dst, const void *src, size_t bytes) { return CG_ERR_NO_CUDA; }
cg_status cg_cuda_download(void *dst, const void *src, size_t bytes) { return CG_ERR_NO_CUDA; }

cg_status cg_cuda_upload_staged(cg_ctx *ctx, void *dst, const void *src, size_t bytes)
{
    return CG_ERR_NO_CUDA;
}

void cg_cuda_ctx_step_end(cg_ctx *ctx) { (void)ctx; }
void cg_cuda_ctx_free(cg_ctx *ctx) { (void)ctx; }

CG_CUDA_CORE(CG_CUDA_STUB)
