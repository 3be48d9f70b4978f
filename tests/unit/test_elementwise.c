/*
 * test_elementwise.c: float values of the pointwise ops, add / sub / mul with
 * broadcasting and sum / mean against direct formulas, their behaviour at
 * extreme inputs, and the errors for malformed shapes.
 *
 * Tolerances: one libm call in double rounded to float is within half an ulp
 * (6e-8 relative); 1e-6 leaves room for the float inputs and the float
 * output gradient. Sums of float products accumulated in double are compared
 * at 1e-6 for the same reason.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/cpu_elementwise.h"
#include "cpu/cpu_fastexp.h"
#include "cugen/ops.h"
#include "cugen/tape.h"
#include "harness.h"

/* cg_wrap of read-only test values (the ops never write their inputs) */
static cg_tensor *wrap(cg_ctx *ctx, const real *v, const int *shape, int ndim)
{
    return cg_wrap(ctx, (real *)v, shape, ndim);
}

/* ---- add, sub, mul ------------------------------------------------------------ */
TEST(binary_row_broadcast_hand_values)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    const real av[6] = {1, 2, 3, 4, 5, 6}, bv[3] = {10, 20, 30};
    cg_tensor *a = wrap(&ctx, av, CG_SHAPE(2, 3)), *b = wrap(&ctx, bv, CG_SHAPE(3));
    cg_tensor *s = cg_add(&ctx, a, b), *d = cg_sub(&ctx, a, b), *m = cg_mul(&ctx, a, b);
    REQUIRE_OK(&ctx);
    const real add[6] = {11, 22, 33, 14, 25, 36};
    const real sub[6] = {-9, -18, -27, -6, -15, -24};
    const real mul[6] = {10, 40, 90, 40, 100, 180};
    for (int i = 0; i < 6; i++) {
        CHECK(s->data[i] == add[i], "add[%d] = %g", i, (double)s->data[i]);
        CHECK(d->data[i] == sub[i], "sub[%d] = %g", i, (double)d->data[i]);
        CHECK(m->data[i] == mul[i], "mul[%d] = %g", i, (double)m->data[i]);
    }
    CHECK(s->ndim == 2 && s->shape[0] == 2 && s->shape[1] == 3, "output has a's shape");
    cg_ctx_free(&ctx);
}

/* Index into b of a's flat element i, straight from numpy's rule. */
static int64_t ref_bindex(const cg_tensor *a, const cg_tensor *b, int64_t i)
{
    int64_t bi = 0, bstride = 1;
    for (int k = a->ndim - 1, kb = b->ndim - 1; k >= 0; k--, kb--) {
        int64_t ik = i % a->shape[k];
        i /= a->shape[k];
        if (kb >= 0 && b->shape[kb] != 1) {
            bi += ik * bstride;
            bstride *= b->shape[kb];
        }
    }
    return bi;
}

/* Forward and both gradients against a direct loop over a's elements. */
static void check_broadcast(const int *ashape, int an, const int *bshape, int bn, uint64_t seed)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *a = th_const(ashape, an, seed, 0.2, 1.2, 1);
    cg_tensor *b = th_const(bshape, bn, seed + 1, 0.2, 1.2, 1);
    cg_tensor *dy = th_const(ashape, an, seed + 2, 0.2, 1.2, 1);
    cg_tensor *(*fns[3])(cg_ctx *, cg_tensor *, cg_tensor *) = {cg_add, cg_sub, cg_mul};
    double *db = th_alloc(sizeof(double) * (size_t)b->n);
    for (int op = 0; op < 3; op++) {
        a->requires_grad = b->requires_grad = 1;
        a->grad = b->grad = NULL;  /* activations: the tape allocates and writes */
        cg_tensor *y = fns[op](&ctx, a, b);
        REQUIRE_OK(&ctx);
        REQUIRE(cg_backward_from(&ctx, y, dy->data) == CG_OK, "%s", ctx.errmsg);
        memset(db, 0, sizeof(double) * (size_t)b->n);
        for (int64_t i = 0; i < a->n; i++) {
            int64_t j = ref_bindex(a, b, i);
            real av = a->data[i], bv = b->data[j], g = dy->data[i];
            real want = op == 0 ? av + bv : op == 1 ? av - bv : av * bv;
            CHECK(y->data[i] == want, "op %d y[%lld]", op, (long long)i);
            real da = op == 2 ? g * bv : g;
            CHECK(a->grad[i] == da, "op %d da[%lld]", op, (long long)i);
            db[j] += op == 0 ? g : op == 1 ? -(double)g : (double)g * av;
        }
        for (int64_t j = 0; j < b->n; j++)
            CHECK_NEAR(b->grad[j], db[j], 1e-6);
        cg_ctx_step_end(&ctx);
    }
    cg_ctx_free(&ctx);
}

