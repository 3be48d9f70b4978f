/*
 * test_misc.c: softmax, bmm, timestep embedding, dropout, concat / split /
 * reshape against direct formulas and naive loops, and their bad inputs;
 * detach and copy.
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu_dropout.h"
#include "cpu/cpu_gemm.h"
#include "cugen/ops.h"
#include "cugen/rng.h"
#include "harness.h"

/* ---- softmax ---------------------------------------------------------------------------- */
/* Rows sum to 1 within 1e-6 (7 float values each rounded to 6e-8 relative);
 * rows of +-1000 stay finite and match exp(x - max) / sum in double. */
TEST(softmax_rows_sum_to_one_and_stable)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(4, 5, 7), 201, 0.1, 4, 1);
    cg_tensor *y = cg_softmax(&ctx, x);
    REQUIRE_OK(&ctx);
    for (int r = 0; r < 20; r++) {
        double s = 0;
        for (int j = 0; j < 7; j++) {
            CHECK(y->data[r * 7 + j] > 0);
            s += y->data[r * 7 + j];
        }
        CHECK_NEAR(s, 1.0, 1e-6);
    }
    real big[8] = {1000, 999, -1000, 998.5, -1000, -999, -1001, -1000};
    cg_tensor *yb = cg_softmax(&ctx, cg_wrap(&ctx, big, CG_SHAPE(2, 4)));
    REQUIRE_OK(&ctx);
    for (int r = 0; r < 2; r++) {
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < 4; j++)
            mx = fmax(mx, big[r * 4 + j]);
        for (int j = 0; j < 4; j++)
            s += exp(big[r * 4 + j] - mx);
        for (int j = 0; j < 4; j++) {
            real v = yb->data[r * 4 + j];
            CHECK(isfinite(v), "row %d: %g", r, (double)v);
            CHECK_NEAR(v, exp(big[r * 4 + j] - mx) / s, 1e-6);
        }
    }
    cg_ctx_free(&ctx);
}

/* ---- bmm ---------------------------------------------------------------------------------- */
/* Against cpu_gemm_naive per batch (double accumulator): relative error
 * 1e-5, K = 13 float products. */
TEST(bmm_matches_naive_loops)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    const int B = 3, M = 5, K = 13, N = 6;
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            cg_tensor *a = ta ? th_const(CG_SHAPE(B, K, M), 210, 0.1, 1, 1)
                              : th_const(CG_SHAPE(B, M, K), 211, 0.1, 1, 1);
            cg_tensor *b = tb ? th_const(CG_SHAPE(B, N, K), 212, 0.1, 1, 1)
                              : th_const(CG_SHAPE(B, K, N), 213, 0.1, 1, 1);
            cg_tensor *c = cg_bmm(&ctx, a, b, ta, tb);
            REQUIRE_OK(&ctx);
            CHECK(c->ndim == 3 && c->shape[0] == B && c->shape[1] == M && c->shape[2] == N);
            real *ref = th_alloc(sizeof(real) * B * M * N);
            for (int i = 0; i < B; i++)
                cpu_gemm_naive(ta, tb, M, N, K, 1, a->data + i * M * K, ta ? M : K,
                               b->data + i * K * N, tb ? K : N, 0, ref + i * M * N, N);
            double err = th_rel_err(c->data, ref, B * M * N);
            CHECK(err < 1e-5, "ta %d tb %d: rel err %g", ta, tb, err);
        }
    }
    cg_ctx_free(&ctx);
}

/* ---- timestep embedding ------------------------------------------------------------------ */
/* y[n] = [cos(t f_j), sin(t f_j)], f_j = 10000^(-j / h), in double; 2e-6
 * absolute: float rounding of values in [-1, 1] and of t f_j up to 999. */
TEST(timestep_embedding_matches_formula)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real t[4] = {0, 1, 17, 999};
    const int dim = 12, h = 6;
    cg_tensor *y = cg_timestep_embedding(&ctx, cg_wrap(&ctx, t, CG_SHAPE(4)), dim, 10000);
    REQUIRE_OK(&ctx);
    CHECK(y->shape[0] == 4 && y->shape[1] == dim);
    for (int n = 0; n < 4; n++) {
        for (int j = 0; j < h; j++) {
            double f = pow(10000.0, -(double)j / h);
            CHECK_NEAR(y->data[n * dim + j], cos(t[n] * f), 2e-6);
            CHECK_NEAR(y->data[n * dim + h + j], sin(t[n] * f), 2e-6);
        }
    }
    CHECK_ARG_ERROR(&ctx, cg_timestep_embedding(&ctx, cg_wrap(&ctx, t, CG_SHAPE(4)), 7, 1e4),
                     "timestep_embedding");
    CHECK_ARG_ERROR(&ctx, cg_timestep_embedding(&ctx, cg_wrap(&ctx, t, CG_SHAPE(2, 2)), 8, 1e4),
                     "timestep_embedding");
    cg_ctx_free(&ctx);
}

