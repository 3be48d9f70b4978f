/*
 * test_optim.c: Adam, AdamW, SGD and EMA against numbers worked out by hand
 * (each test derives its expected values in a comment), frozen groups, bad
 * hyperparameters, and Adam converging on a convex quadratic. The same
 * optimizers against PyTorch are in test_torch_refs.c.
 *
 * Tolerance: the expected values are exact decimals or derived in double; the
 * optimizers compute in double and store float32, which rounds values of
 * order 1 by up to 6e-8. 1e-6 (relative to max(1, |expected|)) leaves room
 * for that rounding and for nothing else.
 */
#include <math.h>
#include <string.h>

#include "cugen/optim.h"
#include "harness.h"
#include "optim/optim_common.h"

#define TOL 1e-6

/* A parameter set of `count` 1-D tensors of the given sizes and groups. */
static int params_make(cg_params *p, const int *sizes, const int *groups, int count,
                       cg_tensor **t)
{
    cg_params_init(p);
    for (int i = 0; i < count; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        t[i] = cg_param(p, name, CG_SHAPE(sizes[i]), groups[i]);
        if (!t[i])
            return 0;
    }
    return cg_params_alloc(p) == CG_OK;
}

/* One scalar parameter w with gradient g. */
static cg_tensor *scalar_param(cg_params *p, double w)
{
    cg_tensor *t;
    if (!params_make(p, (const int[]){1}, (const int[]){0}, 1, &t))
        return NULL;
    t->data[0] = (real)w;
    return t;
}

/* lr 0.1, betas (0.9, 0.999), eps 1e-8, no decay. The first step is
 * m = 0.1 g, v = 0.001 g^2; bias corrections 1 - 0.9 = 0.1 and
 * 1 - 0.999 = 0.001 give m^ = g, v^ = g^2, so w moves by
 * lr g / (|g| + 1e-8) = lr sign(g) (up to 2e-8 relative); g = 0 moves nothing. */
TEST(adam_one_step_by_hand)
{
    cg_params p;
    cg_tensor *t;
    REQUIRE(params_make(&p, (const int[]){3}, (const int[]){0}, 1, &t));
    const real w0[3] = {1, -1, 0.5}, g[3] = {0.5, -2, 0};
    memcpy(t->data, w0, sizeof w0);
    memcpy(t->grad, g, sizeof g);
    cg_adam o;
    cg_adam_init(&o, 0.1, 0.9, 0.999, 1e-8, 0, 0);
    REQUIRE(cg_adam_step(&o, &p) == CG_OK);
    CHECK(o.t == 1);
    CHECK_NEAR(t->data[0], 0.9, TOL);
    CHECK_NEAR(t->data[1], -0.9, TOL);
    CHECK_NEAR(t->data[2], 0.5, TOL);
    /* m = 0.1 g, v = 0.001 g^2 */
    CHECK_NEAR(p.m[0], 0.05, TOL);
    CHECK_NEAR(p.m[1], -0.2, TOL);
    CHECK_NEAR(p.v[0], 0.00025, TOL);
    CHECK_NEAR(p.v[1], 0.004, TOL);
    CHECK(p.m[2] == 0 && p.v[2] == 0);
    cg_params_free(&p);
}

/* lr 0.1, betas (0.9, 0.999), eps 1e-8, L2 weight decay 0.1; w = 1.
 * step 1, raw g 0.5:   g = 0.5 + 0.1 * 1 = 0.6, m = 0.06, v = 0.00036,
 *                      m^ = 0.6, v^ = 0.36, w = 1 - 0.1 * 0.6 / (0.6 + 1e-8)
 *                      = 0.9000000017
 * step 2, raw g -0.25: g = -0.25 + 0.1 * 0.9000000017 = -0.1599999998,
 *                      m = 0.9 * 0.06 + 0.1 g = 0.0380000000,
 *                      v = 0.999 * 0.00036 + 0.001 g^2 = 0.00038524,
 *                      bias corrections 1 - 0.81 = 0.19, 1 - 0.998001 = 0.001999:
 *                      m^ = 0.2000000001, sqrt(v^) = sqrt(0.1927163582) = 0.4389947131,
 *                      w = 0.9000000017 - 0.1 * 0.2000000001 / 0.4389947231
 *                      = 0.8544413675
 * (the same arithmetic in double, written out in Python, gives these digits) */
