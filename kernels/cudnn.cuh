/*
 * cudnn.cuh: what the cuBLAS and cuDNN twins share (CUDA C++ only): the
 * cuDNN handle on cugen's stream, the one workspace every cuDNN call uses,
 * and the math mode (full FP32 unless TF32 was opted into).
 *
 * Not for: the cuBLAS handle and the stream (cuda_check.h).
 */
#ifndef CUGEN_KERNELS_CUDNN_CUH
#define CUGEN_KERNELS_CUDNN_CUH

#include "cuda_check.h"

/* The cuDNN handle (made on first use), its stream cu_stream(). */
cg_status cu_cudnn(cudnnHandle_t *h);

/* A device workspace of at least `bytes`, shared by every cuDNN call (they
 * are all on the one stream). It grows to the largest request seen, so after
 * the first step of a training run it is never reallocated. *p is NULL for
 * bytes == 0. */
cg_status cu_workspace(size_t bytes, void **p);

/* TF32 tensor cores may be used: opted in (cg_cuda_set_tf32) and not in
 * deterministic mode. */
int cu_tf32(void);

/* cg_cuda_shutdown's part for cuDNN, once the stream has drained: the
 * convolution plans (cu_conv_release, conv.cu), the handle, the workspace
 * and the timer events, each back to "not made yet". */
void cu_cudnn_release(void);
void cu_conv_release(void);

#endif
