/*
 * test_gpu_elementwise.c: the CUDA twins of the pointwise ops, the
 * broadcasting add/sub/mul and sum against their CPU references, called
 * directly on guarded, poisoned outputs: forward and backward, odd sizes,
 * random non-zero inputs, relative error under 1e-5 (both compute in double
 * and round once to float: the error is a few float ulps at most).
 * Skipped without a GPU (failed under make test-gpu).
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu_broadcast.h"
#include "cpu/cpu_elementwise.h"
#include "cpu/cpu_reduce.h"
#include "gpu_check.h"
#include "ops/cuda_ops.h"

#define TOL 1e-5

static const int64_t SIZES[] = {1, 7, 1001, 300007};

/* ---- pointwise ops: one signature for all, the parameters fixed ---------------- */
typedef void (*cpu_fn)(real *out, const real *a, const real *b, int64_t n);
typedef cg_status (*gpu_fn)(real *out, const real *a, const real *b, int64_t n);

#define SLOPE 0.2
#define AS (-1.7)
#define AT 0.3

static void c_leaky_f(real *y, const real *x, const real *u, int64_t n)
{
    cpu_leaky_relu_fwd(y, x, SLOPE, n);
}
static cg_status g_leaky_f(real *y, const real *x, const real *u, int64_t n)
{
    return cuda_leaky_relu_fwd(y, x, SLOPE, n);
}
static void c_leaky_b(real *dx, const real *dy, const real *x, int64_t n)
{
    cpu_leaky_relu_bwd(dx, dy, x, SLOPE, n);
}
static cg_status g_leaky_b(real *dx, const real *dy, const real *x, int64_t n)
{
    return cuda_leaky_relu_bwd(dx, dy, x, SLOPE, n);
}
static void c_aff_f(real *y, const real *x, const real *u, int64_t n)
{
    cpu_affine_fwd(y, x, AS, AT, n);
}
static cg_status g_aff_f(real *y, const real *x, const real *u, int64_t n)
{
    return cuda_affine_fwd(y, x, AS, AT, n);
}
static void c_aff_b(real *dx, const real *dy, const real *x, int64_t n)
{
    cpu_affine_bwd(dx, dy, AS, n);
}
static cg_status g_aff_b(real *dx, const real *dy, const real *x, int64_t n)
{
    return cuda_affine_bwd(dx, dy, AS, n);
}

/* fwd(y, x, n) as the 4-argument form */
#define UNARY(name)                                                              \
    static void c_##name##_f(real *y, const real *x, const real *u, int64_t n)   \
    {                                                                            \
        cpu_##name##_fwd(y, x, n);                                               \
    }                                                                            \
    static cg_status g_##name##_f(real *y, const real *x, const real *u, int64_t n) \
    {                                                                            \
        return cuda_##name##_fwd(y, x, n);                                       \
    }
UNARY(relu) UNARY(tanh) UNARY(sigmoid) UNARY(silu) UNARY(softplus) UNARY(exp) UNARY(log)

typedef struct {
    const char *name;
    cpu_fn cf;
    gpu_fn gf;
    void (*cb)(real *, const real *, const real *, int64_t);
    cg_status (*gb)(real *, const real *, const real *, int64_t);
    int bwd_from_y;   /* the backward reads the output, not the input */
    int positive;     /* inputs > 0 (log) */
} unary_op;

static const unary_op UNARY_OPS[] = {
    {"relu", c_relu_f, g_relu_f, cpu_relu_bwd, cuda_relu_bwd, 0, 0},
    {"leaky_relu", c_leaky_f, g_leaky_f, c_leaky_b, g_leaky_b, 0, 0},
    {"tanh", c_tanh_f, g_tanh_f, cpu_tanh_bwd, cuda_tanh_bwd, 1, 0},
    {"sigmoid", c_sigmoid_f, g_sigmoid_f, cpu_sigmoid_bwd, cuda_sigmoid_bwd, 1, 0},
    {"silu", c_silu_f, g_silu_f, cpu_silu_bwd, cuda_silu_bwd, 0, 0},
    {"softplus", c_softplus_f, g_softplus_f, cpu_softplus_bwd, cuda_softplus_bwd, 0, 0},
    {"exp", c_exp_f, g_exp_f, cpu_exp_bwd, cuda_exp_bwd, 1, 0},
    {"log", c_log_f, g_log_f, cpu_log_bwd, cuda_log_bwd, 0, 1},
    {"affine", c_aff_f, g_aff_f, c_aff_b, g_aff_b, 0, 0},
};

