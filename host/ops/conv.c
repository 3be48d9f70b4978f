/*
 * conv.c: op front ends for conv2d (square or, as conv2d_hw, rectangular
 * kernels with per-axis padding) and conv_transpose2d: shape checks,
 * output and scratch in the step arena, the tape node. CPU tensors run the
 * im2col + GEMM reference (host/cpu/conv.c) with its scratch; CUDA tensors
 * run the cuDNN twins (kernels/conv.cu), which keep their own workspace.
 *
 * Create-graph backwards (tape.h). A convolution's forward F(x, w), its
 * input gradient D(gy, w) and its weight gradient W(x, gy) are bilinear, and
 * the derivatives of each are the other two, so the three are ops here, all
 * under one geometry (x (N, Cin, H, W), y (N, Cout, Ho, Wo), w (Cout, Cin,
 * kh, kw)):
 *   F (conv2d):            dx = D(dy, w)   dw = W(x, dy)   db = dy summed per channel
 *   D (conv2d_input_grad): dgy = F(dx', w) dw = W(dx', gy)
 *   W (conv2d_weight_grad): dx = D(gy, dw') dgy = F(x, dw')
 * conv_transpose2d is D of the conv seen from its output, so its create-graph
 * backward is F and W of that conv. D keeps the geometry (H, W exactly, where
 * a conv_transpose2d would lose the rows a stride skipped).
 *
 * Not for: the arithmetic (host/cpu/conv.c).
 */
#include "cpu/cpu_conv.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

/* Checks common to both ops: x (N, Cin, H, W), w 4-D (a square kernel
 * unless rect), stride >= 1, pads >= 0, bias (Cout) or NULL. cin_dim is the
 * weight dim that must equal Cin (1 for conv2d, 0 for conv_transpose2d).
 * Fills d except Ho, Wo. Returns 0 (sticky error set) on a bad argument. */
static int conv_check(cg_ctx *ctx, const char *op, const cg_tensor *x, const cg_tensor *w,
                      const cg_tensor *b, int stride, int ph, int pw, int cin_dim, int rect,
                      cg_conv_geom *d)
{
    if (x->ndim != 4) {
        op_fail(ctx, op, "x %s must be 4-D (N, C, H, W)", CG_SHAPE_STR(x));
        return 0;
    }
    if (w->ndim != 4) {
        op_fail(ctx, op, "w %s must be 4-D (%s, k, k)", CG_SHAPE_STR(w),
                cin_dim == 1 ? "Cout, Cin" : "Cin, Cout");
        return 0;
    }
    if (!rect && w->shape[2] != w->shape[3]) {
        op_fail(ctx, op, "w %s: the kernel must be square", CG_SHAPE_STR(w));
        return 0;
    }
    if (x->shape[1] != w->shape[cin_dim]) {
        op_fail(ctx, op, "x %s has %d channels, w %s expects %d", CG_SHAPE_STR(x), x->shape[1],
                CG_SHAPE_STR(w), w->shape[cin_dim]);
        return 0;
    }
    if (stride < 1 || ph < 0 || pw < 0) {
        op_fail(ctx, op, "stride %d, pad (%d, %d): need stride >= 1, pad >= 0", stride, ph, pw);
        return 0;
    }
    int cout = w->shape[1 - cin_dim];
    if (b && (b->ndim != 1 || b->shape[0] != cout)) {
        op_fail(ctx, op, "bias %s does not match %d output channels", CG_SHAPE_STR(b), cout);
        return 0;
    }
    d->N = x->shape[0];
    d->Cin = x->shape[1];
    d->H = x->shape[2];
    d->W = x->shape[3];
    d->Cout = cout;
    d->kh = w->shape[2];
    d->kw = w->shape[3];
    d->stride = stride;
    d->ph = ph;
    d->pw = pw;
    return 1;
}

