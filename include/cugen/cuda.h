/*
 * cuda.h: what the host sees of the CUDA backend. Implemented in kernels/
 * when built with CUDA=1; host/core/cuda_stub.c answers "built without CUDA"
 * otherwise, so host code calls these without #ifdefs.
 *
 * The device memory model
 *
 *   - A tensor with dev == CG_CUDA has data (and grad) in GPU memory; its
 *     header is always host memory (the host step arena). Host code never
 *     dereferences such a pointer: it passes it to a kernel or to a copy.
 *   - Activations and scratch come from the context's device step arena
 *     (ctx->dev_arena, the same grow-then-merge bump allocator as the host
 *     one): cg_new_on(ctx, CG_CUDA, ...), op_out and dev_alloc. After
 *     the first step a step with the same shapes calls no cudaMalloc and
 *     sees the same addresses.
 *   - Parameters live in one flat device buffer each for w, g, m, v and buf
 *     after cg_params_to_device (nn.h); the tensor views point into them.
 *   - All work (kernels, copies, memsets) is queued on one stream
 *     (cu_stream() in kernels/cuda_check.h). Nothing in a step synchronizes except reading a
 *     value back to the host (cg_copy_to_host and friends).
 *   - Uploads of a batch go through a pinned host buffer owned by the
 *     context (cg_copy_from_host, cg_to_device): the values are copied into
 *     pinned memory and an asynchronous copy is queued, so the caller's
 *     memory is free again at once and the host does not wait.
 *
 * Errors: every cuda*, cublas* and cudnn* call in kernels/ goes through one
 * check (kernels/cuda_check.h) that keeps "file:line: call: CUDA's message"
 * as this thread's cg_cuda_last_error() and returns a status. The op front
 * ends turn a failed status into the context's sticky error, prefixed with
 * the op's name. Out of memory is CG_ERR_NOMEM and names the allocation and
 * its size.
 */
#ifndef CUGEN_CUDA_H
#define CUGEN_CUDA_H

#include "cugen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char name[128];
    int major, minor;          /* compute capability */
    size_t total_mem;          /* bytes */
    int multiprocessors;
} cg_cuda_device_info;

/* ---- runtime ---------------------------------------------------------------- */
/* 1 when this binary was built with the CUDA backend. */
int cg_cuda_built(void);
/* Number of usable GPUs (0 when none, no driver, or built without CUDA). When
 * 0, why is filled with the reason if non-NULL. */
int cg_cuda_device_count(char *why, size_t why_len);
cg_status cg_cuda_device_info_get(int dev, cg_cuda_device_info *info);
/* CUDA runtime and cuDNN versions as "13.0" / "9.19.0", or "none". */
const char *cg_cuda_runtime_version(void);
const char *cg_cuda_cudnn_version(void);
/* The last failed CUDA call of this thread: "kernels/memory.cu:40: cudaMalloc
 * of 1048576 bytes (step arena): out of memory". "" when none. */
const char *cg_cuda_last_error(void);
/* The GPU this process uses (a data-parallel rank's local rank), before any
 * other CUDA call; CG_ERR_ARG when there is no device dev, CG_ERR_NO_CUDA
 * without CUDA. */
cg_status cg_cuda_select(int dev);
/* Wait for everything queued on cugen's stream. A kernel that failed
 * asynchronously reports here. */
cg_status cg_cuda_sync(void);
/* Release the backend's own state once the GPU work is done: wait for the
 * stream, then free the convolution plans, the cuDNN handle, the cuDNN
 * workspace, the timer events, the cuBLAS handle and last the stream. Memory
 * the caller allocated (contexts, parameters, cg_cuda_malloc) is the
 * caller's to free first. Calling it again, or without the GPU ever used,
 * does nothing; using the backend afterwards makes everything afresh. The
 * deterministic and TF32 settings stay. The cugen command calls it before
 * it exits. */
void cg_cuda_shutdown(void);
/* Reproducible results: no TF32 in cuBLAS or cuDNN, and only the cuDNN
 * convolution algorithms that cuDNN reports deterministic and that sum
 * products directly (implicit GEMM: no FFT or Winograd, which round worse),
 * so that convolutions round like the CPU's. Off by default.
 * Takes effect for handles made after the call and for the existing one;
 * cuDNN algorithms already chosen for a shape stay chosen under the mode
 * they were chosen in (the choice is keyed by the mode). */