/* ---- dropout -------------------------------------------------------------------------------- */
/* The CPU mask at offsets that are not multiples of 4 (the op hands out
 * aligned ones; cpu_dropout_fwd takes any) and over more than one of its
 * 1024-element chunks: value offset + i of the stream decides element i,
 * and a kept value is exactly (float)(x / (1 - p) in double). */
TEST(dropout_mask_at_unaligned_offsets)
{
    const int n = 2051;
    const double p = 0.25;
    real *x = th_alloc(sizeof(real) * n), *y = th_alloc(sizeof(real) * n);
    real *u = th_alloc(sizeof(real) * n);
    for (int i = 0; i < n; i++)
        x[i] = (real)(0.5 + 0.001 * i);
    for (uint64_t off = 4001; off < 4005; off++) {
        cpu_dropout_fwd(y, x, n, p, 77, 4, off);
        cg_philox_uniform(77, 4, off, u, n);
        int bad = 0;
        for (int i = 0; i < n; i++) {
            real want = (double)u[i] >= p ? (real)((double)x[i] * (1.0 / (1.0 - p))) : 0;
            bad += y[i] != want;
        }
        CHECK(bad == 0, "offset %llu: %d of %d elements differ", (unsigned long long)off, bad, n);
    }
}

/* 100k elements, p = 0.3: the dropped count is Binomial(n, p), mean 30000,
 * sd sqrt(n p (1 - p)) = 144.9; allowed 5 sd (725). Kept values are x / (1 - p)
 * to float rounding. The mask is value offset + i of the Philox stream >= p,
 * the same seed gives the same mask, the next call a different one. */
TEST(dropout_statistics_and_mask)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    const int n = 100000;
    const double p = 0.3;
    cg_tensor *x = th_const(CG_SHAPE(100, 1000), 220, 0.5, 1.5, 1);  /* never 0 */
    cg_rng r1, r2;
    cg_rng_init(&r1, 99, 4);
    cg_rng_init(&r2, 99, 4);
    uint64_t off = r1.offset;
    cg_tensor *y = cg_dropout(&ctx, x, p, &r1, 1);
    cg_tensor *y2 = cg_dropout(&ctx, x, p, &r2, 1);
    cg_tensor *y3 = cg_dropout(&ctx, x, p, &r1, 1);  /* next values of r1's stream */
    REQUIRE_OK(&ctx);
    CHECK(r1.offset == off + 2 * (uint64_t)n, "offset %llu", (unsigned long long)r1.offset);
    real *u = th_alloc(sizeof(real) * n);
    cg_philox_uniform(99, 4, off, u, n);
    int dropped = 0, mask_ok = 1, same = 1, differs = 0;
    for (int i = 0; i < n; i++) {
        int drop = y->data[i] == 0;
        dropped += drop;
        if (drop != ((double)u[i] < p))
            mask_ok = 0;
        if (!drop)
            CHECK(fabs(y->data[i] - x->data[i] / (1 - p)) <= 1e-6 * fabs(y->data[i]),
                  "kept %d: %g vs %g", i, (double)y->data[i], (double)x->data[i]);
        if (y->data[i] != y2->data[i])
            same = 0;
        if ((y3->data[i] == 0) != drop)
            differs++;
    }
    double sd = sqrt(n * p * (1 - p));
    CHECK(fabs(dropped - n * p) <= 5 * sd, "dropped %d of %d", dropped, n);
    CHECK(mask_ok, "mask is not philox uniform >= p");
    CHECK(same, "same seed and offset gave another mask");
    /* two independent masks disagree on 2 p (1 - p) = 42% of the elements */
    CHECK(differs > n / 4, "the second call reused the mask (%d differ)", differs);

    /* backward: dy scaled on the kept elements, 0 on the dropped ones */
    cg_tensor *xg = th_leaf(CG_SHAPE(7, 11), 221, 0.5, 1.5, 1);
    cg_rng r3;
    cg_rng_init(&r3, 5, 1);
    cg_tensor *yg = cg_dropout(&ctx, xg, 0.5, &r3, 1);
    REQUIRE_OK(&ctx);
    real dy[77];
    for (int i = 0; i < 77; i++)
        dy[i] = (real)(i + 1);
    REQUIRE(cg_backward_from(&ctx, yg, dy) == CG_OK);
    for (int i = 0; i < 77; i++)
        CHECK_NEAR(xg->grad[i], yg->data[i] == 0 ? 0.0 : 2.0 * dy[i], 1e-6);
    cg_ctx_free(&ctx);
}

