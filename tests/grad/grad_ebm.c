/*
 * grad_ebm.c: the energy's input gradient as Langevin dynamics takes it
 * (cg_ebm_input_grad: the weights frozen) against central differences of
 * sum E, in double, for the article's MLP and the conv energy; and the
 * weights' gradients untouched by it. Step 1e-6: the differences of a
 * smooth (SiLU) net are then exact to about 1e-10. The ReLU MLP's would
 * jump where a pre-activation lies within the step of 0; at this seed none
 * does. Bound 1e-6 relative, the gradchecks' own.
 */
#include <math.h>
#include <string.h>

#include "cugen/ebm.h"
#include "cugen/ops.h"
#include "cugen/tape.h"
#include "harness.h"

static double energy_sum(cg_ctx *ctx, cg_ebm *m, cg_tensor *x)
{
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *e = cg_sum(ctx, cg_ebm_energy(ctx, m, x));
    cg_set_grad(ctx, prev);
    return e ? e->data[0] : NAN;
}

static void check_input_grad(cg_ebm_net net, int C, int S, int hidden)
{
    cg_ebm_arch a = {.net = net, .channels = C, .height = S, .width = S, .hidden = hidden};
    cg_ebm m;
    char err[256];
    REQUIRE(cg_ebm_build(&m, &a, 11, 1, err, sizeof err) == CG_OK, "%s", err);
    for (int64_t i = 0; i < m.p.n; i++)
        m.p.g[i] = 0.5;
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(2, C, S, S), 12, 0.0, 1.0, 1);
    cg_tensor *g = cg_ebm_input_grad(&ctx, &m, x);
    REQUIRE(g, "%s", ctx.errmsg);
    const double h = 1e-6;
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < x->n; i++) {
        real keep = x->data[i];
        x->data[i] = keep + h;
        double up = energy_sum(&ctx, &m, x);
        x->data[i] = keep - h;
        double down = energy_sum(&ctx, &m, x);
        x->data[i] = keep;
        double fd = (up - down) / (2 * h);
        worst = fmax(worst, fabs(fd - g->data[i]));
        scale = fmax(scale, fabs(fd));
    }
    CHECK(scale > 0 && worst / scale < 1e-6, "%s: dE/dx off by %.3g of %.3g",
          net == CG_EBM_MLP ? "mlp" : "cnn", worst, scale);
    for (int64_t i = 0; i < m.p.n; i++)
        if (m.p.g[i] != 0.5) {
            CHECK(0, "weight gradient %lld written while taking dE/dx", (long long)i);
            break;
        }
    cg_ctx_free(&ctx);
    cg_ebm_free(&m);
}

TEST(gradcheck_ebm_input_grad)
{
    check_input_grad(CG_EBM_MLP, 1, 5, 7);
    check_input_grad(CG_EBM_CNN, 1, 28, 4);
    check_input_grad(CG_EBM_CNN, 3, 12, 2);
}