static cg_conv_geom node_dims(const cg_node *nd)
{
    cg_conv_geom d;
    const cg_tensor *x = nd->in[0], *y = nd->out;
    d.N = x->shape[0];
    d.Cin = x->shape[1];
    d.H = x->shape[2];
    d.W = x->shape[3];
    d.Cout = y->shape[1];
    d.Ho = y->shape[2];
    d.Wo = y->shape[3];
    d.kh = nd->in[1]->shape[2];
    d.kw = nd->in[1]->shape[3];
    d.stride = nd->i[0];
    d.ph = nd->i[1];
    d.pw = nd->i[2];
    return d;
}

/* ---- conv2d ---------------------------------------------------------------------- */

/* Host scratch of n reals for the CPU reference; none (and no failure) on
 * the GPU. Returns 0 with the sticky error set when out of memory. */
static int cpu_scratch(cg_ctx *ctx, int dev, int64_t n, real **scratch)
{
    *scratch = NULL;
    if (dev == CG_CUDA)
        return 1;
    *scratch = dev_alloc(ctx, dev, n);
    return *scratch != NULL;
}

static cg_status conv2d_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_conv_geom d = node_dims(nd);
    int dev = nd->out->dev;
    real *s;
    if (!cpu_scratch(ctx, dev, cpu_conv2d_scratch(&d, 1), &s))
        return ctx->err;
    const real *dy = nd->out->grad, *x = nd->in[0]->data, *w = nd->in[1]->data;
    return OP_RUN_BWD(ctx, nd->op, dev, cpu_conv2d_bwd(dx[0], dx[1], dx[2], dy, x, w, s, &d),
                      cuda_conv2d_bwd(dx[0], dx[1], dx[2], dy, x, w, &d));
}

static cg_tensor *conv2d_op(cg_ctx *ctx, const char *op, cg_tensor *x, cg_tensor *w,
                            cg_tensor *b, int stride, int ph, int pw, int rect);

/* ---- the input and weight gradients as ops --------------------------------------- */
static cg_tensor *conv_dgrad(cg_ctx *ctx, cg_tensor *gy, cg_tensor *w, const cg_conv_geom *d);
static cg_tensor *conv_wgrad(cg_ctx *ctx, cg_tensor *x, cg_tensor *gy, const cg_conv_geom *d);

/* F(x, w) under d: conv2d_op finds the same geometry from the shapes */
static cg_tensor *conv_f(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, const cg_conv_geom *d)
{
    return conv2d_op(ctx, "conv2d", x, w, NULL, d->stride, d->ph, d->pw, 1);
}

/* n reals of host scratch for the larger of forward and backward */
static int conv_scratch(cg_ctx *ctx, int dev, const cg_conv_geom *d, real **s)
{
    int64_t a = cpu_conv2d_scratch(d, 0), b = cpu_conv2d_scratch(d, 1);
    return cpu_scratch(ctx, dev, a > b ? a : b, s);
}

/* D: out gx (N, Cin, H, W), in (gy, w); dgy written, dw accumulated */
static cg_status dgrad_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const cg_conv_geom *d = nd->aux;
    int dev = nd->out->dev;
    real *s;
    if (!conv_scratch(ctx, dev, d, &s))
        return ctx->err;
    const real *dgx = nd->out->grad, *gy = nd->in[0]->data, *w = nd->in[1]->data;
    if (dx[0] && !OP_RUN(ctx, nd->op, dev, cpu_conv2d_fwd(dx[0], dgx, w, NULL, s, d),
                         cuda_conv2d_fwd(dx[0], dgx, w, NULL, d)))
        return ctx->err;
    if (dx[1] && !OP_RUN(ctx, nd->op, dev, cpu_conv2d_bwd(NULL, dx[1], NULL, gy, dgx, NULL, s, d),
                         cuda_conv2d_bwd(NULL, dx[1], NULL, gy, dgx, NULL, d)))
        return ctx->err;
    return CG_OK;
}

