/*
 * test_gpu_dense.c: the cuBLAS twins of linear and batched matmul (all four
 * transpose combinations) against the CPU references, called directly on
 * guarded, poisoned outputs: forward and backward, odd sizes, random
 * non-zero inputs. Weight and bias gradients accumulate, so they start from
 * small random values on both devices.
 *
 * Bound 1e-5 relative (L2): both sides are float GEMMs (OpenBLAS, cuBLAS in
 * full FP32 under deterministic mode) whose sums of at most ~100 products
 * differ by their rounding order, a few float ulps (~1e-7) per value; the
 * bias gradient is summed in double on both. Skipped without a GPU (failed
 * under make test-gpu).
 */
#include "cpu/cpu_dense.h"
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

static void check_linear(int N, int I, int O, int bias, uint64_t seed)
{
    char what[96];
    real *x = gpu_rand(seed, (int64_t)N * I, 0.1, 1, 1);
    real *w = gpu_rand(seed + 1, (int64_t)O * I, 0.1, 1, 1);
    real *b = bias ? gpu_rand(seed + 2, O, 0.1, 1, 1) : NULL;
    real *dy = gpu_rand(seed + 3, (int64_t)N * O, 0.1, 1, 1);
    real *dw0 = gpu_rand(seed + 4, (int64_t)O * I, 0.001, 0.01, 1);
    real *db0 = gpu_rand(seed + 5, O, 0.001, 0.01, 1);
    real *y = th_alloc(sizeof(real) * (size_t)N * O), *dx = th_alloc(sizeof(real) * (size_t)N * I);
    real *dw = copy_of(dw0, (int64_t)O * I), *db = copy_of(db0, O);
    cpu_linear_fwd(y, x, w, b, N, I, O);
    cpu_linear_bwd(dx, dw, db, dy, x, w, N, I, O);

    real *xd = gpu_from(x, (int64_t)N * I), *wd = gpu_from(w, (int64_t)O * I);
    real *bd = b ? gpu_from(b, O) : NULL, *dyd = gpu_from(dy, (int64_t)N * O);
    real *yd = gpu_out((int64_t)N * O), *dxd = gpu_out((int64_t)N * I);
    real *dwd = gpu_out_init(dw0, (int64_t)O * I), *dbd = gpu_out_init(db0, O);
    if (!xd || !wd || (b && !bd) || !dyd || !yd || !dxd || !dwd || !dbd)
        return;
    snprintf(what, sizeof what, "linear N=%d I=%d O=%d%s", N, I, O, bias ? " bias" : "");
    CHECK(cuda_linear_fwd(yd, xd, wd, bd, N, I, O) == CG_OK, "%s: %s", what,
          cg_cuda_last_error());
    CHECK(cuda_linear_bwd(dxd, dwd, dbd, dyd, xd, wd, N, I, O) == CG_OK, "%s: %s", what,
          cg_cuda_last_error());
    gpu_compare(what, gpu_fetch(what, yd, (int64_t)N * O), y, (int64_t)N * O, TOL);
    gpu_compare(what, gpu_fetch(what, dxd, (int64_t)N * I), dx, (int64_t)N * I, TOL);
    gpu_compare(what, gpu_fetch(what, dwd, (int64_t)O * I), dw, (int64_t)O * I, TOL);
    gpu_compare(what, gpu_fetch(what, dbd, O), db, O, TOL);

    /* only dw wanted: dx and db untouched (NULL), dw accumulates again */
    cpu_linear_bwd(NULL, dw, NULL, dy, x, w, N, I, O);
    CHECK(cuda_linear_bwd(NULL, dwd, NULL, dyd, xd, wd, N, I, O) == CG_OK, "%s: %s", what,
          cg_cuda_last_error());
    gpu_compare(what, gpu_fetch(what, dwd, (int64_t)O * I), dw, (int64_t)O * I, TOL);
}

TEST(gpu_linear_matches_cpu)
{
    GPU_OR_SKIP();
    check_linear(1, 1, 1, 1, 10);
    check_linear(7, 13, 5, 1, 20);
    check_linear(33, 65, 17, 0, 30);
    check_linear(128, 100, 3, 1, 40);
    gpu_free_all();
}

static void check_bmm(int B, int M, int N, int K, int ta, int tb, uint64_t seed)
{
    char what[96];
    int64_t na = (int64_t)B * M * K, nb = (int64_t)B * K * N, nc = (int64_t)B * M * N;
    real *a = gpu_rand(seed, na, 0.1, 1, 1), *b = gpu_rand(seed + 1, nb, 0.1, 1, 1);
    real *dc = gpu_rand(seed + 2, nc, 0.1, 1, 1);
    real *c = th_alloc(sizeof(real) * (size_t)nc), *da = th_alloc(sizeof(real) * (size_t)na);
    real *db = th_alloc(sizeof(real) * (size_t)nb);
    cpu_bmm_fwd(c, a, b, B, M, N, K, ta, tb);
    cpu_bmm_bwd(da, db, dc, a, b, B, M, N, K, ta, tb);

    real *ad = gpu_from(a, na), *bd = gpu_from(b, nb), *dcd = gpu_from(dc, nc);
    real *cd = gpu_out(nc), *dad = gpu_out(na), *dbd = gpu_out(nb);
    if (!ad || !bd || !dcd || !cd || !dad || !dbd)
        return;
    snprintf(what, sizeof what, "bmm B=%d M=%d N=%d K=%d ta=%d tb=%d", B, M, N, K, ta, tb);
    CHECK(cuda_bmm_fwd(cd, ad, bd, B, M, N, K, ta, tb) == CG_OK, "%s: %s", what,
          cg_cuda_last_error());
    CHECK(cuda_bmm_bwd(dad, dbd, dcd, ad, bd, B, M, N, K, ta, tb) == CG_OK, "%s: %s", what,
          cg_cuda_last_error());
    gpu_compare(what, gpu_fetch(what, cd, nc), c, nc, TOL);
    gpu_compare(what, gpu_fetch(what, dad, na), da, na, TOL);
    gpu_compare(what, gpu_fetch(what, dbd, nb), db, nb, TOL);
}

TEST(gpu_bmm_matches_cpu)
{
    GPU_OR_SKIP();
    for (int t = 0; t < 4; t++) {
        check_bmm(3, 5, 7, 11, t & 1, t >> 1, 100 + t);
        check_bmm(2, 33, 17, 65, t & 1, t >> 1, 200 + t);
        check_bmm(1, 1, 9, 3, t & 1, t >> 1, 300 + t);
    }
    gpu_free_all();
}
