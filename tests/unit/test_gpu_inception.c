/*
 * test_gpu_inception.c: the whole FID Inception network on the GPU against
 * the CPU, on the two images of tests/ref/inception_fid.ref with the hash
 * weights of inception_fixture.h: resize, 94 convs (cuDNN, rectangular
 * kernels included), pools, concatenations, features.
 *
 * Bound 1e-4 relative (L2 over the 2 x 2048 features), the design's bound
 * for a whole network: each op agrees to 1e-5 or better (cuDNN in FMA math
 * against OpenBLAS, differing only in the order of float sums), and the
 * deepest path has about 20 of them; the CPU itself agrees with PyTorch's
 * float64 result to 2e-7 (test_inception.c). Skipped without a GPU.
 */
#include "cugen/cuda.h"
#include "cugen/metrics.h"
#include "cugen/tape.h"
#include "gpu_check.h"
#include "inception_fixture.h"
#include "ref.h"

#define NET_TOL 1e-4

TEST(gpu_inception_matches_cpu)
{
    GPU_OR_SKIP();
    ref_file rf;
    if (!REF_OPEN(&rf, "inception_fid"))
        return;
    int count = 0;
    cg_st_tensor *t = incfix_tensors(470, &count);
    REQUIRE(t);
    cg_inception *mc = NULL, *mg = NULL;
    char err[512];
    cg_status st = cg_inception_from_tensors(t, count, &mc, err, sizeof err);
    if (st == CG_OK)
        st = cg_inception_from_tensors(t, count, &mg, err, sizeof err);
    incfix_free(t, count);
    REQUIRE(st == CG_OK, "%s", err);
    REQUIRE(cg_inception_to_device(mg, err, sizeof err) == CG_OK, "%s", err);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_set_grad(&ctx, 0);
    cg_tensor *x = REF_CONST(&rf, "x");
    cg_tensor *fc = cg_inception_forward(&ctx, mc, x);
    cg_tensor *fg = cg_inception_forward(&ctx, mg, cg_to_device(&ctx, x, CG_CUDA));
    REQUIRE_OK(&ctx);
    REQUIRE(fg->dev == CG_CUDA, "the GPU model's features are on the GPU");
    real *got = th_alloc(sizeof(real) * (size_t)fg->n);
    REQUIRE(cg_copy_to_host(&ctx, got, fg) == CG_OK, "%s", ctx.errmsg);
    gpu_compare("inception features", got, fc->data, fc->n, NET_TOL);
    cg_ctx_free(&ctx);
    cg_inception_free(mc);
    cg_inception_free(mg);
    ref_free(&rf);
}