TEST(adam_two_steps_by_hand_with_l2)
{
    cg_params p;
    cg_tensor *t = scalar_param(&p, 1.0);
    REQUIRE(t);
    cg_adam o;
    cg_adam_init(&o, 0.1, 0.9, 0.999, 1e-8, 0.1, 0);
    t->grad[0] = 0.5f;
    REQUIRE(cg_adam_step(&o, &p) == CG_OK);
    CHECK_NEAR(t->data[0], 0.9000000017, TOL);
    CHECK_NEAR(p.m[0], 0.06, TOL);
    CHECK_NEAR(p.v[0], 0.00036, TOL);
    t->grad[0] = -0.25f;
    REQUIRE(cg_adam_step(&o, &p) == CG_OK);
    CHECK(o.t == 2);
    CHECK_NEAR(p.m[0], 0.038, TOL);
    CHECK_NEAR(p.v[0], 0.00038524, TOL);
    CHECK_NEAR(t->data[0], 0.8544413675, TOL);
    cg_params_free(&p);
}

/* Same first step (w = 1, g = 0.5, lr 0.1, wd 0.1). Adam's L2 term only
 * changes g to 0.6, and the first step is lr sign(g): w = 0.9. AdamW shrinks
 * w first, w (1 - lr wd) = 0.99, then moves lr sign(g): w = 0.89, with m and
 * v built from the raw g (m = 0.05, not Adam's 0.06). With wd = 0 the two
 * are the same optimizer. */
TEST(adamw_differs_from_adam_by_decoupled_decay)
{
    cg_params pa, pw;
    cg_tensor *ta = scalar_param(&pa, 1.0), *tw = scalar_param(&pw, 1.0);
    REQUIRE(ta && tw);
    ta->grad[0] = tw->grad[0] = 0.5f;
    cg_adam adam, adamw;
    cg_adam_init(&adam, 0.1, 0.9, 0.999, 1e-8, 0.1, 0);
    cg_adam_init(&adamw, 0.1, 0.9, 0.999, 1e-8, 0.1, 1);
    REQUIRE(cg_adam_step(&adam, &pa) == CG_OK);
    REQUIRE(cg_adam_step(&adamw, &pw) == CG_OK);
    CHECK_NEAR(ta->data[0], 0.9, TOL);
    CHECK_NEAR(tw->data[0], 0.89, TOL);
    CHECK_NEAR(pa.m[0], 0.06, TOL);
    CHECK_NEAR(pw.m[0], 0.05, TOL);

    /* no decay: identical, bit for bit, over a few steps */
    cg_init_const(ta, 1.0);
    cg_init_const(tw, 1.0);
    memset(pa.m, 0, sizeof(real) * (size_t)pa.n);
    memset(pa.v, 0, sizeof(real) * (size_t)pa.n);
    memset(pw.m, 0, sizeof(real) * (size_t)pw.n);
    memset(pw.v, 0, sizeof(real) * (size_t)pw.n);
    cg_adam_init(&adam, 0.1, 0.9, 0.999, 1e-8, 0, 0);
    cg_adam_init(&adamw, 0.1, 0.9, 0.999, 1e-8, 0, 1);
    const real gs[3] = {0.5, -1.5, 0.25};
    for (int s = 0; s < 3; s++) {
        ta->grad[0] = tw->grad[0] = gs[s];
        REQUIRE(cg_adam_step(&adam, &pa) == CG_OK);
        REQUIRE(cg_adam_step(&adamw, &pw) == CG_OK);
    }
    CHECK(ta->data[0] == tw->data[0], "%.9g vs %.9g", (double)ta->data[0],
          (double)tw->data[0]);
    cg_params_free(&pa);
    cg_params_free(&pw);
}

/* lr 0.1, momentum 0.9, dampening 0.5, no decay; w = 1.
 * step 1, g = 1:  buf = g = 1 (PyTorch: no dampening on the first step),
 *                 w = 1 - 0.1 * 1 = 0.9
 * step 2, g = 1:  buf = 0.9 * 1 + 0.5 * 1 = 1.4, w = 0.9 - 0.14 = 0.76
 * step 3, g = -2: buf = 0.9 * 1.4 + 0.5 * -2 = 0.26, w = 0.76 - 0.026 = 0.734 */
TEST(sgd_momentum_dampening_by_hand)
{
    cg_params p;
    cg_tensor *t = scalar_param(&p, 1.0);
    REQUIRE(t);
    cg_sgd o;
    cg_sgd_init(&o, 0.1, 0.9, 0.5, 0, 0);
    const real gs[3] = {1, 1, -2};
    const double buf[3] = {1, 1.4, 0.26}, w[3] = {0.9, 0.76, 0.734};
    for (int s = 0; s < 3; s++) {
        t->grad[0] = gs[s];
        REQUIRE(cg_sgd_step(&o, &p) == CG_OK);
        CHECK_NEAR(p.m[0], buf[s], TOL);
        CHECK_NEAR(t->data[0], w[s], TOL);
    }
    CHECK(o.t == 3);
    cg_params_free(&p);
}

