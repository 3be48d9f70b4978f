/*
 * test_gpu_pool.c: the CUDA twins of maxpool2d, avgpool2d and bilinear
 * resizing against the CPU references (called directly, outputs guarded and
 * poisoned), forward and backward, on Inception's geometries (k3 s2, k3 s1
 * p1 with and without counting the padding, the 8x8 global pool, a 64x64 ->
 * 299x299 resize) and odd ones.
 *
 * Bound 1e-7 relative (L2): both sides call the same per-element functions
 * (host/cpu/pool_impl.h) and sum in double in the same order, with no fused
 * multiply-adds on either side, so they should agree bit for bit; 1e-7
 * leaves room only for a float rounding of a double, not for a wrong index.
 * Skipped without a GPU (failed under make test-gpu).
 */
#include "cpu/cpu_pool.h"
#include "gpu_check.h"
#include "ops/cuda_ops.h"

#define TOL 1e-7

typedef struct {
    const char *name;
    int kind;   /* 0 max, 1 average */
    int NC, H, W, k, stride, pad, cip;
} pool_case;

static const pool_case POOLS[] = {
    {"max k3 s2 (Inception's reductions)", 0, 6, 35, 35, 3, 2, 0, 0},
    {"max k3 s1 p1 (Mixed_7c)", 0, 6, 8, 8, 3, 1, 1, 0},
    {"max k2 s3 p1", 0, 5, 11, 7, 2, 3, 1, 0},
    {"avg k3 s1 p1 not counting pad", 1, 6, 17, 17, 3, 1, 1, 0},
    {"avg k3 s1 p1 counting pad", 1, 6, 9, 10, 3, 1, 1, 1},
    {"avg k8 global", 1, 16, 8, 8, 8, 1, 0, 0},
    {"avg k3 s2 p1 counting pad", 1, 3, 13, 6, 3, 2, 1, 1},
};

static void check_pool(const pool_case *cs, uint64_t seed)
{
    cg_pool_geom d = {.NC = cs->NC, .H = cs->H, .W = cs->W, .k = cs->k, .stride = cs->stride,
                       .pad = cs->pad, .count_include_pad = cs->cip};
    d.Ho = (d.H + 2 * d.pad - d.k) / d.stride + 1;
    d.Wo = (d.W + 2 * d.pad - d.k) / d.stride + 1;
    int64_t nx = d.NC * d.H * d.W, ny = d.NC * d.Ho * d.Wo;
    real *x = gpu_rand(seed, nx, 0.1, 1, 1), *dy = gpu_rand(seed + 1, ny, 0.1, 1, 1);
    real *y = th_alloc(sizeof(real) * (size_t)ny), *dx = th_alloc(sizeof(real) * (size_t)nx);
    if (cs->kind == 0) {
        cpu_maxpool2d_fwd(y, x, &d);
        cpu_maxpool2d_bwd(dx, dy, x, &d);
    } else {
        cpu_avgpool2d_fwd(y, x, &d);
        cpu_avgpool2d_bwd(dx, dy, &d);
    }
    real *xd = gpu_from(x, nx), *dyd = gpu_from(dy, ny), *yd = gpu_out(ny), *dxd = gpu_out(nx);
    if (!xd || !dyd || !yd || !dxd)
        return;
    cg_status sf = cs->kind == 0 ? cuda_maxpool2d_fwd(yd, xd, &d) : cuda_avgpool2d_fwd(yd, xd, &d);
    cg_status sb = cs->kind == 0 ? cuda_maxpool2d_bwd(dxd, dyd, xd, &d)
                                 : cuda_avgpool2d_bwd(dxd, dyd, &d);
    CHECK(sf == CG_OK && sb == CG_OK, "%s: %s", cs->name, cg_cuda_last_error());
    char part[160];
    snprintf(part, sizeof part, "%s y", cs->name);
    gpu_compare(part, gpu_fetch(part, yd, ny), y, ny, TOL);
    snprintf(part, sizeof part, "%s dx", cs->name);
    gpu_compare(part, gpu_fetch(part, dxd, nx), dx, nx, TOL);
}

TEST(gpu_pool_matches_cpu)
{
    GPU_OR_SKIP();
    for (size_t i = 0; i < sizeof POOLS / sizeof *POOLS; i++)
        check_pool(&POOLS[i], 3000 + 10 * i);
    gpu_free_all();
}

static void check_bilinear(const char *name, int NC, int H, int W, int Ho, int Wo,
                           uint64_t seed)
{
    cg_resize_geom d = {.NC = NC, .H = H, .W = W, .Ho = Ho, .Wo = Wo};
    int64_t nx = (int64_t)NC * H * W, ny = (int64_t)NC * Ho * Wo;
    real *x = gpu_rand(seed, nx, 0.1, 1, 1), *dy = gpu_rand(seed + 1, ny, 0.1, 1, 1);
    real *y = th_alloc(sizeof(real) * (size_t)ny), *dx = th_alloc(sizeof(real) * (size_t)nx);
    cpu_bilinear_fwd(y, x, &d);
    cpu_bilinear_bwd(dx, dy, &d);
    real *xd = gpu_from(x, nx), *dyd = gpu_from(dy, ny), *yd = gpu_out(ny), *dxd = gpu_out(nx);
    if (!xd || !dyd || !yd || !dxd)
        return;
    cg_status sf = cuda_bilinear_fwd(yd, xd, &d), sb = cuda_bilinear_bwd(dxd, dyd, &d);
    CHECK(sf == CG_OK && sb == CG_OK, "%s: %s", name, cg_cuda_last_error());
    char part[160];
    snprintf(part, sizeof part, "%s y", name);
    gpu_compare(part, gpu_fetch(part, yd, ny), y, ny, TOL);
    snprintf(part, sizeof part, "%s dx", name);
    gpu_compare(part, gpu_fetch(part, dxd, nx), dx, nx, TOL);
}

TEST(gpu_bilinear_matches_cpu)
{
    GPU_OR_SKIP();
    check_bilinear("bilinear 64x64 -> 299x299", 6, 64, 64, 299, 299, 3100);
    check_bilinear("bilinear 28x28 -> 299x299", 3, 28, 28, 299, 299, 3110);
    check_bilinear("bilinear 13x11 -> 5x4", 4, 13, 11, 5, 4, 3120);
    check_bilinear("bilinear 5x7 -> 11x16", 4, 5, 7, 11, 16, 3130);
    gpu_free_all();
}
