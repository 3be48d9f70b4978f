/*
 * op_cases.c: the table of op cases (see op_cases.h): the build functions,
 * the rows, and what every mode needs to make a row's inputs.
 *
 * A row is one line: the op, its variant, its inputs, its parameters:
 *
 *   ROW(conv2d, "k3 s2 p1 bias", {X(2, 3, 7, 5), W(4, 3, 3, 3), W(4)}, .ip = {2, 1}),
 *
 * X is an activation (gradient written), W a weight (gradient accumulated),
 * K data without a gradient, NIL an unused slot (NULL). Values are drawn
 * with magnitudes in [0.2, 1.2] and random signs unless a row says
 * otherwise (XR, WR, KR: range and sign; XOFF: around an offset; XINT:
 * integers): every input away from 0 and from the kinks of relu, maxpool
 * and log. Sizes are odd and small; rows at the sizes of a kernel's edge
 * cases (many blocks, several columns per thread, the DCGAN layers) are too
 * large for finite differences and say OPC_NO_GRAD.
 *
 * CPU-vs-GPU bounds. OPC_TOL = 1e-5 relative (L2) unless a row says: both
 * sides accumulate sums in double and round once to float, or are float
 * GEMMs (OpenBLAS against cuBLAS / cuDNN in full FP32, deterministic mode)
 * of at most a few thousand products that differ only in rounding order:
 * a few float ulps (~1e-7) per value, and libm's last bit (exp, log, tanh,
 * sin) on the GPU. `.exact` rows must give the same bits: copies, the
 * Philox dropout mask and scale, and the 2x2 resampling compute the CPU's
 * expression on the same operands in the same order with correctly
 * rounded operations only. Pooling and bilinear resizing call the CPU's own
 * per-element functions (host/cpu/pool_impl.h) in the same order: 1e-7
 * leaves room for a float rounding of a double, not for a wrong index.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/rng.h"
#include "op_cases.h"

/* ---- build functions ------------------------------------------------------------ */
#define B(name) static cg_tensor *b_##name(cg_ctx *ctx, cg_tensor **in, const op_case *c)
#define UNARY(op) B(op) { return cg_##op(ctx, in[0]); }
UNARY(relu) UNARY(tanh) UNARY(sigmoid) UNARY(silu) UNARY(softplus) UNARY(exp) UNARY(log)
UNARY(sum) UNARY(mean) UNARY(softmax) UNARY(upsample2x) UNARY(avgpool2x) UNARY(squeeze2x)
UNARY(unsqueeze2x)
B(leaky_relu) { return cg_leaky_relu(ctx, in[0], c->fp[0]); }
/* in[0] the weight, in[1] u, in[2] v; ip[0] dim; no power iteration (it
 * would move u and v between the difference quotients) */
B(spectral_norm) { return cg_spectral_norm(ctx, in[0], in[1], in[2], c->ip[0], 0); }
/* a layer's use: conv2d (ip[0] 0) or conv_transpose2d (1) of in[3] with the
 * normalised weight, stride 2, padding 1 */
static cg_tensor *b_sn_conv(cg_ctx *ctx, cg_tensor **in, const op_case *c)
{
    cg_tensor *w = cg_spectral_norm(ctx, in[0], in[1], in[2], c->ip[0], 0);
    return c->ip[0] ? cg_conv_transpose2d(ctx, in[3], w, NULL, 2, 1)
                    : cg_conv2d(ctx, in[3], w, NULL, 2, 1);
}
B(clamp) { return cg_clamp(ctx, in[0], c->fp[0], c->fp[1]); }
B(pow) { return cg_pow(ctx, in[0], c->fp[0]); }
/* to the shape ip[0 .. ip[5]) */
B(sum_to) { return cg_sum_to(ctx, in[0], c->ip, c->ip[5]); }
B(expand) { return cg_expand(ctx, in[0], c->ip, c->ip[5]); }
B(scale) { return cg_scale(ctx, in[0], c->fp[0]); }
B(affine) { return cg_affine(ctx, in[0], c->fp[0], c->fp[1]); }
B(add) { return cg_add(ctx, in[0], in[1]); }
B(sub) { return cg_sub(ctx, in[0], in[1]); }
B(mul) { return cg_mul(ctx, in[0], in[1]); }
/* x used twice by one node; t = tanh x used by two nodes; x by two branches */
B(mul_self) { return cg_mul(ctx, in[0], in[0]); }
B(mul_reuse)
{
    cg_tensor *t = cg_tanh(ctx, in[0]);
    return cg_mul(ctx, t, cg_add(ctx, t, in[0]));
}
B(mul_branches) { return cg_mul(ctx, cg_tanh(ctx, in[0]), cg_sigmoid(ctx, in[0])); }

B(linear) { return cg_linear(ctx, in[0], in[1], in[2]); }
B(bmm) { return cg_bmm(ctx, in[0], in[1], c->ip[0], c->ip[1]); }
/* x x^T: both operands one tensor, its gradient the sum of both paths */
B(bmm_self) { return cg_bmm(ctx, in[0], in[0], 0, 1); }
B(conv2d) { return cg_conv2d(ctx, in[0], in[1], in[2], c->ip[0], c->ip[1]); }
B(conv2d_hw) { return cg_conv2d_hw(ctx, in[0], in[1], in[2], c->ip[0], c->ip[1], c->ip[2]); }
B(conv_transpose2d)
{
    return cg_conv_transpose2d(ctx, in[0], in[1], in[2], c->ip[0], c->ip[1]);
}
B(maxpool2d) { return cg_maxpool2d(ctx, in[0], c->ip[0], c->ip[1], c->ip[2]); }
B(avgpool2d) { return cg_avgpool2d(ctx, in[0], c->ip[0], c->ip[1], c->ip[2], c->ip[3]); }
B(resize_bilinear) { return cg_resize_bilinear(ctx, in[0], c->ip[0], c->ip[1]); }

/* momentum 0.1, eps 1e-5 (PyTorch's defaults) */
B(batchnorm) { return cg_batchnorm(ctx, in[0], in[1], in[2], in[3], in[4], c->ip[0], 0.1, 1e-5); }
B(groupnorm) { return cg_groupnorm(ctx, in[0], in[1], in[2], c->ip[0], 1e-5); }
B(layernorm) { return cg_layernorm(ctx, in[0], in[1], in[2], 1e-5); }

B(bce) { return cg_bce(ctx, in[0], in[1], (cg_reduce)c->ip[0]); }
B(bce_with_logits) { return cg_bce_with_logits(ctx, in[0], in[1], (cg_reduce)c->ip[0]); }
B(bernoulli_nll) { return cg_bernoulli_nll(ctx, in[0], in[1], (cg_reduce)c->ip[0]); }
B(mse) { return cg_mse(ctx, in[0], in[1], (cg_reduce)c->ip[0]); }
B(gaussian_kl) { return cg_gaussian_kl(ctx, in[0], in[1], (cg_reduce)c->ip[0]); }
B(gaussian_nll) { return cg_gaussian_nll(ctx, in[0], in[1], in[2], (cg_reduce)c->ip[0]); }
/* labels (7 r + 3) mod K: every class, no pattern the logits share */
B(softmax_xent)
{
    if (!in[0] || in[0]->ndim != 2)
        return cg_softmax_xent(ctx, in[0], NULL, CG_REDUCE_MEAN);  /* its own error */
    int N = in[0]->shape[0], K = in[0]->shape[1];
    int32_t *labels = cg_scratch(ctx, sizeof(int32_t) * (size_t)N);
    if (!labels)
        return NULL;
    for (int r = 0; r < N; r++)
        labels[r] = (int32_t)((r * 7 + 3) % K);
    return cg_softmax_xent(ctx, in[0], labels, (cg_reduce)c->ip[0]);
}
/* bandwidths fp[0 .. ip[0]) */
B(mmd2_rbf) { return cg_mmd2_rbf(ctx, in[0], in[1], c->fp, c->ip[0]); }

