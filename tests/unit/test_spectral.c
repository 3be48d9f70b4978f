/*
 * test_spectral.c: cg_spectral_norm on the CPU against closed forms.
 *
 *   a rank-one matrix a b^T: one power iteration from any u not orthogonal
 *   to a gives v = b / |b|, u = a / |a| and sigma = |a| |b| exactly (up to
 *   float rounding), and then W / sigma has spectral norm 1;
 *   dim 1 (ConvTranspose2d) is dim 0 of the weight with its first two dims
 *   swapped, as PyTorch permutes it;
 *   eval (update 0) leaves u and v alone and uses them;
 *   the training backward is the eval backward with the updated vectors
 *   (PyTorch treats u and v as constants), so it passes the same gradient
 *   as a gradcheck-tested function;
 *   bad input: a wrong u or v, a dim other than 0 or 1;
 *   the nn layers' option: torch's state_dict names and shapes.
 */
#include <math.h>
#include <string.h>

#include "cugen/layers.h"
#include "cugen/ops.h"
#include "harness.h"

/* float rounding of a few dozen products: 1e-6 relative is ample and far
 * below any error in the formulas (which would be O(1)) */
#define TOL 1e-6

TEST(spectral_norm_rank_one_matrix_has_closed_form)
{
    enum { H = 4, C = 6 };
    static const double a[H] = {1.0, -2.0, 0.5, 3.0}, b[C] = {0.3, -1.0, 2.0, 0.1, -0.7, 1.5};
    cg_tensor *w = th_const(CG_SHAPE(H, C), 1, 1, 1, 0);
    double na = 0, nb = 0;
    for (int i = 0; i < H; i++)
        na += a[i] * a[i];
    for (int j = 0; j < C; j++)
        nb += b[j] * b[j];
    na = sqrt(na), nb = sqrt(nb);
    for (int i = 0; i < H; i++)
        for (int j = 0; j < C; j++)
            w->data[i * C + j] = (real)(a[i] * b[j]);
    cg_tensor *u = th_const(CG_SHAPE(H), 2, 0.2, 1.0, 0);
    u->data[0] = 1, u->data[1] = -1, u->data[2] = 0.5, u->data[3] = 2;   /* a . u = 9.25 */
    cg_tensor *v = th_const(CG_SHAPE(C), 3, 0.2, 1.0, 1);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *y = cg_spectral_norm(&ctx, w, u, v, 0, 1);
    REQUIRE_OK(&ctx);
    /* u . a > 0, so v = +b/|b| and u = +a/|a| */
    for (int i = 0; i < H; i++)
        CHECK_NEAR(u->data[i], a[i] / na, TOL);
    for (int j = 0; j < C; j++)
        CHECK_NEAR(v->data[j], b[j] / nb, TOL);
    for (int i = 0; i < H * C; i++)
        CHECK_NEAR(y->data[i], w->data[i] / (na * nb), TOL);
    cg_ctx_free(&ctx);
}

TEST(spectral_norm_dim1_is_dim0_of_the_swapped_weight)
{
    enum { A = 3, H = 5, R = 4 };
    cg_tensor *w = th_const(CG_SHAPE(A, H, 2, 2), 4, 0.1, 1, 1);
    cg_tensor *ws = th_const(CG_SHAPE(H, A, 2, 2), 4, 0.1, 1, 1);
    for (int a = 0; a < A; a++)
        for (int i = 0; i < H; i++)
            for (int r = 0; r < R; r++)
                ws->data[(i * A + a) * R + r] = w->data[(a * H + i) * R + r];
    cg_tensor *u1 = th_const(CG_SHAPE(H), 5, 0.1, 1, 1), *u2 = th_const(CG_SHAPE(H), 5, 0.1, 1, 1);
    cg_tensor *v1 = th_const(CG_SHAPE(A * R), 6, 0.1, 1, 1);
    cg_tensor *v2 = th_const(CG_SHAPE(A * R), 6, 0.1, 1, 1);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *y1 = cg_spectral_norm(&ctx, w, u1, v1, 1, 1);
    cg_tensor *y2 = cg_spectral_norm(&ctx, ws, u2, v2, 0, 1);
    REQUIRE_OK(&ctx);
    CHECK(memcmp(u1->data, u2->data, sizeof(real) * H) == 0, "u differs");
    CHECK(memcmp(v1->data, v2->data, sizeof(real) * A * R) == 0, "v differs");
    for (int a = 0; a < A; a++)
        for (int i = 0; i < H; i++)
            for (int r = 0; r < R; r++)
                CHECK(y1->data[(a * H + i) * R + r] == y2->data[(i * A + a) * R + r],
                      "y[%d][%d][%d] differs", a, i, r);
    cg_ctx_free(&ctx);
}

/* The training backward equals the eval backward run with the vectors the
 * training forward left; eval moves nothing. */
