/*
 * test_gpu_ops.c: ops through their front ends and the tape on CUDA tensors,
 * against the same graph on the CPU: values and the gradients of every
 * input (relative error under 1e-5); the device step arena reusing its
 * memory and addresses; clear errors for inputs on two devices, an
 * impossible allocation, and (without a GPU) a CUDA tensor at all; the
 * backend released (cg_cuda_shutdown) and started again; cg_copy between
 * and on devices, cg_detach of a CUDA tensor.
 */
#include <string.h>

#include "cugen/nn.h"
#include "cugen/ops.h"
#include "gpu_check.h"

#define TOL 1e-5

/* A leaf on dev holding host values v (requires grad). */
static cg_tensor *leaf(cg_ctx *ctx, cg_device dev, const real *v, const int *shape, int ndim)
{
    cg_tensor *t = cg_new_on(ctx, dev, shape, ndim);
    if (t && cg_copy_from_host(ctx, t, v) == CG_OK)
        t->requires_grad = 1;
    return t;
}

typedef cg_tensor *(*graph_fn)(cg_ctx *ctx, cg_tensor **in);

typedef struct {
    const char *name;
    graph_fn f;
    int nin;
    int shape[3][4], ndim[3];
    double lo;        /* inputs' magnitudes in [lo, 2] */
    int positive;     /* inputs > 0 */
} graph_case;

#define UN(op) static cg_tensor *g_##op(cg_ctx *c, cg_tensor **in) { return cg_##op(c, in[0]); }
UN(relu) UN(tanh) UN(sigmoid) UN(silu) UN(softplus) UN(exp) UN(log) UN(sum) UN(mean)
static cg_tensor *g_leaky(cg_ctx *c, cg_tensor **in) { return cg_leaky_relu(c, in[0], 0.1); }
static cg_tensor *g_scale(cg_ctx *c, cg_tensor **in) { return cg_scale(c, in[0], -0.7); }
static cg_tensor *g_affine(cg_ctx *c, cg_tensor **in) { return cg_affine(c, in[0], 1.3, 0.2); }
static cg_tensor *g_add(cg_ctx *c, cg_tensor **in) { return cg_add(c, in[0], in[1]); }
static cg_tensor *g_sub(cg_ctx *c, cg_tensor **in) { return cg_sub(c, in[0], in[1]); }
static cg_tensor *g_mul(cg_ctx *c, cg_tensor **in) { return cg_mul(c, in[0], in[1]); }
static cg_tensor *g_reshape(cg_ctx *c, cg_tensor **in)
{
    return cg_tanh(c, cg_reshape(c, in[0], CG_SHAPE(15, 7)));
}
/* a tensor used twice: the tape accumulates into its gradient on the GPU */
static cg_tensor *g_twice(cg_ctx *c, cg_tensor **in)
{
    return cg_mul(c, cg_tanh(c, in[0]), cg_sigmoid(c, in[0]));
}
static cg_tensor *g_bce(cg_ctx *c, cg_tensor **in)
{
    return cg_bce(c, cg_sigmoid(c, in[0]), cg_sigmoid(c, in[1]), CG_REDUCE_MEAN);
}
static cg_tensor *g_bcel(cg_ctx *c, cg_tensor **in)
{
    return cg_bce_with_logits(c, in[0], cg_sigmoid(c, in[1]), CG_REDUCE_SUM);
}
static cg_tensor *g_bnll(cg_ctx *c, cg_tensor **in)
{
    return cg_bernoulli_nll(c, in[0], cg_sigmoid(c, in[1]), CG_REDUCE_BATCHMEAN);
}
static cg_tensor *g_mse(cg_ctx *c, cg_tensor **in)
{
    return cg_mse(c, in[0], in[1], CG_REDUCE_MEAN);
}
static cg_tensor *g_kl(cg_ctx *c, cg_tensor **in)
{
    return cg_gaussian_kl(c, in[0], in[1], CG_REDUCE_BATCHMEAN);
}
static cg_tensor *g_nll(cg_ctx *c, cg_tensor **in)
{
    return cg_gaussian_nll(c, in[0], in[1], in[2], CG_REDUCE_MEAN);
}
static cg_tensor *g_xent(cg_ctx *c, cg_tensor **in)
{
    static const int32_t labels[9] = {0, 4, 2, 1, 3, 4, 0, 2, 1};
    return cg_softmax_xent(c, in[0], labels, CG_REDUCE_MEAN);
}

