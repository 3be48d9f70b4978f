/*
 * loss.c: op front ends for the losses with a scalar (1) output: bce,
 * bce_with_logits, bernoulli_nll, mse, gaussian_kl, gaussian_nll and
 * softmax_xent (mmd2_rbf is in mmd.c).
 *
 * Every input's gradient is written, targets included when they require
 * grad (a target that is itself a model output). The reduction becomes one
 * scale factor on the summed elementwise loss, kept in nd->f[0].
 *
 * The CUDA twins (kernels/loss.cu) take the same arguments; their sums are a
 * deterministic tree in double, and dout is read on the device.
 */
#include "cpu/cpu_loss.h"
#include "cugen/ops.h"
#include "ops/backend.h"
#include "ops/cuda_ops.h"

/* scale for `red` over n elements in `rows` rows (dim 0); 0 on an unknown value */
static int reduce_scale(cg_ctx *ctx, const char *op, cg_reduce red, int64_t n, int64_t rows,
                        double *scale)
{
    switch (red) {
    case CG_REDUCE_MEAN: *scale = 1.0 / (double)n; return 1;
    case CG_REDUCE_SUM: *scale = 1.0; return 1;
    case CG_REDUCE_BATCHMEAN: *scale = 1.0 / (double)rows; return 1;
    }
    op_fail(ctx, op, "unknown reduction %d", (int)red);
    return 0;
}

/* Checks shared by the elementwise losses: in[0..nin-1] present, all of
 * in[0]'s shape except that the last may hold one shared element when
 * `last_shared`, and a known reduction. Returns the (1) output and sets
 * *scale, or NULL. */
static cg_tensor *loss_begin(cg_ctx *ctx, const char *op, cg_tensor **in,
                             const char *const *names, int nin, int last_shared, cg_reduce red,
                             double *scale)
{
    if (!op_begin(ctx, op, in, nin, nin))
        return NULL;
    for (int j = 1; j < nin; j++) {
        if (cg_same_shape(in[j], in[0]) || (last_shared && j == nin - 1 && in[j]->n == 1))
            continue;
        if (last_shared && j == nin - 1)
            return op_fail(ctx, op, "%s %s neither matches %s %s nor has one element",
                           names[j], CG_SHAPE_STR(in[j]), names[0], CG_SHAPE_STR(in[0]));
        return op_fail(ctx, op, "%s %s does not match %s %s", names[j], CG_SHAPE_STR(in[j]),
                       names[0], CG_SHAPE_STR(in[0]));
    }
    if (!reduce_scale(ctx, op, red, in[0]->n, in[0]->shape[0], scale))
        return NULL;
    return op_out(ctx, in[0], CG_SHAPE(1));
}

static void loss_record(cg_ctx *ctx, const char *op, cg_bwd_fn bwd, cg_tensor *out,
                        cg_tensor **in, int nin, double scale)
{
    cg_node *nd = cg_record(ctx, op, bwd, out, in, nin, 0);
    if (nd)
        nd->f[0] = scale;
}

/* ---- bce ---------------------------------------------------------------------------- */
static cg_status bce_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *p = nd->in[0], *t = nd->in[1];
    const real *dout = nd->out->grad;
    return OP_RUN_BWD(ctx, nd->op, p->dev,
                      cpu_bce_bwd(dx[0], dx[1], dout, p->data, t->data, nd->f[0], p->n),
                      cuda_bce_bwd(dx[0], dx[1], dout, p->data, t->data, nd->f[0], p->n));
}

/* p in (0, 1) is the caller's contract (not checked, which would cost a pass
 * over p): outside it the logs give NaN, which is not clamped away. */
cg_tensor *cg_bce(cg_ctx *ctx, cg_tensor *p, cg_tensor *target, cg_reduce red)
{
    static const char *names[2] = {"p", "target"};
    cg_tensor *in[2] = {p, target};
    double scale;
    cg_tensor *out = loss_begin(ctx, "bce", in, names, 2, 0, red, &scale);
    if (!out)
        return NULL;
    if (!OP_RUN(ctx, "bce", p->dev, cpu_bce_fwd(out->data, p->data, target->data, scale, p->n),
                cuda_bce_fwd(out->data, p->data, target->data, scale, p->n)))
        return NULL;
    loss_record(ctx, "bce", bce_bwd, out, in, 2, scale);
    return out;
}