static void check_unary(const unary_op *op, int64_t n, uint64_t seed)
{
    char what[96];
    real *x = gpu_rand(seed, n, 0.05, 3.0, !op->positive);
    real *dy = gpu_rand(seed + 1, n, 0.1, 1.5, 1);
    real *y = th_alloc(sizeof(real) * (size_t)n), *dx = th_alloc(sizeof(real) * (size_t)n);
    op->cf(y, x, NULL, n);
    const real *saved = op->bwd_from_y ? y : x;
    op->cb(dx, dy, saved, n);

    real *yd = gpu_out(n), *dxd = gpu_out(n);
    real *xd = gpu_from(x, n), *dyd = gpu_from(dy, n), *sd = gpu_from(saved, n);
    if (!yd || !dxd || !xd || !dyd || !sd)
        return;
    snprintf(what, sizeof what, "%s fwd n=%lld", op->name, (long long)n);
    CHECK(op->gf(yd, xd, NULL, n) == CG_OK, "%s: %s", what, cg_cuda_last_error());
    gpu_compare(what, gpu_fetch(what, yd, n), y, n, TOL);
    snprintf(what, sizeof what, "%s bwd n=%lld", op->name, (long long)n);
    CHECK(op->gb(dxd, dyd, sd, n) == CG_OK, "%s: %s", what, cg_cuda_last_error());
    gpu_compare(what, gpu_fetch(what, dxd, n), dx, n, TOL);
}

/* ReLU of a NaN is a NaN on the GPU too */
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

TEST(gpu_unary_ops_match_cpu)
{
    GPU_OR_SKIP();
    for (size_t k = 0; k < sizeof UNARY_OPS / sizeof *UNARY_OPS; k++)
        for (size_t s = 0; s < sizeof SIZES / sizeof *SIZES; s++)
            check_unary(&UNARY_OPS[k], SIZES[s], 100 + k * 10 + s);
    gpu_free_all();
}

/* ---- broadcasting add, sub, mul ------------------------------------------------------- */
typedef struct {
    int a[4], an, b[4], bn;
} bshapes;

/* both reduction paths of db: few terms per element of b (thread each) and
 * many (block each) */
static const bshapes BSHAPES[] = {
    {{5, 7, 9, 11}, 4, {1, 7, 1, 1}, 4},
    {{5, 7, 9, 11}, 4, {11}, 1},
    {{5, 7, 9, 11}, 4, {1}, 1},
    {{5, 7, 9, 11}, 4, {5, 7, 9, 11}, 4},
    {{5, 7, 9, 11}, 4, {5, 1, 9, 1}, 4},
    {{33, 17}, 2, {17}, 1},
    {{33, 17}, 2, {33, 1}, 2},
    {{3, 301, 7}, 3, {301, 1}, 2},
};

