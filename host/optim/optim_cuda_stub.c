/*
 * optim_cuda_stub.c: the optimizers' CUDA updates in a CPU-only build (CUDA=0,
 * and the f64 gradcheck build), from the one list in optim/optim_cuda.h:
 * each says "built without CUDA" (CG_ERR_NO_CUDA).
 */
#include "optim/optim_cuda.h"

CG_CUDA_OPTIM(CG_CUDA_STUB)