/* lr 0.1, momentum 0.9, Nesterov, weight decay 0.1; w = 1, raw g = 1.
 * step 1: g = 1 + 0.1 * 1 = 1.1, buf = 1.1, d = g + 0.9 buf = 2.09,
 *         w = 1 - 0.209 = 0.791
 * step 2: g = 1 + 0.1 * 0.791 = 1.0791, buf = 0.9 * 1.1 + 1.0791 = 2.0691,
 *         d = 1.0791 + 0.9 * 2.0691 = 2.94129, w = 0.791 - 0.294129 = 0.496871 */
TEST(sgd_nesterov_weight_decay_by_hand)
{
    cg_params p;
    cg_tensor *t = scalar_param(&p, 1.0);
    REQUIRE(t);
    cg_sgd o;
    cg_sgd_init(&o, 0.1, 0.9, 0, 0.1, 1);
    t->grad[0] = 1;
    REQUIRE(cg_sgd_step(&o, &p) == CG_OK);
    CHECK_NEAR(p.m[0], 1.1, TOL);
    CHECK_NEAR(t->data[0], 0.791, TOL);
    t->grad[0] = 1;
    REQUIRE(cg_sgd_step(&o, &p) == CG_OK);
    CHECK_NEAR(p.m[0], 2.0691, TOL);
    CHECK_NEAR(t->data[0], 0.496871, TOL);
    cg_params_free(&p);
}

/* Momentum 0: w -= lr g, and no buffer is written. */
TEST(sgd_plain)
{
    cg_params p;
    cg_tensor *t = scalar_param(&p, 1.0);
    REQUIRE(t);
    cg_sgd o;
    cg_sgd_init(&o, 0.5, 0, 0, 0, 0);
    t->grad[0] = 0.25f;
    REQUIRE(cg_sgd_step(&o, &p) == CG_OK);
    REQUIRE(cg_sgd_step(&o, &p) == CG_OK);
    CHECK_NEAR(t->data[0], 0.75, TOL);  /* 1 - 2 * 0.5 * 0.25 */
    CHECK(p.m[0] == 0);
    cg_params_free(&p);
}

TEST(optim_rejects_bad_hyperparameters_and_state)
{
    cg_params p;
    cg_tensor *t = scalar_param(&p, 1.0);
    REQUIRE(t);
    t->grad[0] = 1;
    cg_adam a;
    const double bad_lr[] = {NAN, INFINITY, -0.1};
    for (int i = 0; i < 3; i++) {
        cg_adam_init(&a, bad_lr[i], 0.9, 0.999, 1e-8, 0, 0);
        CHECK(cg_adam_step(&a, &p) == CG_ERR_ARG, "lr %g", bad_lr[i]);
    }
    cg_adam_init(&a, 0.1, 1.0, 0.999, 1e-8, 0, 0);
    CHECK(cg_adam_step(&a, &p) == CG_ERR_ARG, "beta1 = 1");
    cg_adam_init(&a, 0.1, 0.9, NAN, 1e-8, 0, 0);
    CHECK(cg_adam_step(&a, &p) == CG_ERR_ARG, "beta2 NaN");
    cg_adam_init(&a, 0.1, 0.9, 0.999, -1e-8, 0, 0);
    CHECK(cg_adam_step(&a, &p) == CG_ERR_ARG, "eps < 0");
    cg_adam_init(&a, 0.1, 0.9, 0.999, 1e-8, INFINITY, 1);
    CHECK(cg_adam_step(&a, &p) == CG_ERR_ARG, "weight decay Inf");
    CHECK(a.t == 0 && t->data[0] == 1 && p.m[0] == 0, "a rejected step changed state");

    cg_sgd s;
    cg_sgd_init(&s, NAN, 0.9, 0, 0, 0);
    CHECK(cg_sgd_step(&s, &p) == CG_ERR_ARG, "sgd lr NaN");
    cg_sgd_init(&s, 0.1, 0.9, 0.1, 0, 1);
    CHECK(cg_sgd_step(&s, &p) == CG_ERR_ARG, "nesterov with dampening");
    cg_sgd_init(&s, 0.1, 0, 0, 0, 1);
    CHECK(cg_sgd_step(&s, &p) == CG_ERR_ARG, "nesterov without momentum");
    cg_sgd_init(&s, 0.1, -0.5, 0, 0, 0);
    CHECK(cg_sgd_step(&s, &p) == CG_ERR_ARG, "negative momentum");
    CHECK(s.t == 0 && t->data[0] == 1, "a rejected step changed state");

    cg_ema e;
    CHECK(cg_ema_init(&e, &p, 1.5) == CG_ERR_ARG, "decay > 1");
    CHECK(cg_ema_init(&e, &p, NAN) == CG_ERR_ARG, "decay NaN");
    cg_params_free(&p);

    /* declared but not allocated */
    cg_params q;
    cg_params_init(&q);
    REQUIRE(cg_param(&q, "w", CG_SHAPE(4), 0));
    cg_adam_init(&a, 0.1, 0.9, 0.999, 1e-8, 0, 0);
    CHECK(cg_adam_step(&a, &q) == CG_ERR_STATE);
    cg_sgd_init(&s, 0.1, 0.9, 0, 0, 0);
    CHECK(cg_sgd_step(&s, &q) == CG_ERR_STATE);
    CHECK(cg_ema_init(&e, &q, 0.9) == CG_ERR_STATE);
    CHECK(e.w == NULL);
    cg_ema_free(&e);
    cg_params_free(&q);
}

