/*
 * test_bn_stats.c: where a training batch norm takes its statistics
 * (ctx->bn, cugen/tensor.h), without MPI:
 *   - over the batches of two "processes" (two threads, each with its own
 *     context and half of the batch, the hook summing through a barrier):
 *     outputs, dx, running statistics as one batch norm of the whole batch,
 *     dgamma and dbeta each part's own (they sum to the whole's);
 *   - over ghost slices: as separate batch norms of each slice in turn;
 *   - a malformed setting, a clear error;
 *   - on the GPU, the four CUDA entry points of the parts' path against
 *     their CPU references, on guarded, poisoned outputs; ghost slices
 *     through the op against the CPU.
 * The data-parallel runs themselves are tests/unit/test_dist.c.
 *
 * Bound: 1e-6 relative (of max(1, |b|)) where the parts sum what one pass
 * sums: values of order 1, a few float32 roundings apart (the two
 * statistics and the two backward sums are rounded to float before their
 * sum, the whole batch's are not). Ghost slices run the very same
 * functions on the same values as separate calls: bit for bit.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "cpu/cpu_norm.h"
#include "cugen/ops.h"
#include "gpu_check.h"
#include "harness.h"
#include "ops/cuda_ops.h"

#define BN_TOL 1e-6
enum { N = 8, C = 3, H = 2, W = 3, HALF = N / 2 };
#define SAMPLE (C * H * W)

/* Two threads as two processes: sum adds the halves' values through a barrier */
typedef struct {
    pthread_barrier_t bar;
    real *slot[2];
    int calls;
} two_parts;

typedef struct {
    two_parts *tp;
    int part;
} part_arg;

static cg_status sum_two(void *arg, real *x, int64_t n, cg_device dev)
{
    part_arg *a = arg;
    two_parts *tp = a->tp;
    if (dev != CG_CPU)
        return CG_ERR_ARG;
    tp->slot[a->part] = x;
    pthread_barrier_wait(&tp->bar);
    real mine[64];
    for (int64_t i = 0; i < n && i < 64; i++)
        mine[i] = tp->slot[0][i] + tp->slot[1][i];
    pthread_barrier_wait(&tp->bar);  /* both have read both */
    memcpy(x, mine, sizeof(real) * (size_t)(n < 64 ? n : 64));
    if (a->part == 0)
        tp->calls++;
    pthread_barrier_wait(&tp->bar);
    return n <= 64 ? CG_OK : CG_ERR_ARG;
}

/* A batch norm of x (n, C, H, W), training, backward from dy: y, dx,
 * dgamma, dbeta, running mean and var out */
typedef struct {
    const real *x, *dy;
    int n;
    const cg_bn_stats *bn;
    real y[N * SAMPLE], dx[N * SAMPLE], dg[C], db[C], rm[C], rv[C];
    cg_status st;
} bn_run;

static void *bn_run_one(void *arg)
{
    bn_run *r = arg;
    cg_ctx ctx;
    if ((r->st = cg_ctx_init(&ctx)) != CG_OK)
        return NULL;
    ctx.bn = r->bn;
    real g[C] = {1.5, 0.5, -1}, b[C] = {0.1, -0.2, 0.3};
    for (int c = 0; c < C; c++) {
        r->rm[c] = 0;
        r->rv[c] = 1;
    }
    cg_tensor *x = cg_wrap(&ctx, (real *)r->x, CG_SHAPE(r->n, C, H, W));
    cg_tensor *G = cg_wrap(&ctx, g, CG_SHAPE(C)), *B = cg_wrap(&ctx, b, CG_SHAPE(C));
    x->requires_grad = G->requires_grad = B->requires_grad = 1;
    cg_tensor *y = cg_batchnorm(&ctx, x, G, B, cg_wrap(&ctx, r->rm, CG_SHAPE(C)),
                                cg_wrap(&ctx, r->rv, CG_SHAPE(C)), 1, 0.1, 1e-5);
    if (y && cg_backward_from(&ctx, y, r->dy) == CG_OK) {
        memcpy(r->y, y->data, sizeof(real) * (size_t)y->n);
        memcpy(r->dx, x->grad, sizeof(real) * (size_t)x->n);
        memcpy(r->dg, G->grad, sizeof r->dg);
        memcpy(r->db, B->grad, sizeof r->db);
    }
    r->st = ctx.err;
    cg_ctx_free(&ctx);
    return NULL;
}