TEST(binary_broadcast_matches_direct_loop)
{
    const int a4[4] = {2, 3, 4, 5};
    const struct {
        int n;
        int s[4];
    } bs[] = {
        {4, {2, 3, 4, 5}}, {1, {1}},       {4, {1, 1, 1, 1}}, {1, {5}},          {2, {4, 1}},
        {3, {3, 1, 5}},    {4, {1, 3, 1, 1}}, {4, {2, 3, 1, 1}}, {4, {2, 1, 4, 1}}, {3, {3, 4, 5}},
        {4, {2, 1, 1, 5}},
    };
    for (size_t k = 0; k < sizeof bs / sizeof bs[0]; k++)
        check_broadcast(a4, 4, bs[k].s, bs[k].n, 100 + 10 * k);
    /* b with a leading 1 beyond a's dims; a with size-1 dims */
    check_broadcast(CG_SHAPE(3, 5), CG_SHAPE(1, 3, 5), 300);
    check_broadcast(CG_SHAPE(3, 1, 5), CG_SHAPE(1, 5), 310);
    check_broadcast(CG_SHAPE(1, 7), CG_SHAPE(7), 320);
}

TEST(binary_rejects_shapes_that_do_not_broadcast)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real v[24] = {0};
    const struct {
        const char *op;
        cg_tensor *(*fn)(cg_ctx *, cg_tensor *, cg_tensor *);
        int an, bn;
        int as[4], bs[4];
    } cases[] = {
        {"add", cg_add, 2, 1, {2, 3}, {2}},           /* last dims 3 vs 2 */
        {"sub", cg_sub, 2, 3, {2, 3}, {4, 2, 3}},     /* b has a non-1 extra dim */
        {"mul", cg_mul, 4, 4, {1, 2, 3, 4}, {1, 3, 3, 1}},
        {"mul", cg_mul, 1, 2, {4}, {4, 1}},           /* b (4, 1) would give (4, 4) */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cg_tensor *a = cg_wrap(&ctx, v, cases[k].as, cases[k].an);
        cg_tensor *b = cg_wrap(&ctx, v, cases[k].bs, cases[k].bn);
        cg_tensor *y = cases[k].fn(&ctx, a, b);
        CHECK(y == NULL && ctx.err == CG_ERR_ARG, "case %zu", k);
        CHECK(strstr(ctx.errmsg, cases[k].op) && strstr(ctx.errmsg, "broadcast"),
              "message: %s", ctx.errmsg);
        cg_clear_error(&ctx);
    }
    /* a NULL input (an earlier failure) passes through as NULL */
    CHECK(cg_add(&ctx, NULL, cg_wrap(&ctx, v, CG_SHAPE(2))) == NULL && ctx.err != CG_OK);
    cg_ctx_free(&ctx);
}