static cg_tensor *g_softmax(cg_ctx *c, cg_tensor **in) { return cg_softmax(c, in[0]); }
static cg_tensor *g_up(cg_ctx *c, cg_tensor **in) { return cg_upsample2x(c, in[0]); }
static cg_tensor *g_pool(cg_ctx *c, cg_tensor **in) { return cg_avgpool2x(c, in[0]); }
static cg_tensor *g_squeeze(cg_ctx *c, cg_tensor **in) { return cg_squeeze2x(c, in[0]); }
static cg_tensor *g_unsqueeze(cg_ctx *c, cg_tensor **in) { return cg_unsqueeze2x(c, in[0]); }
static cg_tensor *g_concat(cg_ctx *c, cg_tensor **in) { return cg_concat(c, in, 3); }
/* the middle part unused: its channels of the gradient stay zero */
static cg_tensor *g_split(cg_ctx *c, cg_tensor **in)
{
    cg_tensor *part[3];
    if (cg_split(c, in[0], (const int[]){2, 4, 3}, 3, part) != CG_OK)
        return NULL;
    cg_tensor *two[2] = {part[2], part[0]};
    return cg_concat(c, two, 2);
}
/* the same counters on both devices, so the same mask */
static cg_tensor *g_dropout(cg_ctx *c, cg_tensor **in)
{
    cg_rng rng;
    cg_rng_init(&rng, 1234, 3);
    cg_rng_take(&rng, 5);  /* a mask that does not start at value 0 */
    return cg_dropout(c, in[0], 0.3, &rng, 1);
}
static cg_tensor *g_embed(cg_ctx *c, cg_tensor **in)
{
    return cg_timestep_embedding(c, in[0], 10, 10000);
}
/* cuBLAS (kernels/dense.cu) through the front end and the tape */
static cg_tensor *g_linear(cg_ctx *c, cg_tensor **in) { return cg_linear(c, in[0], in[1], in[2]); }
static cg_tensor *g_linear_nb(cg_ctx *c, cg_tensor **in)
{
    return cg_linear(c, in[0], in[1], NULL);
}
static cg_tensor *g_mmd(cg_ctx *c, cg_tensor **in)
{
    static const double sigmas[3] = {0.5, 1, 3};
    return cg_mmd2_rbf(c, in[0], in[1], sigmas, 3);
}

#define S4 {{5, 3, 7, 1}, {1, 3, 1, 1}, {1}}, {4, 4, 1}
static const graph_case CASES[] = {
    {"relu", g_relu, 1, {{5, 21}}, {2}, 0.1, 0},
    {"leaky_relu", g_leaky, 1, {{5, 21}}, {2}, 0.1, 0},
    {"tanh", g_tanh, 1, {{5, 21}}, {2}, 0.1, 0},
    {"sigmoid", g_sigmoid, 1, {{5, 21}}, {2}, 0.1, 0},
    {"silu", g_silu, 1, {{5, 21}}, {2}, 0.1, 0},
    {"softplus", g_softplus, 1, {{5, 21}}, {2}, 0.1, 0},
    {"exp", g_exp, 1, {{5, 21}}, {2}, 0.1, 0},
    {"log", g_log, 1, {{5, 21}}, {2}, 0.1, 1},
    {"scale", g_scale, 1, {{5, 21}}, {2}, 0.1, 0},
    {"affine", g_affine, 1, {{5, 21}}, {2}, 0.1, 0},
    {"sum", g_sum, 1, {{5, 21}}, {2}, 0.1, 0},
    {"mean", g_mean, 1, {{5, 21}}, {2}, 0.1, 0},
    {"reshape", g_reshape, 1, {{3, 5, 7}}, {3}, 0.1, 0},
    {"used twice", g_twice, 1, {{5, 21}}, {2}, 0.1, 0},
    {"add (1, C, 1, 1)", g_add, 2, S4, 0.1, 0},
    {"sub (1, C, 1, 1)", g_sub, 2, S4, 0.1, 0},
    {"mul (1, C, 1, 1)", g_mul, 2, S4, 0.1, 0},
    {"mul scalar", g_mul, 2, {{9, 11}, {1}}, {2, 1}, 0.1, 0},
    {"add rows", g_add, 2, {{9, 11}, {11}}, {2, 1}, 0.1, 0},
    {"bce", g_bce, 2, {{9, 11}, {9, 11}}, {2, 2}, 0.1, 0},
    {"bce_with_logits", g_bcel, 2, {{9, 11}, {9, 11}}, {2, 2}, 0.1, 0},
    {"bernoulli_nll", g_bnll, 2, {{9, 11}, {9, 11}}, {2, 2}, 0.1, 0},
    {"mse", g_mse, 2, {{9, 11}, {9, 11}}, {2, 2}, 0.1, 0},
    {"gaussian_kl", g_kl, 2, {{9, 11}, {9, 11}}, {2, 2}, 0.1, 0},
    {"gaussian_nll", g_nll, 3, {{9, 11}, {9, 11}, {9, 11}}, {2, 2, 2}, 0.1, 0},
    {"gaussian_nll shared", g_nll, 3, {{9, 11}, {9, 11}, {1}}, {2, 2, 1}, 0.1, 0},
    {"softmax_xent", g_xent, 1, {{9, 5}}, {2}, 0.1, 0},
    {"softmax", g_softmax, 1, {{3, 5, 7}}, {3}, 0.1, 0},
    {"dropout", g_dropout, 1, {{5, 3, 7}}, {3}, 0.1, 0},
    {"concat", g_concat, 3, {{3, 2, 5, 7}, {3, 1, 5, 7}, {3, 4, 5, 7}}, {4, 4, 4}, 0.1, 0},
    {"split", g_split, 1, {{5, 9, 3}}, {3}, 0.1, 0},
    {"upsample2x", g_up, 1, {{2, 3, 5, 7}}, {4}, 0.1, 0},
    {"avgpool2x", g_pool, 1, {{2, 3, 6, 10}}, {4}, 0.1, 0},
    {"squeeze2x", g_squeeze, 1, {{2, 3, 6, 10}}, {4}, 0.1, 0},
    {"unsqueeze2x", g_unsqueeze, 1, {{2, 8, 3, 5}}, {4}, 0.1, 0},
    {"timestep_embedding", g_embed, 1, {{7}}, {1}, 0.1, 0},
    {"mmd2_rbf", g_mmd, 2, {{9, 5}, {7, 5}}, {2, 2}, 0.1, 0},
    {"linear", g_linear, 3, {{7, 13}, {5, 13}, {5}}, {2, 2, 1}, 0.1, 0},
    {"linear without bias", g_linear_nb, 2, {{33, 65}, {17, 65}}, {2, 2}, 0.1, 0},
};

