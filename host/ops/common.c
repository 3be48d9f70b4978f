/*
 * common.c: argument checks shared by the op front ends.
 */
#include <stdarg.h>
#include <stdio.h>

#include "ops/backend.h"

void *op_fail(cg_ctx *ctx, const char *op, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cg_fail(ctx, CG_ERR_ARG, "%s: %s", op, msg);
    return NULL;
}

int op_begin(cg_ctx *ctx, const char *op, cg_tensor *const *in, int nreq, int nin)
{
    if (ctx->err)
        return 0;
    int dev = -1;
    for (int j = 0; j < nin; j++) {
        if (!in[j]) {
            if (j < nreq) {
                cg_fail(ctx, CG_ERR_STATE, "%s: input %d is NULL", op, j);
                return 0;
            }
            continue;
        }
        if (dev < 0)
            dev = in[j]->dev;
        else if (in[j]->dev != dev) {
            cg_fail(ctx, CG_ERR_ARG, "%s: inputs are on different devices", op);
            return 0;
        }
    }
    if (dev == CG_CUDA) {
        cg_fail(ctx, CG_ERR_NO_CUDA, "%s: no CUDA kernel for this op in this build", op);
        return 0;
    }
    return 1;
}

cg_tensor *op_out(cg_ctx *ctx, const cg_tensor *like, const int *shape, int ndim)
{
    cg_tensor *t = cg_new(ctx, shape, ndim);
    if (t && like)
        t->dev = like->dev;
    return t;
}
