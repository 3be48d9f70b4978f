/*
 * backend.h: what every op front end shares: argument checks that set the
 * context's sticky error and the dispatch between the CPU reference and the
 * CUDA twin. The memory helpers that take the device into account (dev_*)
 * and dev_ok are core's (core/core_cuda.h). Internal to host/ops.
 *
 * Dispatch: an op front end calls cpu_<op>_fwd/_bwd for CPU tensors and
 * cuda_<op>_fwd/_bwd (ops/cuda_ops.h) for CUDA tensors, through OP_RUN. An
 * op without a CUDA twin yet starts with op_begin_cpu, which refuses CUDA
 * tensors with "<op>: no CUDA kernel yet" instead of computing garbage.
 */
#ifndef CUGEN_OPS_BACKEND_H
#define CUGEN_OPS_BACKEND_H

#include <string.h>

#include "core/core_cuda.h"
#include "cugen/tape.h"
#include "cugen/tensor.h"

/* Start of every op: no earlier error, no NULL input, all inputs on one
 * device. Optional inputs (bias) may be NULL when listed after `nreq`
 * required ones. Returns 0 when the op must return NULL. */
int op_begin(cg_ctx *ctx, const char *op, cg_tensor *const *in, int nreq, int nin);
/* The same for an op that has no CUDA twin yet: CUDA inputs are an error. */
int op_begin_cpu(cg_ctx *ctx, const char *op, cg_tensor *const *in, int nreq, int nin);

/* Sets the sticky error "<op>: <message>" and returns NULL. */
void *op_fail(cg_ctx *ctx, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Run the CPU reference or the CUDA twin of an op by the device `dev`:
 *   if (!OP_RUN(ctx, "relu", x->dev, cpu_relu_fwd(y->data, x->data, x->n),
 *               cuda_relu_fwd(y->data, x->data, x->n)))
 *       return NULL;
 * Evaluates to 1 on success, 0 with the sticky error set. */
#define OP_RUN(ctx, op, dev, cpu_call, cuda_call) \
    ((dev) == CG_CUDA ? dev_ok((ctx), (op), (cuda_call)) : ((void)(cpu_call), 1))

/* The same in a backward function, which returns a status. */
#define OP_RUN_BWD(ctx, op, dev, cpu_call, cuda_call) \
    (OP_RUN(ctx, op, dev, cpu_call, cuda_call) ? CG_OK : (ctx)->err)

/* Output with the inputs' device. */
cg_tensor *op_out(cg_ctx *ctx, const cg_tensor *like, const int *shape, int ndim);

/* A copy of `bytes` of host memory (labels, indices) in the step arena of
 * dev, for a kernel to read and a node to keep after the caller's array is
 * gone; on the GPU an upload queued on the stream. NULL with the sticky
 * error set ("<op>: ..."), `what` naming the array. */
void *op_host_copy(cg_ctx *ctx, const char *op, int dev, const void *src, size_t bytes,
                   const char *what);

#endif