/* The graph on dev; out[j] gets the gradient of in[j], y the output (host). */
static int run_graph(const graph_case *gc, cg_device dev, real **vals, real **y, int64_t *ny,
                     real **grads)
{
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK)
        return 0;
    cg_tensor *in[3] = {0};
    for (int j = 0; j < gc->nin; j++)
        in[j] = leaf(&ctx, dev, vals[j], gc->shape[j], gc->ndim[j]);
    cg_tensor *out = gc->f(&ctx, in);
    /* L = sum(w * out) with fixed w != 1, so dout is not uniform */
    cg_tensor *w = out ? cg_new_on(&ctx, dev, out->shape, out->ndim) : NULL;
    real *wv = out ? gpu_rand(77, out->n, 0.5, 1.5, 1) : NULL;
    if (w)
        cg_copy_from_host(&ctx, w, wv);
    cg_tensor *loss = cg_sum(&ctx, cg_mul(&ctx, out, w));
    cg_backward(&ctx, loss);
    int ok = cg_ok(&ctx);
    if (ok) {
        *ny = out->n;
        *y = th_alloc(sizeof(real) * (size_t)out->n);
        cg_copy_to_host(&ctx, *y, out);
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

TEST(gpu_ops_through_the_tape_match_cpu)
{
    GPU_OR_SKIP();
    for (size_t k = 0; k < sizeof CASES / sizeof *CASES; k++) {
        const graph_case *gc = &CASES[k];
        real *vals[3];
        for (int j = 0; j < gc->nin; j++)
            vals[j] = gpu_rand(300 + k * 3 + j, cg_shape_numel(gc->ndim[j], gc->shape[j]),
                               gc->lo, 2, !gc->positive);
        real *yc, *yg, *gc_[3], *gg[3];
        int64_t nc, ng;
        if (!run_graph(gc, CG_CPU, vals, &yc, &nc, gc_) ||
            !run_graph(gc, CG_CUDA, vals, &yg, &ng, gg))
            continue;
        char what[96];
        snprintf(what, sizeof what, "%s: output", gc->name);
        REQUIRE(nc == ng);
        gpu_compare(what, yg, yc, nc, TOL);
        for (int j = 0; j < gc->nin; j++) {
            snprintf(what, sizeof what, "%s: gradient of input %d", gc->name, j);
            gpu_compare(what, gg[j], gc_[j], cg_shape_numel(gc->ndim[j], gc->shape[j]), TOL);
        }
    }
}

/* Two identical steps: the second allocates no device memory and gets the
 * first one's addresses (what a CUDA graph capture will need). */
TEST(gpu_step_arena_reuses_memory_and_addresses)
{
    GPU_OR_SKIP();
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    real *v = gpu_rand(5, 4096, 0.1, 2, 1);
    void *addr[2][3];
    int64_t mallocs = 0;
    for (int step = 0; step < 3; step++) {
        cg_tensor *x = leaf(&ctx, CG_CUDA, v, CG_SHAPE(64, 64));
        cg_tensor *big = cg_new_on(&ctx, CG_CUDA, CG_SHAPE(1024, 1024));  /* grows the arena */
        cg_tensor *y = cg_tanh(&ctx, x);
        cg_backward(&ctx, cg_sum(&ctx, y));
        REQUIRE_OK(&ctx);
        if (step > 0) {
            addr[step - 1][0] = x->data;
            addr[step - 1][1] = big->data;
            addr[step - 1][2] = x->grad;
        }
        if (step == 1)
            mallocs = ctx.dev_arena.n_mallocs;
        cg_ctx_step_end(&ctx);
    }
    CHECK(ctx.dev_arena.n_mallocs == mallocs, "%lld device allocations after step 2",
          (long long)(ctx.dev_arena.n_mallocs - mallocs));
    CHECK(memcmp(addr[0], addr[1], sizeof addr[0]) == 0, "addresses moved between steps");
    CHECK(cg_cuda_sync() == CG_OK, "%s", cg_cuda_last_error());
    cg_ctx_free(&ctx);
}

/* cg_copy across and within devices gives back the same bits, at an offset;
 * cg_detach of a CUDA tensor is a CUDA view that stops the gradient:
 * L = sum(x * detach(x)) gives dL/dx = x. */
TEST(gpu_copy_and_detach)
{
    GPU_OR_SKIP();
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    enum { N = 37 };
    real *xv = gpu_rand(45, N, 0.1, 1, 1), back[2 * N], grad[N];
    cg_tensor *hx = cg_wrap(&ctx, xv, CG_SHAPE(N));
    cg_tensor *x = cg_new_zeros_on(&ctx, CG_CUDA, CG_SHAPE(N));
    cg_tensor *two = cg_new_zeros_on(&ctx, CG_CUDA, CG_SHAPE(2, N));
    cg_tensor *hback = cg_wrap(&ctx, back, CG_SHAPE(2 * N));
    REQUIRE_OK(&ctx);
    REQUIRE(cg_copy(&ctx, x, 0, hx) == CG_OK);           /* upload */
    REQUIRE(cg_copy(&ctx, two, N, x) == CG_OK);          /* on the GPU */
    REQUIRE(cg_copy(&ctx, hback, 0, two) == CG_OK);      /* download */
    for (int i = 0; i < N; i++)
        CHECK(back[i] == 0 && memcmp(&back[N + i], &xv[i], sizeof(real)) == 0, "value %d", i);

    x->requires_grad = 1;
    cg_tensor *d = cg_detach(&ctx, x);
    REQUIRE_OK(&ctx);
    CHECK(d->dev == CG_CUDA && d->data == x->data && !d->requires_grad);
    REQUIRE(cg_backward(&ctx, cg_sum(&ctx, cg_mul(&ctx, x, d))) == CG_OK);
    REQUIRE(cg_memcpy_to_host(&ctx, grad, x->grad, CG_CUDA, N) == CG_OK);
    for (int i = 0; i < N; i++)
        CHECK_NEAR(grad[i], xv[i], 1e-6);
    cg_ctx_free(&ctx);
}

/* Every op front end has a CUDA twin (none starts with op_begin_cpu), so
 * the device error shown is inputs on two devices. */
TEST(gpu_mixed_devices_and_oom_are_clear_errors)
{
    GPU_OR_SKIP();
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = cg_new_zeros_on(&ctx, CG_CUDA, CG_SHAPE(2, 3));
    cg_tensor *w = cg_new_zeros_on(&ctx, CG_CPU, CG_SHAPE(4, 3));
    REQUIRE_OK(&ctx);
    CHECK(cg_linear(&ctx, x, w, NULL) == NULL);
    CHECK(ctx.err == CG_ERR_ARG && strstr(ctx.errmsg, "linear: inputs are on different devices"),
          "%s: %s", cg_status_str(ctx.err), ctx.errmsg);
    printf("    error: %s\n", ctx.errmsg);
    cg_clear_error(&ctx);
    /* 2^46 floats: more than any GPU has */
    CHECK(cg_new_on(&ctx, CG_CUDA, CG_SHAPE(1 << 20, 1 << 20, 64)) == NULL);
    CHECK(ctx.err == CG_ERR_NOMEM && strstr(ctx.errmsg, "bytes"), "%s: %s",
          cg_status_str(ctx.err), ctx.errmsg);
    printf("    error: %s\n", ctx.errmsg);
    cg_clear_error(&ctx);
    /* the context still works after the failed allocation */
    CHECK(cg_relu(&ctx, x) != NULL, "%s", ctx.errmsg);
    cg_ctx_free(&ctx);
}

/* One conv (cuDNN: handle, plan, workspace) and one linear (cuBLAS) on the
 * GPU, timed with the event timer; y and z to host memory. */
static int conv_and_linear(const real *xv, const real *wv, const real *av, const real *bv,
                           real *y, real *z)
{
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK)
        return 0;
    double ms = 0;
    int ok = cg_cuda_timer_start() == CG_OK;
    cg_tensor *x = leaf(&ctx, CG_CUDA, xv, CG_SHAPE(2, 3, 6, 5));
    cg_tensor *w = leaf(&ctx, CG_CUDA, wv, CG_SHAPE(4, 3, 3, 3));
    cg_tensor *a = leaf(&ctx, CG_CUDA, av, CG_SHAPE(7, 13));
    cg_tensor *b = leaf(&ctx, CG_CUDA, bv, CG_SHAPE(5, 13));
    cg_tensor *yt = cg_conv2d(&ctx, x, w, NULL, 1, 1);
    cg_tensor *zt = cg_linear(&ctx, a, b, NULL);
    if (yt && zt) {
        cg_copy_to_host(&ctx, y, yt);
        cg_copy_to_host(&ctx, z, zt);
    }
    ok = ok && cg_ok(&ctx) && cg_cuda_timer_stop(&ms) == CG_OK;
    if (!ok)
        th_fail(__FILE__, __LINE__, "%s / %s", ctx.errmsg, cg_cuda_last_error());
    cg_ctx_free(&ctx);
    return ok;
}