/* ---- bce_with_logits, bernoulli_nll: the same loss ------------------------------------ */
static cg_status bce_logits_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *z = nd->in[0], *t = nd->in[1];
    const real *dout = nd->out->grad;
    return OP_RUN_BWD(ctx, nd->op, z->dev,
                      cpu_bce_logits_bwd(dx[0], dx[1], dout, z->data, t->data, nd->f[0], z->n),
                      cuda_bce_logits_bwd(dx[0], dx[1], dout, z->data, t->data, nd->f[0], z->n));
}

static cg_tensor *bce_logits(cg_ctx *ctx, const char *op, const char *const *names,
                             cg_tensor *logits, cg_tensor *t, cg_reduce red)
{
    cg_tensor *in[2] = {logits, t};
    double scale;
    cg_tensor *out = loss_begin(ctx, op, in, names, 2, 0, red, &scale);
    if (!out)
        return NULL;
    if (!OP_RUN(ctx, op, logits->dev,
                cpu_bce_logits_fwd(out->data, logits->data, t->data, scale, logits->n),
                cuda_bce_logits_fwd(out->data, logits->data, t->data, scale, logits->n)))
        return NULL;
    loss_record(ctx, op, bce_logits_bwd, out, in, 2, scale);
    return out;
}

cg_tensor *cg_bce_with_logits(cg_ctx *ctx, cg_tensor *logits, cg_tensor *target, cg_reduce red)
{
    static const char *names[2] = {"logits", "target"};
    return bce_logits(ctx, "bce_with_logits", names, logits, target, red);
}

cg_tensor *cg_bernoulli_nll(cg_ctx *ctx, cg_tensor *logits, cg_tensor *x, cg_reduce red)
{
    static const char *names[2] = {"logits", "x"};
    return bce_logits(ctx, "bernoulli_nll", names, logits, x, red);
}

/* ---- mse ---------------------------------------------------------------------------- */
static cg_status mse_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *x = nd->in[0], *t = nd->in[1];
    const real *dout = nd->out->grad;
    return OP_RUN_BWD(ctx, nd->op, x->dev,
                      cpu_mse_bwd(dx[0], dx[1], dout, x->data, t->data, nd->f[0], x->n),
                      cuda_mse_bwd(dx[0], dx[1], dout, x->data, t->data, nd->f[0], x->n));
}

cg_tensor *cg_mse(cg_ctx *ctx, cg_tensor *x, cg_tensor *target, cg_reduce red)
{
    static const char *names[2] = {"x", "target"};
    cg_tensor *in[2] = {x, target};
    double scale;
    cg_tensor *out = loss_begin(ctx, "mse", in, names, 2, 0, red, &scale);
    if (!out)
        return NULL;
    if (!OP_RUN(ctx, "mse", x->dev, cpu_mse_fwd(out->data, x->data, target->data, scale, x->n),
                cuda_mse_fwd(out->data, x->data, target->data, scale, x->n)))
        return NULL;
    loss_record(ctx, "mse", mse_bwd, out, in, 2, scale);
    return out;
}

/* ---- gaussian_kl ---------------------------------------------------------------------- */
static cg_status gaussian_kl_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *mu = nd->in[0], *lv = nd->in[1];
    const real *dout = nd->out->grad;
    return OP_RUN_BWD(ctx, nd->op, mu->dev,
                      cpu_gaussian_kl_bwd(dx[0], dx[1], dout, mu->data, lv->data, nd->f[0], mu->n),
                      cuda_gaussian_kl_bwd(dx[0], dx[1], dout, mu->data, lv->data, nd->f[0],
                                           mu->n));
}

cg_tensor *cg_gaussian_kl(cg_ctx *ctx, cg_tensor *mu, cg_tensor *logvar, cg_reduce red)
{
    static const char *names[2] = {"mu", "logvar"};
    cg_tensor *in[2] = {mu, logvar};
    double scale;
    cg_tensor *out = loss_begin(ctx, "gaussian_kl", in, names, 2, 0, red, &scale);
    if (!out)
        return NULL;
    if (!OP_RUN(ctx, "gaussian_kl", mu->dev,
                cpu_gaussian_kl_fwd(out->data, mu->data, logvar->data, scale, mu->n),
                cuda_gaussian_kl_fwd(out->data, mu->data, logvar->data, scale, mu->n)))
        return NULL;
    loss_record(ctx, "gaussian_kl", gaussian_kl_bwd, out, in, 2, scale);
    return out;
}

