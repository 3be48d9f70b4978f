/*
 * test_embedding.c: the row lookup cg_embedding on the CPU. Rows copied bit
 * for bit; the table's gradient against a scatter-add written here (repeated
 * indices add up, rows no index names keep their gradient, the sums land on
 * a gradient that already holds values); against PyTorch's F.embedding
 * (tests/ref/embedding.ref, written by scripts/make_refs.py); and bad input:
 * an index out of range or negative, NULL or no indices, a table that is not
 * 2-D, each a one-line error naming the op, with nothing recorded.
 */
#include <stdint.h>
#include <string.h>

#include "cugen/ops.h"
#include "harness.h"
#include "ref.h"

enum { NUM = 7, DIM = 5, N = 11 };

/* rows 3 and 5 never named; row 2 four times */
static const int32_t IDX[N] = {2, 6, 2, 0, 4, 2, 6, 1, 0, 2, 4};

TEST(embedding_rows_and_scatter_add_gradient)
{
    cg_tensor *w = TH_LEAF(1, NUM, DIM);
    cg_tensor *c = th_const(CG_SHAPE(N, DIM), 2, 0.1, 2, 1);
    real g0[NUM * DIM];
    for (int i = 0; i < NUM * DIM; i++)
        w->grad[i] = g0[i] = (real)(0.25 * (i % 3) - 0.3);  /* an earlier gradient */
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *y = cg_embedding(&ctx, w, IDX, N);
    REQUIRE_OK(&ctx);
    REQUIRE(y->ndim == 2 && y->shape[0] == N && y->shape[1] == DIM);
    for (int n = 0; n < N; n++)
        CHECK(memcmp(y->data + n * DIM, w->data + IDX[n] * DIM, sizeof(real) * DIM) == 0,
              "row %d is not weight row %d", n, IDX[n]);
    /* L = sum(c * y): dL/dy = c exactly */
    cg_backward(&ctx, cg_sum(&ctx, cg_mul(&ctx, y, c)));
    REQUIRE_OK(&ctx);
    real want[NUM * DIM];
    for (int r = 0; r < NUM; r++)
        for (int j = 0; j < DIM; j++) {
            double s = 0;
            for (int n = 0; n < N; n++)
                if (IDX[n] == r)
                    s += c->data[n * DIM + j];
            want[r * DIM + j] = g0[r * DIM + j] + (real)s;
        }
    /* both sum in double and round once, then add once in float: a float
     * ulp or two (6e-8 each) at most, so 1e-6 catches a missing or doubled row */
    double err = th_max_rel_err(w->grad, want, NUM * DIM);
    CHECK(err < 1e-6, "gradient max rel err %g", err);
    /* rows 3 and 5: untouched, bit for bit */
    CHECK(memcmp(w->grad + 3 * DIM, g0 + 3 * DIM, sizeof(real) * DIM) == 0);
    CHECK(memcmp(w->grad + 5 * DIM, g0 + 5 * DIM, sizeof(real) * DIM) == 0);
    cg_ctx_free(&ctx);
}

/* A table that needs no gradient (data): the output needs none either. */
TEST(embedding_of_a_frozen_table_records_nothing)
{
    cg_tensor *w = th_const(CG_SHAPE(NUM, DIM), 3, 0.1, 1, 1);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *y = cg_embedding(&ctx, w, IDX, N);
    REQUIRE_OK(&ctx);
    CHECK(!y->requires_grad && ctx.tape->n == 0, "%d nodes", ctx.tape->n);
    cg_ctx_free(&ctx);
}

/* F.embedding of weight (7, 5) at 13 indices (repeats, row 6 never named):
 * the output and the weight's gradient for sum(y * dy). The output is a copy
 * (exact); dweight sums at most four float rows in double and rounds once,
 * so it is within a float ulp of PyTorch's float64 sum rounded to float32:
 * the op tests' bound 1e-5 is far above that. */
TEST(torch_ref_embedding)
{
    ref_file rf;
    REQUIRE(REF_OPEN(&rf, "embedding"));
    const ref_tensor *ri = REF_GET(&rf, "idx");
    cg_tensor *w = REF_LEAF(&rf, "weight");
    REQUIRE(ri && w && ri->ndim == 1);
    int n = (int)ri->n;
    int32_t *idx = th_alloc(sizeof(int32_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        idx[i] = (int32_t)ri->data[i];
        REQUIRE(idx[i] == ri->data[i], "index %d is %g, not an integer", i, ri->data[i]);
    }
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *y = cg_embedding(&ctx, w, idx, n);
    if (REF_BACKWARD(&ctx, &rf, y)) {
        REF_CHECK_DATA(&rf, "y", y, 1e-5);
        REF_CHECK_GRAD(&rf, "dweight", w, 1e-5);
    }
    cg_ctx_free(&ctx);
    ref_free(&rf);
}

TEST(embedding_bad_inputs_are_clear_errors)
{
    cg_tensor *w = TH_LEAF(4, NUM, DIM);
    cg_tensor *flat = TH_LEAF(5, NUM * DIM), *cube = TH_LEAF(6, NUM, DIM, 1);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    static const int32_t past[3] = {0, NUM, 1}, negative[2] = {1, -1};
    static const int32_t huge[1] = {INT32_MAX}, lowest[1] = {INT32_MIN};
    CHECK_ARG_ERROR(&ctx, cg_embedding(&ctx, w, past, 3), "embedding");
    CHECK_ARG_ERROR(&ctx, cg_embedding(&ctx, w, negative, 2), "embedding");
    CHECK_ARG_ERROR(&ctx, cg_embedding(&ctx, w, huge, 1), "embedding");
    CHECK_ARG_ERROR(&ctx, cg_embedding(&ctx, w, lowest, 1), "embedding");
    CHECK_ARG_ERROR(&ctx, cg_embedding(&ctx, w, NULL, 3), "embedding");
    CHECK_ARG_ERROR(&ctx, cg_embedding(&ctx, w, IDX, 0), "embedding");
    CHECK_ARG_ERROR(&ctx, cg_embedding(&ctx, w, IDX, -2), "embedding");
    CHECK_ARG_ERROR(&ctx, cg_embedding(&ctx, flat, IDX, N), "embedding");
    CHECK_ARG_ERROR(&ctx, cg_embedding(&ctx, cube, IDX, N), "embedding");
    CHECK(ctx.tape->n == 0, "%d nodes recorded by failed calls", ctx.tape->n);
    /* the message says which index, where, and the range */
    cg_clear_error(&ctx);
    cg_embedding(&ctx, w, past, 3);
    CHECK(strstr(ctx.errmsg, "embedding: index 7 at position 1 is outside [0, 7)"), "%s",
          ctx.errmsg);
    cg_clear_error(&ctx);
    cg_embedding(&ctx, w, negative, 2);
    CHECK(strstr(ctx.errmsg, "embedding: index -1 at position 1 is outside [0, 7)"), "%s",
          ctx.errmsg);
    /* a NULL table: a state error; an earlier error is passed on untouched */
    cg_clear_error(&ctx);
    CHECK(!cg_embedding(&ctx, NULL, IDX, N) && ctx.err == CG_ERR_STATE);
    cg_clear_error(&ctx);
    cg_embedding(&ctx, w, past, 3);
    char first[sizeof ctx.errmsg];
    snprintf(first, sizeof first, "%s", ctx.errmsg);
    CHECK(!cg_embedding(&ctx, w, IDX, N) && strcmp(ctx.errmsg, first) == 0, "%s", ctx.errmsg);
    cg_ctx_free(&ctx);
}