/* the parts in order, up to the first unused slot */
B(concat)
{
    int n = 0;
    while (n < OPC_MAX_IN && c->in[n].role != OPC_NONE)
        n++;
    return cg_concat(ctx, in, n);
}
/* split into ip[0..2] channels; which parts reach the output is ip[3]:
 * 0 all, reordered (2, 0, 1); 1 parts 2 and 0 (part 1's channels get no
 * gradient); 2 part 1 alone; 3 the split of h = softmax x, h also used
 * whole (h's gradient written by concat, added to by two parts) */
B(split)
{
    cg_tensor *p[3];
    cg_tensor *x = c->ip[3] == 3 ? cg_softmax(ctx, in[0]) : in[0];
    if (cg_split(ctx, x, c->ip, 3, p) != CG_OK)
        return NULL;
    switch (c->ip[3]) {
    case 0: return cg_concat(ctx, (cg_tensor *[]){p[2], p[0], p[1]}, 3);
    case 1: return cg_concat(ctx, (cg_tensor *[]){p[2], p[0]}, 2);
    case 2: return p[1];
    default: return cg_concat(ctx, (cg_tensor *[]){p[2], x, p[0]}, 3);
    }
}
/* to the shape ip[1 .. 1 + ip[0]), then ip[5]: 0 nothing, 1 softmax, 2 tanh
 * (an op after the reshape, whose gradient depends on the new shape) */
B(reshape)
{
    cg_tensor *y = cg_reshape(ctx, in[0], c->ip + 1, c->ip[0]);
    return c->ip[5] == 1 ? cg_softmax(ctx, y) : c->ip[5] == 2 ? cg_tanh(ctx, y) : y;
}
/* p = fp[0], training ip[0], ip[1] calls on one stream (the second takes
 * the next values), after fp[1] values taken from it: the same mask on every
 * call and on both devices */
B(dropout)
{
    cg_rng rng;
    cg_rng_init(&rng, 2024, 3);
    cg_rng_take(&rng, (int64_t)c->fp[1]);
    cg_tensor *y = in[0];
    for (int k = 0; k < (c->ip[1] ? c->ip[1] : 1); k++)
        y = cg_dropout(ctx, y, c->fp[0], &rng, c->ip[0]);
    return y;
}
/* ip[0] indices into the table: (5 r + 2) mod num, repeated rows and, with
 * more rows than indices, rows no index names (their gradient stays as it
 * was); ip[1] 1: every index the same row (all of them accumulate there) */
B(embedding)
{
    int n = c->ip[0], num = in[0] && in[0]->ndim == 2 ? in[0]->shape[0] : 1;
    int32_t *idx = cg_scratch(ctx, sizeof(int32_t) * (size_t)n);
    if (!idx)
        return NULL;
    for (int r = 0; r < n; r++)
        idx[r] = c->ip[1] ? num - 1 : (int32_t)((r * 5 + 2) % num);
    return cg_embedding(ctx, in[0], idx, n);
}
/* the lookup's backward as an op: in[0] (n, dim) into ip[0] rows at the
 * indices (5 r + 2) mod ip[0] (repeats add up, rows without an index are
 * zero); ip[1] 1: all into the last row */
B(embedding_scatter)
{
    int n = in[0] && in[0]->ndim == 2 ? in[0]->shape[0] : 1, num = c->ip[0];
    int32_t *idx = cg_scratch(ctx, sizeof(int32_t) * (size_t)n);
    if (!idx)
        return NULL;
    for (int r = 0; r < n; r++)
        idx[r] = c->ip[1] ? num - 1 : (int32_t)((r * 5 + 2) % num);
    return cg_embedding_scatter(ctx, in[0], idx, num);
}
/* one table in two lookups whose products are summed: both paths accumulate */
static cg_tensor *b_embedding_twice(cg_ctx *ctx, cg_tensor **in, const op_case *c)
{
    cg_tensor *a = b_embedding(ctx, in, c);
    op_case d = *c;
    d.ip[1] = 1;
    cg_tensor *b = b_embedding(ctx, in, &d);
    return a && b ? cg_mul(ctx, a, b) : NULL;
}
B(timestep_embedding) { return cg_timestep_embedding(ctx, in[0], c->ip[0], c->fp[0]); }
B(squeeze_unsqueeze) { return cg_unsqueeze2x(ctx, cg_squeeze2x(ctx, in[0])); }

/* ---- row helpers --------------------------------------------------------------------- */
#define NDIM(...) ((int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)))
#define IN(role_, lo_, hi_, sign_, off_, ...)                                              \
    {.shape = {__VA_ARGS__}, .ndim = NDIM(__VA_ARGS__), .role = role_, .lo = lo_, .hi = hi_, \
     .sign = sign_, .off = off_}
#define X(...) IN(OPC_ACT, 0.2, 1.2, 1, 0, __VA_ARGS__)
#define W(...) IN(OPC_PARAM, 0.2, 1.2, 1, 0, __VA_ARGS__)
#define K(...) IN(OPC_CONST, 0.2, 1.2, 1, 0, __VA_ARGS__)
#define XR(lo, hi, sign, ...) IN(OPC_ACT, lo, hi, sign, 0, __VA_ARGS__)
#define WR(lo, hi, sign, ...) IN(OPC_PARAM, lo, hi, sign, 0, __VA_ARGS__)
#define KR(lo, hi, sign, ...) IN(OPC_CONST, lo, hi, sign, 0, __VA_ARGS__)
/* off +- [0.1, 2] */
#define XOFF(off, ...) IN(OPC_ACT, 0.1, 2, 1, off, __VA_ARGS__)
#define XINT(lo_, hi_, ...) \
    {.shape = {__VA_ARGS__}, .ndim = NDIM(__VA_ARGS__), .role = OPC_ACT, .lo = lo_, .hi = hi_, \
     .integer = 1}
#define NIL {.role = OPC_NONE}

#define ROW(op_, name_, ...) {.op = #op_, .name = name_, .build = b_##op_, .in = __VA_ARGS__}
/* a row whose graph has a build function of its own */
#define ROWF(op_, name_, fn_, ...) {.op = #op_, .name = name_, .build = fn_, .in = __VA_ARGS__}
#define NOGRAD .skip = OPC_NO_GRAD

/* A pointwise op: the gradcheck's (3, 5, 7), then the sizes at cu_map's
 * edges (one element, less than a block, a few blocks, many) with
 * magnitudes in [0.05, 3]. */
#define UNARY_ROWS(op, sign, ...)                                                    \
    ROW(op, "", {XR(0.2, 1.2, sign, 3, 5, 7)}, __VA_ARGS__),                           \
    ROW(op, "", {XR(0.05, 3, sign, 1)}, __VA_ARGS__),                                  \
    ROW(op, "", {XR(0.05, 3, sign, 7)}, __VA_ARGS__),                                  \
    ROW(op, "", {XR(0.05, 3, sign, 1001)}, __VA_ARGS__),                               \
    ROW(op, "", {XR(0.05, 3, sign, 300007)}, NOGRAD, __VA_ARGS__)

/* add, sub and mul of a and b, b broadcast into a's shape */
#define BIN3(name, skip_, a, b)                      \
    ROW(add, name, {X a, X b}, .skip = skip_),       \
    ROW(sub, name, {X a, X b}, .skip = skip_),       \
    ROW(mul, name, {X a, X b}, .skip = skip_)

