/*
 * test_gpu_misc.c: what the table of op cases (test_op_table.c) cannot
 * reach through the op front ends, on guarded, poisoned outputs of the CUDA
 * entry points called directly:
 *   - ReLU of a NaN is a NaN (the table's inputs are finite);
 *   - the dropout mask at counter offsets that are not multiples of 4 (the
 *     front end's cg_rng_take hands out only multiples of 4), across n and p,
 *     and past 2^32 (the counter's high word), bit-identical to the CPU's;
 *   - mmd2_rbf's backward with no rows or no columns launches nothing.
 * Then a small training step made of many ops and Adam: three steps on each
 * device give the same losses and parameters (1e-4, the bound of DESIGN.md
 * for a whole step), and on the GPU the second and third steps allocate no
 * device memory and the third sees the second's addresses (the first step's
 * arena blocks are merged into one at its end).
 *
 * Skipped without a GPU (failed under make test-gpu).
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu_dropout.h"
#include "cugen/nn.h"
#include "cugen/ops.h"
#include "cugen/optim.h"
#include "gpu_check.h"
#include "ops/cuda_ops.h"

static real *host(int64_t n)
{
    return th_alloc(sizeof(real) * (size_t)(n > 0 ? n : 1));
}

#define GPU_OK(what, call) CHECK((call) == CG_OK, "%s: %s", (what), cg_cuda_last_error())

/* ---- relu of a NaN ------------------------------------------------------------------- */
TEST(gpu_relu_propagates_nan)
{
    GPU_OR_SKIP();
    const real x[4] = {NAN, -1, 0, 2};
    real *xd = gpu_from(x, 4), *yd = gpu_out(4);
    if (!xd || !yd)
        return;
    CHECK(cuda_relu_fwd(yd, xd, 4) == CG_OK, "%s", cg_cuda_last_error());
    const real *y = gpu_fetch("relu nan", yd, 4);
    CHECK(y && isnan(y[0]) && y[1] == 0 && y[2] == 0 && y[3] == 2, "relu on the GPU");
    gpu_free_all();
}

/* ---- dropout ------------------------------------------------------------------------ */
/* offsets not a multiple of 4 start and end mid-block; 2^33 + 1 uses the
 * counter's high word (offsets that are multiples of 4: the table's rows) */
static const int64_t DROP_N[] = {1, 7, 1001, 300007};
static const uint64_t DROP_OFFSET[] = {3, 5, (1ull << 33) + 1};
static const double DROP_P[] = {0.1, 0.5, 0.9};

TEST(gpu_dropout_mask_is_bit_identical)
{
    GPU_OR_SKIP();
    const uint64_t seed = 0x123456789abcdefull;
    const uint32_t stream = 5;
    int cases = 0;
    for (size_t a = 0; a < sizeof DROP_N / sizeof *DROP_N; a++)
        for (size_t b = 0; b < sizeof DROP_OFFSET / sizeof *DROP_OFFSET; b++)
            for (size_t c = 0; c < sizeof DROP_P / sizeof *DROP_P; c++, cases++) {
                int64_t n = DROP_N[a];
                uint64_t off = DROP_OFFSET[b];
                double p = DROP_P[c];
                real *x = gpu_rand(1000 + cases, n, 0.05, 3, 1);
                real *dy = gpu_rand(2000 + cases, n, 0.05, 3, 1);
                real *y = host(n), *dx = host(n);
                cpu_dropout_fwd(y, x, n, p, seed, stream, off);
                cpu_dropout_bwd(dx, dy, n, p, seed, stream, off);
                real *xd = gpu_from(x, n), *dyd = gpu_from(dy, n);
                real *yd = gpu_out(n), *dxd = gpu_out(n);
                if (!xd || !dyd || !yd || !dxd)
                    return;
                char what[96];
                snprintf(what, sizeof what, "dropout fwd n=%lld offset=%llu p=%g", (long long)n,
                         (unsigned long long)off, p);
                GPU_OK(what, cuda_dropout_fwd(yd, xd, n, p, seed, stream, off));
                gpu_same_bits(what, gpu_fetch(what, yd, n), y, n);
                snprintf(what, sizeof what, "dropout bwd n=%lld offset=%llu p=%g", (long long)n,
                         (unsigned long long)off, p);
                GPU_OK(what, cuda_dropout_bwd(dxd, dyd, n, p, seed, stream, off));
                gpu_same_bits(what, gpu_fetch(what, dxd, n), dx, n);
                gpu_free_all();
            }
}