void cg_cuda_set_deterministic(int on);
int cg_cuda_deterministic(void);
/* TF32 tensor-core math for matrix products and convolutions (cuBLAS,
 * cuDNN): about 8x the FP32 rate on an A100/H100 with a 10-bit mantissa in
 * the products (relative errors near 1e-3 instead of 1e-6). Off by default:
 * every op computes in full FP32 unless this is set, and deterministic mode
 * overrides it. */
void cg_cuda_set_tf32(int on);
int cg_cuda_tf32(void);

/* ---- timing (benchmarks) --------------------------------------------------- */
/* CUDA events on cugen's stream: start records one; stop records another,
 * waits for it and gives the milliseconds of GPU time between the two. */
cg_status cg_cuda_timer_start(void);
cg_status cg_cuda_timer_stop(double *ms);

/* ---- raw device memory -------------------------------------------------------- */
/* cudaMalloc; `what` names the allocation in the out-of-memory message. */
cg_status cg_cuda_malloc(void **p, size_t bytes, const char *what);
void cg_cuda_free(void *p);   /* NULL is fine */
/* Asynchronous on the stream. */
cg_status cg_cuda_memset0(void *p, size_t bytes);
/* count 32-bit words at p (4-byte aligned) = bits, as they are (no float
 * conversion: a signalling NaN stays one) */
cg_status cg_cuda_fill_u32(void *p, uint32_t bits, size_t count);
cg_status cg_cuda_copy_d2d(void *dst, const void *src, size_t bytes);
/* Synchronous copies from / to pageable host memory (set-up and checkpoints,
 * not the step: a step uploads through cg_cuda_upload_staged). */
cg_status cg_cuda_upload(void *dst, const void *src, size_t bytes);
cg_status cg_cuda_download(void *dst, const void *src, size_t bytes);
/* Upload through the context's pinned buffer: src is copied into pinned
 * memory and an asynchronous copy queued; returns without waiting for the
 * GPU. The pinned buffer grows during the first step and is reused after
 * cg_ctx_step_end. */
cg_status cg_cuda_upload_staged(cg_ctx *ctx, void *dst, const void *src, size_t bytes);
/* The context's CUDA state (pinned buffer): recycled at the end of a step,
 * freed with the context. No-ops when the context never used the GPU. */
void cg_cuda_ctx_step_end(cg_ctx *ctx);
void cg_cuda_ctx_free(cg_ctx *ctx);

/* ---- NCCL: the GPU collectives of a data-parallel run (kernels/nccl.cu) ---------- */
/* 1 when this binary was built with NCCL (the Makefile found nccl.h and
 * libnccl). Without it the calls below return CG_ERR_NO_CUDA and a GPU rank
 * reduces through host memory and MPI instead (host/train/trainer_dist.c). */
int cg_cuda_nccl_built(void);
#define CG_NCCL_ID_BYTES 128
/* Rank 0: a new communicator id (ncclGetUniqueId) for every rank to join. */
cg_status cg_cuda_nccl_id(unsigned char id[CG_NCCL_ID_BYTES]);
/* This process joins rank 0's communicator as rank `rank` of `ranks` on the
 * GPU cg_cuda_select took (ncclCommInitRank; every rank calls it). One
 * communicator per process: CG_ERR_STATE while one is open. */
cg_status cg_cuda_nccl_open(const unsigned char id[CG_NCCL_ID_BYTES], int rank, int ranks);
int cg_cuda_nccl_is_open(void);
/* Queued on cugen's stream, returning without waiting: x[i] = the sum over
 * the ranks of x[i] (ncclAllReduce in place), then times scale unless it is
 * 1, the product in double rounded once, as the host path rounds it. */
cg_status cg_cuda_nccl_sum(real *x, int64_t n, double scale);
/* Queued on cugen's stream: root's n values at x into every rank's x
 * (ncclBroadcast in place). */
cg_status cg_cuda_nccl_bcast(real *x, int64_t n, int root);
/* Ends the communicator. After a run that went well (failed 0): waits for
 * the stream, then ncclCommDestroy. After a failure: ncclCommAbort, which
 * abandons collectives still waiting for other ranks, so that freeing
 * device memory afterwards cannot block on them. Nothing when none is open. */
void cg_cuda_nccl_close(int failed);

#ifdef __cplusplus
}
#endif

#endif
