/*
 * grad_misc.c: gradchecks of softmax, bmm, timestep embedding, concat,
 * split, reshape and dropout.
 */
#include "cugen/ops.h"
#include "harness.h"

/* ---- softmax ------------------------------------------------------------------------ */
static cg_tensor *f_softmax(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_softmax(ctx, in[0]);
}

TEST(gradcheck_softmax)
{
    cg_tensor *in[1] = {TH_LEAF(41, 3, 5, 7)};
    GRADCHECK("softmax (3, 5, 7)", f_softmax, NULL, in, 1);
    /* logits spread over [-6, 6]: rows far from uniform */
    cg_tensor *wide[1] = {th_leaf(CG_SHAPE(5, 9), 42, 0.5, 6, 1)};
    GRADCHECK("softmax (5, 9) wide logits", f_softmax, NULL, wide, 1);
}

/* ---- bmm ------------------------------------------------------------------------------ */
typedef struct {
    int ta, tb;
} bmm_arg;

static cg_tensor *f_bmm(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const bmm_arg *a = arg;
    return cg_bmm(ctx, in[0], in[1], a->ta, a->tb);
}

TEST(gradcheck_bmm)
{
    /* B = 3, M = 5, K = 7, N = 3; a stored (B, M, K) or (B, K, M), b (B, K, N) or (B, N, K) */
    cg_tensor *a = TH_LEAF(51, 3, 5, 7), *at = TH_LEAF(52, 3, 7, 5);
    cg_tensor *b = TH_LEAF(53, 3, 7, 3), *bt = TH_LEAF(54, 3, 3, 7);
    bmm_arg nn = {0, 0}, nt = {0, 1}, tn = {1, 0}, tt = {1, 1};
    GRADCHECK("bmm a b", f_bmm, &nn, ((cg_tensor *[]){a, b}), 2);
    GRADCHECK("bmm a b^T", f_bmm, &nt, ((cg_tensor *[]){a, bt}), 2);
    GRADCHECK("bmm a^T b", f_bmm, &tn, ((cg_tensor *[]){at, b}), 2);
    GRADCHECK("bmm a^T b^T", f_bmm, &tt, ((cg_tensor *[]){at, bt}), 2);
}

/* x x^T: the same tensor as both inputs, its gradient the sum of both paths */
static cg_tensor *f_bmm_self(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_bmm(ctx, in[0], in[0], 0, 1);
}

TEST(gradcheck_bmm_same_input)
{
    cg_tensor *in[1] = {TH_LEAF(55, 3, 5, 7)};
    GRADCHECK("bmm x x^T", f_bmm_self, NULL, in, 1);
}

/* ---- timestep embedding --------------------------------------------------------------- */
static cg_tensor *f_embed(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_timestep_embedding(ctx, in[0], 10, 10000.0);
}

TEST(gradcheck_timestep_embedding)
{
    cg_tensor *small[1] = {TH_LEAF(61, 5)};
    cg_tensor *steps[1] = {th_leaf(CG_SHAPE(7), 62, 1, 50, 0)};  /* t in [1, 50] */
    GRADCHECK("timestep_embedding t ~ 1", f_embed, NULL, small, 1);
    GRADCHECK("timestep_embedding t in [1, 50]", f_embed, NULL, steps, 1);
}

/* ---- concat / split / reshape ------------------------------------------------------------- */
static cg_tensor *f_concat(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_concat(ctx, in, (int)(intptr_t)arg);
}

TEST(gradcheck_concat)
{
    cg_tensor *in2[2] = {TH_LEAF(71, 5, 3), TH_LEAF(72, 5, 4)};
    GRADCHECK("concat 2-D", f_concat, (void *)2, in2, 2);
    cg_tensor *in4[3] = {TH_LEAF(73, 3, 2, 3, 5), TH_LEAF(74, 3, 1, 3, 5),
                         TH_LEAF(75, 3, 3, 3, 5)};
    GRADCHECK("concat 4-D", f_concat, (void *)3, in4, 3);
    /* more parts than a tape node has inputs */
    cg_tensor *in6[6] = {TH_LEAF(76, 3, 1, 3), TH_LEAF(77, 3, 2, 3), TH_LEAF(78, 3, 1, 3),
                         TH_LEAF(79, 3, 3, 3), TH_LEAF(80, 3, 1, 3), TH_LEAF(81, 3, 2, 3)};
    GRADCHECK("concat 6 parts", f_concat, (void *)6, in6, 6);
}

