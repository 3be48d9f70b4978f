/*
 * test_layers.c: the layers of cugen/layers.h. State_dict names and shapes,
 * PyTorch's default initialisation (bounds, moments, order of draws), forwards
 * bit-identical to the ops they call, BatchNorm2d's running statistics, a
 * weights-file round trip, and malformed declarations and inputs; Embedding's
 * the same way.
 */
#include <math.h>
#include <string.h>

#include "cugen/io.h"
#include "cugen/layers.h"
#include "cugen/tape.h"
#include "gpu_check.h"
#include "harness.h"

static int has(const cg_params *p, const char *name, const int *shape, int ndim)
{
    cg_tensor *t = cg_params_find(p, name);
    if (!t || t->ndim != ndim)
        return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i])
            return 0;
    return 1;
}
#define HAS(p, name, ...) has((p), (name), CG_SHAPE(__VA_ARGS__))

static int same_bits(const cg_tensor *a, const cg_tensor *b)
{
    return a && b && a->n == b->n && memcmp(a->data, b->data, sizeof(real) * (size_t)a->n) == 0;
}

/* ---- names and shapes --------------------------------------------------------------- */
TEST(layer_state_dict_names_and_shapes)
{
    cg_params p;
    cg_nn nn;
    cg_nn_linear fc, head, bare;
    cg_nn_conv2d c;
    cg_nn_conv_transpose2d ct;
    cg_nn_batchnorm2d bn;
    cg_nn_groupnorm gn;
    cg_nn_layernorm ln;
    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    cg_nn_linear_declare(&nn, &fc, "fc1", 5, 7, 1);
    cg_nn_linear_declare(&nn, &head, "head", 7, 2, 0);
    cg_nn_conv2d_declare(&nn, &c, "main.0", 3, 8, 4, 2, 1, 0);
    cg_nn_conv_transpose2d_declare(&nn, &ct, "main.3", 8, 6, 4, 2, 1, 1);
    cg_nn_batchnorm2d_declare(&nn, &bn, "main.4", 6);
    cg_nn_groupnorm_declare(&nn, &gn, "blocks.1.norm1", 2, 6);
    cg_nn_layernorm_declare(&nn, &ln, "ln", 9);
    char err[256];
    REQUIRE(cg_nn_alloc(&nn, err, sizeof err) == CG_OK, "%s", err);
    CHECK(HAS(&p, "fc1.weight", 7, 5) && HAS(&p, "fc1.bias", 7));
    CHECK(HAS(&p, "head.weight", 2, 7) && !cg_params_find(&p, "head.bias") && !head.bias);
    /* Conv2d weight (out, in, k, k); ConvTranspose2d weight (in, out, k, k) */
    CHECK(HAS(&p, "main.0.weight", 8, 3, 4, 4) && !cg_params_find(&p, "main.0.bias"));
    CHECK(HAS(&p, "main.3.weight", 8, 6, 4, 4) && HAS(&p, "main.3.bias", 6));
    CHECK(HAS(&p, "main.4.weight", 6) && HAS(&p, "main.4.bias", 6));
    CHECK(HAS(&p, "main.4.running_mean", 6) && HAS(&p, "main.4.running_var", 6));
    CHECK(HAS(&p, "main.4.num_batches_tracked", 1));
    CHECK(HAS(&p, "blocks.1.norm1.weight", 6) && HAS(&p, "blocks.1.norm1.bias", 6));
    CHECK(HAS(&p, "ln.weight", 9) && HAS(&p, "ln.bias", 9));
    /* parameters in declaration order; running stats are buffers, not parameters */
    CHECK(p.count == 12 && p.bcount == 3, "%d params, %d buffers", p.count, p.bcount);
    CHECK(p.t[0] == fc.weight && p.t[1] == fc.bias && p.t[2] == head.weight);
    CHECK(!bn.running_mean->is_param && bn.weight->is_param);
    CHECK(c.stride == 2 && c.pad == 1 && c.k == 4 && ct.stride == 2 && ct.pad == 1);
    CHECK(bn.momentum == 0.1 && bn.eps == 1e-5 && gn.eps == 1e-5 && ln.eps == 1e-5);
    cg_params_free(&p);

    /* an empty prefix is a bare module: "weight", "bias" */
    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    cg_nn_linear_declare(&nn, &bare, "", 3, 4, 1);
    REQUIRE(cg_nn_alloc(&nn, err, sizeof err) == CG_OK, "%s", err);
    CHECK(HAS(&p, "weight", 4, 3) && HAS(&p, "bias", 4));
    cg_params_free(&p);
}

/* The group set on the cg_nn goes to the parameters declared after it. */
TEST(layer_groups_follow_the_declaration)
{
    cg_params p;
    cg_nn nn;
    cg_nn_conv2d g, d;
    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    nn.group = 0;
    cg_nn_conv2d_declare(&nn, &g, "G.main.0", 4, 4, 3, 1, 1, 1);
    nn.group = 1;
    cg_nn_conv2d_declare(&nn, &d, "D.main.0", 4, 4, 3, 1, 1, 1);
    char err[256];
    REQUIRE(cg_nn_alloc(&nn, err, sizeof err) == CG_OK, "%s", err);
    CHECK(g.weight->group == 0 && g.bias->group == 0 && d.weight->group == 1 &&
          d.bias->group == 1);
    cg_params_free(&p);
}

