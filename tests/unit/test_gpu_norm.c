/*
 * test_gpu_norm.c: the CUDA twins of batch norm (statistics, running-stat
 * update, forward and backward in training and eval mode) and group norm
 * (layer norm is group norm of (rows, D, 1) with one group) against the CPU
 * references, called directly on guarded, poisoned outputs. Odd shapes,
 * random non-zero inputs with an offset mean (a one-pass variance would
 * lose digits there), with and without gamma / beta. Parameter gradients
 * and running stats start from random values on both devices (they
 * accumulate / are updated in place).
 *
 * Bound 1e-5 relative (L2): both sides sum in double and round once to
 * float; only the order of the double sums differs, so the results agree
 * to a float ulp or so. Skipped without a GPU (failed under make test-gpu).
 */
#include "cpu/cpu_norm.h"
#include "gpu_check.h"
#include "ops/cuda_ops.h"

#define TOL 1e-5

static real *copy_of(const real *v, int64_t n)
{
    real *c = th_alloc(sizeof(real) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        c[i] = v[i];
    return c;
}

/* random values around `offset` */
static real *rand_around(uint64_t seed, int64_t n, double offset)
{
    real *v = gpu_rand(seed, n, 0.1, 2, 1);
    for (int64_t i = 0; i < n; i++)
        v[i] = (real)(v[i] + offset);
    return v;
}

static void cmp(const char *what, const char *part, const real *dev, const real *cpu,
                int64_t n)
{
    char w[160];
    snprintf(w, sizeof w, "%s: %s", what, part);
    gpu_compare(w, gpu_fetch(w, dev, n), cpu, n, TOL);
}

static void check_batchnorm(int N, int C, int S, int affine, int training, uint64_t seed)
{
    int64_t n = (int64_t)N * C * S;
    double eps = 1e-5, momentum = 0.1;
    real *x = rand_around(seed, n, 1.5), *dy = gpu_rand(seed + 1, n, 0.1, 1, 1);
    real *gamma = affine ? gpu_rand(seed + 2, C, 0.5, 1.5, 1) : NULL;
    real *beta = affine ? gpu_rand(seed + 3, C, 0.1, 1, 1) : NULL;
    real *rm0 = gpu_rand(seed + 4, C, 0.1, 1, 1), *rv0 = gpu_rand(seed + 5, C, 0.5, 2, 0);
    real *dg0 = gpu_rand(seed + 6, C, 0.001, 0.01, 1), *db0 = gpu_rand(seed + 7, C, 0.001, 0.01, 1);
    /* CPU, as host/ops/norm.c runs it */
    real *mean = th_alloc(sizeof(real) * C), *var = th_alloc(sizeof(real) * C);
    real *rstd = th_alloc(sizeof(real) * C), *y = th_alloc(sizeof(real) * (size_t)n);
    real *dx = th_alloc(sizeof(real) * (size_t)n);
    real *rm = copy_of(rm0, C), *rv = copy_of(rv0, C), *dg = copy_of(dg0, C), *db = copy_of(db0, C);
    if (training) {
        cpu_batchnorm_stats(mean, var, x, N, C, S);
        cpu_batchnorm_update_running(rm, rv, mean, var, C, (int64_t)N * S, momentum);
    } else {
        for (int c = 0; c < C; c++) {
            mean[c] = rm[c];
            var[c] = rv[c];
        }
    }
    cpu_batchnorm_fwd(y, rstd, x, mean, var, gamma, beta, N, C, S, eps);
    cpu_batchnorm_bwd(dx, affine ? dg : NULL, affine ? db : NULL, dy, x, mean, rstd, gamma, N, C,
                      S, training);
    /* GPU */
    real *xd = gpu_from(x, n), *dyd = gpu_from(dy, n);
    real *gd = affine ? gpu_from(gamma, C) : NULL, *bd = affine ? gpu_from(beta, C) : NULL;
    real *rmd = gpu_out_init(rm0, C), *rvd = gpu_out_init(rv0, C);
    real *meand = training ? gpu_out(C) : rmd, *vard = training ? gpu_out(C) : rvd;
    real *rstdd = gpu_out(C), *yd = gpu_out(n), *dxd = gpu_out(n);
    real *dgd = gpu_out_init(dg0, C), *dbd = gpu_out_init(db0, C);
    if (!xd || !dyd || (affine && (!gd || !bd)) || !rmd || !rvd || !meand || !vard || !rstdd ||
        !yd || !dxd || !dgd || !dbd)
        return;
    char what[128];
    snprintf(what, sizeof what, "batchnorm N=%d C=%d S=%d%s %s", N, C, S,
             affine ? " affine" : "", training ? "train" : "eval");
    cg_status st = CG_OK;
    if (training) {
        st = cuda_batchnorm_stats(meand, vard, xd, N, C, S);
        if (st == CG_OK)
            st = cuda_batchnorm_update_running(rmd, rvd, meand, vard, C, (int64_t)N * S,
                                               momentum);
    }
    if (st == CG_OK)
        st = cuda_batchnorm_fwd(yd, rstdd, xd, meand, vard, gd, bd, N, C, S, eps);
    if (st == CG_OK)
        st = cuda_batchnorm_bwd(dxd, affine ? dgd : NULL, affine ? dbd : NULL, dyd, xd, meand,
                                rstdd, gd, N, C, S, training);
    CHECK(st == CG_OK, "%s: %s", what, cg_cuda_last_error());
    if (training) {
        cmp(what, "mean", meand, mean, C);
        cmp(what, "var", vard, var, C);
    }
    cmp(what, "running mean", rmd, rm, C);
    cmp(what, "running var", rvd, rv, C);
    cmp(what, "rstd", rstdd, rstd, C);
    cmp(what, "y", yd, y, n);
    cmp(what, "dx", dxd, dx, n);
    cmp(what, "dgamma", dgd, dg, C);
    cmp(what, "dbeta", dbd, db, C);
}

TEST(gpu_batchnorm_matches_cpu)
{
    GPU_OR_SKIP();
    static const int SHAPES[][3] = {{4, 5, 63}, {9, 13, 1}, {2, 3, 1}, {16, 8, 1024},
                                    {3, 7, 25}};
    for (size_t i = 0; i < sizeof SHAPES / sizeof *SHAPES; i++)
        for (int mode = 0; mode < 4; mode++)
            check_batchnorm(SHAPES[i][0], SHAPES[i][1], SHAPES[i][2], mode & 1, mode >> 1,
                            100 + 10 * i + mode);
    gpu_free_all();
}

static void check_groupnorm(const char *name, int N, int C, int S, int G, int affine,
                            uint64_t seed)
{
    int64_t n = (int64_t)N * C * S;
    double eps = 1e-5;
    real *x = rand_around(seed, n, -2.5), *dy = gpu_rand(seed + 1, n, 0.1, 1, 1);
    real *gamma = affine ? gpu_rand(seed + 2, C, 0.5, 1.5, 1) : NULL;
    real *beta = affine ? gpu_rand(seed + 3, C, 0.1, 1, 1) : NULL;
    real *dg0 = gpu_rand(seed + 6, C, 0.001, 0.01, 1), *db0 = gpu_rand(seed + 7, C, 0.001, 0.01, 1);
    int64_t ng = (int64_t)N * G;
    real *mean = th_alloc(sizeof(real) * (size_t)ng), *rstd = th_alloc(sizeof(real) * (size_t)ng);
    real *y = th_alloc(sizeof(real) * (size_t)n), *dx = th_alloc(sizeof(real) * (size_t)n);
    real *dg = copy_of(dg0, C), *db = copy_of(db0, C);
    cpu_groupnorm_fwd(y, mean, rstd, x, gamma, beta, N, C, S, G, eps);
    cpu_groupnorm_bwd(dx, affine ? dg : NULL, affine ? db : NULL, dy, x, mean, rstd, gamma, N, C,
                      S, G);

    real *xd = gpu_from(x, n), *dyd = gpu_from(dy, n);
    real *gd = affine ? gpu_from(gamma, C) : NULL, *bd = affine ? gpu_from(beta, C) : NULL;
    real *meand = gpu_out(ng), *rstdd = gpu_out(ng), *yd = gpu_out(n), *dxd = gpu_out(n);
    real *dgd = gpu_out_init(dg0, C), *dbd = gpu_out_init(db0, C);
    if (!xd || !dyd || (affine && (!gd || !bd)) || !meand || !rstdd || !yd || !dxd || !dgd ||
        !dbd)
        return;
    char what[128];
    snprintf(what, sizeof what, "%s N=%d C=%d S=%d G=%d%s", name, N, C, S, G,
             affine ? " affine" : "");
    cg_status st = cuda_groupnorm_fwd(yd, meand, rstdd, xd, gd, bd, N, C, S, G, eps);
    if (st == CG_OK)
        st = cuda_groupnorm_bwd(dxd, affine ? dgd : NULL, affine ? dbd : NULL, dyd, xd, meand,
                                rstdd, gd, N, C, S, G);
    CHECK(st == CG_OK, "%s: %s", what, cg_cuda_last_error());
    cmp(what, "mean", meand, mean, ng);
    cmp(what, "rstd", rstdd, rstd, ng);
    cmp(what, "y", yd, y, n);
    cmp(what, "dx", dxd, dx, n);
    cmp(what, "dgamma", dgd, dg, C);
    cmp(what, "dbeta", dbd, db, C);
}

TEST(gpu_groupnorm_and_layernorm_match_cpu)
{
    GPU_OR_SKIP();
    for (int affine = 0; affine < 2; affine++) {
        check_groupnorm("groupnorm", 3, 6, 35, 3, affine, 10 + affine);
        check_groupnorm("groupnorm", 2, 8, 17, 1, affine, 20 + affine);
        check_groupnorm("groupnorm", 5, 6, 1, 6, affine, 30 + affine);
        check_groupnorm("groupnorm", 4, 32, 1024, 8, affine, 40 + affine);
        check_groupnorm("layernorm", 7, 33, 1, 1, affine, 50 + affine);  /* rows, D */
        check_groupnorm("layernorm", 130, 512, 1, 1, affine, 60 + affine);
    }
    gpu_free_all();
}