static real *values(uint64_t seed, int n, double shift)
{
    cg_tensor *t = th_const(CG_SHAPE(n), seed, 0.1, 2.0, 1);
    for (int i = 0; i < n; i++)
        t->data[i] = (real)(t->data[i] + shift);  /* a mean away from 0 */
    return t->data;
}

static void check_near(const char *what, const real *a, const real *b, int n, double tol)
{
    for (int i = 0; i < n; i++)
        CHECK(th_near(a[i], b[i], tol), "%s[%d]: %.9g, expected %.9g", what, i, a[i], b[i]);
}

TEST(batchnorm_over_two_parts_is_the_whole_batch)
{
    const real *x = values(11, N * SAMPLE, 3.0), *dy = values(12, N * SAMPLE, 0.0);
    static bn_run whole, part[2];
    whole = (bn_run){.x = x, .dy = dy, .n = N};
    bn_run_one(&whole);
    REQUIRE(whole.st == CG_OK, "the whole batch failed");
    two_parts tp = {.calls = 0};
    pthread_barrier_init(&tp.bar, NULL, 2);
    part_arg pa[2] = {{&tp, 0}, {&tp, 1}};
    cg_bn_stats bn[2];
    pthread_t th[2];
    for (int p = 0; p < 2; p++) {
        bn[p] = (cg_bn_stats){.parts = 2, .sum = sum_two, .arg = &pa[p]};
        part[p] = (bn_run){.x = x + p * HALF * SAMPLE, .dy = dy + p * HALF * SAMPLE,
                           .n = HALF, .bn = &bn[p]};
        pthread_create(&th[p], NULL, bn_run_one, &part[p]);
    }
    for (int p = 0; p < 2; p++)
        pthread_join(th[p], NULL);
    pthread_barrier_destroy(&tp.bar);
    REQUIRE(part[0].st == CG_OK && part[1].st == CG_OK, "a part failed");
    /* the mean and the variance forward, the two sums backward */
    CHECK(tp.calls == 3, "%d sums over the parts, expected 3", tp.calls);
    for (int p = 0; p < 2; p++) {
        check_near("y", part[p].y, whole.y + p * HALF * SAMPLE, HALF * SAMPLE, BN_TOL);
        check_near("dx", part[p].dx, whole.dx + p * HALF * SAMPLE, HALF * SAMPLE, BN_TOL);
        check_near("running_mean", part[p].rm, whole.rm, C, BN_TOL);
        check_near("running_var", part[p].rv, whole.rv, C, BN_TOL);
    }
    real dg[C], db[C];
    for (int c = 0; c < C; c++) {
        dg[c] = part[0].dg[c] + part[1].dg[c];
        db[c] = part[0].db[c] + part[1].db[c];
    }
    check_near("dgamma summed", dg, whole.dg, C, BN_TOL);
    check_near("dbeta summed", db, whole.db, C, BN_TOL);
    /* and the per-part statistics of no sum differ, or this test could not tell */
    static bn_run alone;
    alone = (bn_run){.x = x, .dy = dy, .n = HALF};
    bn_run_one(&alone);
    CHECK(th_rel_err(alone.y, whole.y, HALF * SAMPLE) > 1e-3, "the halves' own statistics "
          "are the whole batch's: the data do not tell the two apart");
}

