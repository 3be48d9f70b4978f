/*
 * test_gpu_create_graph.c: second derivatives on the GPU against the CPU.
 * For each graph f: g = cg_grad(sum(w * f(in)), x), then the backward of
 * sum(v * g); g and the gradients of every input, on CUDA tensors, against
 * the same on the CPU (relative L2 error under 1e-5, the op tests' bound:
 * both devices compute in float with double sums, in another order). The
 * graphs cover the ops the create-graph backwards are made of (pow, sum_to,
 * expand, the conv input- and weight-gradient ops, bmm, the embedding's
 * scatter) besides the ops themselves.
 */
#include <string.h>

#include "cugen/ops.h"
#include "gpu_check.h"

#define TOL 1e-5

typedef cg_tensor *(*graph_fn)(cg_ctx *ctx, cg_tensor **in);

typedef struct {
    const char *name;
    graph_fn f;
    int nin;
    int shape[4][4], ndim[4];
    int positive;  /* inputs > 0 */
} graph_case;

static cg_tensor *g_pow(cg_ctx *c, cg_tensor **in)
{
    return cg_pow(c, cg_affine(c, cg_pow(c, in[0], 3), 1, 1), -0.5);
}

static cg_tensor *g_sum_to(cg_ctx *c, cg_tensor **in)
{
    return cg_tanh(c, cg_mul(c, cg_expand(c, in[1], CG_SHAPE(3, 5, 7)),
                             cg_sum_to(c, cg_mul(c, in[0], in[0]), CG_SHAPE(3, 1, 1))));
}

static cg_tensor *g_linear(cg_ctx *c, cg_tensor **in)
{
    return cg_tanh(c, cg_linear(c, cg_leaky_relu(c, in[0], 0.2), in[1], in[2]));
}

/* DCGAN's critic in small: conv k4 s2 p1, layer norm over (C, H, W), leaky relu,
 * then the 4x4 -> 1x1 conv */
static cg_tensor *g_critic(cg_ctx *c, cg_tensor **in)
{
    cg_tensor *h = cg_conv2d(c, in[0], in[1], NULL, 2, 1);  /* (3, 4, 4, 4) */
    h = cg_reshape(c, cg_layernorm(c, cg_reshape(c, h, CG_SHAPE(3, 64)), in[3], NULL, 1e-5),
                   CG_SHAPE(3, 4, 4, 4));
    return cg_conv2d(c, cg_leaky_relu(c, h, 0.2), in[2], NULL, 1, 0);
}

static cg_tensor *g_convt(cg_ctx *c, cg_tensor **in)
{
    return cg_tanh(c, cg_conv_transpose2d(c, in[0], in[1], in[2], 2, 1));
}

/* labels of a batch of 3 into tables of 4 rows: one repeated, one unused */
static const int32_t LABELS[3] = {2, 0, 2};

static cg_tensor *g_embedding(cg_ctx *c, cg_tensor **in)
{
    return cg_tanh(c, cg_embedding(c, in[0], LABELS, 3));
}

static cg_tensor *g_scatter(cg_ctx *c, cg_tensor **in)
{
    return cg_tanh(c, cg_embedding_scatter(c, in[0], LABELS, 4));
}

/* the projection critic in small: the critic above (no layer norm affine)
 * plus <embed(y), h> of the features its last convolution reads */
static cg_tensor *g_projection(cg_ctx *c, cg_tensor **in)
{
    cg_tensor *h = cg_conv2d(c, in[0], in[1], NULL, 2, 1);  /* (3, 4, 4, 4) */
    h = cg_reshape(c, cg_layernorm(c, cg_reshape(c, h, CG_SHAPE(3, 64)), NULL, NULL, 1e-5),
                   CG_SHAPE(3, 4, 4, 4));
    h = cg_leaky_relu(c, h, 0.2);
    cg_tensor *out = cg_reshape(c, cg_conv2d(c, h, in[2], NULL, 1, 0), CG_SHAPE(3));
    cg_tensor *proj = cg_bmm(c, cg_reshape(c, h, CG_SHAPE(3, 1, 64)),
                             cg_reshape(c, cg_embedding(c, in[3], LABELS, 3), CG_SHAPE(3, 64, 1)),
                             0, 0);
    return cg_add(c, out, cg_reshape(c, proj, CG_SHAPE(3)));
}

