/*
 * grad_create_graph.c: second derivatives through the tape's create-graph
 * mode (cg_grad), in double.
 *
 * For f and a chosen input x, with fixed random w (out's shape) and v (x's
 * shape), s = v . grad_x sum(w * f(in)). The analytic derivative of s with
 * respect to every input (x and the weights) comes from cg_grad (the
 * gradient as ops) followed by cg_backward of sum(v * g); the numeric one
 * from central differences of s, where s is computed by the ordinary
 * first-order backward. So the check ties the ops-built gradients, the raw
 * backward passes they are compared with, and the backward passes of the
 * ops the gradients are made of. The gradient cg_grad returns must also
 * equal the first-order one.
 *
 * Bounds: 1e-6 max relative error, the first-order gradcheck's bound (step
 * 1e-6: truncation h^2 ~ 1e-12, rounding 1e-16 / h ~ 1e-10 relative); the
 * gradient itself to 1e-10 (the two backward passes differ only in the
 * order of double roundings). A case whose second derivative is zero
 * everywhere would pass anything, so each checked input must have one:
 * the ops that are linear in x are followed by tanh.
 */
#include <math.h>
#include <string.h>

#include "cugen/ops.h"
#include "cugen/rng.h"
#include "harness.h"

#define TOL2 1e-6
#define TOL_G 1e-10

static void zero_grads(cg_tensor **in, int nin)
{
    for (int i = 0; i < nin; i++)
        if (in[i] && in[i]->requires_grad)
            memset(in[i]->grad, 0, sizeof(real) * (size_t)in[i]->n);
}

static void random_pm1(real *p, int64_t n, uint64_t seed)
{
    cg_rng r;
    cg_rng_init(&r, seed, 7);
    cg_rng_uniform(&r, p, n);
    for (int64_t i = 0; i < n; i++)
        p[i] = (real)(2.0 * (double)p[i] - 1.0);
}

/* grad_x sum(w f(in)) by the first-order backward, into gx; 0 on failure */
static int first_order(cg_ctx *ctx, th_fn f, void *arg, cg_tensor **in, int nin, int ix,
                       const real *w, real *gx)
{
    zero_grads(in, nin);
    cg_tensor *y = f(ctx, in, arg);
    int ok = y && cg_ok(ctx) && cg_backward_from(ctx, y, w) == CG_OK;
    if (ok)
        memcpy(gx, in[ix]->grad, sizeof(real) * (size_t)in[ix]->n);
    cg_ctx_step_end(ctx);
    return ok;
}

static double dot(const real *a, const real *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static double max_abs(const real *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i]));
    return m;
}