TEST(batchnorm_ghost_slices_are_separate_batches)
{
    const real *x = values(21, N * SAMPLE, -1.0), *dy = values(22, N * SAMPLE, 0.0);
    cg_bn_stats ghost = {.slices = 2};
    static bn_run g, s[2];
    g = (bn_run){.x = x, .dy = dy, .n = N, .bn = &ghost};
    bn_run_one(&g);
    REQUIRE(g.st == CG_OK, "ghost slices failed");
    for (int p = 0; p < 2; p++) {
        s[p] = (bn_run){.x = x + p * HALF * SAMPLE, .dy = dy + p * HALF * SAMPLE, .n = HALF};
        bn_run_one(&s[p]);
        REQUIRE(s[p].st == CG_OK, "slice %d failed", p);
        CHECK(memcmp(g.y + p * HALF * SAMPLE, s[p].y, sizeof(real) * HALF * SAMPLE) == 0,
              "y of slice %d differs", p);
        CHECK(memcmp(g.dx + p * HALF * SAMPLE, s[p].dx, sizeof(real) * HALF * SAMPLE) == 0,
              "dx of slice %d differs", p);
    }
    /* the running statistics: slice 0's update, then slice 1's */
    for (int c = 0; c < C; c++) {
        double m0 = (s[0].rm[c] - 0) / 0.1, m1 = (s[1].rm[c] - 0) / 0.1;  /* each slice's */
        double v0 = (s[0].rv[c] - 0.9) / 0.1, v1 = (s[1].rv[c] - 0.9) / 0.1;
        CHECK(th_near(g.rm[c], 0.9 * 0.1 * m0 + 0.1 * m1, BN_TOL), "running_mean[%d]", c);
        CHECK(th_near(g.rv[c], 0.9 * (0.9 + 0.1 * v0) + 0.1 * v1, BN_TOL), "running_var[%d]",
              c);
        CHECK(th_near(g.dg[c], (double)s[0].dg[c] + s[1].dg[c], BN_TOL), "dgamma[%d]", c);
    }
}