/* eval or p = 0: x itself comes back and the rng is not advanced */
TEST(dropout_identity_and_bad_p)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(3, 4), 230, 0.5, 1.5, 1);
    cg_rng r;
    cg_rng_init(&r, 1, 0);
    CHECK(cg_dropout(&ctx, x, 0.5, &r, 0) == x);
    CHECK(cg_dropout(&ctx, x, 0.0, &r, 1) == x);
    CHECK(cg_dropout(&ctx, x, 0.5, NULL, 0) == x, "eval needs no rng");
    CHECK(r.offset == 0, "identity took rng values");
    REQUIRE_OK(&ctx);
    CHECK_ARG_ERROR(&ctx, cg_dropout(&ctx, x, 1.0, &r, 1), "dropout");
    CHECK_ARG_ERROR(&ctx, cg_dropout(&ctx, x, -0.1, &r, 1), "dropout");
    CHECK_ARG_ERROR(&ctx, cg_dropout(&ctx, x, NAN, &r, 1), "dropout");
    CHECK_ARG_ERROR(&ctx, cg_dropout(&ctx, x, 1.0, &r, 0), "dropout");
    CHECK_ARG_ERROR(&ctx, cg_dropout(&ctx, x, 0.5, NULL, 1), "dropout");
    cg_ctx_free(&ctx);
}

/* ---- concat / split / reshape ------------------------------------------------------------------ */
/* split then concat gives x back exactly; each part holds its channels */
TEST(concat_split_round_trip)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(2, 7, 3, 3), 240, 0.1, 1, 1);
    const int sizes[3] = {2, 4, 1};
    cg_tensor *p[3];
    REQUIRE(cg_split(&ctx, x, sizes, 3, p) == CG_OK);
    int c0 = 0;
    for (int k = 0; k < 3; k++) {
        REQUIRE(p[k] && p[k]->ndim == 4 && p[k]->shape[1] == sizes[k]);
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < sizes[k]; c++)
                for (int s = 0; s < 9; s++)
                    CHECK(p[k]->data[(n * sizes[k] + c) * 9 + s] ==
                          x->data[(n * 7 + c0 + c) * 9 + s]);
        c0 += sizes[k];
    }
    cg_tensor *y = cg_concat(&ctx, p, 3);
    REQUIRE_OK(&ctx);
    CHECK(cg_same_shape(y, x) && memcmp(y->data, x->data, sizeof(real) * x->n) == 0);

    /* 2-D, seven one-channel parts: more than one tape node's inputs */
    cg_tensor *x2 = th_const(CG_SHAPE(5, 7), 241, 0.1, 1, 1);
    cg_tensor *q[7];
    REQUIRE(cg_split(&ctx, x2, (const int[]){1, 1, 1, 1, 1, 1, 1}, 7, q) == CG_OK);
    cg_tensor *y2 = cg_concat(&ctx, q, 7);
    REQUIRE_OK(&ctx);
    CHECK(cg_same_shape(y2, x2) && memcmp(y2->data, x2->data, sizeof(real) * x2->n) == 0);
    cg_ctx_free(&ctx);
}

TEST(reshape_shares_data)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(2, 3, 4, 5), 250, 0.1, 1, 1);
    cg_tensor *y = cg_reshape(&ctx, x, CG_SHAPE(6, 20));
    REQUIRE_OK(&ctx);
    CHECK(y->data == x->data && y->ndim == 2 && y->shape[0] == 6 && y->shape[1] == 20 &&
          y->n == x->n);
    cg_ctx_free(&ctx);
}

/* L = sum(x * detach(x)): the gradient into x comes through the first
 * factor only, dL/dx = x (not 2x); the detached view shares x's values and
 * needs no gradient of its own. */