/* ---- pointwise ------------------------------------------------------------------ */
TEST(pointwise_values_match_formulas)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    const real xv[5] = {-2.0f, -0.5f, 0.0f, 0.75f, 3.0f};
    cg_tensor *x = wrap(&ctx, xv, CG_SHAPE(5));
    cg_tensor *lr = cg_leaky_relu(&ctx, x, 0.1), *th = cg_tanh(&ctx, x);
    cg_tensor *sg = cg_sigmoid(&ctx, x), *si = cg_silu(&ctx, x), *sp = cg_softplus(&ctx, x);
    cg_tensor *ex = cg_exp(&ctx, x), *sc = cg_scale(&ctx, x, -3), *af = cg_affine(&ctx, x, 2, 1);
    REQUIRE_OK(&ctx);
    for (int i = 0; i < 5; i++) {
        double v = xv[i], s = 1 / (1 + exp(-v));
        CHECK_NEAR(lr->data[i], v > 0 ? v : 0.1 * v, 1e-6);
        CHECK_NEAR(th->data[i], tanh(v), 1e-6);
        CHECK_NEAR(sg->data[i], s, 1e-6);
        CHECK_NEAR(si->data[i], v * s, 1e-6);
        CHECK_NEAR(sp->data[i], log(1 + exp(v)), 1e-6);
        CHECK_NEAR(ex->data[i], exp(v), 1e-6);
        CHECK(sc->data[i] == (real)(-3 * v) && af->data[i] == (real)(2 * v + 1), "affine");
    }
    /* hand values: sigmoid(0) = 1/2, softplus(0) = log 2, silu(3) = 3 / (1 + e^-3) */
    CHECK(sg->data[2] == 0.5f);
    CHECK_NEAR(sp->data[2], 0.69314718055994531, 1e-7);
    CHECK_NEAR(si->data[4], 2.8577223804673, 1e-6);
    const real pv[3] = {0.5f, 1.0f, 7.25f};
    cg_tensor *lg = cg_log(&ctx, wrap(&ctx, pv, CG_SHAPE(3)));
    REQUIRE_OK(&ctx);
    CHECK_NEAR(lg->data[0], -0.69314718055994531, 1e-7);
    CHECK(lg->data[1] == 0);
    CHECK_NEAR(lg->data[2], log(7.25), 1e-6);
    cg_ctx_free(&ctx);
}

/* d/dx of each op at the same points, through the tape (x an activation). */
TEST(pointwise_gradients_match_formulas)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real xv[4] = {-2.0f, -0.5f, 0.75f, 3.0f}, dy[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    cg_tensor *(*fns[7])(cg_ctx *, cg_tensor *) = {cg_tanh, cg_sigmoid, cg_silu, cg_softplus,
                                                   cg_exp, cg_relu, cg_log};
    for (int f = 0; f < 7; f++) {
        real pos[4];
        for (int i = 0; i < 4; i++)
            pos[i] = fabsf(xv[i]);
        cg_tensor *x = cg_wrap(&ctx, f == 6 ? pos : xv, CG_SHAPE(4));
        x->requires_grad = 1;
        cg_tensor *y = fns[f](&ctx, x);
        REQUIRE(cg_backward_from(&ctx, y, dy) == CG_OK, "%s", ctx.errmsg);
        for (int i = 0; i < 4; i++) {
            double v = x->data[i], s = 1 / (1 + exp(-v));
            double d[7] = {1 - tanh(v) * tanh(v), s * (1 - s), s + v * s * (1 - s), s, exp(v),
                           v > 0, 1 / v};
            CHECK_NEAR(x->grad[i], dy[i] * d[f], 1e-6);
        }
        cg_ctx_step_end(&ctx);
    }
    cg_ctx_free(&ctx);
}