/* ---- initialisation ----------------------------------------------------------------- */

/* mean and sample variance of t, in double */
static void moments(const cg_tensor *t, double *mean, double *var, double *absmax)
{
    double s = 0, ss = 0, m = 0;
    for (int64_t i = 0; i < t->n; i++) {
        s += t->data[i];
        m = fmax(m, fabs(t->data[i]));
    }
    *mean = s / (double)t->n;
    for (int64_t i = 0; i < t->n; i++)
        ss += (t->data[i] - *mean) * (t->data[i] - *mean);
    *var = ss / (double)(t->n - 1);
    *absmax = m;
}

/* nn.Linear(512, 256): U(-b, b), b = 1/sqrt(512), so variance b^2 / 3. With
 * n = 131072 draws the sample variance has relative standard error
 * sqrt(Var(x^2) / n) / (b^2 / 3) = sqrt(4/45 / n) * 3 = 0.25%, so 2% is eight
 * standard errors; the mean's standard error is b / sqrt(3 n) = 0.0016 b,
 * and 0.01 b is six. The seed is fixed, so this never flickers. */
TEST(layer_linear_init_bounds_and_moments)
{
    cg_params p;
    cg_nn nn;
    cg_nn_linear fc;
    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    cg_nn_linear_declare(&nn, &fc, "fc", 512, 256, 1);
    char err[256];
    REQUIRE(cg_nn_alloc(&nn, err, sizeof err) == CG_OK, "%s", err);
    cg_rng r;
    cg_rng_init(&r, 1234, 0);
    REQUIRE(cg_nn_init(&nn, &r) == CG_OK);
    double b = 1.0 / sqrt(512.0), mean, var, absmax;
    moments(fc.weight, &mean, &var, &absmax);
    CHECK(absmax <= b && absmax > 0.999 * b, "max |w| %g, bound %g", absmax, b);
    CHECK(fabs(var / (b * b / 3) - 1) < 0.02, "variance %g, want %g", var, b * b / 3);
    CHECK(fabs(mean) < 0.01 * b, "mean %g", mean);
    /* bias: the same bound (256 draws: only the bound and a spread are checked) */
    moments(fc.bias, &mean, &var, &absmax);
    CHECK(absmax <= b && absmax > 0.9 * b, "max |b| %g, bound %g", absmax, b);
    cg_params_free(&p);
}

/* fan_in = weight.size(1) k k: in_channels k k for Conv2d, out_channels k k
 * for ConvTranspose2d (weight (in, out, k, k)), as torch computes it. With
 * 1152 draws, P(max |w| < 0.99 b) = 0.99^1152 < 1e-5. */
TEST(layer_conv_init_uses_torch_fan_in)
{
    cg_params p;
    cg_nn nn;
    cg_nn_conv2d c;
    cg_nn_conv_transpose2d ct;
    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    cg_nn_conv2d_declare(&nn, &c, "c", 8, 16, 3, 1, 1, 1);
    cg_nn_conv_transpose2d_declare(&nn, &ct, "ct", 16, 8, 3, 2, 1, 1);
    char err[256];
    REQUIRE(cg_nn_alloc(&nn, err, sizeof err) == CG_OK, "%s", err);
    cg_rng r;
    cg_rng_init(&r, 7, 3);
    REQUIRE(cg_nn_init(&nn, &r) == CG_OK);
    double mean, var, absmax;
    double bc = 1.0 / sqrt(8.0 * 9), bt = 1.0 / sqrt(8.0 * 9);
    moments(c.weight, &mean, &var, &absmax);
    CHECK(absmax <= bc && absmax > 0.99 * bc, "conv max |w| %g, bound %g", absmax, bc);
    moments(c.bias, &mean, &var, &absmax);
    CHECK(absmax <= bc, "conv max |b| %g, bound %g", absmax, bc);
    moments(ct.weight, &mean, &var, &absmax);
    CHECK(absmax <= bt && absmax > 0.99 * bt, "convT max |w| %g, bound %g (fan_in 72)", absmax,
          bt);
    moments(ct.bias, &mean, &var, &absmax);
    CHECK(absmax <= bt, "convT max |b| %g, bound %g", absmax, bt);
    cg_params_free(&p);
}

/* A small net used by the tests below. */
typedef struct {
    cg_params p;
    cg_nn nn;
    cg_nn_conv2d c1;
    cg_nn_batchnorm2d bn1;
    cg_nn_groupnorm gn;
    cg_nn_conv_transpose2d up;
    cg_nn_linear fc;
    cg_nn_layernorm ln;
} small_net;