TEST(detach_shares_data_and_stops_the_gradient)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = TH_LEAF(270, 3, 5);
    cg_tensor *d = cg_detach(&ctx, x);
    REQUIRE_OK(&ctx);
    CHECK(d->data == x->data && cg_same_shape(d, x) && d->dev == x->dev);
    CHECK(!d->requires_grad && d->grad == NULL, "the detached view needs no gradient");
    REQUIRE(cg_backward(&ctx, cg_sum(&ctx, cg_mul(&ctx, x, d))) == CG_OK);
    for (int64_t i = 0; i < x->n; i++)
        CHECK_NEAR(x->grad[i], x->data[i], 1e-6);
    CHECK(d->grad == NULL, "backward wrote a gradient into the detached view");
    CHECK(cg_detach(&ctx, NULL) == NULL && ctx.err == CG_ERR_STATE, "%s", ctx.errmsg);
    cg_ctx_free(&ctx);
}

/* cg_copy on the host: into an offset of a larger tensor; values that do
 * not fit are an argument error that names the shape. */
TEST(copy_into_an_offset)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *src = th_const(CG_SHAPE(2, 3), 271, 0.1, 1, 1);
    cg_tensor *dst = cg_new_zeros(&ctx, CG_SHAPE(10));
    REQUIRE_OK(&ctx);
    REQUIRE(cg_copy(&ctx, dst, 3, src) == CG_OK);
    for (int i = 0; i < 10; i++)
        CHECK(dst->data[i] == (i >= 3 && i < 9 ? src->data[i - 3] : 0), "value %d", i);
    CHECK(cg_copy(&ctx, dst, 5, src) == CG_ERR_ARG && strstr(ctx.errmsg, "(10)"), "%s",
          ctx.errmsg);
    cg_ctx_free(&ctx);
}

TEST(misc_bad_input)
{
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *a = th_const(CG_SHAPE(2, 3, 4), 260, 0.1, 1, 1);
    cg_tensor *b = th_const(CG_SHAPE(2, 5, 6), 261, 0.1, 1, 1);
    cg_tensor *b3 = th_const(CG_SHAPE(3, 4, 6), 262, 0.1, 1, 1);
    CHECK_ARG_ERROR(&ctx, cg_bmm(&ctx, a, b, 0, 0), "bmm");        /* K 4 vs 5 */
    CHECK_ARG_ERROR(&ctx, cg_bmm(&ctx, a, b3, 0, 0), "bmm");       /* batch 2 vs 3 */
    CHECK_ARG_ERROR(&ctx, cg_bmm(&ctx, a, th_const(CG_SHAPE(4, 6), 263, 0.1, 1, 1), 0, 0),
                     "bmm");

    cg_tensor *u = th_const(CG_SHAPE(2, 3, 4, 4), 264, 0.1, 1, 1);
    cg_tensor *v = th_const(CG_SHAPE(2, 2, 5, 4), 265, 0.1, 1, 1);
    cg_tensor *w = th_const(CG_SHAPE(3, 2, 4, 4), 266, 0.1, 1, 1);
    CHECK_ARG_ERROR(&ctx, cg_concat(&ctx, (cg_tensor *[]){u, v}, 2), "concat");  /* H */
    CHECK_ARG_ERROR(&ctx, cg_concat(&ctx, (cg_tensor *[]){u, w}, 2), "concat");  /* N */
    CHECK_ARG_ERROR(&ctx, cg_concat(&ctx, (cg_tensor *[]){u, a}, 2), "concat");  /* ndim */
    CHECK_ARG_ERROR(&ctx, cg_concat(&ctx, (cg_tensor *[]){u}, 0), "concat");

    cg_tensor *parts[2] = {u, u};
    cg_clear_error(&ctx);
    CHECK(cg_split(&ctx, u, (const int[]){1, 1}, 2, parts) == CG_ERR_ARG);
    CHECK(ctx.err == CG_ERR_ARG && strstr(ctx.errmsg, "split:"), "message: %s", ctx.errmsg);
    CHECK(parts[0] == NULL && parts[1] == NULL, "outputs of a failed split are NULL");
    cg_clear_error(&ctx);
    CHECK(cg_split(&ctx, u, (const int[]){4, -1}, 2, parts) == CG_ERR_ARG);
    CHECK(strstr(ctx.errmsg, "split:"), "message: %s", ctx.errmsg);

    CHECK_ARG_ERROR(&ctx, cg_reshape(&ctx, u, CG_SHAPE(2, 3, 17)), "reshape");
    CHECK_ARG_ERROR(&ctx, cg_reshape(&ctx, u, CG_SHAPE(-2, -48)), "reshape");
    CHECK_ARG_ERROR(&ctx, cg_reshape(&ctx, u, CG_SHAPE(1, 1, 1, 2, 48)), "reshape");
    cg_ctx_free(&ctx);
}