/* cg_cuda_shutdown releases the stream, the cuBLAS and cuDNN handles, the
 * conv plans, the workspace and the timer events; the backend then makes
 * them afresh and computes the same bits (the heuristics choose the same
 * algorithms again). Shutting down twice, or with nothing made, is fine. */
TEST(gpu_backend_shuts_down_and_starts_again)
{
    GPU_OR_SKIP();
    real *xv = gpu_rand(41, 2 * 3 * 6 * 5, 0.1, 1, 1), *wv = gpu_rand(42, 4 * 3 * 3 * 3, 0.1, 1, 1);
    real *av = gpu_rand(43, 7 * 13, 0.1, 1, 1), *bv = gpu_rand(44, 5 * 13, 0.1, 1, 1);
    real y[2][4 * 2 * 6 * 5], z[2][7 * 5];
    for (int round = 0; round < 2; round++) {
        if (!conv_and_linear(xv, wv, av, bv, y[round], z[round]))
            return;
        cg_cuda_shutdown();
    }
    CHECK(memcmp(y[0], y[1], sizeof y[0]) == 0, "conv after a restart: other values");
    CHECK(memcmp(z[0], z[1], sizeof z[0]) == 0, "linear after a restart: other values");
    cg_cuda_shutdown();
    CHECK(cg_cuda_sync() == CG_OK, "a fresh stream after shutdown: %s", cg_cuda_last_error());
    cg_cuda_shutdown();
}