static cg_status dgrad_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *g, unsigned need,
                            cg_tensor *gx[CG_MAX_IN])
{
    const cg_conv_geom *d = nd->aux;
    if (need & 1)
        gx[0] = conv_f(ctx, g, nd->in[1], d);
    if (need & 2)
        gx[1] = conv_wgrad(ctx, g, nd->in[0], d);
    return ctx->err;
}

/* W: out gw (Cout, Cin, kh, kw), in (x, gy); both gradients written */
static cg_status wgrad_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    const cg_conv_geom *d = nd->aux;
    int dev = nd->out->dev;
    real *s;
    if (!conv_scratch(ctx, dev, d, &s))
        return ctx->err;
    const real *dgw = nd->out->grad, *x = nd->in[0]->data, *gy = nd->in[1]->data;
    if (dx[0] && !OP_RUN(ctx, nd->op, dev, cpu_conv2d_bwd(dx[0], NULL, NULL, gy, NULL, dgw, s, d),
                         cuda_conv2d_bwd(dx[0], NULL, NULL, gy, NULL, dgw, d)))
        return ctx->err;
    if (dx[1] && !OP_RUN(ctx, nd->op, dev, cpu_conv2d_fwd(dx[1], x, dgw, NULL, s, d),
                         cuda_conv2d_fwd(dx[1], x, dgw, NULL, d)))
        return ctx->err;
    return CG_OK;
}

static cg_status wgrad_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *g, unsigned need,
                            cg_tensor *gx[CG_MAX_IN])
{
    const cg_conv_geom *d = nd->aux;
    if (need & 1)
        gx[0] = conv_dgrad(ctx, nd->in[1], g, d);
    if (need & 2)
        gx[1] = conv_f(ctx, nd->in[0], g, d);
    return ctx->err;
}

/* A copy of d in the step arena for a node to keep. */
static cg_conv_geom *geom_keep(cg_ctx *ctx, const cg_conv_geom *d)
{
    cg_conv_geom *k = cg_scratch(ctx, sizeof *k);
    if (k)
        *k = *d;
    return k;
}

static cg_tensor *conv_dgrad(cg_ctx *ctx, cg_tensor *gy, cg_tensor *w, const cg_conv_geom *d)
{
    static const char *op = "conv2d_input_grad";
    cg_tensor *in[2] = {gy, w};
    if (!op_begin(ctx, op, in, 2, 2))
        return NULL;
    cg_tensor *gx = op_out(ctx, gy, CG_SHAPE(d->N, d->Cin, d->H, d->W));
    real *s;
    cg_conv_geom *keep = geom_keep(ctx, d);
    if (!gx || !keep || !conv_scratch(ctx, gy->dev, d, &s))
        return NULL;
    if (!OP_RUN(ctx, op, gy->dev, cpu_conv2d_bwd(gx->data, NULL, NULL, gy->data, NULL, w->data,
                                                 s, d),
                cuda_conv2d_bwd(gx->data, NULL, NULL, gy->data, NULL, w->data, d)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, dgrad_bwd, gx, in, 2, 0x2);
    if (nd) {
        nd->gbwd = dgrad_gbwd;
        nd->aux = keep;
    }
    return gx;
}

static cg_tensor *conv_wgrad(cg_ctx *ctx, cg_tensor *x, cg_tensor *gy, const cg_conv_geom *d)
{
    static const char *op = "conv2d_weight_grad";
    cg_tensor *in[2] = {x, gy};
    if (!op_begin(ctx, op, in, 2, 2))
        return NULL;
    cg_tensor *gw = op_out(ctx, x, CG_SHAPE(d->Cout, d->Cin, d->kh, d->kw));
    real *s;
    cg_conv_geom *keep = geom_keep(ctx, d);
    if (!gw || !keep || !conv_scratch(ctx, x->dev, d, &s) ||
        !dev_zero(ctx, x->dev, gw->data, gw->n))  /* the weight gradient accumulates */
        return NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_conv2d_bwd(NULL, gw->data, NULL, gy->data, x->data, NULL,
                                                s, d),
                cuda_conv2d_bwd(NULL, gw->data, NULL, gy->data, x->data, NULL, d)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, wgrad_bwd, gw, in, 2, 0);
    if (nd) {
        nd->gbwd = wgrad_gbwd;
        nd->aux = keep;
    }
    return gw;
}

