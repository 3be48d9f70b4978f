/*
 * status.c: the sticky error of a context and status names.
 */
#include <stdarg.h>
#include <stdio.h>

#include "cugen/tensor.h"

cg_status cg_fail(cg_ctx *ctx, cg_status st, const char *fmt, ...)
{
    if (ctx->err != CG_OK)
        return st;
    ctx->err = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
    return st;
}

void cg_clear_error(cg_ctx *ctx)
{
    ctx->err = CG_OK;
    ctx->errmsg[0] = '\0';
}

const char *cg_status_str(cg_status st)
{
    switch (st) {
    case CG_OK: return "ok";
    case CG_ERR_ARG: return "bad argument";
    case CG_ERR_IO: return "i/o error";
    case CG_ERR_NOMEM: return "out of memory";
    case CG_ERR_NO_CUDA: return "CUDA not available";
    case CG_ERR_CUDA: return "CUDA error";
    case CG_ERR_NUMERIC: return "non-finite value";
    case CG_ERR_STATE: return "invalid state";
    }
    return "unknown error";
}
