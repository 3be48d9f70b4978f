/*
 * grad_elementwise.c: gradchecks of the pointwise ops, the broadcasting
 * add / sub / mul, and sum / mean. Inputs come from TH_LEAF (magnitudes in
 * [0.2, 1.2], random signs), so no input sits on a kink; log gets positive
 * inputs.
 */
#include "cugen/ops.h"
#include "harness.h"

/* ---- add, sub, mul with broadcasting ---------------------------------------- */
typedef cg_tensor *(*binary_fn)(cg_ctx *, cg_tensor *, cg_tensor *);

typedef struct {
    const char *name;
    binary_fn fn;
} binop;

static const binop binops[] = {{"add", cg_add}, {"sub", cg_sub}, {"mul", cg_mul}};

static cg_tensor *f_binary(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return ((const binop *)arg)->fn(ctx, in[0], in[1]);
}

/* Every op against one b layout (a and b are both differentiated). */
static void check_binops(const char *layout, cg_tensor *a, cg_tensor *b)
{
    for (int k = 0; k < 3; k++) {
        char what[64];
        snprintf(what, sizeof what, "%s %s", binops[k].name, layout);
        cg_tensor *in[2] = {a, b};
        GRADCHECK(what, f_binary, (void *)&binops[k], in, 2);
    }
}

TEST(gradcheck_binary_same_shape)
{
    check_binops("same shape", TH_LEAF(1, 3, 5, 7), TH_LEAF(2, 3, 5, 7));
}

TEST(gradcheck_binary_scalar)
{
    check_binops("scalar b (1)", TH_LEAF(3, 3, 5, 7), TH_LEAF(4, 1));
    check_binops("scalar b (1, 1, 1)", TH_LEAF(5, 3, 5, 7), TH_LEAF(6, 1, 1, 1));
}

TEST(gradcheck_binary_row)
{
    check_binops("row b (D) into (N, D)", TH_LEAF(7, 5, 7), TH_LEAF(8, 7));
    check_binops("b (3, 1, 5) into (3, 3, 5)", TH_LEAF(9, 3, 3, 5), TH_LEAF(10, 3, 1, 5));
}

TEST(gradcheck_binary_channel)
{
    check_binops("b (1, C, 1, 1) into (N, C, H, W)", TH_LEAF(11, 3, 5, 3, 7),
                 TH_LEAF(12, 1, 5, 1, 1));
    check_binops("b (N, C, 1, 1) into (N, C, H, W)", TH_LEAF(13, 3, 5, 3, 7),
                 TH_LEAF(14, 3, 5, 1, 1));
    check_binops("b (C, 1, 1) into (N, C, H, W)", TH_LEAF(15, 3, 5, 3, 7),
                 TH_LEAF(16, 5, 1, 1));
}

/* x used twice by one node, then a tensor (t = tanh x) used by two nodes. */
static cg_tensor *f_square(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_mul(ctx, in[0], in[0]);
}

static cg_tensor *f_reuse(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    cg_tensor *t = cg_tanh(ctx, in[0]);
    return cg_mul(ctx, t, cg_add(ctx, t, in[0]));
}

TEST(gradcheck_tensor_used_twice)
{
    cg_tensor *in[1] = {TH_LEAF(17, 5, 7)};
    GRADCHECK("mul(x, x)", f_square, NULL, in, 1);
    GRADCHECK("t = tanh x; mul(t, add(t, x))", f_reuse, NULL, in, 1);
}

/* ---- pointwise -------------------------------------------------------------- */
typedef cg_tensor *(*unary_fn)(cg_ctx *, cg_tensor *);

static cg_tensor *f_unary(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return (*(unary_fn *)arg)(ctx, in[0]);
}

static void check_unary(const char *what, unary_fn fn, cg_tensor *x)
{
    cg_tensor *in[1] = {x};
    GRADCHECK(what, f_unary, &fn, in, 1);
}

TEST(gradcheck_activations)
{
    check_unary("tanh", cg_tanh, TH_LEAF(20, 3, 5, 7));
    check_unary("sigmoid", cg_sigmoid, TH_LEAF(21, 3, 5, 7));
    check_unary("silu", cg_silu, TH_LEAF(22, 3, 5, 7));
    check_unary("softplus", cg_softplus, TH_LEAF(23, 3, 5, 7));
    /* wider inputs: the stable branches of sigmoid / softplus for |x| up to 6 */
    check_unary("sigmoid |x| in [2, 6]", cg_sigmoid, th_leaf(CG_SHAPE(5, 7), 24, 2, 6, 1));
    check_unary("softplus |x| in [2, 6]", cg_softplus, th_leaf(CG_SHAPE(5, 7), 25, 2, 6, 1));
    check_unary("silu |x| in [2, 6]", cg_silu, th_leaf(CG_SHAPE(5, 7), 26, 2, 6, 1));
}

static cg_tensor *f_leaky(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_leaky_relu(ctx, in[0], 0.2);
}

TEST(gradcheck_leaky_relu)
{
    cg_tensor *in[1] = {TH_LEAF(27, 3, 5, 7)};
    GRADCHECK("leaky_relu 0.2", f_leaky, NULL, in, 1);
}

TEST(gradcheck_exp_log)
{
    check_unary("exp", cg_exp, TH_LEAF(30, 3, 5, 7));
    check_unary("log (x in [0.2, 1.2])", cg_log, th_leaf(CG_SHAPE(3, 5, 7), 31, 0.2, 1.2, 0));
}

static cg_tensor *f_scale(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_scale(ctx, in[0], -1.7);
}

static cg_tensor *f_affine(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_affine(ctx, in[0], 0.6, -2.5);
}

TEST(gradcheck_scale_affine)
{
    cg_tensor *in[1] = {TH_LEAF(32, 3, 5, 7)};
    GRADCHECK("scale -1.7", f_scale, NULL, in, 1);
    GRADCHECK("affine 0.6 x - 2.5", f_affine, NULL, in, 1);
}

TEST(gradcheck_sum_mean)
{
    check_unary("sum", cg_sum, TH_LEAF(33, 3, 5, 7));
    check_unary("mean", cg_mean, TH_LEAF(34, 3, 5, 7));
    check_unary("mean (2-D)", cg_mean, TH_LEAF(35, 9, 11));
}