/* the bias gradient: gy (N, C, H, W) summed per channel, b's shape */
static cg_tensor *bias_grad(cg_ctx *ctx, cg_tensor *gy, const cg_tensor *b)
{
    return cg_reshape(ctx, cg_sum_to(ctx, gy, CG_SHAPE(gy->shape[1], 1, 1)), b->shape, b->ndim);
}

static cg_status conv2d_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy, unsigned need,
                             cg_tensor *gx[CG_MAX_IN])
{
    cg_conv_geom d = node_dims(nd);
    if (need & 1)
        gx[0] = conv_dgrad(ctx, gy, nd->in[1], &d);
    if (need & 2)
        gx[1] = conv_wgrad(ctx, nd->in[0], gy, &d);
    if (need & 4)
        gx[2] = bias_grad(ctx, gy, nd->in[2]);
    return ctx->err;
}

/* conv_transpose2d: D of the conv from y (N, Cout, Ho, Wo) to x (N, Cin, H, W) */
static cg_status conv_transpose2d_gbwd(cg_ctx *ctx, const cg_node *nd, cg_tensor *gy,
                                       unsigned need, cg_tensor *gx[CG_MAX_IN])
{
    cg_conv_geom t = node_dims(nd);
    cg_conv_geom c = {.N = t.N, .Cin = t.Cout, .H = t.Ho, .W = t.Wo, .Cout = t.Cin, .Ho = t.H,
                      .Wo = t.W, .kh = t.kh, .kw = t.kw, .stride = t.stride, .ph = t.ph,
                      .pw = t.pw};
    if (need & 1)
        gx[0] = conv_f(ctx, gy, nd->in[1], &c);
    if (need & 2)
        gx[1] = conv_wgrad(ctx, gy, nd->in[0], &c);
    if (need & 4)
        gx[2] = bias_grad(ctx, gy, nd->in[2]);
    return ctx->err;
}

/* conv2d and conv2d_hw: rect allows a kh x kw kernel */
static cg_tensor *conv2d_op(cg_ctx *ctx, const char *op, cg_tensor *x, cg_tensor *w,
                            cg_tensor *b, int stride, int ph, int pw, int rect)
{
    cg_tensor *in[3] = {x, w, b};
    if (!op_begin(ctx, op, in, 2, 3))
        return NULL;
    cg_conv_geom d;
    if (!conv_check(ctx, op, x, w, b, stride, ph, pw, 1, rect, &d))
        return NULL;
    int64_t hp = d.H + 2 * (int64_t)ph, wp = d.W + 2 * (int64_t)pw;  /* padded input */
    if (hp > (1 << 24) || wp > (1 << 24))
        return op_fail(ctx, op, "pad (%d, %d) is too large", ph, pw);
    if (d.kh > hp || d.kw > wp)
        return op_fail(ctx, op, "kernel %dx%d is bigger than the padded input %lldx%lld "
                       "(pad %d, %d)", d.kh, d.kw, (long long)hp, (long long)wp, ph, pw);
    d.Ho = (int)((hp - d.kh) / stride + 1);
    d.Wo = (int)((wp - d.kw) / stride + 1);
    cg_tensor *y = op_out(ctx, x, CG_SHAPE(d.N, d.Cout, d.Ho, d.Wo));
    real *s;
    if (!y || !cpu_scratch(ctx, x->dev, cpu_conv2d_scratch(&d, 0), &s))
        return NULL;
    const real *bd = b ? b->data : NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_conv2d_fwd(y->data, x->data, w->data, bd, s, &d),
                cuda_conv2d_fwd(y->data, x->data, w->data, bd, &d)))
        return NULL;
    /* dx is written; dw and db accumulate */
    cg_node *nd = cg_record(ctx, op, conv2d_bwd, y, in, 3, 0x6);
    if (nd) {
        nd->gbwd = conv2d_gbwd;
        nd->i[0] = stride;
        nd->i[1] = ph;
        nd->i[2] = pw;
    }
    return y;
}

