/*
 * optim_cuda.h: the CUDA twins of the optimizer updates (kernels/optim.cu),
 * one X-macro list: declared here, stubbed for a CPU-only build by
 * host/optim/optim_cuda_stub.c. Internal to host/optim.
 *
 * Each runs over [lo, hi) of a flat parameter buffer in GPU memory, with
 * coefficients computed on the host (optim_common.h, host memory), and
 * returns CG_OK once queued or an error whose detail is cg_cuda_last_error().
 *
 * Not for: the CPU loops (adam.c, sgd.c, ema.c), the op twins
 * (ops/cuda_ops.h).
 */
#ifndef CUGEN_OPTIM_CUDA_H
#define CUGEN_OPTIM_CUDA_H

#include <stdint.h>

#include "core/core_cuda.h"
#include "cugen/tensor.h"
#include "optim/optim_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_CUDA_OPTIM(X)                                                                       \
    /* Adam / AdamW and SGD with momentum, as adam.c and sgd.c */                              \
    X(cuda_adam_update, (real *w, const real *g, real *m, real *v, const optim_adam_coef *c,   \
                         int64_t lo, int64_t hi))                                              \
    X(cuda_sgd_update, (real *w, const real *g, real *buf, const optim_sgd_coef *c,            \
                        int64_t lo, int64_t hi))                                               \
    /* the weight EMA, as ema.c: shadow = decay shadow + (1 - decay) w; a <-> b */             \
    X(cuda_ema_update, (real *shadow, const real *w, double decay, int64_t n))                 \
    X(cuda_ema_swap, (real *a, real *b, int64_t n))

CG_CUDA_OPTIM(CG_CUDA_DECLARE)

#ifdef __cplusplus
}
#endif

#endif