/* ---- mmd2_rbf ---------------------------------------------------------------------------- */
/* No rows (N = 0) or no columns (D = 0): the backward has nothing to write
 * and launches nothing (a grid of 0 blocks would be an invalid launch);
 * the other side's gradient is still computed, and nothing is written out
 * of bounds. */
TEST(gpu_mmd2_rbf_bwd_without_rows_launches_nothing)
{
    GPU_OR_SKIP();
    static const double sigmas[] = {0.5, 2};
    const real dout = 1;
    const int M = 3, D = 4;
    real *y = gpu_rand(6200, (int64_t)M * D, 0.05, 1, 1);
    real *yd = gpu_from(y, (int64_t)M * D), *doutd = gpu_from(&dout, 1);
    double *sd = NULL;
    if (cg_cuda_malloc((void **)&sd, sizeof sigmas, "bandwidths") != CG_OK ||
        cg_cuda_upload(sd, sigmas, sizeof sigmas) != CG_OK) {
        th_fail(__FILE__, __LINE__, "bandwidths: %s", cg_cuda_last_error());
        return;
    }
    real *dxd = gpu_out(0), *dyd = gpu_out((int64_t)M * D), *dzd = gpu_out(0);
    if (!yd || !doutd || !dxd || !dyd || !dzd)
        return;
    GPU_OK("mmd2_rbf bwd N=0", cuda_mmd2_rbf_bwd(dxd, dyd, doutd, yd, yd, sd, 2, 0, M, D));
    gpu_fetch("mmd2_rbf bwd N=0: dx", dxd, 0);
    real *dy = gpu_fetch("mmd2_rbf bwd N=0: dy", dyd, (int64_t)M * D);
    for (int64_t i = 0; i < (int64_t)M * D; i++)
        CHECK(isfinite((double)dy[i]), "dy[%lld] = %g", (long long)i, (double)dy[i]);
    GPU_OK("mmd2_rbf bwd D=0", cuda_mmd2_rbf_bwd(dzd, dzd, doutd, yd, yd, sd, 2, M, M, 0));
    gpu_fetch("mmd2_rbf bwd D=0", dzd, 0);
    CHECK(cg_cuda_sync() == CG_OK, "%s", cg_cuda_last_error());
    cg_cuda_free(sd);
    gpu_free_all();
}

/* ---- a training step: no device allocation after the first ----------------------------- */
#define STEP_N 4
#define STEPS 3

typedef struct {
    real *x, *t, *target, *ref;  /* host data, the same every step */
} step_data;

/* A tensor on dev holding the host values v. */
static cg_tensor *input(cg_ctx *ctx, cg_device dev, const real *v, const int *shape, int ndim)
{
    cg_tensor *t = cg_new_on(ctx, dev, shape, ndim);
    if (t)
        cg_copy_from_host(ctx, t, v);
    return t;
}

/* x (4, 3, 6, 10) -> concat(x, x) * w + b -> silu -> avgpool2x -> upsample2x ->
 * times the embedding of t -> dropout -> split {2, 4}: mse of the first part
 * plus mmd2_rbf of the softmax of the second against ref. The loss (host) in
 * *loss; the address of the concat's output in *addr. */
static int train_step(cg_ctx *ctx, cg_device dev, cg_params *p, cg_adam *opt, cg_rng *rng,
                      const step_data *d, real *loss, void **addr)
{
    static const double sigmas[2] = {0.5, 2};
    cg_tensor *x = input(ctx, dev, d->x, CG_SHAPE(STEP_N, 3, 6, 10));
    cg_tensor *t = input(ctx, dev, d->t, CG_SHAPE(STEP_N));
    cg_tensor *target = input(ctx, dev, d->target, CG_SHAPE(STEP_N, 2, 6, 10));
    cg_tensor *ref = input(ctx, dev, d->ref, CG_SHAPE(5, 240));
    cg_tensor *xx[2] = {x, x};
    cg_tensor *cat = cg_concat(ctx, xx, 2);
    cg_tensor *h = cg_add(ctx, cg_mul(ctx, cat, p->t[0]), p->t[1]);
    h = cg_upsample2x(ctx, cg_avgpool2x(ctx, cg_silu(ctx, h)));
    cg_tensor *e = cg_reshape(ctx, cg_timestep_embedding(ctx, t, 6, 10000),
                              CG_SHAPE(STEP_N, 6, 1, 1));
    h = cg_dropout(ctx, cg_mul(ctx, h, e), 0.2, rng, 1);
    cg_tensor *part[2] = {0};
    if (cg_split(ctx, h, (const int[]){2, 4}, 2, part) != CG_OK)
        return 0;
    cg_tensor *s = cg_reshape(ctx, cg_softmax(ctx, part[1]), CG_SHAPE(STEP_N, 240));
    cg_tensor *l = cg_add(ctx, cg_mse(ctx, part[0], target, CG_REDUCE_MEAN),
                          cg_mmd2_rbf(ctx, s, ref, sigmas, 2));
    if (cg_params_zero_grad(p) != CG_OK || cg_backward(ctx, l) != CG_OK ||
        cg_adam_step(opt, p) != CG_OK || cg_copy_to_host(ctx, loss, l) != CG_OK)
        return 0;
    *addr = cat->data;
    return cg_ok(ctx);
}