TEST(pointwise_extreme_inputs_stay_finite)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real xv[2] = {100, -100}, one[2] = {1, 1};
    cg_tensor *x = cg_wrap(&ctx, xv, CG_SHAPE(2));
    x->requires_grad = 1;
    cg_tensor *sg = cg_sigmoid(&ctx, x), *sp = cg_softplus(&ctx, x), *si = cg_silu(&ctx, x);
    cg_tensor *th = cg_tanh(&ctx, x);
    REQUIRE_OK(&ctx);
    /* e^-100 = 3.7e-44 is a float denormal: compare in absolute terms */
    CHECK(sg->data[0] == 1 && sg->data[1] >= 0 && sg->data[1] < 1e-40, "sigmoid %g %g",
          (double)sg->data[0], (double)sg->data[1]);
    CHECK(sp->data[0] == 100 && sp->data[1] >= 0 && sp->data[1] < 1e-40, "softplus %g %g",
          (double)sp->data[0], (double)sp->data[1]);
    CHECK(si->data[0] == 100 && fabsf(si->data[1]) < 1e-38, "silu %g %g", (double)si->data[0],
          (double)si->data[1]);
    CHECK(th->data[0] == 1 && th->data[1] == -1);
    for (int k = 0; k < 4; k++) {
        cg_tensor *y = k == 0 ? sg : k == 1 ? sp : k == 2 ? si : th;
        REQUIRE(cg_backward_from(&ctx, y, one) == CG_OK, "%s", ctx.errmsg);
        CHECK(isfinite(x->grad[0]) && isfinite(x->grad[1]), "op %d: gradient %g %g", k,
              (double)x->grad[0], (double)x->grad[1]);
    }
    CHECK_NEAR(x->grad[0], 0, 1e-30);  /* tanh'(100) = 0 */
    cg_ctx_free(&ctx);
}

/* cpu_expf against exp in double at 400,001 points evenly over [-87, 88]
 * (and the bits of every float in [-1, 1] step 2^-12): within 2 ulps of the
 * float nearest e^x, as its header states (the whole range measured once:
 * 1.22 ulps at worst); 0 below -87, finite at 88 and above, NaN kept. */
TEST(fast_expf_is_within_two_ulps)
{
    double worst = 0, at = 0;
    for (int k = 0; k <= 400000 + 8192; k++) {
        float x = k <= 400000 ? (float)(-87.0 + 175.0 * k / 400000) : (k - 400000 - 4096) / 4096.0f;
        float t = (float)exp((double)x), g = cpu_expf(x);
        double e = fabs((double)g - exp((double)x)) / (nextafterf(t, INFINITY) - t);
        if (e > worst) {
            worst = e;
            at = x;
        }
    }
    CHECK(worst <= 2, "cpu_expf: %.2f ulps at x = %.9g", worst, at);
    printf("    cpu_expf: worst %.2f ulps (x = %.6g)\n", worst, at);
    CHECK(cpu_expf(-87.5f) == 0 && cpu_expf(-1e30f) == 0);
    CHECK(isfinite(cpu_expf(88.5f)) && cpu_expf(88.5f) > 1e38f && isfinite(cpu_expf(1e30f)));
    CHECK(isnan(cpu_expf(NAN)));
}

/* SiLU's forward and backward against their double forms (cpu_sigmoid, libm)
 * at 70,001 points over [-30, 30]: the float build computes them in float
 * around cpu_expf. Bound, in units of FLT_EPSILON (2^-23, one ulp at the
 * bottom of a binade): 2 from cpu_expf (damped by e / (1 + e) < 1 in s),
 * half of one from each of the three float roundings that follow (1 + e,
 * the division, the product): 3.5 relative to the value, or to 1 where the
 * backward's 1 + x (1 - s) cancels near its zero at x ~ -1.28. */