static cg_status small_net_build(small_net *m, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    cg_params_init(&m->p);
    cg_nn_begin(&m->nn, &m->p);
    cg_nn_conv2d_declare(&m->nn, &m->c1, "enc.0", 3, 4, 3, 2, 1, 1);
    cg_nn_batchnorm2d_declare(&m->nn, &m->bn1, "enc.1", 4);
    cg_nn_groupnorm_declare(&m->nn, &m->gn, "enc.2", 2, 4);
    cg_nn_conv_transpose2d_declare(&m->nn, &m->up, "dec.0", 4, 2, 4, 2, 1, 0);
    cg_nn_linear_declare(&m->nn, &m->fc, "head", 2 * 8 * 8, 5, 1);
    cg_nn_layernorm_declare(&m->nn, &m->ln, "head_norm", 5);
    char err[256];
    cg_status st = cg_nn_alloc(&m->nn, err, sizeof err);
    if (st != CG_OK)
        return st;
    cg_rng r;
    cg_rng_init(&r, seed, 0);
    return cg_nn_init(&m->nn, &r);
}

/* x (N, 3, 8, 8) -> (N, 5) */
static cg_tensor *small_net_fwd(cg_ctx *ctx, small_net *m, cg_tensor *x)
{
    cg_tensor *h = cg_nn_conv2d_fwd(ctx, &m->c1, x);
    h = cg_relu(ctx, cg_nn_batchnorm2d_fwd(ctx, &m->bn1, h));
    h = cg_nn_conv_transpose2d_fwd(ctx, &m->up, cg_nn_groupnorm_fwd(ctx, &m->gn, h));
    h = cg_reshape(ctx, h, CG_SHAPE(x ? x->shape[0] : 1, 2 * 8 * 8));
    return cg_nn_layernorm_fwd(ctx, &m->ln, cg_nn_linear_fwd(ctx, &m->fc, h));
}

/* Declaration order, weight then bias, one rng: the same bits as filling the
 * tensors by hand in that order (what the models' own init code does today). */
TEST(layer_init_order_is_documented_and_reproducible)
{
    small_net a, b;
    REQUIRE(small_net_build(&a, 99) == CG_OK);
    REQUIRE(small_net_build(&b, 99) == CG_OK);
    for (int i = 0; i < a.p.count; i++)
        CHECK(same_bits(a.p.t[i], b.p.t[i]), "%s differs between two inits", a.p.t[i]->name);

    cg_rng r;
    cg_rng_init(&r, 99, 0);
    cg_params q;
    cg_params_init(&q);
    cg_tensor *w1 = cg_param(&q, "w1", CG_SHAPE(4, 3, 3, 3), 0);
    cg_tensor *b1 = cg_param(&q, "b1", CG_SHAPE(4), 0);
    cg_tensor *w2 = cg_param(&q, "w2", CG_SHAPE(4, 2, 4, 4), 0);
    cg_tensor *w3 = cg_param(&q, "w3", CG_SHAPE(5, 128), 0);
    cg_tensor *b3 = cg_param(&q, "b3", CG_SHAPE(5), 0);
    REQUIRE(cg_params_alloc(&q) == CG_OK);
    cg_init_uniform(w1, &r, -1 / sqrt(27.0), 1 / sqrt(27.0));
    cg_init_uniform(b1, &r, -1 / sqrt(27.0), 1 / sqrt(27.0));
    cg_init_uniform(w2, &r, -1 / sqrt(32.0), 1 / sqrt(32.0));  /* fan_in 2 * 4 * 4 */
    cg_init_uniform(w3, &r, -1 / sqrt(128.0), 1 / sqrt(128.0));
    cg_init_uniform(b3, &r, -1 / sqrt(128.0), 1 / sqrt(128.0));
    CHECK(same_bits(a.c1.weight, w1) && same_bits(a.c1.bias, b1));
    CHECK(same_bits(a.up.weight, w2));
    CHECK(same_bits(a.fc.weight, w3) && same_bits(a.fc.bias, b3));
    for (int c = 0; c < 4; c++)
        CHECK(a.bn1.weight->data[c] == 1 && a.bn1.bias->data[c] == 0 &&
              a.bn1.running_mean->data[c] == 0 && a.bn1.running_var->data[c] == 1 &&
              a.gn.weight->data[c] == 1 && a.gn.bias->data[c] == 0);
    CHECK(a.bn1.num_batches_tracked->data[0] == 0);
    cg_params_free(&q);
    cg_params_free(&a.p);
    cg_params_free(&b.p);
}

/* DCGAN's weights_init: conv weights normal(0, 0.02), BatchNorm weight normal(1, 0.02). */
static cg_status dcgan_style_init(cg_nn_layer *l, cg_rng *r)
{
    if (l->kind == CG_NN_CONV2D)
        return cg_init_normal(((cg_nn_conv2d *)l)->weight, r, 0.0, 0.02);
    cg_status st = cg_nn_init_default(l, r);
    if (st == CG_OK && l->kind == CG_NN_BATCHNORM2D)
        st = cg_init_normal(((cg_nn_batchnorm2d *)l)->weight, r, 1.0, 0.02);
    return st;
}