static void gradcheck2_impl(const char *file, int line, const char *what, th_fn f, void *arg,
                            cg_tensor **in, int nin, int ix)
{
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK) {
        th_fail(file, line, "%s: no context", what);
        return;
    }
    cg_tensor *x = in[ix];
    zero_grads(in, nin);
    cg_tensor *y = f(&ctx, in, arg);
    if (!y || !cg_ok(&ctx)) {
        th_fail(file, line, "%s: forward failed: %s", what, ctx.errmsg);
        cg_ctx_free(&ctx);
        return;
    }
    real *w = th_alloc(sizeof(real) * (size_t)y->n), *v = th_alloc(sizeof(real) * (size_t)x->n);
    random_pm1(w, y->n, 12345);
    random_pm1(v, x->n, 54321);
    cg_tensor *wt = cg_new_like(&ctx, y), *vt = cg_new_like(&ctx, x);
    memcpy(wt->data, w, sizeof(real) * (size_t)y->n);
    memcpy(vt->data, v, sizeof(real) * (size_t)x->n);
    cg_tensor *g;
    cg_grad(&ctx, y, wt, &x, 1, &g);
    cg_tensor *s = cg_sum(&ctx, cg_mul(&ctx, g, vt));
    if (!s || !cg_ok(&ctx) || cg_backward(&ctx, s) != CG_OK) {
        th_fail(file, line, "%s: create-graph pass failed: %s", what, ctx.errmsg);
        cg_ctx_free(&ctx);
        return;
    }
    real *g_graph = th_alloc(sizeof(real) * (size_t)x->n);
    memcpy(g_graph, g->data, sizeof(real) * (size_t)x->n);
    real *analytic[8] = {0};
    for (int i = 0; i < nin; i++)
        if (in[i] && in[i]->requires_grad) {
            analytic[i] = th_alloc(sizeof(real) * (size_t)in[i]->n);
            memcpy(analytic[i], in[i]->grad, sizeof(real) * (size_t)in[i]->n);
        }
    cg_ctx_step_end(&ctx);

    real *gx = th_alloc(sizeof(real) * (size_t)x->n);
    if (!first_order(&ctx, f, arg, in, nin, ix, w, gx)) {
        th_fail(file, line, "%s: first-order backward failed: %s", what, ctx.errmsg);
        cg_ctx_free(&ctx);
        return;
    }
    double gerr = th_max_rel_err(g_graph, gx, x->n);
    printf("    %-36s gradient as ops vs first order: max rel err %.2e\n", what, gerr);
    if (!(gerr < TOL_G))
        th_fail(file, line, "%s: the create-graph gradient differs from the first-order one "
                "(max rel err %.3e)", what, gerr);

    const double h = 1e-6;
    for (int i = 0; i < nin; i++) {
        cg_tensor *t = in[i];
        if (!analytic[i])
            continue;
        real *num = th_alloc(sizeof(real) * (size_t)t->n);
        int ok = 1;
        for (int64_t j = 0; j < t->n && ok; j++) {
            real keep = t->data[j];
            t->data[j] = (real)(keep + h);
            ok &= first_order(&ctx, f, arg, in, nin, ix, w, gx);
            double sp = dot(v, gx, x->n);
            t->data[j] = (real)(keep - h);
            ok &= first_order(&ctx, f, arg, in, nin, ix, w, gx);
            double sm = dot(v, gx, x->n);
            t->data[j] = keep;
            num[j] = (real)((sp - sm) / (2 * h));
        }
        if (!ok) {
            th_fail(file, line, "%s: backward failed during finite differences: %s", what,
                    ctx.errmsg);
            break;
        }
        if (!(max_abs(num, t->n) > 1e-6)) {
            th_fail(file, line, "%s: input %d has no second derivative here (max %.1e): the "
                    "case checks nothing", what, i, max_abs(num, t->n));
            continue;
        }
        double err = th_max_rel_err(analytic[i], num, t->n);
        printf("    %-36s d(v.grad)/d input %d (%lld values): max rel err %.2e\n", what, i,
               (long long)t->n, err);
        if (!(err < TOL2))
            th_fail(file, line, "%s: second derivative w.r.t. input %d off: max rel err %.3e "
                    ">= %.0e", what, i, err, TOL2);
    }
    cg_ctx_free(&ctx);
}

/* in[ix] is x; every input made with TH_LEAF is checked */
#define GRADCHECK2(what, f, arg, in, nin, ix) \
    gradcheck2_impl(__FILE__, __LINE__, (what), (f), (arg), (in), (nin), (ix))

#define TH_POS(seed, ...) th_leaf(CG_SHAPE(__VA_ARGS__), (seed), 0.3, 1.5, 0)

/* ---- dense ------------------------------------------------------------------------ */
static cg_tensor *f_linear(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_tanh(ctx, cg_linear(ctx, in[0], in[1], in[2]));
}

TEST(gradcheck2_linear)
{
    cg_tensor *in[3] = {TH_LEAF(1, 5, 7), TH_LEAF(2, 3, 7), TH_LEAF(3, 3)};
    GRADCHECK2("linear", f_linear, NULL, in, 3, 0);
}

static cg_tensor *f_bmm(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const int *t = arg;
    return cg_tanh(ctx, cg_bmm(ctx, in[0], in[1], t[0], t[1]));
}