/* ---- gaussian_nll --------------------------------------------------------------------- */
static cg_status gaussian_nll_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *x = nd->in[0], *mu = nd->in[1], *lv = nd->in[2];
    const real *dout = nd->out->grad;
    return OP_RUN_BWD(ctx, nd->op, x->dev,
                      cpu_gaussian_nll_bwd(dx[0], dx[1], dx[2], dout, x->data, mu->data,
                                           lv->data, lv->n, nd->f[0], x->n),
                      cuda_gaussian_nll_bwd(dx[0], dx[1], dx[2], dout, x->data, mu->data,
                                            lv->data, lv->n, nd->f[0], x->n));
}

cg_tensor *cg_gaussian_nll(cg_ctx *ctx, cg_tensor *x, cg_tensor *mu, cg_tensor *logvar,
                           cg_reduce red)
{
    static const char *names[3] = {"x", "mu", "logvar"};
    cg_tensor *in[3] = {x, mu, logvar};
    double scale;
    cg_tensor *out = loss_begin(ctx, "gaussian_nll", in, names, 3, 1, red, &scale);
    if (!out)
        return NULL;
    if (!OP_RUN(ctx, "gaussian_nll", x->dev,
                cpu_gaussian_nll_fwd(out->data, x->data, mu->data, logvar->data, logvar->n,
                                     scale, x->n),
                cuda_gaussian_nll_fwd(out->data, x->data, mu->data, logvar->data, logvar->n,
                                      scale, x->n)))
        return NULL;
    loss_record(ctx, "gaussian_nll", gaussian_nll_bwd, out, in, 3, scale);
    return out;
}

/* ---- softmax_xent --------------------------------------------------------------------- */
static cg_status softmax_xent_bwd(cg_ctx *ctx, cg_node *nd, real *dx[CG_MAX_IN])
{
    cg_tensor *z = nd->in[0];
    const real *dout = nd->out->grad;
    int N = z->shape[0], K = z->shape[1];
    if (!dx[0])
        return CG_OK;
    return OP_RUN_BWD(ctx, nd->op, z->dev,
                      cpu_softmax_xent_bwd(dx[0], dout, z->data, nd->aux, nd->f[0], N, K),
                      cuda_softmax_xent_bwd(dx[0], dout, z->data, nd->aux, nd->f[0], N, K));
}

cg_tensor *cg_softmax_xent(cg_ctx *ctx, cg_tensor *logits, const int32_t *labels, cg_reduce red)
{
    static const char *op = "softmax_xent";
    if (!op_begin(ctx, op, &logits, 1, 1))
        return NULL;
    if (logits->ndim != 2)
        return op_fail(ctx, op, "logits %s must be 2-D (N, K)", CG_SHAPE_STR(logits));
    if (!labels)
        return op_fail(ctx, op, "labels are NULL");
    int N = logits->shape[0], K = logits->shape[1];
    for (int n = 0; n < N; n++)
        if (labels[n] < 0 || labels[n] >= K)
            return op_fail(ctx, op, "label %d of row %d is outside [0, %d)", (int)labels[n], n,
                           K);
    double scale;  /* per row: batchmean is mean */
    if (!reduce_scale(ctx, op, red, N, N, &scale))
        return NULL;
    cg_tensor *out = op_out(ctx, logits, CG_SHAPE(1));
    if (!out)
        return NULL;
    /* the labels on the logits' device, a copy the node can keep (the
     * caller's need not outlive this call) */
    const int32_t *lab = op_host_copy(ctx, op, logits->dev, labels,
                                      sizeof(int32_t) * (size_t)N, "labels");
    if (!lab)
        return NULL;
    if (!OP_RUN(ctx, op, logits->dev, cpu_softmax_xent_fwd(out->data, logits->data, lab, scale,
                                                           N, K),
                cuda_softmax_xent_fwd(out->data, logits->data, lab, scale, N, K)))
        return NULL;
    cg_node *nd = cg_record(ctx, op, softmax_xent_bwd, out, &logits, 1, 0);
    if (nd) {
        nd->aux = (void *)lab;
        nd->f[0] = scale;
    }
    return out;
}