static const graph_case CASES[] = {
    {"pow", g_pow, 1, {{5, 21}}, {2}, 1},
    {"sum_to, expand", g_sum_to, 2, {{2, 3, 5, 7}, {3, 1, 1}}, {4, 3}, 0},
    {"linear, leaky_relu", g_linear, 3, {{7, 13}, {5, 13}, {5}}, {2, 2, 1}, 0},
    {"critic: conv, layernorm, leaky_relu, conv", g_critic, 4,
     {{3, 2, 8, 8}, {4, 2, 4, 4}, {1, 4, 4, 4}, {64}}, {4, 4, 4, 1}, 0},
    {"conv_transpose2d", g_convt, 3, {{2, 3, 3, 3}, {3, 2, 4, 4}, {2}}, {4, 4, 1}, 0},
    {"embedding (its create-graph backward: the scatter)", g_embedding, 1, {{4, 6}}, {2}, 0},
    {"embedding_scatter (its create-graph backward: the lookup)", g_scatter, 1, {{3, 6}}, {2},
     0},
    {"projection critic: conv, layernorm, leaky_relu, conv + <embed(y), h>", g_projection, 4,
     {{3, 2, 8, 8}, {4, 2, 4, 4}, {1, 4, 4, 4}, {4, 64}}, {4, 4, 4, 2}, 0},
};

/* The second-order graph on dev: g (x's gradient as ops) and the gradients
 * of every input of sum(v * g), into host memory. */
static int run_graph(const graph_case *gc, cg_device dev, real **vals, real **g, real **grads)
{
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK)
        return 0;
    cg_tensor *in[4] = {0};
    for (int j = 0; j < gc->nin; j++) {
        in[j] = cg_new_on(&ctx, dev, gc->shape[j], gc->ndim[j]);
        if (in[j] && cg_copy_from_host(&ctx, in[j], vals[j]) == CG_OK)
            in[j]->requires_grad = 1;
    }
    cg_tensor *out = gc->f(&ctx, in);
    cg_tensor *w = out ? cg_new_like(&ctx, out) : NULL;
    cg_tensor *v = in[0] ? cg_new_like(&ctx, in[0]) : NULL;
    if (w && v) {
        cg_copy_from_host(&ctx, w, gpu_rand(77, out->n, 0.5, 1.5, 1));
        cg_copy_from_host(&ctx, v, gpu_rand(78, in[0]->n, 0.5, 1.5, 1));
    }
    cg_tensor *gx = NULL;
    if (out)
        cg_grad(&ctx, out, w, in, 1, &gx);
    cg_backward(&ctx, cg_sum(&ctx, cg_mul(&ctx, gx, v)));
    int ok = cg_ok(&ctx);
    if (ok) {
        *g = th_alloc(sizeof(real) * (size_t)gx->n);
        cg_copy_to_host(&ctx, *g, gx);
        for (int j = 0; j < gc->nin; j++) {
            grads[j] = th_alloc(sizeof(real) * (size_t)in[j]->n);
            cg_memcpy_to_host(&ctx, grads[j], in[j]->grad, dev, in[j]->n);
        }
        ok = cg_ok(&ctx);
    }
    if (!ok)
        th_fail(__FILE__, __LINE__, "%s on %s: %s", gc->name, dev == CG_CUDA ? "GPU" : "CPU",
                ctx.errmsg);
    cg_ctx_free(&ctx);
    return ok;
}

TEST(gpu_second_derivatives_match_cpu)
{
    GPU_OR_SKIP();
    for (size_t k = 0; k < sizeof CASES / sizeof *CASES; k++) {
        const graph_case *gc = &CASES[k];
        real *vals[4];
        for (int j = 0; j < gc->nin; j++)
            vals[j] = gpu_rand(500 + k * 4 + j, cg_shape_numel(gc->ndim[j], gc->shape[j]), 0.1,
                               1, !gc->positive);
        real *g_cpu, *g_gpu, *d_cpu[4], *d_gpu[4];
        if (!run_graph(gc, CG_CPU, vals, &g_cpu, d_cpu) ||
            !run_graph(gc, CG_CUDA, vals, &g_gpu, d_gpu))
            continue;
        char what[128];
        snprintf(what, sizeof what, "%s: gradient as ops", gc->name);
        gpu_compare(what, g_gpu, g_cpu, cg_shape_numel(gc->ndim[0], gc->shape[0]), TOL);
        for (int j = 0; j < gc->nin; j++) {
            snprintf(what, sizeof what, "%s: second derivative, input %d", gc->name, j);
            gpu_compare(what, d_gpu[j], d_cpu[j], cg_shape_numel(gc->ndim[j], gc->shape[j]),
                        TOL);
        }
    }
}