/* Runs everywhere: without a GPU (or built without CUDA) a CUDA tensor is
 * CG_ERR_NO_CUDA with the reason, not a crash. */
TEST(cuda_tensor_with_no_device_is_a_clear_error)
{
    char why[256];
    if (cg_cuda_device_count(why, sizeof why) > 0)
        SKIP("a GPU is present (the GPU tests cover CUDA tensors)");
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    CHECK(cg_new_on(&ctx, CG_CUDA, CG_SHAPE(3)) == NULL);
    CHECK(ctx.err == CG_ERR_NO_CUDA, "%s", cg_status_str(ctx.err));
    printf("    error: %s\n", ctx.errmsg);
    cg_params p;
    cg_params_init(&p);
    cg_param(&p, "w", CG_SHAPE(3), 0);
    REQUIRE(cg_params_alloc(&p) == CG_OK);
    char err[256];
    CHECK(cg_params_to_device(&p, err, sizeof err) != CG_OK);
    CHECK(p.dev == CG_CPU && p.t[0]->dev == CG_CPU, "a failed move changed the parameters");
    printf("    error: %s\n", err);
    cg_params_free(&p);
    cg_ctx_free(&ctx);
    cg_cuda_shutdown();  /* nothing was made: nothing to do */
    CHECK(cg_cuda_device_count(NULL, 0) == 0);
}