TEST(silu_matches_its_double_form_closely)
{
    enum { K = 70001 };  /* over the thread pool's split threshold */
    real *x = th_alloc(sizeof(real) * K), *y = th_alloc(sizeof(real) * K);
    real *dy = th_alloc(sizeof(real) * K), *dx = th_alloc(sizeof(real) * K);
    for (int k = 0; k < K; k++) {
        x[k] = (real)(-30.0 + 60.0 * k / (K - 1));
        dy[k] = 1;
    }
    cpu_silu_fwd(y, x, K);
    cpu_silu_bwd(dx, dy, x, K);
    double wf = 0, wb = 0;
    for (int k = 0; k < K; k++) {
        double v = x[k], s = cpu_sigmoid(v), f = v * s, b = s * (1 + v * (1 - s));
        wf = fmax(wf, fabs(y[k] - f) / fmax(fabs(f), 1e-30));
        wb = fmax(wb, fabs(dx[k] - b) / fmax(fabs(b), 1.0));
    }
    CHECK(wf < 3.5 * FLT_EPSILON && wb < 3.5 * FLT_EPSILON, "silu: forward %.3g, backward %.3g relative", wf, wb);
    printf("    silu: forward %.2g, backward %.2g relative at worst\n", wf, wb);
}

/* log's contract is x > 0; outside it the op follows libm rather than failing. */
TEST(log_of_non_positive_follows_libm)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real xv[2] = {0, -1};
    cg_tensor *y = cg_log(&ctx, cg_wrap(&ctx, xv, CG_SHAPE(2)));
    REQUIRE_OK(&ctx);
    CHECK(isinf(y->data[0]) && y->data[0] < 0, "log 0 = %g", (double)y->data[0]);
    CHECK(isnan(y->data[1]), "log -1 = %g", (double)y->data[1]);
    cg_ctx_free(&ctx);
}

/* ---- sum, mean ------------------------------------------------------------------- */
TEST(sum_mean_accumulate_in_double)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    /* 10^6 copies of 0.1f (= 0.100000001490116...): the exact sum is
     * 100000.0015; a float accumulator ends near 100958. */
    const int n = 1000000;
    cg_tensor *x = cg_new(&ctx, CG_SHAPE(1000, 1000));
    REQUIRE(x);
    for (int i = 0; i < n; i++)
        x->data[i] = 0.1f;
    cg_tensor *s = cg_sum(&ctx, x), *m = cg_mean(&ctx, x);
    REQUIRE_OK(&ctx);
    CHECK(s->ndim == 1 && s->shape[0] == 1 && m->n == 1, "(1) outputs");
    CHECK_NEAR(s->data[0], 100000.0015, 1e-7);
    CHECK_NEAR(m->data[0], 0.1, 1e-7);
    /* hand values: 1 + 2 + ... + 7 = 28, mean 4; d mean / dx = 1/7 */
    real v[7] = {1, 2, 3, 4, 5, 6, 7}, one = 1;
    cg_tensor *t = cg_wrap(&ctx, v, CG_SHAPE(7));
    t->requires_grad = 1;
    CHECK(cg_sum(&ctx, t)->data[0] == 28);
    cg_tensor *mt = cg_mean(&ctx, t);
    CHECK(mt->data[0] == 4);
    REQUIRE(cg_backward_from(&ctx, mt, &one) == CG_OK);
    for (int i = 0; i < 7; i++)
        CHECK(t->grad[i] == (real)(1.0 / 7));
    cg_ctx_free(&ctx);
}

/* ReLU keeps a NaN a NaN, as PyTorch does (torch.relu(nan) is nan): a
 * diverged activation reaches the loss and stops the run, instead of being
 * read as 0 while the weights fill with NaN through the backward. The
 * gradient at a NaN input is 0, as PyTorch's threshold_backward gives. */
TEST(relu_propagates_nan)
{
    const real x[4] = {NAN, -1, 0, 2}, dy[4] = {1, 1, 1, 1};
    real y[4], dx[4];
    cpu_relu_fwd(y, x, 4);
    cpu_relu_bwd(dx, dy, x, 4);
    CHECK(isnan(y[0]) && y[1] == 0 && y[2] == 0 && !signbit(y[2]) && y[3] == 2,
          "%g %g %g %g", y[0], y[1], y[2], y[3]);
    CHECK(dx[0] == 0 && dx[1] == 0 && dx[2] == 0 && dx[3] == 1);
}
