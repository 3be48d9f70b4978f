/*
 * core_cuda.h: what host/core needs of the device, internal to host/.
 *
 *   - Memory on either device (dev_*): step-arena scratch, copies, zeroing,
 *     accumulation. On the CPU they are plain loops; on the GPU they are
 *     queued on the stream and do not wait. Each returns 1, or 0 with the
 *     context's sticky error set. The tape, the tensor constructors and the
 *     op front ends all go through them.
 *   - dev_ok: a CUDA status turned into the sticky error.
 *   - The CUDA entry points core itself calls (fill, accumulate, Philox), one
 *     X-macro list like the op layer's (ops/cuda_ops.h) and the optimizers'
 *     (optim/optim_cuda.h). Each list is declared from its macro and, in a
 *     CPU-only build, stubbed from it by a small file beside its header
 *     (core/cuda_stub.c here), so declarations and stubs cannot drift.
 *
 * Not for: the op twins (ops/cuda_ops.h), what users of the library call
 * (cugen/cuda.h).
 */
#ifndef CUGEN_CORE_CUDA_H
#define CUGEN_CORE_CUDA_H

#include <stdint.h>

#include "cugen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Declaration and CPU-only stub of one entry point of an X-macro list. */
#define CG_CUDA_DECLARE(name, args) cg_status name args;
#define CG_CUDA_STUB(name, args) \
    cg_status name args { return CG_ERR_NO_CUDA; }

/* Each takes GPU memory and returns CG_OK once the work is queued, or an
 * error whose detail is cg_cuda_last_error(). */
#define CG_CUDA_CORE(X)                                                                        \
    /* memory (kernels/memory.cu): p[0..n) = v; dst += src */                                  \
    X(cuda_fill, (real *p, double v, int64_t n))                                               \
    X(cuda_accumulate, (real *dst, const real *src, int64_t n))                                \
    /* Philox (kernels/rng.cu): the values of cg_philox_uniform / cg_philox_normal, bit for    \
     * bit, then lo + (hi - lo) u / mean + std z in double unless that map is the identity */  \
    X(cuda_philox_uniform, (uint64_t seed, uint32_t stream, uint64_t offset, real *x,          \
                            int64_t n, double lo, double hi))                                  \
    X(cuda_philox_normal, (uint64_t seed, uint32_t stream, uint64_t offset, real *x,           \
                           int64_t n, double mean, double std))

CG_CUDA_CORE(CG_CUDA_DECLARE)

/* The status of a call on the GPU: 1 when CG_OK; otherwise the sticky error
 * "<what>: <what failed>" (file, line and CUDA's message) and 0. */
int dev_ok(cg_ctx *ctx, const char *what, cg_status st);

/* Untyped scratch in the step arena of a device (the host arena for the
 * CPU). NULL with the sticky error set, naming `what` and the size. */
void *dev_alloc_bytes(cg_ctx *ctx, int dev, size_t bytes, const char *what);

/* n values of scratch on a device (the step arena on the CPU). */
static inline real *dev_alloc(cg_ctx *ctx, int dev, int64_t n)
{
    return (real *)dev_alloc_bytes(ctx, dev, sizeof(real) * (size_t)(n > 0 ? n : 1), "values");
}

/* n values: from host memory, on one device, zeroed, dst += src. */
int dev_copy_from_host(cg_ctx *ctx, int dev, real *dst, const real *src, int64_t n);
int dev_copy(cg_ctx *ctx, int dev, real *dst, const real *src, int64_t n);
int dev_zero(cg_ctx *ctx, int dev, real *p, int64_t n);
int dev_fill(cg_ctx *ctx, int dev, real *p, double v, int64_t n);
int dev_accumulate(cg_ctx *ctx, int dev, real *dst, const real *src, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