TEST(layer_init_hook_and_reinit)
{
    small_net a;
    REQUIRE(small_net_build(&a, 5) == CG_OK);
    a.c1.hdr.init = dcgan_style_init;
    a.bn1.hdr.init = dcgan_style_init;
    real bias0 = a.c1.bias->data[0];
    cg_rng r;
    cg_rng_init(&r, 5, 0);
    REQUIRE(cg_nn_init(&a.nn, &r) == CG_OK);
    double mean, var, absmax;
    moments(a.c1.weight, &mean, &var, &absmax);  /* 108 draws of N(0, 0.02) */
    CHECK(fabs(sqrt(var) / 0.02 - 1) < 0.3, "std %g: not the hook's normal(0, 0.02)", sqrt(var));
    CHECK(a.c1.bias->data[0] == bias0, "the hook leaves the bias as it was");
    int off_one = 0;
    for (int c = 0; c < 4; c++)
        off_one += a.bn1.weight->data[c] != 1;
    CHECK(off_one == 4, "BatchNorm weight drawn from normal(1, 0.02)");
    /* re-initialising one tensor afterwards */
    cg_rng_init(&r, 6, 0);
    REQUIRE(cg_init_normal(a.fc.weight, &r, 0.0, 0.02) == CG_OK);
    moments(a.fc.weight, &mean, &var, &absmax);
    CHECK(fabs(sqrt(var) / 0.02 - 1) < 0.2, "std %g after re-init (640 draws)", sqrt(var));
    cg_params_free(&a.p);
}

/* ---- forwards: the ops with the layer's tensors, bit for bit -------------------------- */
TEST(layer_forward_equals_the_ops)
{
    small_net a;
    REQUIRE(small_net_build(&a, 11) == CG_OK);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(3, 3, 8, 8), 1, 0.1, 1.0, 1);
    cg_tensor *xd = th_const(CG_SHAPE(3, 128), 2, 0.1, 1.0, 1);
    cg_tensor *x4 = th_const(CG_SHAPE(3, 4, 4, 4), 3, 0.1, 1.0, 1);

    cg_tensor *y = cg_nn_conv2d_fwd(&ctx, &a.c1, x);
    cg_tensor *want = cg_conv2d(&ctx, x, a.c1.weight, a.c1.bias, 2, 1);
    REQUIRE_OK(&ctx);
    CHECK(y->ndim == 4 && y->shape[1] == 4 && y->shape[2] == 4 && same_bits(y, want));

    y = cg_nn_conv_transpose2d_fwd(&ctx, &a.up, x4);
    want = cg_conv_transpose2d(&ctx, x4, a.up.weight, NULL, 2, 1);
    REQUIRE_OK(&ctx);
    CHECK(y->shape[1] == 2 && y->shape[2] == 8 && same_bits(y, want));

    y = cg_nn_linear_fwd(&ctx, &a.fc, xd);
    want = cg_linear(&ctx, xd, a.fc.weight, a.fc.bias);
    REQUIRE_OK(&ctx);
    CHECK(same_bits(y, want));

    y = cg_nn_groupnorm_fwd(&ctx, &a.gn, x4);
    want = cg_groupnorm(&ctx, x4, a.gn.weight, a.gn.bias, 2, 1e-5);
    REQUIRE_OK(&ctx);
    CHECK(same_bits(y, want));

    cg_tensor *xl = th_const(CG_SHAPE(6, 5), 4, 0.1, 1.0, 1);
    y = cg_nn_layernorm_fwd(&ctx, &a.ln, xl);
    want = cg_layernorm(&ctx, xl, a.ln.weight, a.ln.bias, 1e-5);
    REQUIRE_OK(&ctx);
    CHECK(same_bits(y, want));

    /* BatchNorm2d: eval against the op in eval mode with the same running stats */
    cg_nn_train(&a.nn, 0);
    y = cg_nn_batchnorm2d_fwd(&ctx, &a.bn1, x4);
    want = cg_batchnorm(&ctx, x4, a.bn1.weight, a.bn1.bias, a.bn1.running_mean,
                        a.bn1.running_var, 0, 0.1, 1e-5);
    REQUIRE_OK(&ctx);
    CHECK(same_bits(y, want));
    /* train: against the op on copies of the running stats */
    cg_nn_train(&a.nn, 1);
    cg_tensor *rm = th_const(CG_SHAPE(4), 5, 0, 0, 0), *rv = th_const(CG_SHAPE(4), 5, 1, 1, 0);
    y = cg_nn_batchnorm2d_fwd(&ctx, &a.bn1, x4);
    want = cg_batchnorm(&ctx, x4, a.bn1.weight, a.bn1.bias, rm, rv, 1, 0.1, 1e-5);
    REQUIRE_OK(&ctx);
    CHECK(same_bits(y, want) && same_bits(a.bn1.running_mean, rm) &&
          same_bits(a.bn1.running_var, rv));

    /* the whole net records on the tape and backpropagates into every parameter */
    cg_params_zero_grad(&a.p);
    cg_tensor *loss = cg_mean(&ctx, cg_mul(&ctx, small_net_fwd(&ctx, &a, x),
                                            th_const(CG_SHAPE(3, 5), 6, 0.1, 1.0, 1)));
    REQUIRE_OK(&ctx);
    REQUIRE(cg_backward(&ctx, loss) == CG_OK, "%s", ctx.errmsg);
    for (int i = 0; i < a.p.count; i++) {
        double s = 0;
        for (int64_t j = 0; j < a.p.t[i]->n; j++)
            s += fabs(a.p.t[i]->grad[j]);
        CHECK(s > 0, "no gradient reached %s", a.p.t[i]->name);
    }
    cg_ctx_free(&ctx);
    cg_params_free(&a.p);
}