/* split x into channels {1, 3, 2}; which parts reach the output is the arg */
static cg_tensor *f_split(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    int mode = (int)(intptr_t)arg;
    cg_tensor *p[3];
    /* mode 3 splits an intermediate h = softmax(x) that is also used whole */
    cg_tensor *x = mode == 3 ? cg_softmax(ctx, in[0]) : in[0];
    if (cg_split(ctx, x, (const int[]){1, 3, 2}, 3, p) != CG_OK)
        return NULL;
    switch (mode) {
    case 0:  /* all parts, reordered */
        return cg_concat(ctx, (cg_tensor *[]){p[2], p[0], p[1]}, 3);
    case 1:  /* parts 2 and 0 only: part 1's channels get no gradient */
        return cg_concat(ctx, (cg_tensor *[]){p[2], p[0]}, 2);
    case 3:  /* h's gradient: written by concat, added to by two parts */
        return cg_concat(ctx, (cg_tensor *[]){p[2], x, p[0]}, 3);
    default: /* the middle part alone */
        return p[1];
    }
}

TEST(gradcheck_split)
{
    cg_tensor *in4[1] = {TH_LEAF(82, 3, 6, 3, 5)};
    cg_tensor *in2[1] = {TH_LEAF(83, 5, 6)};
    GRADCHECK("split 4-D, all parts", f_split, (void *)0, in4, 1);
    GRADCHECK("split 4-D, parts 2 and 0", f_split, (void *)1, in4, 1);
    GRADCHECK("split 4-D, part 1 only", f_split, (void *)2, in4, 1);
    GRADCHECK("split 2-D, parts 2 and 0", f_split, (void *)1, in2, 1);
    GRADCHECK("split of an activation used twice", f_split, (void *)3, in4, 1);
}

/* (3, 4, 5) -> (3, 20), then softmax over the new last dim so that the
 * gradient depends on the new shape */
static cg_tensor *f_reshape(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_softmax(ctx, cg_reshape(ctx, in[0], CG_SHAPE(3, 20)));
}

static cg_tensor *f_reshape_only(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_reshape(ctx, in[0], CG_SHAPE(5, 3, 4));
}

TEST(gradcheck_reshape)
{
    cg_tensor *in[1] = {TH_LEAF(84, 3, 4, 5)};
    GRADCHECK("reshape then softmax", f_reshape, NULL, in, 1);
    GRADCHECK("reshape", f_reshape_only, NULL, in, 1);
}

/* ---- dropout ----------------------------------------------------------------------------- */
typedef struct {
    double p;
    int training;
} drop_arg;

/* a fresh rng with the same seed on every call: the mask is the same each time */
static cg_tensor *f_dropout(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const drop_arg *a = arg;
    cg_rng rng;
    cg_rng_init(&rng, 2024, 3);
    /* twice: the second call takes the next values of the stream */
    cg_tensor *h = cg_dropout(ctx, in[0], a->p, &rng, a->training);
    return cg_dropout(ctx, h, a->p, &rng, a->training);
}

TEST(gradcheck_dropout)
{
    cg_tensor *in[1] = {TH_LEAF(91, 5, 7, 3)};
    drop_arg train = {0.3, 1}, eval = {0.3, 0}, zero = {0, 1};
    GRADCHECK("dropout p = 0.3", f_dropout, &train, in, 1);
    GRADCHECK("dropout eval", f_dropout, &eval, in, 1);
    GRADCHECK("dropout p = 0", f_dropout, &zero, in, 1);
}