TEST(spectral_norm_training_backward_uses_updated_vectors_as_constants)
{
    enum { H = 6, C = 9 };
    cg_tensor *w1 = TH_LEAF(7, H, C), *w2 = TH_LEAF(7, H, C);
    cg_tensor *u = th_const(CG_SHAPE(H), 8, 0.1, 1, 1), *v = th_const(CG_SHAPE(C), 9, 0.1, 1, 1);
    cg_tensor *c = th_const(CG_SHAPE(H, C), 10, 0.1, 1, 1);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_backward(&ctx, cg_sum(&ctx, cg_mul(&ctx, cg_spectral_norm(&ctx, w1, u, v, 0, 1), c)));
    REQUIRE_OK(&ctx);
    real u_after[H], v_after[C];
    memcpy(u_after, u->data, sizeof u_after);
    memcpy(v_after, v->data, sizeof v_after);
    cg_tensor *y2 = cg_spectral_norm(&ctx, w2, u, v, 0, 0);
    cg_backward(&ctx, cg_sum(&ctx, cg_mul(&ctx, y2, c)));
    REQUIRE_OK(&ctx);
    CHECK(memcmp(u_after, u->data, sizeof u_after) == 0 &&
          memcmp(v_after, v->data, sizeof v_after) == 0, "eval moved u or v");
    for (int i = 0; i < H * C; i++)
        CHECK(w1->grad[i] == w2->grad[i], "gradient %d: %g vs %g", i, (double)w1->grad[i],
              (double)w2->grad[i]);
    cg_ctx_free(&ctx);
}

TEST(spectral_norm_rejects_bad_input)
{
    cg_tensor *w = TH_LEAF(11, 4, 3, 2, 2);
    cg_tensor *u = th_const(CG_SHAPE(4), 12, 0.1, 1, 1), *v = th_const(CG_SHAPE(12), 13, 0.1, 1, 1);
    cg_tensor *v3 = th_const(CG_SHAPE(11), 14, 0.1, 1, 1);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    CHECK_ARG_ERROR(&ctx, cg_spectral_norm(&ctx, w, u, v3, 0, 1), "spectral_norm");
    CHECK_ARG_ERROR(&ctx, cg_spectral_norm(&ctx, w, u, v, 1, 1), "spectral_norm");  /* h = 3 */
    CHECK_ARG_ERROR(&ctx, cg_spectral_norm(&ctx, w, u, v, 2, 1), "spectral_norm");
    CHECK(u->data[0] == th_const(CG_SHAPE(4), 12, 0.1, 1, 1)->data[0], "a refused call moved u");
    cg_ctx_free(&ctx);
}

/* The layers' option: PyTorch's names and shapes (weight_orig a parameter,
 * weight_u and weight_v buffers of the matrix's rows and columns; a
 * ConvTranspose2d's rows are its output channels), unit vectors after init,
 * a power iteration in training only, and the layer without the option
 * unchanged ("weight"). */
TEST(spectral_norm_layers_declare_torch_names_and_iterate_in_training)
{
    cg_params p;
    cg_nn nn;
    cg_nn_linear lin, plain;
    cg_nn_conv2d conv;
    cg_nn_conv_transpose2d convt;
    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    nn.spectral_norm = 1;
    cg_nn_linear_declare(&nn, &lin, "fc", 5, 3, 1);
    cg_nn_conv2d_declare(&nn, &conv, "c", 2, 4, 3, 1, 1, 0);
    cg_nn_conv_transpose2d_declare(&nn, &convt, "t", 4, 6, 4, 2, 1, 0);
    nn.spectral_norm = 0;
    cg_nn_linear_declare(&nn, &plain, "p", 2, 2, 0);
    char err[256];
    REQUIRE(cg_nn_alloc(&nn, err, sizeof err) == CG_OK, "%s", err);
    const struct {
        const char *name;
        int64_t n;
        int buffer;
    } want[] = {{"fc.weight_orig", 15, 0}, {"fc.bias", 3, 0}, {"fc.weight_u", 3, 1},
                {"fc.weight_v", 5, 1}, {"c.weight_orig", 72, 0}, {"c.weight_u", 4, 1},
                {"c.weight_v", 18, 1}, {"t.weight_orig", 384, 0}, {"t.weight_u", 6, 1},
                {"t.weight_v", 64, 1}, {"p.weight", 4, 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cg_tensor *t = cg_params_find(&p, want[i].name);
        CHECK(t && t->n == want[i].n, "%s: %lld values, want %lld", want[i].name,
              t ? (long long)t->n : -1LL, (long long)want[i].n);
    }
    CHECK(!cg_params_find(&p, "fc.weight") && plain.weight_u == NULL);
    CHECK(p.count == 5 && p.bcount == 6, "%d parameters, %d buffers", p.count, p.bcount);
    cg_rng r;
    cg_rng_init(&r, 3, 0);
    REQUIRE(cg_nn_init(&nn, &r) == CG_OK);
    cg_tensor *vecs[2] = {convt.weight_u, convt.weight_v};
    for (int k = 0; k < 2; k++) {
        double s = 0;
        for (int64_t i = 0; i < vecs[k]->n; i++)
            s += (double)vecs[k]->data[i] * vecs[k]->data[i];
        CHECK_NEAR(s, 1.0, TOL);
    }
    real u0[6];
    memcpy(u0, convt.weight_u->data, sizeof u0);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(2, 4, 3, 3), 20, 0.1, 1, 1);
    convt.hdr.training = 0;
    cg_tensor *y0 = cg_nn_conv_transpose2d_fwd(&ctx, &convt, x);
    REQUIRE_OK(&ctx);
    CHECK(y0->shape[1] == 6 && memcmp(u0, convt.weight_u->data, sizeof u0) == 0,
          "eval moved u");
    convt.hdr.training = 1;
    cg_nn_conv_transpose2d_fwd(&ctx, &convt, x);
    REQUIRE_OK(&ctx);
    CHECK(memcmp(u0, convt.weight_u->data, sizeof u0) != 0, "training left u as it was");
    cg_ctx_free(&ctx);
    cg_params_free(&p);
}