/* ---- BatchNorm2d's running statistics, PyTorch's formulas ------------------------------ */
/* running_mean <- (1 - m) running_mean + m mean_b; running_var <- (1 - m) running_var
 * + m var_b n / (n - 1) (unbiased), n = N H W; num_batches_tracked += 1 per training
 * forward (torch/nn/modules/batchnorm.py with momentum 0.1). Eval: unchanged. */
TEST(layer_batchnorm_running_stats_follow_pytorch)
{
    small_net a;
    REQUIRE(small_net_build(&a, 3) == CG_OK);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    const int N = 2, C = 4, S = 9;
    double rm[4] = {0, 0, 0, 0}, rv[4] = {1, 1, 1, 1};
    for (int step = 0; step < 3; step++) {
        cg_tensor *x = th_const(CG_SHAPE(N, C, 3, 3), 20 + step, 0.1, 2.0, 1);
        REQUIRE(cg_nn_batchnorm2d_fwd(&ctx, &a.bn1, x), "%s", ctx.errmsg);
        for (int c = 0; c < C; c++) {
            double s = 0, ss = 0;
            for (int n = 0; n < N; n++)
                for (int k = 0; k < S; k++)
                    s += x->data[(n * C + c) * S + k];
            double mean = s / (N * S);
            for (int n = 0; n < N; n++)
                for (int k = 0; k < S; k++) {
                    double d = x->data[(n * C + c) * S + k] - mean;
                    ss += d * d;
                }
            rm[c] = 0.9 * rm[c] + 0.1 * mean;
            rv[c] = 0.9 * rv[c] + 0.1 * ss / (N * S - 1);
            CHECK_NEAR(a.bn1.running_mean->data[c], rm[c], 1e-6);
            CHECK_NEAR(a.bn1.running_var->data[c], rv[c], 1e-6);
        }
        CHECK(a.bn1.num_batches_tracked->data[0] == step + 1, "num_batches_tracked %g",
              (double)a.bn1.num_batches_tracked->data[0]);
        cg_ctx_step_end(&ctx);
    }
    /* eval: y = (x - running_mean) / sqrt(running_var + eps) weight + bias; nothing moves */
    cg_nn_train(&a.nn, 0);
    a.bn1.weight->data[1] = 1.5f;
    a.bn1.bias->data[1] = -0.25f;
    cg_tensor *x = th_const(CG_SHAPE(N, C, 3, 3), 40, 0.1, 2.0, 1);
    cg_tensor *y = cg_nn_batchnorm2d_fwd(&ctx, &a.bn1, x);
    REQUIRE_OK(&ctx);
    for (int i = 0; i < (int)x->n; i++) {
        int c = (i / S) % C;
        double w = a.bn1.weight->data[c], b = a.bn1.bias->data[c];
        double want = (x->data[i] - a.bn1.running_mean->data[c]) /
                      sqrt(a.bn1.running_var->data[c] + 1e-5) * w + b;
        CHECK_NEAR(y->data[i], want, 1e-5);
    }
    CHECK(a.bn1.num_batches_tracked->data[0] == 3);
    for (int c = 0; c < C; c++)
        CHECK_NEAR(a.bn1.running_mean->data[c], rm[c], 1e-6);
    cg_ctx_free(&ctx);
    cg_params_free(&a.p);
}