TEST(gradcheck2_bmm)
{
    static const int flags[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
    for (int k = 0; k < 4; k++) {
        int ta = flags[k][0], tb = flags[k][1];
        cg_tensor *a = ta ? TH_LEAF(4, 2, 4, 3) : TH_LEAF(4, 2, 3, 4);
        cg_tensor *b = tb ? TH_LEAF(5, 2, 5, 4) : TH_LEAF(5, 2, 4, 5);
        cg_tensor *in[2] = {a, b};
        char what[64];
        snprintf(what, sizeof what, "bmm ta %d tb %d (x = a)", ta, tb);
        GRADCHECK2(what, f_bmm, (void *)flags[k], in, 2, 0);
        snprintf(what, sizeof what, "bmm ta %d tb %d (x = b)", ta, tb);
        GRADCHECK2(what, f_bmm, (void *)flags[k], in, 2, 1);
    }
}

/* ---- convolutions ------------------------------------------------------------------ */
typedef struct {
    int stride, ph, pw;
} conv_arg;

static cg_tensor *f_conv2d(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const conv_arg *c = arg;
    return cg_tanh(ctx, cg_conv2d_hw(ctx, in[0], in[1], in[2], c->stride, c->ph, c->pw));
}

TEST(gradcheck2_conv2d)
{
    {   /* DCGAN's downsampling conv */
        conv_arg c = {2, 1, 1};
        cg_tensor *in[3] = {TH_LEAF(6, 2, 3, 6, 6), TH_LEAF(7, 4, 3, 4, 4), TH_LEAF(8, 4)};
        GRADCHECK2("conv2d k4 s2 p1", f_conv2d, &c, in, 3, 0);
    }
    {   /* stride 1, 3x3: the CPU's shifted-GEMM path */
        conv_arg c = {1, 1, 1};
        cg_tensor *in[3] = {TH_LEAF(9, 2, 2, 7, 7), TH_LEAF(10, 3, 2, 3, 3), TH_LEAF(11, 3)};
        GRADCHECK2("conv2d k3 s1 p1", f_conv2d, &c, in, 3, 0);
    }
    {   /* a stride that skips the last row and column: D keeps H = 8 */
        conv_arg c = {2, 0, 0};
        cg_tensor *in[3] = {TH_LEAF(12, 2, 2, 8, 8), TH_LEAF(13, 3, 2, 3, 3), NULL};
        GRADCHECK2("conv2d k3 s2 p0 on 8x8", f_conv2d, &c, in, 3, 0);
    }
    {   /* kernel = input: DCGAN's last 4x4 -> 1x1 conv (the dense path) */
        conv_arg c = {1, 0, 0};
        cg_tensor *in[3] = {TH_LEAF(14, 3, 4, 4, 4), TH_LEAF(15, 2, 4, 4, 4), NULL};
        GRADCHECK2("conv2d 4x4 -> 1x1", f_conv2d, &c, in, 3, 0);
    }
    {   /* rectangular kernel, padding per axis */
        conv_arg c = {1, 0, 1};
        cg_tensor *in[3] = {TH_LEAF(16, 2, 2, 5, 6), TH_LEAF(17, 3, 2, 1, 3), NULL};
        GRADCHECK2("conv2d_hw 1x3 p (0, 1)", f_conv2d, &c, in, 3, 0);
    }
}

/* A gradient inside f: cg_grad of f's output then walks the input- and
 * weight-gradient ops of the conv (third derivatives of the conv chain). */
static cg_tensor *f_conv_grad(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    cg_tensor *c = cg_conv2d(ctx, in[0], in[1], NULL, 2, 1);
    cg_tensor *y = cg_sum(ctx, cg_tanh(ctx, cg_scale(ctx, c, 0.1)));  /* scaled: tanh not flat */
    cg_tensor *g[2];
    if (cg_grad(ctx, y, NULL, in, 2, g) != CG_OK)
        return NULL;
    cg_tensor *sq = cg_add(ctx, cg_sum(ctx, cg_mul(ctx, g[0], g[0])),
                           cg_sum(ctx, cg_mul(ctx, g[1], g[1])));
    return cg_tanh(ctx, cg_scale(ctx, sq, 0.1));
}

TEST(gradcheck2_conv2d_of_a_gradient)
{
    cg_tensor *in[2] = {TH_LEAF(23, 2, 2, 4, 4), TH_LEAF(24, 3, 2, 4, 4)};
    GRADCHECK2("conv2d, through its own gradient", f_conv_grad, NULL, in, 2, 0);
}

static cg_tensor *f_convt(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_tanh(ctx, cg_conv_transpose2d(ctx, in[0], in[1], in[2], 2, 1));
}

TEST(gradcheck2_conv_transpose2d)
{
    cg_tensor *in[3] = {TH_LEAF(18, 2, 3, 3, 3), TH_LEAF(19, 3, 2, 4, 4), TH_LEAF(20, 2)};
    GRADCHECK2("conv_transpose2d k4 s2 p1", f_convt, NULL, in, 3, 0);
}

/* ---- elementwise --------------------------------------------------------------------- */
static cg_tensor *f_leaky(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_tanh(ctx, arg ? cg_leaky_relu(ctx, in[0], 0.2) : cg_relu(ctx, in[0]));
}

TEST(gradcheck2_relu)
{
    /* inputs are 0.2..1.2 in magnitude with both signs: no step crosses 0 */
    cg_tensor *in[1] = {TH_LEAF(21, 3, 4, 5)};
    GRADCHECK2("leaky_relu 0.2", f_leaky, (void *)1, in, 1, 0);
    GRADCHECK2("relu", f_leaky, NULL, in, 1, 0);
}

enum { E_TANH, E_SIGMOID, E_EXP, E_LOG, E_SQRT, E_RSQRT, E_CUBE, E_SCALE, E_AFFINE };

static cg_tensor *f_unary(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    cg_tensor *x = in[0];
    switch (*(const int *)arg) {
    case E_TANH: return cg_tanh(ctx, x);
    case E_SIGMOID: return cg_sigmoid(ctx, x);
    case E_EXP: return cg_exp(ctx, x);
    case E_LOG: return cg_log(ctx, x);
    case E_SQRT: return cg_pow(ctx, x, 0.5);
    case E_RSQRT: return cg_pow(ctx, x, -0.5);
    case E_CUBE: return cg_pow(ctx, x, 3);
    case E_SCALE: return cg_tanh(ctx, cg_scale(ctx, x, -1.5));
    default: return cg_tanh(ctx, cg_affine(ctx, x, 0.7, 0.3));
    }
}

TEST(gradcheck2_unary)
{
    static const struct {
        int op;
        const char *name;
        int positive;
    } cases[] = {{E_TANH, "tanh", 0},      {E_SIGMOID, "sigmoid", 0}, {E_EXP, "exp", 0},
                 {E_LOG, "log", 1},        {E_SQRT, "pow 0.5", 1},    {E_RSQRT, "pow -0.5", 1},
                 {E_CUBE, "pow 3", 0},     {E_SCALE, "scale", 0},     {E_AFFINE, "affine", 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cg_tensor *in[1] = {cases[k].positive ? TH_POS(22 + k, 3, 5) : TH_LEAF(22 + k, 3, 5)};
        GRADCHECK2(cases[k].name, f_unary, (void *)&cases[k].op, in, 1, 0);
    }
}

enum { B_ADD, B_SUB, B_MUL };

static cg_tensor *f_binary(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    int op = *(const int *)arg;
    cg_tensor *y = op == B_ADD ? cg_add(ctx, in[0], in[1])
                 : op == B_SUB ? cg_sub(ctx, in[0], in[1]) : cg_mul(ctx, in[0], in[1]);
    return cg_tanh(ctx, y);
}

TEST(gradcheck2_broadcast)
{
    static const int ops[3] = {B_ADD, B_SUB, B_MUL};
    static const char *names[3] = {"add", "sub", "mul"};
    for (int k = 0; k < 3; k++) {
        char what[64];
        cg_tensor *in[2] = {TH_LEAF(40 + k, 2, 3, 2, 3), TH_LEAF(50 + k, 3, 1, 1)};
        snprintf(what, sizeof what, "%s, b (3, 1, 1) (x = a)", names[k]);
        GRADCHECK2(what, f_binary, (void *)&ops[k], in, 2, 0);
        snprintf(what, sizeof what, "%s, b (3, 1, 1) (x = b)", names[k]);
        GRADCHECK2(what, f_binary, (void *)&ops[k], in, 2, 1);
        cg_tensor *same[2] = {TH_LEAF(60 + k, 4, 5), TH_LEAF(70 + k, 4, 5)};
        snprintf(what, sizeof what, "%s, same shapes", names[k]);
        GRADCHECK2(what, f_binary, (void *)&ops[k], same, 2, 1);
    }
}

static cg_tensor *f_mul_self(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_mul(ctx, in[0], in[0]);  /* one tensor reached twice: the sum of two gradients */
}

TEST(gradcheck2_mul_self)
{
    cg_tensor *in[1] = {TH_LEAF(80, 3, 4)};
    GRADCHECK2("x * x", f_mul_self, NULL, in, 1, 0);
}

/* ---- reductions and shapes -------------------------------------------------------------- */
enum { R_SUM, R_MEAN, R_SUM_TO, R_EXPAND, R_RESHAPE };

static cg_tensor *f_reduce(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    cg_tensor *x = in[0];
    switch (*(const int *)arg) {
    case R_SUM: return cg_tanh(ctx, cg_scale(ctx, cg_sum(ctx, x), 0.2));
    case R_MEAN: return cg_tanh(ctx, cg_mean(ctx, x));
    case R_SUM_TO: return cg_tanh(ctx, cg_sum_to(ctx, x, CG_SHAPE(4, 1)));
    case R_EXPAND: return cg_tanh(ctx, cg_expand(ctx, x, CG_SHAPE(3, 4, 5)));
    default: return cg_tanh(ctx, cg_reshape(ctx, x, CG_SHAPE(5, 4, 3)));
    }
}

TEST(gradcheck2_reduce)
{
    static const int ops[5] = {R_SUM, R_MEAN, R_SUM_TO, R_EXPAND, R_RESHAPE};
    static const char *names[5] = {"sum", "mean", "sum_to (3,4,5) -> (4,1)",
                                   "expand (4,1) -> (3,4,5)", "reshape"};
    for (int k = 0; k < 5; k++) {
        cg_tensor *in[1] = {ops[k] == R_EXPAND ? TH_LEAF(90, 4, 1) : TH_LEAF(91 + k, 3, 4, 5)};
        GRADCHECK2(names[k], f_reduce, (void *)&ops[k], in, 1, 0);
    }
}

/* ---- layer norm ----------------------------------------------------------------------------- */
static cg_tensor *f_layernorm(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_tanh(ctx, cg_layernorm(ctx, in[0], in[1], in[2], 1e-5));
}

TEST(gradcheck2_layernorm)
{
    cg_tensor *in[3] = {TH_LEAF(100, 4, 7), TH_LEAF(101, 7), TH_LEAF(102, 7)};
    GRADCHECK2("layernorm (4, 7)", f_layernorm, NULL, in, 3, 0);
    cg_tensor *bare[3] = {TH_LEAF(103, 2, 3, 5), NULL, NULL};
    GRADCHECK2("layernorm (2, 3, 5), no affine", f_layernorm, NULL, bare, 3, 0);
}

/* ---- a WGAN-GP critic in small ---------------------------------------------------------------
 * conv k4 s2 p1, layer norm over (C, H, W), leaky relu, conv 4x4 -> 1x1: the
 * derivative of v . grad_x D with respect to x and every weight is what the
 * gradient penalty's backward needs. */
static cg_tensor *f_critic(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    cg_tensor *h = cg_conv2d(ctx, in[0], in[1], NULL, 2, 1);  /* (2, 3, 4, 4) */
    h = cg_layernorm(ctx, cg_reshape(ctx, h, CG_SHAPE(2, 48)), in[2], in[3], 1e-5);
    h = cg_leaky_relu(ctx, cg_reshape(ctx, h, CG_SHAPE(2, 3, 4, 4)), 0.2);
    return cg_conv2d(ctx, h, in[4], NULL, 1, 0);
}

TEST(gradcheck2_critic)
{
    /* beta reaches grad_x D only through leaky relu's mask, a step: its
     * second derivative is zero, so it is a constant here */
    cg_tensor *in[5] = {TH_LEAF(120, 2, 2, 8, 8), TH_LEAF(121, 3, 2, 4, 4), TH_LEAF(122, 48),
                        th_const(CG_SHAPE(48), 123, 0.2, 1.2, 1), TH_LEAF(124, 1, 3, 4, 4)};
    GRADCHECK2("critic: conv, layernorm, leaky_relu, conv", f_critic, NULL, in, 5, 0);
}

/* The conditional (projection) critic: the same layers, plus the inner
 * product of a label embedding with the features the last convolution reads,
 * out = conv(h) + sum_f embed(y)_f h_f, as DCGAN's projection D computes it
 * (a (1, F) (F, 1) batched product). The embedding does not depend on x:
 * grad_x D reaches it through the product's create-graph backward, and the
 * derivative of v . grad_x D with respect to the table goes through the
 * embedding's ordinary backward. */
static const int32_t PROJ_Y[2] = {2, 0};

static cg_tensor *f_projection_critic(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    cg_tensor *h = cg_conv2d(ctx, in[0], in[1], NULL, 2, 1);  /* (2, 3, 4, 4) */
    h = cg_layernorm(ctx, cg_reshape(ctx, h, CG_SHAPE(2, 48)), in[2], in[3], 1e-5);
    h = cg_leaky_relu(ctx, cg_reshape(ctx, h, CG_SHAPE(2, 3, 4, 4)), 0.2);
    cg_tensor *out = cg_reshape(ctx, cg_conv2d(ctx, h, in[4], NULL, 1, 0), CG_SHAPE(2));
    cg_tensor *e = cg_embedding(ctx, in[5], PROJ_Y, 2);   /* (2, 48) */
    cg_tensor *proj = cg_bmm(ctx, cg_reshape(ctx, h, CG_SHAPE(2, 1, 48)),
                             cg_reshape(ctx, e, CG_SHAPE(2, 48, 1)), 0, 0);
    return cg_add(ctx, out, cg_reshape(ctx, proj, CG_SHAPE(2)));
}

TEST(gradcheck2_projection_critic)
{
    cg_tensor *in[6] = {TH_LEAF(130, 2, 2, 8, 8), TH_LEAF(131, 3, 2, 4, 4), TH_LEAF(132, 48),
                        th_const(CG_SHAPE(48), 133, 0.2, 1.2, 1), TH_LEAF(134, 1, 3, 4, 4),
                        TH_LEAF(135, 3, 48)};
    GRADCHECK2("projection critic: conv, layernorm, leaky_relu, conv + <embed(y), h>",
               f_projection_critic, NULL, in, 6, 0);
}

/* The lookup's create-graph backward is the scatter and the scatter's the
 * lookup: with tanh after them, the derivative of v . grad with respect to
 * the table (or the rows) is not zero. Indices with repeats into 5 rows,
 * two of which no index names. */
static const int32_t EMB_IDX[5] = {3, 1, 3, 0, 1};

static cg_tensor *f_embedding(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_tanh(ctx, cg_embedding(ctx, in[0], EMB_IDX, 5));
}

static cg_tensor *f_scatter(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_tanh(ctx, cg_embedding_scatter(ctx, in[0], EMB_IDX, 5));
}

TEST(gradcheck2_embedding)
{
    cg_tensor *table[1] = {TH_LEAF(140, 5, 3)};
    GRADCHECK2("embedding, 5 indices into 5 rows (two unused)", f_embedding, NULL, table, 1, 0);
    cg_tensor *rows[1] = {TH_LEAF(141, 5, 3)};
    GRADCHECK2("embedding_scatter, 5 rows into 5 (two empty)", f_scatter, NULL, rows, 1, 0);
}

/* ---- what create-graph mode refuses ----------------------------------------------------------- */
TEST(create_graph_refuses_ops_without_it)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = TH_LEAF(110, 2, 4, 3, 3);
    cg_tensor *y = cg_groupnorm(&ctx, x, NULL, NULL, 2, 1e-5);
    cg_tensor *g = (cg_tensor *)1;
    cg_status st = cg_grad(&ctx, cg_sum(&ctx, cg_tanh(&ctx, y)), NULL, &x, 1, &g);
    CHECK(st == CG_ERR_STATE, "status %d", (int)st);
    CHECK(g == NULL);
    CHECK(strstr(ctx.errmsg, "groupnorm") != NULL, "message: %s", ctx.errmsg);
    printf("    %s\n", ctx.errmsg);
    cg_ctx_free(&ctx);

    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *a = TH_LEAF(111, 3), *b = TH_LEAF(112, 3);
    st = cg_grad(&ctx, cg_sum(&ctx, a), NULL, &b, 1, &g);
    CHECK(st == CG_ERR_ARG && strstr(ctx.errmsg, "does not depend") != NULL, "%s",
          ctx.errmsg);
    cg_ctx_free(&ctx);
}