TEST(batchnorm_stats_settings_bad_input)
{
    const real *x = values(31, N * C, 0.0);
    static const struct {
        cg_bn_stats bn;
        const char *says;
    } cases[] = {
        {{.slices = 3}, "a batch of 8 does not split into 3 ghost slices"},
        {{.parts = 2}, "statistics over 2 processes need their sum"},
        {{.slices = 8}, "training needs more than one value per channel"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cg_ctx ctx;
        REQUIRE(cg_ctx_init(&ctx) == CG_OK);
        ctx.bn = &cases[i].bn;
        cg_tensor *t = cg_wrap(&ctx, (real *)x, CG_SHAPE(N, C));
        CHECK(!cg_batchnorm(&ctx, t, NULL, NULL, NULL, NULL, 1, 0.1, 1e-5), "case %zu ran", i);
        CHECK(strstr(ctx.errmsg, cases[i].says), "case %zu: %s", i, ctx.errmsg);
        cg_ctx_free(&ctx);
    }
}

/* ---- the parts' CUDA entry points against the CPU's ------------------------- */
TEST(gpu_batchnorm_parts_entry_points_match_cpu)
{
    GPU_OR_SKIP();
    enum { n = 5, c = 4, s = 7 };
    const int64_t len = (int64_t)n * c * s;
    const double total = 3.0 * n * s;  /* this part is a third of the batch */
    real *x = gpu_rand(41, len, 0.1, 2.0, 1), *dy = gpu_rand(42, len, 0.1, 1.0, 1);
    real *gamma = gpu_rand(43, c, 0.5, 1.5, 1), *rstd = gpu_rand(44, c, 0.5, 2.0, 0);
    real *mean = th_alloc(sizeof(real) * c), *var = th_alloc(sizeof(real) * c);
    real *sums = th_alloc(sizeof(real) * 2 * c), *dx = th_alloc(sizeof(real) * (size_t)len);
    real *dg0 = gpu_rand(45, c, 0.1, 1.0, 1), *db0 = gpu_rand(46, c, 0.1, 1.0, 1);
    real *dg = th_alloc(sizeof(real) * c), *db = th_alloc(sizeof(real) * c);
    memcpy(dg, dg0, sizeof(real) * c);
    memcpy(db, db0, sizeof(real) * c);
    cpu_batchnorm_mean_part(mean, x, n, c, s, total);
    cpu_batchnorm_var_part(var, x, mean, n, c, s, total);
    cpu_batchnorm_bwd_sums(sums, dg, db, dy, x, mean, rstd, n, c, s);
    cpu_batchnorm_bwd_dx(dx, dy, x, mean, rstd, gamma, sums, total, n, c, s);

    real *xd = gpu_from(x, len), *dyd = gpu_from(dy, len), *gd = gpu_from(gamma, c);
    real *rd = gpu_from(rstd, c), *md = gpu_from(mean, c), *sd = gpu_from(sums, 2 * c);
    real *mo = gpu_out(c), *vo = gpu_out(c), *so = gpu_out(2 * c), *dxo = gpu_out(len);
    real *dgo = gpu_out_init(dg0, c), *dbo = gpu_out_init(db0, c);
    if (!xd || !dyd || !gd || !rd || !md || !sd || !mo || !vo || !so || !dxo || !dgo || !dbo)
        return;
    /* each from the CPU's inputs, so that one's error does not hide in the next */
    CHECK(cuda_batchnorm_mean_part(mo, xd, n, c, s, total) == CG_OK, "%s", cg_cuda_last_error());
    CHECK(cuda_batchnorm_var_part(vo, xd, md, n, c, s, total) == CG_OK, "%s",
          cg_cuda_last_error());
    CHECK(cuda_batchnorm_bwd_sums(so, dgo, dbo, dyd, xd, md, rd, n, c, s) == CG_OK, "%s",
          cg_cuda_last_error());
    CHECK(cuda_batchnorm_bwd_dx(dxo, dyd, xd, md, rd, gd, sd, total, n, c, s) == CG_OK, "%s",
          cg_cuda_last_error());
    /* sums in double on both, one rounding to float: 1e-6 */
    gpu_compare("mean_part", gpu_fetch("mean_part", mo, c), mean, c, 1e-6);
    gpu_compare("var_part", gpu_fetch("var_part", vo, c), var, c, 1e-6);
    gpu_compare("bwd_sums", gpu_fetch("bwd_sums", so, 2 * c), sums, 2 * c, 1e-6);
    gpu_compare("dgamma", gpu_fetch("dgamma", dgo, c), dg, c, 1e-6);
    gpu_compare("dbeta", gpu_fetch("dbeta", dbo, c), db, c, 1e-6);
    gpu_compare("bwd_dx", gpu_fetch("bwd_dx", dxo, len), dx, len, 1e-6);
    gpu_free_all();
}

/* Ghost slices through the op on the GPU (the whole-batch kernels at each
 * slice's offset) against the CPU: y, dx, dgamma, the running statistics.
 * Bound 1e-5 relative L2: DESIGN.md's for a GPU op against the CPU's. */
TEST(gpu_batchnorm_ghost_slices_match_cpu)
{
    GPU_OR_SKIP();
    const real *x = values(51, N * SAMPLE, 2.0), *dy = values(52, N * SAMPLE, 0.0);
    cg_bn_stats ghost = {.slices = 4};
    static bn_run cpu;
    cpu = (bn_run){.x = x, .dy = dy, .n = N, .bn = &ghost};
    bn_run_one(&cpu);
    REQUIRE(cpu.st == CG_OK, "the CPU failed");
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    ctx.bn = &ghost;
    const real g[C] = {1.5, 0.5, -1}, b[C] = {0.1, -0.2, 0.3}, rm0[C] = {0, 0, 0},
               rv0[C] = {1, 1, 1};
    cg_tensor *X = cg_new_on(&ctx, CG_CUDA, CG_SHAPE(N, C, H, W));
    cg_tensor *G = cg_new_on(&ctx, CG_CUDA, CG_SHAPE(C));
    cg_tensor *B = cg_new_on(&ctx, CG_CUDA, CG_SHAPE(C));
    real *rm = gpu_out_init(rm0, C), *rv = gpu_out_init(rv0, C);
    REQUIRE(X && G && B && rm && rv, "device tensors");
    cg_copy_from_host(&ctx, X, x);
    cg_copy_from_host(&ctx, G, g);
    cg_copy_from_host(&ctx, B, b);
    X->requires_grad = G->requires_grad = B->requires_grad = 1;
    cg_tensor RM = *G, RV = *G;  /* headers over the guarded running buffers */
    RM.data = rm;
    RV.data = rv;
    RM.requires_grad = RV.requires_grad = 0;
    cg_tensor *y = cg_batchnorm(&ctx, X, G, B, &RM, &RV, 1, 0.1, 1e-5);
    REQUIRE(y && cg_backward_from(&ctx, y, dy) == CG_OK, "%s", ctx.errmsg);
    gpu_compare("ghost y", gpu_get(y->data, y->n), cpu.y, y->n, 1e-5);
    gpu_compare("ghost dx", gpu_get(X->grad, X->n), cpu.dx, X->n, 1e-5);
    gpu_compare("ghost dgamma", gpu_get(G->grad, C), cpu.dg, C, 1e-5);
    gpu_compare("ghost running_mean", gpu_fetch("running_mean", rm, C), cpu.rm, C, 1e-5);
    gpu_compare("ghost running_var", gpu_fetch("running_var", rv, C), cpu.rv, C, 1e-5);
    cg_ctx_free(&ctx);
    gpu_free_all();
}
