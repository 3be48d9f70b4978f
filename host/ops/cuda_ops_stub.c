/*
 * cuda_ops_stub.c: the op twins of a CPU-only build (CUDA=0, and the f64
 * gradcheck build), from the one list in ops/cuda_ops.h: each says "built
 * without CUDA" (CG_ERR_NO_CUDA) instead of failing at link time.
 */
#include "ops/cuda_ops.h"

CG_CUDA_OPS(CG_CUDA_STUB)
