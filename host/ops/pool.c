/*
 * pool.c: op front ends for maxpool2d, avgpool2d (k x k windows, stride,
 * zero padding) and bilinear resizing.
 *
 * Not for: the arithmetic (host/cpu/pool.c, kernels/pool.cu).
 */
#include "cpu/cpu_pool.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

/* Checks x (N, C, H, W), k >= 1, stride >= 1, 0 <= pad <= k / 2 (PyTorch's
 * rule: every window holds an image pixel) and fills d. */
static int pool_check(cg_ctx *ctx, const char *op, const cg_tensor *x, int k, int stride,
                      int pad, cg_pool_geom *d)
{
    if (x->ndim != 4) {
        op_fail(ctx, op, "x %s must be 4-D (N, C, H, W)", CG_SHAPE_STR(x));
        return 0;
    }
    if (k < 1 || stride < 1 || pad < 0 || pad > k / 2) {
        op_fail(ctx, op, "k %d, stride %d, pad %d: need k, stride >= 1, 0 <= pad <= k / 2", k,
                stride, pad);
        return 0;
    }
    int64_t hp = x->shape[2] + 2 * (int64_t)pad, wp = x->shape[3] + 2 * (int64_t)pad;
    if (k > hp || k > wp) {
        op_fail(ctx, op, "window %d is bigger than the padded input %lldx%lld", k,
                (long long)hp, (long long)wp);
        return 0;
    }
    d->NC = (int64_t)x->shape[0] * x->shape[1];
    d->H = x->shape[2];
    d->W = x->shape[3];
    d->Ho = (int)((hp - k) / stride + 1);
    d->Wo = (int)((wp - k) / stride + 1);
    d->k = k;
    d->stride = stride;
    d->pad = pad;
    d->count_include_pad = 0;
    return 1;
}

static cg_pool_geom node_pool_dims(const cg_node *nd)
{
    const cg_tensor *x = nd->in[0], *y = nd->out;
    cg_pool_geom d = {.NC = (int64_t)x->shape[0] * x->shape[1], .H = x->shape[2],
                       .W = x->shape[3], .Ho = y->shape[2], .Wo = y->shape[3], .k = nd->i[0],
                       .stride = nd->i[1], .pad = nd->i[2], .count_include_pad = nd->i[3]};
    return d;
}

static void pool_save(cg_node *nd, const cg_pool_geom *d)
{
    if (nd) {
        nd->i[0] = d->k;
        nd->i[1] = d->stride;
        nd->i[2] = d->pad;
        nd->i[3] = d->count_include_pad;
    }
}

/* ---- max pooling ------------------------------------------------------------------ */

static cg_status maxpool2d_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_pool_geom d = node_pool_dims(nd);
    const real *dy = nd->out->grad, *x = nd->in[0]->data;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev, cpu_maxpool2d_bwd(dx[0], dy, x, &d),
                      cuda_maxpool2d_bwd(dx[0], dy, x, &d));
}

cg_tensor *cg_maxpool2d(cg_ctx *ctx, cg_tensor *x, int k, int stride, int pad)
{
    static const char *op = "maxpool2d";
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    cg_pool_geom d;
    if (!pool_check(ctx, op, x, k, stride, pad, &d))
        return NULL;
    cg_tensor *y = op_out(ctx, x, CG_SHAPE(x->shape[0], x->shape[1], d.Ho, d.Wo));
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_maxpool2d_fwd(y->data, x->data, &d),
                cuda_maxpool2d_fwd(y->data, x->data, &d)))
        return NULL;
    pool_save(cg_record(ctx, op, maxpool2d_bwd, y, &x, 1, 0), &d);
    return y;
}

/* ---- average pooling -------------------------------------------------------------- */

static cg_status avgpool2d_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_pool_geom d = node_pool_dims(nd);
    const real *dy = nd->out->grad;
    return OP_RUN_BWD(ctx, nd->op, nd->out->dev, cpu_avgpool2d_bwd(dx[0], dy, &d),
                      cuda_avgpool2d_bwd(dx[0], dy, &d));
}

cg_tensor *cg_avgpool2d(cg_ctx *ctx, cg_tensor *x, int k, int stride, int pad,
                        int count_include_pad)
{
    static const char *op = "avgpool2d";
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    cg_pool_geom d;
    if (!pool_check(ctx, op, x, k, stride, pad, &d))
        return NULL;
    d.count_include_pad = count_include_pad != 0;
    cg_tensor *y = op_out(ctx, x, CG_SHAPE(x->shape[0], x->shape[1], d.Ho, d.Wo));
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_avgpool2d_fwd(y->data, x->data, &d),
                cuda_avgpool2d_fwd(y->data, x->data, &d)))
        return NULL;
    pool_save(cg_record(ctx, op, avgpool2d_bwd, y, &x, 1, 0), &d);
    return y;
}

/* ---- bilinear resizing ------------------------------------------------------------ */

static cg_status resize_bilinear_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const cg_tensor *x = nd->in[0], *y = nd->out;
    cg_resize_geom d = {.NC = (int64_t)x->shape[0] * x->shape[1], .H = x->shape[2],
                         .W = x->shape[3], .Ho = y->shape[2], .Wo = y->shape[3]};
    return OP_RUN_BWD(ctx, nd->op, y->dev, cpu_bilinear_bwd(dx[0], y->grad, &d),
                      cuda_bilinear_bwd(dx[0], y->grad, &d));
}

cg_tensor *cg_resize_bilinear(cg_ctx *ctx, cg_tensor *x, int height, int width)
{
    static const char *op = "resize_bilinear";
    if (!op_begin(ctx, op, &x, 1, 1))
        return NULL;
    if (x->ndim != 4)
        return op_fail(ctx, op, "x %s must be 4-D (N, C, H, W)", CG_SHAPE_STR(x));
    if (height < 1 || width < 1 || height > (1 << 16) || width > (1 << 16))
        return op_fail(ctx, op, "output size %dx%d: need 1..65536 each", height, width);
    cg_resize_geom d = {.NC = (int64_t)x->shape[0] * x->shape[1], .H = x->shape[2],
                         .W = x->shape[3], .Ho = height, .Wo = width};
    cg_tensor *y = op_out(ctx, x, CG_SHAPE(x->shape[0], x->shape[1], height, width));
    if (!y)
        return NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_bilinear_fwd(y->data, x->data, &d),
                cuda_bilinear_fwd(y->data, x->data, &d)))
        return NULL;
    cg_record(ctx, op, resize_bilinear_bwd, y, &x, 1, 0);
    return y;
}
