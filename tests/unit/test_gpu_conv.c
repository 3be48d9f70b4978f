/*
 * test_gpu_conv.c: a small conv net (conv, batch norm, leaky ReLU,
 * conv-transpose, tanh, MSE) trained 3 Adam steps from the same seed on
 * both devices through the op front ends and the tape: its parameters and
 * running stats agree to 1e-4 (DESIGN.md's bound for a whole step: three
 * Adam steps amplify the ops' rounding differences in the parameters whose
 * gradients are near zero). Each conv op on its own, in FP32 and TF32, is a
 * row of the op table (test_op_table.c). Skipped without a GPU (failed
 * under make test-gpu).
 */
#include "cugen/nn.h"
#include "cugen/ops.h"
#include "cugen/optim.h"
#include "gpu_check.h"

#define NET_TOL 1e-4

/* ---- a small conv net, 3 Adam steps on each device ----------------------------------- */
/* The conv before the batch norm has no bias (as in DCGAN): training-mode
 * batch norm removes any per-channel shift, so that bias's gradient is zero
 * up to rounding, and Adam, which divides by the gradient's own scale, would
 * turn each device's rounding noise into steps of up to lr in either
 * direction. The conv-transpose's bias carries the bias path. */
typedef struct {
    cg_params p;
    cg_tensor *cw, *g, *bt, *tw, *tb, *rm, *rv;
} net;

static int net_make(net *m, uint64_t seed)
{
    cg_params_init(&m->p);
    m->cw = cg_param(&m->p, "conv.weight", CG_SHAPE(6, 3, 3, 3), 0);
    m->g = cg_param(&m->p, "bn.weight", CG_SHAPE(6), 0);
    m->bt = cg_param(&m->p, "bn.bias", CG_SHAPE(6), 0);
    m->tw = cg_param(&m->p, "convt.weight", CG_SHAPE(6, 3, 3, 3), 0);
    m->tb = cg_param(&m->p, "convt.bias", CG_SHAPE(3), 0);
    m->rm = cg_buffer(&m->p, "bn.running_mean", CG_SHAPE(6));
    m->rv = cg_buffer(&m->p, "bn.running_var", CG_SHAPE(6));
    if (!m->cw || !m->g || !m->bt || !m->tw || !m->tb || !m->rm || !m->rv ||
        cg_params_alloc(&m->p) != CG_OK)
        return 0;
    cg_rng r;
    cg_rng_init(&r, seed, 0);
    cg_init_normal(m->cw, &r, 0, 0.3);
    cg_init_uniform(m->g, &r, 0.5, 1.5);
    cg_init_normal(m->bt, &r, 0, 0.1);
    cg_init_normal(m->tw, &r, 0, 0.3);
    cg_init_normal(m->tb, &r, 0, 0.1);
    cg_init_const(m->rv, 1);
    return 1;
}

/* One training step on x (4, 3, 9, 9) towards t; host inputs, moved to the
 * parameters' device. */
static int net_step(net *m, cg_ctx *ctx, cg_adam *opt, real *xh, real *th)
{
    cg_tensor *x = cg_wrap(ctx, xh, CG_SHAPE(4, 3, 9, 9));
    cg_tensor *t = cg_wrap(ctx, th, CG_SHAPE(4, 3, 9, 9));
    if (m->p.dev == CG_CUDA) {
        x = cg_to_device(ctx, x, CG_CUDA);
        t = cg_to_device(ctx, t, CG_CUDA);
    }
    cg_tensor *h = cg_conv2d(ctx, x, m->cw, NULL, 2, 1);                /* (4, 6, 5, 5) */
    h = cg_batchnorm(ctx, h, m->g, m->bt, m->rm, m->rv, 1, 0.1, 1e-5);
    h = cg_leaky_relu(ctx, h, 0.2);
    h = cg_conv_transpose2d(ctx, h, m->tw, m->tb, 2, 1);                /* (4, 3, 9, 9) */
    h = cg_tanh(ctx, h);
    cg_tensor *loss = cg_mse(ctx, h, t, CG_REDUCE_MEAN);
    if (cg_params_zero_grad(&m->p) != CG_OK || !loss || cg_backward(ctx, loss) != CG_OK ||
        cg_adam_step(opt, &m->p) != CG_OK) {
        th_fail(__FILE__, __LINE__, "step on %s: %s (%s)", m->p.dev == CG_CUDA ? "GPU" : "CPU",
                ctx->errmsg, cg_cuda_last_error());
        return 0;
    }
    cg_ctx_step_end(ctx);
    return 1;
}

TEST(gpu_conv_net_trains_like_cpu)
{
    GPU_OR_SKIP();
    net c, g;
    char err[256];
    REQUIRE(net_make(&c, 5) && net_make(&g, 5));
    REQUIRE(cg_params_to_device(&g.p, err, sizeof err) == CG_OK, "%s", err);
    cg_ctx cc, cgpu;
    REQUIRE(cg_ctx_init(&cc) == CG_OK && cg_ctx_init(&cgpu) == CG_OK);
    cg_adam ac, ag;
    cg_adam_init(&ac, 0.01, 0.5, 0.999, 1e-8, 0, 0);
    ag = ac;
    int ok = 1;
    for (int step = 0; step < 3 && ok; step++) {
        real *x = gpu_rand(40 + step, 4 * 3 * 9 * 9, 0.05, 1, 1);
        real *t = gpu_rand(50 + step, 4 * 3 * 9 * 9, 0.05, 0.9, 1);
        ok = net_step(&c, &cc, &ac, x, t) && net_step(&g, &cgpu, &ag, x, t);
    }
    if (ok) {
        gpu_compare("parameters after 3 Adam steps", gpu_get(g.p.w, g.p.n), c.p.w, c.p.n,
                    NET_TOL);
        gpu_compare("running stats after 3 steps", gpu_get(g.p.buf, g.p.nbuf), c.p.buf,
                    c.p.nbuf, NET_TOL);
    }
    cg_ctx_free(&cc);
    cg_ctx_free(&cgpu);
    cg_params_free(&c.p);
    cg_params_free(&g.p);
    gpu_free_all();
}