/* STEPS steps on dev from the same initial parameters; the losses, the
 * final flat weights (host, *nw <= 64 values), the device allocations made
 * up to the end of each step (cg_ctx_step_end included) and the concat's
 * address in each step. */
static int train(cg_device dev, const step_data *d, real *losses, real *w, int64_t *nw,
                 int64_t *mallocs, void **addrs)
{
    cg_params p;
    cg_params_init(&p);
    cg_param(&p, "w", CG_SHAPE(1, 6, 1, 1), 0);
    cg_param(&p, "b", CG_SHAPE(1, 6, 1, 1), 0);
    cg_ctx ctx;
    if (cg_params_alloc(&p) != CG_OK || p.n > 64 || cg_ctx_init(&ctx) != CG_OK) {
        th_fail(__FILE__, __LINE__, "set-up failed");
        cg_params_free(&p);
        return 0;
    }
    cg_rng init;
    cg_rng_init(&init, 11, 0);
    cg_init_normal(p.t[0], &init, 1, 0.3);
    cg_init_normal(p.t[1], &init, 0, 0.3);
    char err[256] = "";
    if (dev == CG_CUDA && cg_params_to_device(&p, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "params to GPU: %s", err);
        cg_ctx_free(&ctx);
        cg_params_free(&p);
        return 0;
    }
    cg_adam opt;
    cg_adam_init(&opt, 0.01, 0.9, 0.999, 1e-8, 0, 0);
    cg_rng rng;
    cg_rng_init(&rng, 99, 4);
    int ok = 1;
    for (int k = 0; ok && k < STEPS; k++) {
        ok = train_step(&ctx, dev, &p, &opt, &rng, d, &losses[k], &addrs[k]);
        if (!ok)
            th_fail(__FILE__, __LINE__, "step %d on %s: %s", k, dev == CG_CUDA ? "GPU" : "CPU",
                    ctx.errmsg);
        cg_ctx_step_end(&ctx);  /* after the first step: the arena merged into one block */
        mallocs[k] = ctx.dev_arena.n_mallocs;
    }
    if (ok && dev == CG_CUDA && cg_params_to_host(&p, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "params to host: %s", err);
        ok = 0;
    }
    if (ok) {
        *nw = p.n;
        memcpy(w, p.w, sizeof(real) * (size_t)p.n);
    }
    cg_ctx_free(&ctx);
    cg_params_free(&p);
    return ok;
}

TEST(gpu_training_step_matches_cpu_and_allocates_only_once)
{
    GPU_OR_SKIP();
    step_data d = {
        gpu_rand(7000, STEP_N * 3 * 60, 0.05, 2, 1),
        gpu_rand(7001, STEP_N, 1, 999, 0),
        gpu_rand(7002, STEP_N * 2 * 60, 0.05, 1, 1),
        gpu_rand(7003, 5 * 240, 0.001, 0.01, 0),
    };
    real lc[STEPS], lg[STEPS], wc[64], wg[64];
    int64_t nc = 0, ng = 0, mc[STEPS], mg[STEPS];
    void *ac[STEPS], *ag[STEPS];
    if (!train(CG_CPU, &d, lc, wc, &nc, mc, ac) || !train(CG_CUDA, &d, lg, wg, &ng, mg, ag))
        return;
    REQUIRE(nc == ng);
    gpu_compare("losses of 3 steps", lg, lc, STEPS, 1e-4);
    gpu_compare("parameters after 3 steps", wg, wc, nc, 1e-4);
    /* the first step grows the arena and its end merges it; then nothing */
    for (int k = 1; k < STEPS; k++)
        CHECK(mg[k] == mg[k - 1], "step %d made %lld device allocations", k,
              (long long)(mg[k] - mg[k - 1]));
    for (int k = 2; k < STEPS; k++)
        CHECK(ag[k] == ag[1], "step %d: the concat's output moved", k);
    CHECK(cg_cuda_sync() == CG_OK, "%s", cg_cuda_last_error());
}
