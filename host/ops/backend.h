/*
 * backend.h: what every op front end shares: argument checks that set the
 * context's sticky error, memory helpers that take the device into account,
 * and the dispatch between the CPU reference and the CUDA twin. Internal to
 * host/.
 *
 * Dispatch: an op front end calls cpu_<op>_fwd/_bwd for CPU tensors and
 * cuda_<op>_fwd/_bwd (ops/cuda_ops.h) for CUDA tensors, through OP_RUN. An
 * op without a CUDA twin yet starts with op_begin_cpu, which refuses CUDA
 * tensors with "<op>: no CUDA kernel yet" instead of computing garbage.
 */
#ifndef CUGEN_OPS_BACKEND_H
#define CUGEN_OPS_BACKEND_H

#include <string.h>

#include "cugen/tape.h"
#include "cugen/tensor.h"

/* Untyped scratch in the step arena of a device (the host arena for the
 * CPU). NULL with the sticky error set, naming `what` and the size. */
void *backend_alloc_bytes(cg_ctx *ctx, int dev, size_t bytes, const char *what);

/* n values of scratch on a device (the step arena on the CPU). */
static inline real *backend_alloc(cg_ctx *ctx, int dev, int64_t n)
{
    return backend_alloc_bytes(ctx, dev, sizeof(real) * (size_t)(n > 0 ? n : 1), "values");
}

/* Memory helpers on either device. Each returns 1, or 0 with the sticky
 * error set. On the GPU they are queued on the stream and do not wait. */
int backend_copy_from_host(cg_ctx *ctx, int dev, real *dst, const real *src, int64_t n);
int backend_copy(cg_ctx *ctx, int dev, real *dst, const real *src, int64_t n);
int backend_zero(cg_ctx *ctx, int dev, real *p, int64_t n);
int backend_accumulate(cg_ctx *ctx, int dev, real *dst, const real *src, int64_t n);

/* Start of every op: no earlier error, no NULL input, all inputs on one
 * device. Optional inputs (bias) may be NULL when listed after `nreq`
 * required ones. Returns 0 when the op must return NULL. */
int op_begin(cg_ctx *ctx, const char *op, cg_tensor *const *in, int nreq, int nin);
/* The same for an op that has no CUDA twin yet: CUDA inputs are an error. */
int op_begin_cpu(cg_ctx *ctx, const char *op, cg_tensor *const *in, int nreq, int nin);

/* Sets the sticky error "<op>: <message>" and returns NULL. */
void *op_fail(cg_ctx *ctx, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The status of a cuda_* call: 1 when CG_OK; otherwise the sticky error
 * "<op>: <what failed>" (file, line and CUDA's message) and 0. */
int op_cuda(cg_ctx *ctx, const char *op, cg_status st);

/* Run the CPU reference or the CUDA twin of an op by the device `dev`:
 *   if (!OP_RUN(ctx, "relu", x->dev, cpu_relu_fwd(y->data, x->data, x->n),
 *               cuda_relu_fwd(y->data, x->data, x->n)))
 *       return NULL;
 * Evaluates to 1 on success, 0 with the sticky error set. */
#define OP_RUN(ctx, op, dev, cpu_call, cuda_call) \
    ((dev) == CG_CUDA ? op_cuda((ctx), (op), (cuda_call)) : ((void)(cpu_call), 1))

/* The same in a backward function, which returns a status. */
#define OP_RUN_BWD(ctx, op, dev, cpu_call, cuda_call) \
    (OP_RUN(ctx, op, dev, cpu_call, cuda_call) ? CG_OK : (ctx)->err)

/* Output with the inputs' device. */
cg_tensor *op_out(cg_ctx *ctx, const cg_tensor *like, const int *shape, int ndim);

#endif
