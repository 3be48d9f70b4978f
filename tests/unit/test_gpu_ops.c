/*
 * test_gpu_ops.c: the device side of the op machinery beyond single ops
 * (those, through their front ends and the tape against the CPU, are the
 * rows of the op table, test_op_table.c): the device step arena reusing its
 * memory and addresses; clear errors for inputs on two devices, an
 * impossible allocation, and (without a GPU) a CUDA tensor at all; the
 * backend released (cg_cuda_shutdown) and started again; cg_copy between
 * and on devices, cg_detach of a CUDA tensor.
 */
#include <string.h>

#include "cugen/nn.h"
#include "cugen/ops.h"
#include "gpu_check.h"

/* A leaf on dev holding host values v (requires grad). */
static cg_tensor *leaf(cg_ctx *ctx, cg_device dev, const real *v, const int *shape, int ndim)
{
    cg_tensor *t = cg_new_on(ctx, dev, shape, ndim);
    if (t && cg_copy_from_host(ctx, t, v) == CG_OK)
        t->requires_grad = 1;
    return t;
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