/* all four transposes: a (B, M, K) or (B, K, M), b (B, K, N) or (B, N, K) */
#define BMM4(Bn, M, N, Kd, skip_)                                                  \
    ROW(bmm, "a b", {X(Bn, M, Kd), X(Bn, Kd, N)}, .ip = {0, 0}, .skip = skip_),       \
    ROW(bmm, "a b^T", {X(Bn, M, Kd), X(Bn, N, Kd)}, .ip = {0, 1}, .skip = skip_),     \
    ROW(bmm, "a^T b", {X(Bn, Kd, M), X(Bn, Kd, N)}, .ip = {1, 0}, .skip = skip_),     \
    ROW(bmm, "a^T b^T", {X(Bn, Kd, M), X(Bn, N, Kd)}, .ip = {1, 1}, .skip = skip_)

/* k3 on x (2, 3, 7, 5) with and without bias; convT on x (2, 3, 4, 3) */
#define CONV_K3(s, p)                                                                      \
    ROW(conv2d, "k3 s" #s " p" #p " bias", {X(2, 3, 7, 5), W(4, 3, 3, 3), W(4)}, .ip = {s, p}), \
    ROW(conv2d, "k3 s" #s " p" #p, {X(2, 3, 7, 5), W(4, 3, 3, 3)}, .ip = {s, p})
#define CONVT_K3(s, p)                                                                \
    ROW(conv_transpose2d, "k3 s" #s " p" #p " bias", {X(2, 3, 4, 3), W(3, 4, 3, 3), W(4)}, \
        .ip = {s, p}),                                                                \
    ROW(conv_transpose2d, "k3 s" #s " p" #p, {X(2, 3, 4, 3), W(3, 4, 3, 3)}, .ip = {s, p})

/* Batch norm of x (N, C, ...) around 1.5 (a one-pass variance would lose
 * digits there) in eval and training mode, with and without gamma / beta;
 * the running statistics (updated in training) are compared as well. */
#define BN_ROWS(C, eval_skip, train_skip, ...)                                            \
    ROW(batchnorm, "eval", {XOFF(1.5, __VA_ARGS__), NIL, NIL, KR(0.1, 1, 1, C),           \
                            KR(0.5, 2, 0, C)}, .ip = {0}, .skip = eval_skip),             \
    ROW(batchnorm, "eval affine", {XOFF(1.5, __VA_ARGS__), WR(0.5, 1.5, 1, C),            \
                                   WR(0.1, 1, 1, C), KR(0.1, 1, 1, C), KR(0.5, 2, 0, C)}, \
        .ip = {0}, .skip = eval_skip),                                                    \
    ROW(batchnorm, "train", {XOFF(1.5, __VA_ARGS__), NIL, NIL, KR(0.1, 1, 1, C),          \
                             KR(0.5, 2, 0, C)}, .ip = {1}, .skip = train_skip),           \
    ROW(batchnorm, "train affine", {XOFF(1.5, __VA_ARGS__), WR(0.5, 1.5, 1, C),           \
                                    WR(0.1, 1, 1, C), KR(0.1, 1, 1, C), KR(0.5, 2, 0, C)}, \
        .ip = {1}, .skip = train_skip)

/* around -2.5, with and without gamma / beta */
#define GN_ROWS(G, C, skip_, ...)                                                          \
    ROW(groupnorm, #G " groups", {XOFF(-2.5, __VA_ARGS__)}, .ip = {G}, .skip = skip_),      \
    ROW(groupnorm, #G " groups affine", {XOFF(-2.5, __VA_ARGS__), WR(0.5, 1.5, 1, C),       \
                                         WR(0.1, 1, 1, C)}, .ip = {G}, .skip = skip_)
#define LN_ROWS(D, skip_, ...)                                                             \
    ROW(layernorm, "", {XOFF(-2.5, __VA_ARGS__)}, .skip = skip_),                           \
    ROW(layernorm, "affine", {XOFF(-2.5, __VA_ARGS__), WR(0.5, 1.5, 1, D), WR(0.1, 1, 1, D)}, \
        .skip = skip_)

/* a loss of two inputs under the three reductions */
#define LOSS3(op, a, b)                                                    \
    ROW(op, "mean", {a, b}, .ip = {CG_REDUCE_MEAN}),                       \
    ROW(op, "sum", {a, b}, .ip = {CG_REDUCE_SUM}),                         \
    ROW(op, "batchmean", {a, b}, .ip = {CG_REDUCE_BATCHMEAN})

/* MMD with the bandwidths 0.5, 1, 2, 4; y's rows shifted by 0.3 (another
 * distribution, so the value is not a tiny difference); then y frozen */
#define MMD_ROWS(N, M, D, spread, skip_)                                                    \
    ROW(mmd2_rbf, "4 sigmas", {XR(0.05, spread, 1, N, D),                                   \
                               IN(OPC_ACT, 0.05, spread, 1, 0.3, M, D)},                    \
        .ip = {4}, .fp = {0.5, 1, 2, 4}, .skip = skip_),                                    \
    ROW(mmd2_rbf, "4 sigmas, y frozen", {XR(0.05, spread, 1, N, D),                         \
                                         IN(OPC_CONST, 0.05, spread, 1, 0.3, M, D)},        \
        .ip = {4}, .fp = {0.5, 1, 2, 4}, .skip = skip_)

/* concat of parts of 3, 1 and 5 channels, and the split back, reordered */
#define COPY_ROWS(skip_, N, ...)                                                               \
    ROW(concat, "3 parts", {X(N, 3, ##__VA_ARGS__), X(N, 1, ##__VA_ARGS__),                    \
                            X(N, 5, ##__VA_ARGS__)}, .skip = skip_, .exact = 1),               \
    ROW(split, "3, 1, 5, all parts", {X(N, 9, ##__VA_ARGS__)}, .ip = {3, 1, 5, 0},             \
        .skip = skip_, .exact = 1)

/* upsample2x of (N, C, H, W) and avgpool2x of (N, C, 2H, 2W) */
#define RESAMPLE_ROWS(skip_, N, C, H, Wd)                                             \
    ROW(upsample2x, "", {X(N, C, H, Wd)}, .skip = skip_, .exact = 1),                 \
    ROW(avgpool2x, "", {X(N, C, 2 * H, 2 * Wd)}, .skip = skip_, .exact = 1)

/* ---- the table ------------------------------------------------------------------------ */
const op_case OP_CASES[] = {
    /* pointwise */
    UNARY_ROWS(relu, 1, ),
    UNARY_ROWS(leaky_relu, 1, .fp = {0.2}),
    ROW(leaky_relu, "0.1", {X(5, 21)}, .fp = {0.1}),
    ROW(spectral_norm, "(7, 5) dim 0", {W(7, 5), K(7), K(5)}),
    ROW(spectral_norm, "(5, 3, 3, 3) dim 0", {W(5, 3, 3, 3), K(5), K(27)}),
    ROW(spectral_norm, "(3, 4, 3, 3) dim 1", {W(3, 4, 3, 3), K(4), K(27)}, .ip = {1}),
    ROWF(spectral_norm, "conv2d of a normalised weight", b_sn_conv,
         {W(5, 3, 3, 3), K(5), K(27), X(2, 3, 7, 7)}),
    ROWF(spectral_norm, "conv_transpose2d of a normalised weight (dim 1)", b_sn_conv,
         {W(3, 4, 3, 3), K(4), K(27), X(2, 3, 4, 4)}, .ip = {1}),
    /* bounds that cut both tails of X's values (|x| in [0.2, 1.2]) */
    ROW(clamp, "[-0.7, 0.5]", {X(3, 5, 7)}, .fp = {-0.7, 0.5}, .exact = 1),
    ROW(clamp, "[-0.7, 0.5]", {X(300007)}, .fp = {-0.7, 0.5}, .skip = OPC_NO_GRAD, .exact = 1),
    ROW(pow, "2", {XR(0.2, 1.2, 1, 3, 5, 7)}, .fp = {2}),
    ROW(pow, "3", {XR(0.2, 1.2, 1, 5, 21)}, .fp = {3}),
    ROW(pow, "0.5 (sqrt)", {XR(0.2, 1.2, 0, 5, 21)}, .fp = {0.5}),
    ROW(pow, "-1.5", {XR(0.2, 1.2, 0, 1001)}, .fp = {-1.5}),
    ROW(sum_to, "(3, 5, 7) to (5, 1)", {X(3, 5, 7)}, .ip = {5, 1, 0, 0, 0, 2}),
    ROW(sum_to, "(4, 3, 5, 6) to (3, 1, 1)", {X(4, 3, 5, 6)}, .ip = {3, 1, 1, 0, 0, 3}),
    ROW(sum_to, "(33, 17) to (1, 17)", {X(33, 17)}, .ip = {1, 17, 0, 0, 0, 2}),
    ROW(expand, "(5, 1) to (3, 5, 7)", {X(5, 1)}, .ip = {3, 5, 7, 0, 0, 3}),
    ROW(expand, "(3, 1, 1) to (4, 3, 5, 6)", {X(3, 1, 1)}, .ip = {4, 3, 5, 6, 0, 4}),
    ROW(expand, "(17) to (33, 17)", {X(17)}, .ip = {33, 17, 0, 0, 0, 2}),
    UNARY_ROWS(tanh, 1, ),
    UNARY_ROWS(sigmoid, 1, ),
    UNARY_ROWS(silu, 1, ),
    UNARY_ROWS(softplus, 1, ),
    /* the stable branches for |x| up to 6 */
    ROW(sigmoid, "|x| in [2, 6]", {XR(2, 6, 1, 5, 7)}),
    ROW(softplus, "|x| in [2, 6]", {XR(2, 6, 1, 5, 7)}),
    ROW(silu, "|x| in [2, 6]", {XR(2, 6, 1, 5, 7)}),
    UNARY_ROWS(exp, 1, ),
    UNARY_ROWS(log, 0, ),
    UNARY_ROWS(scale, 1, .fp = {-1.7}),
    ROW(scale, "-0.7", {X(5, 21)}, .fp = {-0.7}),
    UNARY_ROWS(affine, 1, .fp = {-1.7, 0.3}),
    ROW(affine, "0.6 x - 2.5", {X(3, 5, 7)}, .fp = {0.6, -2.5}),
    ROW(affine, "1.3 x + 0.2", {X(5, 21)}, .fp = {1.3, 0.2}),
    /* tensors used twice: the tape adds their gradients (on the GPU too) */
    ROWF(mul, "x * x", b_mul_self, {X(5, 7)}),
    ROWF(mul, "t = tanh x; t * (t + x)", b_mul_reuse, {X(5, 7)}),
    ROWF(mul, "tanh x * sigmoid x", b_mul_branches, {X(5, 21)}),

    /* broadcasting: b's layouts, and both reduction paths of db (few terms
     * per element of b, a thread each; many, a block each) */
    BIN3("same shape", 0, (3, 5, 7), (3, 5, 7)),
    BIN3("scalar b", 0, (3, 5, 7), (1)),
    BIN3("b (1, 1, 1)", 0, (3, 5, 7), (1, 1, 1)),
    BIN3("row b", 0, (5, 7), (7)),
    BIN3("b (3, 1, 5)", 0, (3, 3, 5), (3, 1, 5)),
    BIN3("b (1, C, 1, 1)", 0, (3, 5, 3, 7), (1, 5, 1, 1)),
    BIN3("b (N, C, 1, 1)", 0, (3, 5, 3, 7), (3, 5, 1, 1)),
    BIN3("b (C, 1, 1)", 0, (3, 5, 3, 7), (5, 1, 1)),
    BIN3("b (1, C, 1, 1)", 0, (5, 3, 7, 1), (1, 3, 1, 1)),
    ROW(mul, "scalar b", {X(9, 11), X(1)}),
    ROW(add, "row b", {X(9, 11), X(11)}),
    BIN3("b (1, C, 1, 1)", OPC_NO_GRAD, (5, 7, 9, 11), (1, 7, 1, 1)),
    BIN3("row b", OPC_NO_GRAD, (5, 7, 9, 11), (11)),
    BIN3("scalar b", OPC_NO_GRAD, (5, 7, 9, 11), (1)),
    BIN3("same shape", OPC_NO_GRAD, (5, 7, 9, 11), (5, 7, 9, 11)),
    BIN3("b (N, 1, H, 1)", OPC_NO_GRAD, (5, 7, 9, 11), (5, 1, 9, 1)),
    BIN3("row b", 0, (33, 17), (17)),
    BIN3("column b", 0, (33, 17), (33, 1)),
    BIN3("b (C, 1)", OPC_NO_GRAD, (3, 301, 7), (301, 1)),

    /* reductions: cu_sum's one and several blocks around 256 */
    ROW(sum, "", {X(3, 5, 7)}),
    ROW(sum, "", {X(5, 21)}),
    ROW(mean, "", {X(3, 5, 7)}),
    ROW(mean, "", {X(9, 11)}),
    ROW(mean, "", {XR(0.1, 2, 1, 1)}),
    ROW(mean, "", {XR(0.1, 2, 1, 255)}),
    ROW(mean, "", {XR(0.1, 2, 1, 256)}),
    ROW(mean, "", {XR(0.1, 2, 1, 257)}),
    ROW(mean, "", {XR(0.1, 2, 1, 1000003)}, NOGRAD),

    /* dense: cuBLAS; the bias gradient summed in double on both sides */
    ROW(linear, "bias", {X(5, 7), W(3, 7), W(3)}),
    ROW(linear, "", {X(5, 7), W(3, 7)}),
    ROW(linear, "bias", {X(1, 1), W(1, 1), W(1)}),
    ROW(linear, "bias", {X(7, 13), W(5, 13), W(5)}),
    ROW(linear, "", {X(33, 65), W(17, 65)}),
    ROW(linear, "bias", {X(128, 100), W(3, 100), W(3)}, NOGRAD),
    /* only dw wanted: x and b frozen, dx and db not computed */
    ROW(linear, "dw only", {K(1, 1), W(1, 1), K(1)}),
    ROW(linear, "dw only", {K(7, 13), W(5, 13), K(5)}),
    ROW(linear, "dw only", {K(33, 65), W(17, 65)}),
    ROW(linear, "dw only", {K(128, 100), W(3, 100), K(3)}),
    BMM4(3, 5, 3, 7, 0),
    BMM4(3, 5, 7, 11, 0),
    BMM4(2, 33, 17, 65, OPC_NO_GRAD),
    BMM4(1, 1, 9, 3, 0),
    ROWF(bmm, "x x^T", b_bmm_self, {X(3, 5, 7)}),

    /* convolutions: with N = 2 the CPU's batched GEMM path (two images side
     * by side), every stride / pad pair, bias on and off */
    CONV_K3(1, 0), CONV_K3(1, 1), CONV_K3(1, 2), CONV_K3(2, 0), CONV_K3(2, 1), CONV_K3(2, 2),
    CONV_K3(3, 1),
    /* stride 1 on 8x8: the CPU's shifted-GEMM path */
    ROW(conv2d, "k3 s1 p1 8x8 bias", {X(2, 2, 8, 8), W(3, 2, 3, 3), W(3)}, .ip = {1, 1}),
    ROW(conv2d, "k3 s1 p1 8x8", {X(2, 2, 8, 8), W(3, 2, 3, 3)}, .ip = {1, 1}),
    /* DCGAN discriminator kinds: k4 s2 p1 odd and non-square; k4 s1 p0 4x4 -> 1x1 */
    ROW(conv2d, "k4 s2 p1 bias", {X(2, 3, 9, 6), W(2, 3, 4, 4), W(2)}, .ip = {2, 1}),
    ROW(conv2d, "k4 s2 p1", {X(2, 3, 9, 6), W(2, 3, 4, 4)}, .ip = {2, 1}),
    ROW(conv2d, "k4 s1 p0 to 1x1 bias", {X(3, 5, 4, 4), W(1, 5, 4, 4), W(1)}, .ip = {1, 0}),
    ROW(conv2d, "k4 s1 p0 to 1x1", {X(3, 5, 4, 4), W(1, 5, 4, 4)}, .ip = {1, 0}),
    CONVT_K3(1, 0), CONVT_K3(1, 1), CONVT_K3(2, 0), CONVT_K3(2, 1), CONVT_K3(3, 1),
    /* DCGAN generator kinds: k4 s2 p1 non-square; k4 s1 p0 from 1x1 */
    ROW(conv_transpose2d, "k4 s2 p1 bias", {X(2, 3, 3, 5), W(3, 2, 4, 4), W(2)}, .ip = {2, 1}),
    ROW(conv_transpose2d, "k4 s2 p1", {X(2, 3, 3, 5), W(3, 2, 4, 4)}, .ip = {2, 1}),
    ROW(conv_transpose2d, "k4 s1 p0 from 1x1 bias", {X(3, 5, 1, 1), W(5, 2, 4, 4), W(2)},
        .ip = {1, 0}),
    ROW(conv_transpose2d, "k4 s1 p0 from 1x1", {X(3, 5, 1, 1), W(5, 2, 4, 4)}, .ip = {1, 0}),
    /* kernels smaller than the stride (pixels no tap reads, or no input
     * reaches) and 1x1 kernels */
    ROW(conv2d, "k2 s3 p1 bias", {X(2, 3, 7, 5), W(4, 3, 2, 2), W(4)}, .ip = {3, 1}),
    ROW(conv_transpose2d, "k2 s3 p1 bias", {X(2, 3, 4, 3), W(3, 4, 2, 2), W(4)}, .ip = {3, 1}),
    ROW(conv2d, "k1 s1 p0 bias", {X(2, 3, 5, 4), W(4, 3, 1, 1), W(4)}, .ip = {1, 0}),
    ROW(conv_transpose2d, "k1 s2 p0", {X(2, 3, 5, 4), W(3, 4, 1, 1)}, .ip = {2, 0}),
    /* cuDNN on odd shapes: a kernel covering the input, k5, stride 3 */
    ROW(conv2d, "k3 s2 p1 bias", {X(3, 5, 11, 9), W(7, 5, 3, 3), W(7)}, .ip = {2, 1}),
    ROW(conv2d, "k1 bias", {X(2, 3, 7, 7), W(4, 3, 1, 1), W(4)}, .ip = {1, 0}),
    ROW(conv2d, "k5 p2", {X(3, 4, 9, 13), W(5, 4, 5, 5)}, .ip = {1, 2}, NOGRAD),
    ROW(conv2d, "k = input bias", {X(2, 6, 5, 5), W(3, 6, 5, 5), W(3)}, .ip = {1, 0}),
    ROW(conv2d, "k4 s2 p1 bias", {X(3, 5, 10, 10), W(7, 5, 4, 4), W(7)}, .ip = {2, 1}),
    ROW(conv2d, "k3 s3 bias", {X(1, 2, 13, 8), W(3, 2, 3, 3), W(3)}, .ip = {3, 0}),
    ROW(conv_transpose2d, "k3 s2 p1 bias", {X(3, 5, 6, 5), W(5, 7, 3, 3), W(7)}, .ip = {2, 1}),
    ROW(conv_transpose2d, "k4 from 1x1 bias", {X(2, 4, 1, 1), W(4, 3, 4, 4), W(3)},
        .ip = {1, 0}),
    ROW(conv_transpose2d, "k4 s2 p1", {X(3, 3, 5, 7), W(3, 5, 4, 4)}, .ip = {2, 1}),
    ROW(conv_transpose2d, "k1 bias", {X(2, 3, 7, 7), W(3, 2, 1, 1), W(2)}, .ip = {1, 0}),
    ROW(conv_transpose2d, "k5 s1 p2 bias", {X(2, 3, 6, 9), W(3, 4, 5, 5), W(4)}, .ip = {1, 2}),
    /* the DCGAN 64x64 layers (nz 100, ngf = ndf = 64, no bias) at batch 2 */
    ROW(conv_transpose2d, "DCGAN G1", {X(2, 100, 1, 1), W(100, 512, 4, 4)}, .ip = {1, 0}, NOGRAD),
    ROW(conv_transpose2d, "DCGAN G2", {X(2, 512, 4, 4), W(512, 256, 4, 4)}, .ip = {2, 1}, NOGRAD),
    ROW(conv_transpose2d, "DCGAN G3", {X(2, 256, 8, 8), W(256, 128, 4, 4)}, .ip = {2, 1}, NOGRAD),
    ROW(conv_transpose2d, "DCGAN G4", {X(2, 128, 16, 16), W(128, 64, 4, 4)}, .ip = {2, 1},
        NOGRAD),
    ROW(conv_transpose2d, "DCGAN G5", {X(2, 64, 32, 32), W(64, 3, 4, 4)}, .ip = {2, 1}, NOGRAD),
    ROW(conv2d, "DCGAN D1", {X(2, 3, 64, 64), W(64, 3, 4, 4)}, .ip = {2, 1}, NOGRAD),
    ROW(conv2d, "DCGAN D2", {X(2, 64, 32, 32), W(128, 64, 4, 4)}, .ip = {2, 1}, NOGRAD),
    ROW(conv2d, "DCGAN D3", {X(2, 128, 16, 16), W(256, 128, 4, 4)}, .ip = {2, 1}, NOGRAD),
    ROW(conv2d, "DCGAN D4", {X(2, 256, 8, 8), W(512, 256, 4, 4)}, .ip = {2, 1}, NOGRAD),
    ROW(conv2d, "DCGAN D5", {X(2, 512, 4, 4), W(1, 512, 4, 4)}, .ip = {1, 0}, NOGRAD),
    /* rectangular kernels, padding per axis (Inception's 1x7, 7x1, 1x3, 3x1) */
    ROW(conv2d_hw, "k1x7 p0,3 bias", {X(2, 3, 5, 9), W(4, 3, 1, 7), W(4)}, .ip = {1, 0, 3}),
    ROW(conv2d_hw, "k7x1 p3,0", {X(2, 3, 9, 5), W(4, 3, 7, 1)}, .ip = {1, 3, 0}),
    ROW(conv2d_hw, "k3x2 s2 p1,0 bias", {X(2, 3, 8, 7), W(2, 3, 3, 2), W(2)}, .ip = {2, 1, 0}),
    ROW(conv2d_hw, "k1x7 p0,3 bias", {X(2, 16, 17, 17), W(12, 16, 1, 7), W(12)},
        .ip = {1, 0, 3}, NOGRAD),
    ROW(conv2d_hw, "k7x1 p3,0", {X(2, 16, 17, 17), W(12, 16, 7, 1)}, .ip = {1, 3, 0}, NOGRAD),
    ROW(conv2d_hw, "k1x3 p0,1", {X(2, 8, 8, 8), W(6, 8, 1, 3)}, .ip = {1, 0, 1}),
    ROW(conv2d_hw, "k3x1 p1,0 bias", {X(2, 8, 8, 8), W(6, 8, 3, 1), W(6)}, .ip = {1, 1, 0}),
    ROW(conv2d_hw, "k2x5 s2 p1,2 bias", {X(3, 3, 11, 9), W(4, 3, 2, 5), W(4)}, .ip = {2, 1, 2}),

    /* pooling (1e-7: see the top); max pooling's gaps between the random
     * values are far above the finite-difference step: no ties */
    ROW(maxpool2d, "k3 s2 p0", {X(2, 3, 7, 8)}, .ip = {3, 2, 0}, .tol = 1e-7),
    ROW(maxpool2d, "k3 s1 p1", {X(2, 3, 7, 8)}, .ip = {3, 1, 1}, .tol = 1e-7),
    ROW(maxpool2d, "k2 s2 p1", {X(2, 3, 7, 8)}, .ip = {2, 2, 1}, .tol = 1e-7),
    ROW(maxpool2d, "k3 s3 p0", {X(2, 3, 7, 8)}, .ip = {3, 3, 0}, .tol = 1e-7),
    /* NOGRAD: two of one window's 7350 values lie 6e-7 apart, closer than
     * the finite-difference step (1e-6): its maximum changes within a check */
    ROW(maxpool2d, "k3 s2 (Inception's reductions)", {X(2, 3, 35, 35)}, .ip = {3, 2, 0},
        .tol = 1e-7, NOGRAD),
    ROW(maxpool2d, "k3 s1 p1 (Mixed_7c)", {X(2, 3, 8, 8)}, .ip = {3, 1, 1}, .tol = 1e-7),
    ROW(maxpool2d, "k2 s3 p1", {X(1, 5, 11, 7)}, .ip = {2, 3, 1}, .tol = 1e-7),
    ROW(avgpool2d, "k3 s1 p1", {X(2, 3, 7, 8)}, .ip = {3, 1, 1, 0}, .tol = 1e-7),
    ROW(avgpool2d, "k3 s1 p1 count_include_pad", {X(2, 3, 7, 8)}, .ip = {3, 1, 1, 1},
        .tol = 1e-7),
    ROW(avgpool2d, "k3 s2 p1", {X(2, 3, 7, 8)}, .ip = {3, 2, 1, 0}, .tol = 1e-7),
    ROW(avgpool2d, "k3 s2 p0 count_include_pad", {X(2, 3, 7, 8)}, .ip = {3, 2, 0, 1},
        .tol = 1e-7),
    ROW(avgpool2d, "k7 s1 p0", {X(2, 3, 7, 8)}, .ip = {7, 1, 0, 0}, .tol = 1e-7),
    ROW(avgpool2d, "k2 s3 p1 count_include_pad", {X(2, 3, 7, 8)}, .ip = {2, 3, 1, 1},
        .tol = 1e-7),
    ROW(avgpool2d, "k3 s1 p1", {X(2, 3, 17, 17)}, .ip = {3, 1, 1, 0}, .tol = 1e-7),
    ROW(avgpool2d, "k3 s1 p1 count_include_pad", {X(2, 3, 9, 10)}, .ip = {3, 1, 1, 1},
        .tol = 1e-7),
    ROW(avgpool2d, "k8 global", {X(2, 8, 8, 8)}, .ip = {8, 1, 0, 0}, .tol = 1e-7),
    ROW(avgpool2d, "k3 s2 p1 count_include_pad", {X(1, 3, 13, 6)}, .ip = {3, 2, 1, 1},
        .tol = 1e-7),
    ROW(resize_bilinear, "to 11x16", {X(2, 2, 5, 7)}, .ip = {11, 16}, .tol = 1e-7),
    ROW(resize_bilinear, "to 3x4", {X(2, 2, 5, 7)}, .ip = {3, 4}, .tol = 1e-7),
    ROW(resize_bilinear, "to 5x7", {X(2, 2, 5, 7)}, .ip = {5, 7}, .tol = 1e-7),
    ROW(resize_bilinear, "to 1x9", {X(2, 2, 5, 7)}, .ip = {1, 9}, .tol = 1e-7),
    ROW(resize_bilinear, "to 23x2", {X(2, 2, 5, 7)}, .ip = {23, 2}, .tol = 1e-7),
    ROW(resize_bilinear, "64x64 to 299x299", {X(2, 3, 64, 64)}, .ip = {299, 299}, .tol = 1e-7,
        NOGRAD),
    ROW(resize_bilinear, "28x28 to 299x299", {X(1, 3, 28, 28)}, .ip = {299, 299}, .tol = 1e-7,
        NOGRAD),
    ROW(resize_bilinear, "to 5x4", {X(1, 4, 13, 11)}, .ip = {5, 4}, .tol = 1e-7),
    ROW(resize_bilinear, "to 11x16", {X(1, 4, 5, 7)}, .ip = {11, 16}, .tol = 1e-7),

    /* normalisation; sums in double on both sides */
    ROW(batchnorm, "train affine", {X(5, 3), W(3), W(3)}, .ip = {1}),
    ROW(batchnorm, "train", {X(5, 3)}, .ip = {1}),
    ROW(batchnorm, "train affine", {X(3, 5, 3, 5), W(5), W(5)}, .ip = {1}),
    ROW(batchnorm, "train", {X(3, 5, 3, 5)}, .ip = {1}),
    /* tracking running statistics must not change the gradients */
    ROW(batchnorm, "train affine tracking", {X(3, 5, 3, 5), W(5), W(5), K(5), KR(0.5, 1.5, 0, 5)},
        .ip = {1}),
    ROW(batchnorm, "eval affine", {X(5, 3), W(3), W(3), K(3), KR(0.5, 1.5, 0, 3)}, .ip = {0}),
    ROW(batchnorm, "eval affine", {X(3, 5, 3, 5), W(5), W(5), K(5), KR(0.5, 1.5, 0, 5)},
        .ip = {0}),
    ROW(batchnorm, "eval", {X(3, 5, 3, 5), NIL, NIL, K(5), KR(0.5, 1.5, 0, 5)}, .ip = {0}),
    BN_ROWS(5, 0, 0, 4, 5, 7, 9),
    BN_ROWS(13, 0, 0, 9, 13),
    /* two values per channel: the normalised pair is +-1 whatever x is, and
     * dx is eps-sized, below what finite differences resolve */
    BN_ROWS(3, 0, OPC_NO_GRAD, 2, 3),
    BN_ROWS(8, OPC_NO_GRAD, OPC_NO_GRAD, 16, 8, 32, 32),
    BN_ROWS(7, 0, 0, 3, 7, 5, 5),
    /* C = 6: groups of 2, one group, one group per channel; (N, C) with
     * groups of 3 (with 2 the pair is +-1 again) */
    ROW(groupnorm, "3 groups affine", {X(3, 6, 3, 5), W(6), W(6)}, .ip = {3}),
    ROW(groupnorm, "1 group affine", {X(3, 6, 3, 5), W(6), W(6)}, .ip = {1}),
    ROW(groupnorm, "6 groups affine", {X(3, 6, 3, 5), W(6), W(6)}, .ip = {6}),
    ROW(groupnorm, "3 groups", {X(3, 6, 3, 5)}, .ip = {3}),
    ROW(groupnorm, "3 groups affine", {X(5, 9), W(9), W(9)}, .ip = {3}),
    GN_ROWS(3, 6, 0, 3, 6, 5, 7),
    GN_ROWS(1, 8, 0, 2, 8, 17),
    GN_ROWS(6, 6, 0, 5, 6),
    GN_ROWS(8, 32, OPC_NO_GRAD, 4, 32, 32, 32),
    ROW(layernorm, "affine", {X(3, 5, 7), W(7), W(7)}),
    ROW(layernorm, "", {X(3, 5, 7)}),
    ROW(layernorm, "affine", {X(5, 9), W(9), W(9)}),
    LN_ROWS(33, 0, 7, 33),
    LN_ROWS(512, OPC_NO_GRAD, 130, 512),

    /* softmax over the last dim: one row per block, D > 256 makes a thread
     * take several columns; logits up to 1000 overflow exp even in double
     * unless the row's maximum is subtracted */
    ROW(softmax, "", {X(3, 5, 7)}),
    ROW(softmax, "wide logits", {XR(0.5, 6, 1, 5, 9)}),
    ROW(softmax, "", {XR(0.05, 6, 1, 1, 1)}),
    ROW(softmax, "", {XR(0.05, 6, 1, 7, 13)}),
    ROW(softmax, "", {XR(0.05, 6, 1, 3, 1001)}),
    ROW(softmax, "", {XR(0.05, 6, 1, 301, 5)}),
    ROW(softmax, "", {XR(0.05, 6, 1, 5, 257)}),
    ROW(softmax, "logits up to 1000", {XR(0.05, 1000, 1, 5, 257)}),

    /* losses, each under the three reductions; probabilities and targets
     * drawn inside their ranges */
    LOSS3(bce, XR(0.05, 0.95, 0, 3, 5, 7), XR(0, 1, 0, 3, 5, 7)),
    LOSS3(bce_with_logits, XR(0.2, 4, 1, 3, 5, 7), XR(0, 1, 0, 3, 5, 7)),
    LOSS3(bernoulli_nll, X(5, 9), XR(0, 1, 0, 5, 9)),
    LOSS3(mse, X(3, 5, 7), X(3, 5, 7)),
    LOSS3(gaussian_kl, X(5, 9), X(5, 9)),
    ROW(gaussian_nll, "mean", {X(3, 5, 7), X(3, 5, 7), X(3, 5, 7)}, .ip = {CG_REDUCE_MEAN}),
    ROW(gaussian_nll, "sum", {X(3, 5, 7), X(3, 5, 7), X(3, 5, 7)}, .ip = {CG_REDUCE_SUM}),
    ROW(gaussian_nll, "batchmean", {X(3, 5, 7), X(3, 5, 7), X(3, 5, 7)},
        .ip = {CG_REDUCE_BATCHMEAN}),
    ROW(gaussian_nll, "shared logvar mean", {X(3, 5, 7), X(3, 5, 7), X(1)},
        .ip = {CG_REDUCE_MEAN}),
    ROW(gaussian_nll, "shared logvar sum", {X(3, 5, 7), X(3, 5, 7), X(1)},
        .ip = {CG_REDUCE_SUM}),
    ROW(gaussian_nll, "shared logvar batchmean", {X(3, 5, 7), X(3, 5, 7), X(1)},
        .ip = {CG_REDUCE_BATCHMEAN}),
    LOSS3(softmax_xent, XR(0.2, 3, 1, 7, 5), NIL),
    /* several blocks of cu_sum (the small rows above are gradchecked) */
    ROW(bce, "mean", {XR(0.05, 0.95, 0, 3001), XR(0.01, 1, 0, 3001)}, .ip = {CG_REDUCE_MEAN},
        NOGRAD),
    ROW(bce_with_logits, "mean", {XR(0.1, 4, 1, 3001), XR(0.01, 1, 0, 3001)},
        .ip = {CG_REDUCE_MEAN}, NOGRAD),
    ROW(mse, "mean", {XR(0.1, 2, 1, 3001), XR(0.1, 2, 1, 3001)}, .ip = {CG_REDUCE_MEAN},
        NOGRAD),
    ROW(gaussian_kl, "mean", {XR(0.1, 2, 1, 3001), XR(0.1, 1.5, 1, 3001)},
        .ip = {CG_REDUCE_MEAN}, NOGRAD),
    ROW(gaussian_nll, "mean", {XR(0.1, 2, 1, 3001), XR(0.1, 2, 1, 3001),
                               XR(0.1, 1.5, 1, 3001)}, .ip = {CG_REDUCE_MEAN}, NOGRAD),
    ROW(gaussian_nll, "shared logvar mean", {XR(0.1, 2, 1, 3001), XR(0.1, 2, 1, 3001),
                                             XR(0.1, 1.5, 1, 1)}, .ip = {CG_REDUCE_MEAN},
        NOGRAD),
    ROW(softmax_xent, "mean", {XR(0.1, 3, 1, 37, 11)}, .ip = {CG_REDUCE_MEAN}),
    ROW(mmd2_rbf, "1 sigma", {X(7, 5), X(9, 5)}, .ip = {1}, .fp = {0.7, 2.0}),
    ROW(mmd2_rbf, "2 sigmas", {X(7, 5), X(9, 5)}, .ip = {2}, .fp = {0.7, 2.0}),
    /* y shifted away from x: the cross term dominates */
    ROW(mmd2_rbf, "2 sigmas, apart", {X(5, 3), XR(1, 2, 0, 6, 3)}, .ip = {2}, .fp = {0.7, 2.0}),
    ROW(mmd2_rbf, "3 sigmas", {X(9, 5), X(7, 5)}, .ip = {3}, .fp = {0.5, 1, 3}),
    /* D > 256 takes two column chunks in the backward; N + M > 256 two row
     * tiles; distances comparable to the bandwidths */
    MMD_ROWS(1, 1, 1, 1.0, 0),
    MMD_ROWS(9, 7, 5, 1.0, 0),
    MMD_ROWS(5, 11, 301, 0.15, OPC_NO_GRAD),
    MMD_ROWS(300, 17, 3, 1.0, OPC_NO_GRAD),

    /* shape: concat, split, reshape (copies: the same bits) */
    ROW(concat, "2-D", {X(5, 3), X(5, 4)}, .exact = 1),
    ROW(concat, "4-D", {X(3, 2, 3, 5), X(3, 1, 3, 5), X(3, 3, 3, 5)}, .exact = 1),
    ROW(concat, "4-D", {X(3, 2, 5, 7), X(3, 1, 5, 7), X(3, 4, 5, 7)}, .exact = 1),
    /* more parts than a tape node has inputs */
    ROW(concat, "6 parts", {X(3, 1, 3), X(3, 2, 3), X(3, 1, 3), X(3, 3, 3), X(3, 1, 3),
                            X(3, 2, 3)}, .exact = 1),
    COPY_ROWS(0, 1),
    COPY_ROWS(0, 5),
    COPY_ROWS(0, 3, 5, 7),
    COPY_ROWS(OPC_NO_GRAD, 7, 33, 33),
    ROW(split, "1, 3, 2, all parts", {X(3, 6, 3, 5)}, .ip = {1, 3, 2, 0}, .exact = 1),
    ROW(split, "1, 3, 2, parts 2 and 0", {X(3, 6, 3, 5)}, .ip = {1, 3, 2, 1}, .exact = 1),
    ROW(split, "1, 3, 2, part 1 only", {X(3, 6, 3, 5)}, .ip = {1, 3, 2, 2}, .exact = 1),
    ROW(split, "1, 3, 2, parts 2 and 0", {X(5, 6)}, .ip = {1, 3, 2, 1}, .exact = 1),
    ROW(split, "2, 4, 3, parts 2 and 0", {X(5, 9, 3)}, .ip = {2, 4, 3, 1}, .exact = 1),
    /* softmax before the split: not a copy */
    ROW(split, "of an activation used twice", {X(3, 6, 3, 5)}, .ip = {1, 3, 2, 3}),
    ROW(reshape, "to (5, 3, 4)", {X(3, 4, 5)}, .ip = {3, 5, 3, 4}, .exact = 1),
    ROW(reshape, "to (3, 20), softmax", {X(3, 4, 5)}, .ip = {2, 3, 20, 0, 0, 1}),
    ROW(reshape, "to (15, 7), tanh", {X(3, 5, 7)}, .ip = {2, 15, 7, 0, 0, 2}),

    /* nearest 2x up, 2x2 mean down (the same bits); one pixel, odd sizes, a
     * grid of many blocks */
    ROW(upsample2x, "", {X(2, 3, 3, 5)}, .exact = 1),
    ROW(avgpool2x, "", {X(2, 3, 4, 6)}, .exact = 1),
    RESAMPLE_ROWS(0, 1, 1, 1, 1),
    RESAMPLE_ROWS(0, 2, 3, 5, 7),
    RESAMPLE_ROWS(OPC_NO_GRAD, 3, 5, 33, 17),
    RESAMPLE_ROWS(OPC_NO_GRAD, 1, 2, 64, 65),
    ROW(squeeze2x, "", {X(3, 5, 6, 4)}, .exact = 1),
    ROW(squeeze2x, "", {X(2, 3, 6, 10)}, .exact = 1),
    ROW(unsqueeze2x, "", {X(2, 12, 3, 5)}, .exact = 1),
    ROW(unsqueeze2x, "", {X(2, 8, 3, 5)}, .exact = 1),
    ROWF(squeeze2x, "then unsqueeze2x", b_squeeze_unsqueeze, {X(2, 3, 4, 6)}, .exact = 1),

    /* dropout from a fixed seed: the same Philox mask on both devices */
    ROW(dropout, "p 0.3, twice", {X(5, 7, 3)}, .ip = {1, 2}, .fp = {0.3}, .exact = 1),
    ROW(dropout, "eval", {X(5, 7, 3)}, .ip = {0, 2}, .fp = {0.3}, .exact = 1),
    ROW(dropout, "p 0", {X(5, 7, 3)}, .ip = {1, 2}, .fp = {0}, .exact = 1),
    ROW(dropout, "p 0.3 after taking 5", {X(5, 3, 7)}, .ip = {1, 1}, .fp = {0.3, 5}, .exact = 1),
    ROW(dropout, "p 0.5", {X(7)}, .ip = {1, 1}, .fp = {0.5}, .exact = 1),
    /* a counter past 2^32: its high word */
    ROW(dropout, "p 0.9 after 2^33 values", {X(1001)}, .ip = {1, 1}, .fp = {0.9, 8589934592.0},
        .exact = 1),
    ROW(dropout, "p 0.1", {X(300007)}, .ip = {1, 1}, .fp = {0.1}, .exact = 1, NOGRAD),

    /* sinusoidal embedding: h > 256 makes a thread of the backward take
     * several frequencies; DDPM's integer steps up to 999 and fractional t */
    ROW(embedding, "7 x 5 table, 9 indices", {W(7, 5)}, .ip = {9}, .exact = 1),
    ROW(embedding, "40 x 3 table, 6 indices (rows unused)", {W(40, 3)}, .ip = {6}, .exact = 1),
    ROW(embedding, "1 x 8 table, 11 indices", {W(1, 8)}, .ip = {11}, .exact = 1),
    ROW(embedding, "10 x 130, 300 indices, one row", {W(10, 130)}, .ip = {300, 1}, .exact = 1),
    ROWF(embedding, "one table, two lookups multiplied", b_embedding_twice, {W(6, 4)},
         .ip = {9}),
    ROW(embedding_scatter, "9 rows into 7", {X(9, 5)}, .ip = {7}, .exact = 1),
    ROW(embedding_scatter, "6 rows into 40 (rows unnamed)", {X(6, 3)}, .ip = {40}, .exact = 1),
    ROW(embedding_scatter, "300 rows of 130 into one", {X(300, 130)}, .ip = {10, 1}),
    ROW(timestep_embedding, "dim 10", {X(5)}, .ip = {10}, .fp = {10000}),
    ROW(timestep_embedding, "dim 10, t in [1, 50]", {XR(1, 50, 0, 7)}, .ip = {10},
        .fp = {10000}),
    ROW(timestep_embedding, "dim 2", {XR(0.5, 999, 0, 7)}, .ip = {2}, .fp = {10000}),
    ROW(timestep_embedding, "dim 6", {XR(0.5, 999, 0, 7)}, .ip = {6}, .fp = {10000}),
    ROW(timestep_embedding, "dim 320", {XR(0.5, 999, 0, 7)}, .ip = {320}, .fp = {10000}),
    ROW(timestep_embedding, "dim 666", {XR(0.5, 999, 0, 7)}, .ip = {666}, .fp = {10000}),
    ROW(timestep_embedding, "dim 320, integer t", {XINT(1, 999, 7)}, .ip = {320},
        .fp = {10000}),
};
const int OP_NCASES = (int)(sizeof OP_CASES / sizeof OP_CASES[0]);

/* ---- inputs ------------------------------------------------------------------------------ */
int opc_ops(const char **ops, int max)
{
    int n = 0;
    for (int k = 0; k < OP_NCASES; k++) {
        int seen = 0;
        for (int i = 0; i < n && !seen; i++)
            seen = strcmp(ops[i], OP_CASES[k].op) == 0;
        if (!seen && n < max)
            ops[n++] = OP_CASES[k].op;
    }
    return n;
}

int64_t opc_numel(const op_case *c, int j)
{
    const opc_input *in = &c->in[j];
    return in->role == OPC_NONE ? 0 : cg_shape_numel(in->ndim, in->shape);
}

void opc_values(const op_case *c, int k, int j, real *v)
{
    const opc_input *in = &c->in[j];
    int64_t n = opc_numel(c, j);
    cg_rng r;
    cg_rng_init(&r, 1000 + (uint64_t)k, (uint32_t)j);
    for (int64_t i = 0; i < n; i++) {
        real u[2];
        cg_rng_uniform(&r, u, 2);
        double m = in->lo + (in->hi - in->lo) * (double)u[0];
        if (in->integer)
            m = floor(m + 0.5);
        v[i] = (real)(in->off + (in->sign && u[1] < 0.5 ? -m : m));
    }
}

const char *opc_label(const op_case *c, char *buf, size_t len)
{
    int k = snprintf(buf, len, "%s%s%s:", c->op, c->name[0] ? " " : "", c->name);
    for (int j = 0; j < OPC_MAX_IN && k >= 0 && (size_t)k < len; j++) {
        const opc_input *in = &c->in[j];
        if (in->role == OPC_NONE)
            continue;
        k += snprintf(buf + k, len - (size_t)k, " (");
        for (int d = 0; d < in->ndim && (size_t)k < len; d++)
            k += snprintf(buf + k, len - (size_t)k, "%s%d", d ? ", " : "", in->shape[d]);
        if ((size_t)k < len)
            k += snprintf(buf + k, len - (size_t)k, ")");
    }
    return buf;
}

int opc_make_inputs(cg_ctx *ctx, cg_device dev, const op_case *c, int k, real *const *grad0,
                    cg_tensor **in)
{
    for (int j = 0; j < OPC_MAX_IN; j++) {
        const opc_input *spec = &c->in[j];
        in[j] = NULL;
        if (spec->role == OPC_NONE)
            continue;
        int64_t n = opc_numel(c, j);
        real *v = cg_scratch(ctx, sizeof(real) * (size_t)n);
        cg_tensor *t = cg_new_on(ctx, dev, spec->shape, spec->ndim);
        if (!v || !t)
            return 0;
        opc_values(c, k, j, v);
        if (cg_copy_from_host(ctx, t, v) != CG_OK)
            return 0;
        t->requires_grad = spec->role != OPC_CONST;
        if (spec->role == OPC_PARAM) {
            cg_tensor *g = grad0 && grad0[j] ? cg_new_on(ctx, dev, spec->shape, spec->ndim)
                                             : cg_new_zeros_on(ctx, dev, spec->shape, spec->ndim);
            if (!g || (grad0 && grad0[j] && cg_copy_from_host(ctx, g, grad0[j]) != CG_OK))
                return 0;
            t->grad = g->data;
            t->is_param = 1;
        }
        in[j] = t;
    }
    return 1;
}