/* Groups 0, 1, 1, 0: freezing group 1 leaves one hole made of tensors 1 and
 * 2 (merged), so the ranges are [0, off[1]) and [off[3], n). */
TEST(optim_ranges_skip_frozen_groups_and_merge)
{
    cg_params p;
    cg_tensor *t[4];
    REQUIRE(params_make(&p, (const int[]){5, 7, 20, 3}, (const int[]){0, 1, 1, 0}, 4, t));
    int64_t lo[8], hi[8];
    int n = 0;
    optim_range_iter it = OPTIM_RANGE_ITER_INIT;
    while (n < 8 && optim_range_next(&p, &it, &lo[n], &hi[n]))
        n++;
    CHECK(n == 1 && lo[0] == 0 && hi[0] == p.n, "nothing frozen: one range over the buffer");

    cg_params_freeze(&p, 1, 1);
    n = 0;
    it = (optim_range_iter)OPTIM_RANGE_ITER_INIT;
    while (n < 8 && optim_range_next(&p, &it, &lo[n], &hi[n]))
        n++;
    REQUIRE(n == 2, "%d ranges", n);
    CHECK(lo[0] == 0 && hi[0] == p.off[1]);
    CHECK(lo[1] == p.off[3] && hi[1] == p.n);

    cg_params_freeze(&p, 0, 1);
    it = (optim_range_iter)OPTIM_RANGE_ITER_INIT;
    CHECK(!optim_range_next(&p, &it, &lo[0], &hi[0]), "everything frozen: no range");

    cg_params_freeze(&p, 1, 0);  /* only group 0 frozen: the middle */
    n = 0;
    it = (optim_range_iter)OPTIM_RANGE_ITER_INIT;
    while (n < 8 && optim_range_next(&p, &it, &lo[n], &hi[n]))
        n++;
    CHECK(n == 1 && lo[0] == p.off[1] && hi[0] == p.off[3]);
    cg_params_free(&p);
}

/* Every gradient is 1 (a frozen group's stale gradient must be ignored).
 * After Adam and SGD steps with group 1 frozen, its weights, m and v are
 * bit-identical to before; the other tensors moved; the padding is still 0. */
TEST(optim_frozen_group_untouched)
{
    for (int which = 0; which < 2; which++) {
        cg_params p;
        cg_tensor *t[4];
        REQUIRE(params_make(&p, (const int[]){5, 7, 20, 3}, (const int[]){0, 1, 1, 0}, 4, t));
        for (int i = 0; i < 4; i++) {
            cg_init_const(t[i], 0.5 + i);
            for (int64_t j = 0; j < t[i]->n; j++) {
                t[i]->grad[j] = 1;
                p.m[p.off[i] + j] = 0.25f;  /* stale optimizer state */
                p.v[p.off[i] + j] = 0.125f;
            }
        }
        cg_params_freeze(&p, 1, 1);
        cg_adam a;
        cg_sgd s;
        cg_adam_init(&a, 0.1, 0.9, 0.999, 1e-8, 0.01, 0);
        cg_sgd_init(&s, 0.1, 0.9, 0, 0.01, 1);
        for (int k = 0; k < 3; k++)
            REQUIRE((which ? cg_sgd_step(&s, &p) : cg_adam_step(&a, &p)) == CG_OK);
        const char *name = which ? "sgd" : "adam";
        for (int i = 0; i < 4; i++) {
            int frozen = i == 1 || i == 2;
            for (int64_t j = 0; j < t[i]->n; j++) {
                int64_t k = p.off[i] + j;
                if (frozen) {
                    CHECK(p.w[k] == (real)(0.5 + i) && p.m[k] == 0.25f && p.v[k] == 0.125f,
                          "%s: frozen tensor %d element %lld changed", name, i, (long long)j);
                } else {
                    CHECK(p.w[k] < (real)(0.5 + i), "%s: tensor %d element %lld did not move",
                          name, i, (long long)j);
                }
            }
            int64_t end = i + 1 < 4 ? p.off[i + 1] : p.n;
            for (int64_t k = p.off[i] + t[i]->n; k < end; k++)
                CHECK(p.w[k] == 0 && p.m[k] == 0, "%s: padding %lld written", name, (long long)k);
        }
        cg_params_free(&p);
    }
}

