/*
 * test_torch_refs.c: cugen against PyTorch, from the files that
 * scripts/make_refs.py wrote into tests/ref/ (`make refs` regenerates them).
 * Here: linear (output and the gradients of x, w, b for sum(y * dy)), and
 * Adam, AdamW and SGD (momentum with dampening; Nesterov) over five steps of
 * given gradients. The conv and norm cases are in test_torch_refs_conv.c and
 * test_torch_refs_norm.c.
 *
 * Tolerance: ||cugen - torch|| / ||torch|| < 1e-5, the per-op float32 bound
 * of the design. The op references are computed in float64 from the float32
 * inputs and rounded to float32, so the error measured is cugen's own
 * (float32 storage, double accumulation: about 1e-7 at these sizes). The
 * optimizer references are PyTorch's float32 trajectory; cugen computes each
 * update in double and stores float32, and the hyperparameters are read back
 * from float32 (lr 0.01 becomes 0.0099999998): both differences are below
 * 1e-7 per step.
 */
#include <string.h>

#include "cugen/ops.h"
#include "cugen/optim.h"
#include "harness.h"
#include "ref.h"

#define REF_TOL 1e-5

TEST(torch_ref_linear)
{
    ref_file rf;
    REQUIRE(REF_OPEN(&rf, "linear"));
    cg_tensor *x = REF_LEAF(&rf, "x"), *w = REF_LEAF(&rf, "w"), *b = REF_LEAF(&rf, "b");
    REQUIRE(x && w && b);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *y = cg_linear(&ctx, x, w, b);
    if (REF_BACKWARD(&ctx, &rf, y)) {
        REF_CHECK_DATA(&rf, "y", y, REF_TOL);
        REF_CHECK_GRAD(&rf, "dx", x, REF_TOL);
        REF_CHECK_GRAD(&rf, "dw", w, REF_TOL);
        REF_CHECK_GRAD(&rf, "db", b, REF_TOL);
    }
    cg_ctx_free(&ctx);
    ref_free(&rf);
}

/* ---- optimizers: p0 (13) and p1 (6), gradients grad<s>.<i>, parameters
 * after<s>.<i> after step s = 1..5 (see optim_case in make_refs.py) ---------- */
enum { OPT_ADAM, OPT_SGD };
#define OPT_STEPS 5
#define OPT_TENSORS 2

static void optim_ref(const char *name, int kind)
{
    ref_file rf;
    if (!REF_OPEN(&rf, name))
        return;
    cg_params p;
    cg_params_init(&p);
    cg_tensor *t[OPT_TENSORS];
    for (int i = 0; i < OPT_TENSORS; i++) {
        char key[32];
        snprintf(key, sizeof key, "p%d", i);
        const ref_tensor *r = REF_GET(&rf, key);
        REQUIRE(r);
        t[i] = cg_param(&p, key, r->shape, r->ndim, 0);
        REQUIRE(t[i]);
    }
    REQUIRE(cg_params_alloc(&p) == CG_OK);
    for (int i = 0; i < OPT_TENSORS; i++) {
        char key[32];
        snprintf(key, sizeof key, "p%d", i);
        memcpy(t[i]->data, REF_GET(&rf, key)->data, sizeof(real) * (size_t)t[i]->n);
    }

    /* cfg: Adam (lr, beta1, beta2, eps, weight_decay, decoupled),
     *      SGD (lr, momentum, dampening, weight_decay, nesterov) */
    cg_adam adam;
    cg_sgd sgd;
    if (kind == OPT_ADAM)
        cg_adam_init(&adam, ref_cfg(&rf, 0), ref_cfg(&rf, 1), ref_cfg(&rf, 2), ref_cfg(&rf, 3),
                     ref_cfg(&rf, 4), ref_cfg(&rf, 5) != 0);
    else
        cg_sgd_init(&sgd, ref_cfg(&rf, 0), ref_cfg(&rf, 1), ref_cfg(&rf, 2), ref_cfg(&rf, 3),
                    ref_cfg(&rf, 4) != 0);

    double worst = 0;
    for (int s = 1; s <= OPT_STEPS && !th_failed(); s++) {
        for (int i = 0; i < OPT_TENSORS; i++) {
            char key[32];
            snprintf(key, sizeof key, "grad%d.%d", s, i);
            const ref_tensor *g = REF_GET(&rf, key);
            REQUIRE(g && g->n == t[i]->n);
            memcpy(t[i]->grad, g->data, sizeof(real) * (size_t)g->n);
        }
        cg_status st = kind == OPT_ADAM ? cg_adam_step(&adam, &p) : cg_sgd_step(&sgd, &p);
        REQUIRE(st == CG_OK, "step %d: %s", s, cg_status_str(st));
        for (int i = 0; i < OPT_TENSORS; i++) {
            char key[32];
            snprintf(key, sizeof key, "after%d.%d", s, i);
            double e = REF_CHECK_DATA_QUIET(&rf, key, t[i], REF_TOL);
            if (e > worst)
                worst = e;
        }
    }
    printf("    %s: worst rel err over %d steps %.2e\n", name, OPT_STEPS, worst);
    cg_params_free(&p);
    ref_free(&rf);
}

/* lr 0.01, betas (0.9, 0.999), eps 1e-8, L2 weight decay 0.01 */
TEST(torch_ref_adam) { optim_ref("adam", OPT_ADAM); }
/* the same with decoupled weight decay 0.1 (torch.optim.AdamW) */
TEST(torch_ref_adamw) { optim_ref("adamw", OPT_ADAM); }
/* lr 0.05, momentum 0.9, dampening 0.1, weight decay 0.01 */
TEST(torch_ref_sgd_momentum) { optim_ref("sgd_momentum", OPT_SGD); }
/* lr 0.05, momentum 0.9, Nesterov, weight decay 0.01 */
TEST(torch_ref_sgd_nesterov) { optim_ref("sgd_nesterov", OPT_SGD); }
