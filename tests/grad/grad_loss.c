/*
 * grad_loss.c: gradchecks of the losses (each under all three reductions)
 * and of the squared MMD. Inputs that are probabilities or targets are drawn
 * inside their valid ranges.
 */
#include "cugen/ops.h"
#include "harness.h"

/* ---- mmd ------------------------------------------------------------------------ */
static const double mmd_sigmas[2] = {0.7, 2.0};

static cg_tensor *f_mmd(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_mmd2_rbf(ctx, in[0], in[1], mmd_sigmas, *(int *)arg);
}

TEST(gradcheck_mmd2_rbf)
{
    int one = 1, two = 2;
    cg_tensor *in[2] = {TH_LEAF(40, 7, 5), TH_LEAF(41, 9, 5)};
    GRADCHECK("mmd2_rbf x (7, 5) y (9, 5), 1 sigma", f_mmd, &one, in, 2);
    GRADCHECK("mmd2_rbf x (7, 5) y (9, 5), 2 sigmas", f_mmd, &two, in, 2);
    /* y shifted away from x: the cross term dominates */
    cg_tensor *far[2] = {TH_LEAF(42, 5, 3), th_leaf(CG_SHAPE(6, 3), 43, 1.0, 2.0, 0)};
    GRADCHECK("mmd2_rbf x (5, 3) y (6, 3) apart", f_mmd, &two, far, 2);
}

/* ---- elementwise losses, each under mean, sum and batchmean ------------------------- */
static const struct {
    cg_reduce red;
    const char *name;
} reductions[3] = {
    {CG_REDUCE_MEAN, "mean"}, {CG_REDUCE_SUM, "sum"}, {CG_REDUCE_BATCHMEAN, "batchmean"}};

typedef cg_tensor *(*loss2_fn)(cg_ctx *, cg_tensor *, cg_tensor *, cg_reduce);

typedef struct {
    loss2_fn fn;
    cg_reduce red;
} loss2_arg;

static cg_tensor *f_loss2(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const loss2_arg *a = arg;
    return a->fn(ctx, in[0], in[1], a->red);
}

static void check_loss2(const char *name, loss2_fn fn, cg_tensor *a, cg_tensor *b)
{
    for (int r = 0; r < 3; r++) {
        char what[64];
        snprintf(what, sizeof what, "%s %s", name, reductions[r].name);
        loss2_arg arg = {fn, reductions[r].red};
        cg_tensor *in[2] = {a, b};
        GRADCHECK(what, f_loss2, &arg, in, 2);
    }
}

/* p in (0.05, 0.95), targets in [0, 1]; both differentiated */
TEST(gradcheck_bce)
{
    check_loss2("bce", cg_bce, th_leaf(CG_SHAPE(3, 5, 7), 50, 0.05, 0.95, 0),
                th_leaf(CG_SHAPE(3, 5, 7), 51, 0.0, 1.0, 0));
}

TEST(gradcheck_bce_with_logits)
{
    check_loss2("bce_with_logits", cg_bce_with_logits, th_leaf(CG_SHAPE(3, 5, 7), 52, 0.2, 4, 1),
                th_leaf(CG_SHAPE(3, 5, 7), 53, 0.0, 1.0, 0));
}

TEST(gradcheck_bernoulli_nll)
{
    check_loss2("bernoulli_nll", cg_bernoulli_nll, TH_LEAF(54, 5, 9),
                th_leaf(CG_SHAPE(5, 9), 55, 0.0, 1.0, 0));
}

TEST(gradcheck_mse)
{
    check_loss2("mse", cg_mse, TH_LEAF(56, 3, 5, 7), TH_LEAF(57, 3, 5, 7));
}

TEST(gradcheck_gaussian_kl)
{
    check_loss2("gaussian_kl", cg_gaussian_kl, TH_LEAF(58, 5, 9), TH_LEAF(59, 5, 9));
}

/* ---- gaussian_nll: logvar per element or one shared ------------------------------- */
static cg_tensor *f_gaussian_nll(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_gaussian_nll(ctx, in[0], in[1], in[2], *(const cg_reduce *)arg);
}

TEST(gradcheck_gaussian_nll)
{
    cg_tensor *x = TH_LEAF(60, 3, 5, 7), *mu = TH_LEAF(61, 3, 5, 7);
    cg_tensor *lv_full = TH_LEAF(62, 3, 5, 7), *lv_one = TH_LEAF(63, 1);
    for (int r = 0; r < 3; r++) {
        char what[64];
        cg_tensor *full[3] = {x, mu, lv_full}, *shared[3] = {x, mu, lv_one};
        snprintf(what, sizeof what, "gaussian_nll %s", reductions[r].name);
        GRADCHECK(what, f_gaussian_nll, (void *)&reductions[r].red, full, 3);
        snprintf(what, sizeof what, "gaussian_nll shared logvar %s", reductions[r].name);
        GRADCHECK(what, f_gaussian_nll, (void *)&reductions[r].red, shared, 3);
    }
}

/* ---- softmax_xent --------------------------------------------------------------------- */
static const int32_t xent_labels[7] = {0, 4, 2, 2, 1, 3, 4};

static cg_tensor *f_xent(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_softmax_xent(ctx, in[0], xent_labels, *(const cg_reduce *)arg);
}

TEST(gradcheck_softmax_xent)
{
    cg_tensor *in[1] = {th_leaf(CG_SHAPE(7, 5), 64, 0.2, 3, 1)};
    for (int r = 0; r < 3; r++) {
        char what[64];
        snprintf(what, sizeof what, "softmax_xent %s", reductions[r].name);
        GRADCHECK(what, f_xent, (void *)&reductions[r].red, in, 1);
    }
}