static void check_binary(const bshapes *sh, int which, uint64_t seed)
{
    static const char *names[3] = {"add", "sub", "mul"};
    cg_bcast bc;
    REQUIRE(cpu_bcast_init(&bc, sh->a, sh->an, sh->b, sh->bn));
    int64_t n = bc.n, nb = bc.nb;
    real *a = gpu_rand(seed, n, 0.1, 2, 1), *b = gpu_rand(seed + 1, nb, 0.1, 2, 1);
    real *dy = gpu_rand(seed + 2, n, 0.1, 2, 1);
    real *y = th_alloc(sizeof(real) * (size_t)n), *da = th_alloc(sizeof(real) * (size_t)n);
    real *db = th_alloc(sizeof(real) * (size_t)nb);
    double *acc = th_alloc(sizeof(double) * (size_t)(nb + 1));
    real *ad = gpu_from(a, n), *bd = gpu_from(b, nb), *dyd = gpu_from(dy, n);
    real *yd = gpu_out(n), *dad = gpu_out(n), *dbd = gpu_out(nb);
    if (!ad || !bd || !dyd || !yd || !dad || !dbd)
        return;
    cg_status sf, sb;
    switch (which) {
    case 0:
        cpu_add_fwd(y, a, b, &bc);
        cpu_add_bwd(da, db, acc, dy, &bc);
        sf = cuda_add_fwd(yd, ad, bd, &bc);
        sb = cuda_add_bwd(dad, dbd, dyd, &bc);
        break;
    case 1:
        cpu_sub_fwd(y, a, b, &bc);
        cpu_sub_bwd(da, db, acc, dy, &bc);
        sf = cuda_sub_fwd(yd, ad, bd, &bc);
        sb = cuda_sub_bwd(dad, dbd, dyd, &bc);
        break;
    default:
        cpu_mul_fwd(y, a, b, &bc);
        cpu_mul_bwd(da, db, acc, dy, a, b, &bc);
        sf = cuda_mul_fwd(yd, ad, bd, &bc);
        sb = cuda_mul_bwd(dad, dbd, dyd, ad, bd, &bc);
        break;
    }
    char what[96];
    snprintf(what, sizeof what, "%s a n=%lld, b n=%lld", names[which], (long long)n,
             (long long)nb);
    CHECK(sf == CG_OK && sb == CG_OK, "%s: %s", what, cg_cuda_last_error());
    gpu_compare(what, gpu_fetch(what, yd, n), y, n, TOL);
    gpu_compare(what, gpu_fetch(what, dad, n), da, n, TOL);
    gpu_compare(what, gpu_fetch(what, dbd, nb), db, nb, TOL);
}

TEST(gpu_broadcast_ops_match_cpu)
{
    GPU_OR_SKIP();
    for (size_t k = 0; k < sizeof BSHAPES / sizeof *BSHAPES; k++)
        for (int which = 0; which < 3; which++)
            check_binary(&BSHAPES[k], which, 500 + k * 10 + which);
    gpu_free_all();
}

/* ---- sum ------------------------------------------------------------------------------ */
TEST(gpu_sum_matches_cpu_and_is_deterministic)
{
    GPU_OR_SKIP();
    const int64_t sizes[] = {1, 255, 256, 257, 1000003};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t n = sizes[s];
        real *x = gpu_rand(900 + s, n, 0.1, 2, 1), y, dy = (real)0.37;
        real *dx = th_alloc(sizeof(real) * (size_t)n);
        double scale = 1.0 / (double)n;
        cpu_sum_fwd(&y, x, scale, n);
        cpu_sum_bwd(dx, &dy, scale, n);
        real *xd = gpu_from(x, n), *dyd = gpu_from(&dy, 1), *yd = gpu_out(1), *dxd = gpu_out(n);
        if (!xd || !dyd || !yd || !dxd)
            return;
        char what[64];
        snprintf(what, sizeof what, "sum n=%lld", (long long)n);
        CHECK(cuda_sum_fwd(yd, xd, scale, n) == CG_OK, "%s", cg_cuda_last_error());
        real first = gpu_fetch(what, yd, 1)[0];
        gpu_compare(what, &first, &y, 1, TOL);
        CHECK(cuda_sum_fwd(yd, xd, scale, n) == CG_OK, "%s", cg_cuda_last_error());
        real again = gpu_fetch(what, yd, 1)[0];
        CHECK(memcmp(&first, &again, sizeof first) == 0, "%s: %.9g then %.9g", what,
              (double)first, (double)again);
        CHECK(cuda_sum_bwd(dxd, dyd, scale, n) == CG_OK, "%s", cg_cuda_last_error());
        gpu_compare(what, gpu_fetch(what, dxd, n), dx, n, TOL);
    }
    gpu_free_all();
}