/* f(w) = 1/2 sum a_i (w_i - c_i)^2 with curvatures a_i from 0.1 to 10:
 * Adam (lr 0.01, default betas) reaches the minimum c from w = 0. The bound
 * 1e-3 is ten times below the step length lr: the iterates have settled,
 * not merely arrived. */
TEST(adam_converges_on_convex_quadratic)
{
    enum { D = 9 };
    cg_params p;
    cg_tensor *t;
    REQUIRE(params_make(&p, (const int[]){D}, (const int[]){0}, 1, &t));
    double a[D], c[D];
    for (int i = 0; i < D; i++) {
        a[i] = 0.1 * pow(100.0, i / (double)(D - 1));
        c[i] = (i % 2 ? -1.0 : 1.0) * (0.3 + 0.2 * i);
    }
    cg_adam o;
    cg_adam_init(&o, 0.01, 0.9, 0.999, 1e-8, 0, 0);
    for (int k = 0; k < 5000; k++) {
        for (int i = 0; i < D; i++)
            t->grad[i] = (real)(a[i] * ((double)t->data[i] - c[i]));
        REQUIRE(cg_adam_step(&o, &p) == CG_OK);
    }
    double worst = 0;
    for (int i = 0; i < D; i++)
        worst = fmax(worst, fabs((double)t->data[i] - c[i]));
    printf("    max |w - c| after 5000 steps: %.2e\n", worst);
    CHECK(worst < 1e-3, "max |w - c| = %.3e", worst);
    cg_params_free(&p);
}

/* decay 0.5; weights 1 at init, then 2, 4, 8 before the three updates:
 * shadow = d^3 w0 + (1 - d)(d^2 w1 + d w2 + w3)
 *        = 0.125 + 0.5 (0.5 + 2 + 8) = 5.375 (exact in binary). */
TEST(ema_three_updates_closed_form_and_swap)
{
    cg_params p;
    cg_tensor *t[2];
    REQUIRE(params_make(&p, (const int[]){3, 17}, (const int[]){0, 1}, 2, t));
    cg_init_const(t[0], 1);
    cg_init_const(t[1], -1);
    cg_ema e;
    REQUIRE(cg_ema_init(&e, &p, 0.5) == CG_OK);
    CHECK(e.n == p.n && e.w[0] == 1 && e.w[p.off[1]] == -1, "shadow starts as a copy");
    const double ws[3] = {2, 4, 8};
    for (int k = 0; k < 3; k++) {
        cg_init_const(t[0], ws[k]);
        cg_init_const(t[1], -ws[k]);
        cg_ema_update(&e, &p);
    }
    for (int j = 0; j < 3; j++)
        CHECK(e.w[j] == 5.375f, "%.9g", (double)e.w[j]);
    for (int j = 0; j < 17; j++)
        CHECK(e.w[p.off[1] + j] == -5.375f, "%.9g", (double)e.w[p.off[1] + j]);

    /* swap: the tensors (views into p.w) now read the shadow; swap back */
    cg_ema_swap(&e, &p);
    CHECK(t[0]->data[0] == 5.375f && t[1]->data[16] == -5.375f);
    CHECK(e.w[0] == 8 && e.w[p.off[1]] == -8);
    cg_ema_swap(&e, &p);
    CHECK(t[0]->data[2] == 8 && t[1]->data[0] == -8 && e.w[1] == 5.375f,
          "swap twice is the identity");
    cg_ema_free(&e);
    CHECK(e.w == NULL);
    cg_ema_update(&e, &p);  /* freed: a no-op, not a crash */
    cg_params_free(&p);
}