/* ---- a weights file round trip ------------------------------------------------------ */
TEST(layer_weights_file_round_trip)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *path = th_path(dir, "net.safetensors"), err[512];
    small_net a, b;
    REQUIRE(small_net_build(&a, 1) == CG_OK);
    REQUIRE(small_net_build(&b, 2) == CG_OK);
    a.bn1.running_mean->data[2] = 0.375f;
    a.bn1.running_var->data[0] = 2.5f;
    a.bn1.num_batches_tracked->data[0] = 17;
    CHECK(!same_bits(a.c1.weight, b.c1.weight), "two seeds, two nets");
    REQUIRE(cg_weights_save(path, &a.p, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(cg_weights_load(path, &b.p, err, sizeof err) == CG_OK, "%s", err);
    for (int i = 0; i < a.p.count; i++)
        CHECK(same_bits(a.p.t[i], b.p.t[i]), "%s", a.p.t[i]->name);
    for (int i = 0; i < a.p.bcount; i++)
        CHECK(same_bits(a.p.b[i], b.p.b[i]), "%s", a.p.b[i]->name);

    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_nn_train(&a.nn, 0);
    cg_nn_train(&b.nn, 0);
    cg_tensor *x = th_const(CG_SHAPE(2, 3, 8, 8), 8, 0.1, 1.0, 1);
    cg_tensor *ya = small_net_fwd(&ctx, &a, x), *yb = small_net_fwd(&ctx, &b, x);
    REQUIRE_OK(&ctx);
    CHECK(same_bits(ya, yb), "the loaded net computes the same outputs");
    cg_ctx_free(&ctx);
    cg_params_free(&a.p);
    cg_params_free(&b.p);
    th_rmtree(dir);
}

/* ---- malformed declarations and inputs ------------------------------------------------ */
TEST(layer_bad_declarations_are_clear_errors)
{
    char err[256];
    cg_params p;
    cg_nn nn;
    cg_nn_conv2d c, c2;
    cg_nn_linear fc;
    cg_nn_groupnorm gn;

    /* zero channels: the first error sticks, later declarations do nothing */
    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    cg_nn_conv2d_declare(&nn, &c, "main.0", 0, 8, 3, 1, 1, 1);
    cg_nn_linear_declare(&nn, &fc, "fc", 4, 4, 1);
    CHECK(cg_nn_alloc(&nn, err, sizeof err) == CG_ERR_ARG);
    printf("    %s\n", err);
    CHECK(strncmp(err, "main.0: Conv2d", 14) == 0 && strstr(err, "in_channels"), "%s", err);
    CHECK(p.count == 0 && !fc.weight && !c.weight && !p.allocated);
    cg_params_free(&p);

    /* a name already declared */
    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    cg_nn_conv2d_declare(&nn, &c, "main.0", 3, 8, 3, 1, 1, 1);
    cg_nn_conv2d_declare(&nn, &c2, "main.0", 8, 8, 3, 1, 1, 1);
    CHECK(cg_nn_alloc(&nn, err, sizeof err) == CG_ERR_ARG);
    printf("    %s\n", err);
    CHECK(strstr(err, "main.0.weight") && strstr(err, "already declared"), "%s", err);
    cg_params_free(&p);

    /* GroupNorm with channels not divisible by groups; negative padding; no features */
    const struct { int which; const char *want; } cases[] = {
        {0, "divisible"}, {1, "padding"}, {2, "out_features"}, {3, "stride"}};
    for (int i = 0; i < 4; i++) {
        cg_params_init(&p);
        cg_nn_begin(&nn, &p);
        if (cases[i].which == 0)
            cg_nn_groupnorm_declare(&nn, &gn, "norm", 3, 8);
        else if (cases[i].which == 1)
            cg_nn_conv2d_declare(&nn, &c, "conv", 3, 8, 3, 1, -1, 1);
        else if (cases[i].which == 2)
            cg_nn_linear_declare(&nn, &fc, "fc", 4, 0, 1);
        else
            cg_nn_conv2d_declare(&nn, &c, "conv", 3, 8, 3, 0, 1, 1);
        CHECK(cg_nn_alloc(&nn, err, sizeof err) == CG_ERR_ARG && strstr(err, cases[i].want),
              "%s", err);
        printf("    %s\n", err);
        cg_params_free(&p);
    }

    /* a declaration after the allocation */
    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    cg_nn_linear_declare(&nn, &fc, "fc", 4, 4, 1);
    REQUIRE(cg_nn_alloc(&nn, err, sizeof err) == CG_OK, "%s", err);
    cg_nn_linear_declare(&nn, &fc, "fc2", 4, 4, 1);
    CHECK(nn.err == CG_ERR_STATE && strstr(nn.errmsg, "after"), "%s", nn.errmsg);
    cg_params_free(&p);
}

TEST(layer_bad_inputs_are_clear_errors)
{
    small_net a;
    REQUIRE(small_net_build(&a, 4) == CG_OK);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    /* a 5x5 kernel without padding over a 4x4 input */
    cg_params p;
    cg_nn nn;
    cg_nn_conv2d big;
    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    cg_nn_conv2d_declare(&nn, &big, "big", 3, 2, 5, 1, 0, 0);
    char err[256];
    REQUIRE(cg_nn_alloc(&nn, err, sizeof err) == CG_OK, "%s", err);
    cg_tensor *x4 = th_const(CG_SHAPE(1, 3, 4, 4), 1, 0.1, 1, 1);
    cg_tensor *x2 = th_const(CG_SHAPE(1, 2, 8, 8), 1, 0.1, 1, 1);
    cg_tensor *x27 = th_const(CG_SHAPE(2, 7), 1, 0.1, 1, 1);
    cg_tensor *x3 = th_const(CG_SHAPE(2, 3, 2, 2), 1, 0.1, 1, 1);
    cg_tensor *x24 = th_const(CG_SHAPE(2, 4), 1, 0.1, 1, 1);
    CHECK_ARG_ERROR(&ctx, cg_nn_conv2d_fwd(&ctx, &big, x4), "big");
    CHECK_ARG_ERROR(&ctx, cg_nn_conv2d_fwd(&ctx, &a.c1, x2), "enc.0");
    CHECK_ARG_ERROR(&ctx, cg_nn_linear_fwd(&ctx, &a.fc, x27), "head");
    CHECK_ARG_ERROR(&ctx, cg_nn_batchnorm2d_fwd(&ctx, &a.bn1, x3), "enc.1");
    CHECK_ARG_ERROR(&ctx, cg_nn_layernorm_fwd(&ctx, &a.ln, x24), "head_norm");
    CHECK_ARG_ERROR(&ctx, cg_nn_groupnorm_fwd(&ctx, &a.gn, x3), "enc.2");
    /* an earlier error passes through; a layer that failed to declare is not a crash */
    cg_clear_error(&ctx);
    CHECK(!cg_nn_linear_fwd(&ctx, &a.fc, NULL) && ctx.err == CG_ERR_STATE);
    cg_clear_error(&ctx);
    cg_nn_linear never;
    memset(&never, 0, sizeof never);
    CHECK(!cg_nn_linear_fwd(&ctx, &never, x27) &&
          ctx.err == CG_ERR_STATE);
    printf("    %s\n", ctx.errmsg);
    cg_ctx_free(&ctx);
    cg_params_free(&p);
    cg_params_free(&a.p);
}
/* track_running_stats 0 (PyTorch's attribute set to False after construction):
 * a training forward normalises with the batch statistics, as the op does without
 * running buffers, and moves no buffer; eval still uses the running statistics. */
TEST(layer_batchnorm_untracked_moves_no_buffer)
{
    small_net a;
    REQUIRE(small_net_build(&a, 4) == CG_OK);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    for (int c = 0; c < 4; c++) {
        a.bn1.running_mean->data[c] = 0.25f * (real)c;
        a.bn1.running_var->data[c] = 1.0f + 0.5f * (real)c;
    }
    real rm[4], rv[4];
    memcpy(rm, a.bn1.running_mean->data, sizeof rm);
    memcpy(rv, a.bn1.running_var->data, sizeof rv);
    cg_tensor *x = th_const(CG_SHAPE(2, 4, 3, 3), 50, 0.1, 2.0, 1);
    a.bn1.track_running_stats = 0;
    cg_tensor *y = cg_nn_batchnorm2d_fwd(&ctx, &a.bn1, x);
    cg_tensor *want = cg_batchnorm(&ctx, x, a.bn1.weight, a.bn1.bias, NULL, NULL, 1, 0.1, 1e-5);
    REQUIRE_OK(&ctx);
    CHECK(same_bits(y, want), "training forward is not the batch-statistics op");
    CHECK(memcmp(rm, a.bn1.running_mean->data, sizeof rm) == 0 &&
          memcmp(rv, a.bn1.running_var->data, sizeof rv) == 0, "running statistics moved");
    CHECK(a.bn1.num_batches_tracked->data[0] == 0, "num_batches_tracked %g",
          (double)a.bn1.num_batches_tracked->data[0]);
    cg_nn_train(&a.nn, 0);
    y = cg_nn_batchnorm2d_fwd(&ctx, &a.bn1, x);
    want = cg_batchnorm(&ctx, x, a.bn1.weight, a.bn1.bias, a.bn1.running_mean,
                        a.bn1.running_var, 0, 0.1, 1e-5);
    REQUIRE_OK(&ctx);
    CHECK(same_bits(y, want), "eval forward is not the running-statistics op");
    cg_ctx_free(&ctx);
    cg_params_free(&a.p);
}


/* ---- Embedding ------------------------------------------------------------------------ */
/* nn.Embedding(1000, 64): "<prefix>.weight" (num, dim), N(0, 1) drawn as
 * cg_init_normal draws it (the same bits from the same rng). 64000 draws: the
 * mean's standard error is 1/sqrt(64000) = 0.004, so 0.02 is five; the
 * variance's relative one sqrt(2/64000) = 0.0056, so 3% is five; the share
 * beyond 2 (4.55% for N(0, 1); 0 for the uniform of variance 1, U(-1.73,
 * 1.73)) has standard error 0.0008, and [0.041, 0.050] is five. */
TEST(layer_embedding_names_shape_and_init)
{
    cg_params p, q;
    cg_nn nn;
    cg_nn_embedding emb, bare;
    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    cg_nn_embedding_declare(&nn, &emb, "label_emb", 1000, 64);
    char err[256];
    REQUIRE(cg_nn_alloc(&nn, err, sizeof err) == CG_OK, "%s", err);
    CHECK(HAS(&p, "label_emb.weight", 1000, 64) && p.count == 1 && p.bcount == 0);
    CHECK(emb.num == 1000 && emb.dim == 64 && emb.hdr.kind == CG_NN_EMBEDDING);
    cg_rng r;
    cg_rng_init(&r, 17, 2);
    REQUIRE(cg_nn_init(&nn, &r) == CG_OK);
    double mean, var, absmax;
    moments(emb.weight, &mean, &var, &absmax);
    CHECK(fabs(mean) < 0.02, "mean %g", mean);
    CHECK(fabs(var - 1) < 0.03, "variance %g", var);
    int64_t beyond = 0;
    for (int64_t i = 0; i < emb.weight->n; i++)
        beyond += fabs(emb.weight->data[i]) > 2;
    double share = (double)beyond / (double)emb.weight->n;
    CHECK(share > 0.041 && share < 0.050, "%.4f beyond 2 sigma, want 0.0455", share);
    cg_params_init(&q);
    cg_tensor *t = cg_param(&q, "t", CG_SHAPE(1000, 64), 0);
    REQUIRE(t && cg_params_alloc(&q) == CG_OK);
    cg_rng_init(&r, 17, 2);
    REQUIRE(cg_init_normal(t, &r, 0.0, 1.0) == CG_OK);
    CHECK(same_bits(emb.weight, t), "not the draws of cg_init_normal(0, 1)");
    cg_params_free(&q);
    cg_params_free(&p);

    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    cg_nn_embedding_declare(&nn, &bare, "", 3, 4);
    REQUIRE(cg_nn_alloc(&nn, err, sizeof err) == CG_OK, "%s", err);
    CHECK(HAS(&p, "weight", 3, 4));
    cg_params_free(&p);
}

/* The forward is cg_embedding with the layer's table, bit for bit; bad
 * indices and declarations name the layer. */
TEST(layer_embedding_forward_and_errors)
{
    cg_params p;
    cg_nn nn;
    cg_nn_embedding emb, zero;
    cg_params_init(&p);
    cg_nn_begin(&nn, &p);
    cg_nn_embedding_declare(&nn, &emb, "label_emb", 10, 6);
    char err[256];
    REQUIRE(cg_nn_alloc(&nn, err, sizeof err) == CG_OK, "%s", err);
    cg_rng r;
    cg_rng_init(&r, 3, 0);
    REQUIRE(cg_nn_init(&nn, &r) == CG_OK);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    static const int32_t labels[7] = {9, 0, 4, 4, 1, 9, 2};
    cg_tensor *a = cg_nn_embedding_fwd(&ctx, &emb, labels, 7);
    cg_tensor *b = cg_embedding(&ctx, emb.weight, labels, 7);
    REQUIRE_OK(&ctx);
    CHECK(a->shape[0] == 7 && a->shape[1] == 6 && same_bits(a, b));

    static const int32_t past[2] = {3, 10}, negative[1] = {-4};
    CHECK_ARG_ERROR(&ctx, cg_nn_embedding_fwd(&ctx, &emb, past, 2), "label_emb");
    cg_nn_embedding_fwd(&ctx, &emb, past, 2);
    CHECK(strstr(ctx.errmsg, "label_emb: Embedding index 10 at position 1 is outside [0, 10)"),
          "%s", ctx.errmsg);
    CHECK_ARG_ERROR(&ctx, cg_nn_embedding_fwd(&ctx, &emb, negative, 1), "label_emb");
    CHECK_ARG_ERROR(&ctx, cg_nn_embedding_fwd(&ctx, &emb, NULL, 7), "label_emb");
    CHECK_ARG_ERROR(&ctx, cg_nn_embedding_fwd(&ctx, &emb, labels, 0), "label_emb");
    cg_clear_error(&ctx);
    cg_nn_embedding never;
    memset(&never, 0, sizeof never);
    CHECK(!cg_nn_embedding_fwd(&ctx, &never, labels, 7) && ctx.err == CG_ERR_STATE);
    printf("    %s\n", ctx.errmsg);
    cg_ctx_free(&ctx);
    cg_params_free(&p);

    for (int which = 0; which < 2; which++) {
        cg_params_init(&p);
        cg_nn_begin(&nn, &p);
        cg_nn_embedding_declare(&nn, &zero, "emb", which ? 5 : 0, which ? 0 : 5);
        CHECK(cg_nn_alloc(&nn, err, sizeof err) == CG_ERR_ARG &&
              strstr(err, which ? "embedding_dim" : "num_embeddings"), "%s", err);
        printf("    %s\n", err);
        cg_params_free(&p);
    }
}

/* ---- on the GPU (also run on the emulated device: the name contains "gpu") ---------- */
/* The same net on both devices, one training forward: outputs within the fp32
 * bound of the op tests (relative L2 1e-5), BatchNorm2d's running statistics
 * the same, num_batches_tracked counted where the buffer lives. */
TEST(layer_gpu_forward_and_running_stats_match_cpu)
{
    GPU_OR_SKIP();
    small_net a, b;
    REQUIRE(small_net_build(&a, 21) == CG_OK);
    REQUIRE(small_net_build(&b, 21) == CG_OK);
    char err[256];
    REQUIRE(cg_params_to_device(&b.p, err, sizeof err) == CG_OK, "%s", err);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = th_const(CG_SHAPE(3, 3, 8, 8), 31, 0.1, 1.0, 1);
    cg_tensor *ya = small_net_fwd(&ctx, &a, x);
    cg_tensor *yb = small_net_fwd(&ctx, &b, cg_to_device(&ctx, x, CG_CUDA));
    REQUIRE_OK(&ctx);
    REQUIRE(yb->dev == CG_CUDA);
    real got[15];
    REQUIRE(cg_copy_to_host(&ctx, got, yb) == CG_OK);
    CHECK(th_rel_err(got, ya->data, 15) < 1e-5, "output rel err %g", th_rel_err(got, ya->data, 15));
    REQUIRE(cg_params_to_host(&b.p, err, sizeof err) == CG_OK, "%s", err);
    CHECK(th_rel_err(b.bn1.running_mean->data, a.bn1.running_mean->data, 4) < 1e-5);
    CHECK(th_rel_err(b.bn1.running_var->data, a.bn1.running_var->data, 4) < 1e-5);
    CHECK(b.bn1.num_batches_tracked->data[0] == 1 && a.bn1.num_batches_tracked->data[0] == 1);
    cg_ctx_free(&ctx);
    cg_params_free(&a.p);
    cg_params_free(&b.p);
}
