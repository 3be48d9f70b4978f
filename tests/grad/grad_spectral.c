/*
 * grad_spectral.c: gradchecks of cg_spectral_norm in eval form (u and v
 * fixed, no power iteration), which is the function whose derivative the
 * op's backward is: W / sigma(W) with sigma = u . W v. Dim 0 on a matrix and
 * on a conv weight (Conv2d's reshape (out, -1)), dim 1 on a ConvTranspose2d
 * weight (permuted to (out, in k k)), and the normalised weight inside a
 * convolution, so the gradient arrives through another op.
 */
#include "cugen/ops.h"
#include "harness.h"

typedef struct {
    cg_tensor *u, *v;
    int dim;
} sn_arg;

static cg_tensor *f_sn(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    sn_arg *a = arg;
    return cg_spectral_norm(ctx, in[0], a->u, a->v, a->dim, 0);
}

/* conv2d(x, sn(w)): in[0] = w (5, 3, 3, 3), in[1] = x (2, 3, 7, 7) */
static cg_tensor *f_conv(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    sn_arg *a = arg;
    return cg_conv2d(ctx, in[1], cg_spectral_norm(ctx, in[0], a->u, a->v, 0, 0), NULL, 2, 1);
}

/* conv_transpose2d(x, sn(w)): in[0] = w (3, 4, 3, 3), in[1] = x (2, 3, 4, 4) */
static cg_tensor *f_convt(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    sn_arg *a = arg;
    return cg_conv_transpose2d(ctx, in[1], cg_spectral_norm(ctx, in[0], a->u, a->v, 1, 0),
                               NULL, 2, 1);
}

TEST(gradcheck_spectral_norm)
{
    sn_arg m = {th_const(CG_SHAPE(7), 71, 0.2, 1.2, 1), th_const(CG_SHAPE(5), 72, 0.2, 1.2, 1),
                0};
    cg_tensor *w[1] = {TH_LEAF(73, 7, 5)};
    GRADCHECK("spectral_norm (7, 5) dim 0", f_sn, &m, w, 1);

    sn_arg c = {th_const(CG_SHAPE(5), 74, 0.2, 1.2, 1), th_const(CG_SHAPE(27), 75, 0.2, 1.2, 1),
                0};
    cg_tensor *cw[2] = {TH_LEAF(76, 5, 3, 3, 3), TH_LEAF(77, 2, 3, 7, 7)};
    GRADCHECK("spectral_norm (5, 3, 3, 3) dim 0", f_sn, &c, cw, 1);
    GRADCHECK("conv2d with a spectrally normalised weight", f_conv, &c, cw, 2);

    sn_arg t = {th_const(CG_SHAPE(4), 78, 0.2, 1.2, 1), th_const(CG_SHAPE(27), 79, 0.2, 1.2, 1),
                1};
    cg_tensor *tw[2] = {TH_LEAF(80, 3, 4, 3, 3), TH_LEAF(81, 2, 3, 4, 4)};
    GRADCHECK("spectral_norm (3, 4, 3, 3) dim 1", f_sn, &t, tw, 1);
    GRADCHECK("conv_transpose2d with a spectrally normalised weight (dim 1)", f_convt, &t, tw,
              2);
}