cg_tensor *cg_conv2d(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, cg_tensor *b, int stride,
                     int pad)
{
    return conv2d_op(ctx, "conv2d", x, w, b, stride, pad, pad, 0);
}

cg_tensor *cg_conv2d_hw(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, cg_tensor *b, int stride,
                        int pad_h, int pad_w)
{
    return conv2d_op(ctx, "conv2d_hw", x, w, b, stride, pad_h, pad_w, 1);
}

/* ---- conv_transpose2d -------------------------------------------------------------- */

static cg_status conv_transpose2d_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_conv_geom d = node_dims(nd);
    int dev = nd->out->dev;
    real *s;
    if (!cpu_scratch(ctx, dev, cpu_conv_transpose2d_scratch(&d, 1), &s))
        return ctx->err;
    const real *dy = nd->out->grad, *x = nd->in[0]->data, *w = nd->in[1]->data;
    return OP_RUN_BWD(ctx, nd->op, dev,
                      cpu_conv_transpose2d_bwd(dx[0], dx[1], dx[2], dy, x, w, s, &d),
                      cuda_conv_transpose2d_bwd(dx[0], dx[1], dx[2], dy, x, w, &d));
}

cg_tensor *cg_conv_transpose2d(cg_ctx *ctx, cg_tensor *x, cg_tensor *w, cg_tensor *b,
                               int stride, int pad)
{
    static const char *op = "conv_transpose2d";
    cg_tensor *in[3] = {x, w, b};
    if (!op_begin(ctx, op, in, 2, 3))
        return NULL;
    cg_conv_geom d;
    if (!conv_check(ctx, op, x, w, b, stride, pad, pad, 0, 0, &d))
        return NULL;
    /* 64-bit: a large stride must not wrap the output size */
    int64_t ho = (int64_t)(d.H - 1) * stride - 2 * (int64_t)pad + d.kh;
    int64_t wo = (int64_t)(d.W - 1) * stride - 2 * (int64_t)pad + d.kw;
    if (ho < 1 || wo < 1 || ho > (1 << 24) || wo > (1 << 24))
        return op_fail(ctx, op, "x %s with k %d, stride %d, pad %d gives a %lldx%lld output",
                       CG_SHAPE_STR(x), d.kh, stride, pad, (long long)ho, (long long)wo);
    d.Ho = (int)ho;
    d.Wo = (int)wo;
    cg_tensor *y = op_out(ctx, x, CG_SHAPE(d.N, d.Cout, d.Ho, d.Wo));
    real *s;
    if (!y || !cpu_scratch(ctx, x->dev, cpu_conv_transpose2d_scratch(&d, 0), &s))
        return NULL;
    const real *bd = b ? b->data : NULL;
    if (!OP_RUN(ctx, op, x->dev, cpu_conv_transpose2d_fwd(y->data, x->data, w->data, bd, s, &d),
                cuda_conv_transpose2d_fwd(y->data, x->data, w->data, bd, &d)))
        return NULL;
    /* dx is written; dw and db accumulate */
    cg_node *nd = cg_record(ctx, op, conv_transpose2d_bwd, y, in, 3, 0x6);
    if (nd) {
        nd->gbwd = conv_transpose2d_gbwd;
        nd->i[0] = stride;
        nd->i[1] = pad;
        nd->i[2] = pad;
    }
    return y;
}
