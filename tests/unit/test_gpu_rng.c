/*
 * test_gpu_rng.c: Philox on the GPU gives the CPU's numbers bit for bit: the
 * first 10^6 uniform and normal values of a stream, fills at an offset that
 * is not a multiple of 4 (stateless form), the mean/std and lo/hi maps, and
 * draws through cg_rng into CUDA tensors, which must leave the stream where
 * the CPU draw leaves it.
 * Skipped without a GPU (failed under make test-gpu).
 */
#include <string.h>

#include "cugen/nn.h"
#include "cugen/rng.h"
#include "gpu_check.h"
#include "ops/cuda_ops.h"

#define MILLION 1000000

/* index of the first differing value, or -1 */
static int64_t first_diff(const real *a, const real *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(real)) != 0)
            return i;
    return -1;
}

static void check_same(const char *what, const real *gpu, const real *cpu, int64_t n)
{
    int64_t i = first_diff(gpu, cpu, n);
    CHECK(i < 0, "%s: value %lld differs: GPU %.9g, CPU %.9g", what, (long long)i,
          i < 0 ? 0.0 : (double)gpu[i], i < 0 ? 0.0 : (double)cpu[i]);
}

TEST(gpu_philox_first_million_bit_identical)
{
    GPU_OR_SKIP();
    real *cpu = th_alloc(sizeof(real) * MILLION);
    real *d = gpu_out(MILLION);
    REQUIRE(d);
    cg_philox_uniform(1234, 5, 0, cpu, MILLION);
    CHECK(cuda_philox_uniform(1234, 5, 0, d, MILLION, 0, 1) == CG_OK, "%s",
          cg_cuda_last_error());
    check_same("uniform", gpu_fetch("uniform", d, MILLION), cpu, MILLION);
    cg_philox_normal(1234, 5, 0, cpu, MILLION);
    CHECK(cuda_philox_normal(1234, 5, 0, d, MILLION, 0, 1) == CG_OK, "%s",
          cg_cuda_last_error());
    check_same("normal", gpu_fetch("normal", d, MILLION), cpu, MILLION);
    gpu_free_all();
}

TEST(gpu_philox_odd_offsets_and_maps)
{
    GPU_OR_SKIP();
    const uint64_t offs[] = {1, 6, 4099};
    const int64_t ns[] = {1, 3, 1001};
    for (int k = 0; k < 3; k++) {
        int64_t n = ns[k];
        real *cpu = th_alloc(sizeof(real) * (size_t)n), *d = gpu_out(n);
        REQUIRE(d);
        char what[64];
        snprintf(what, sizeof what, "normal at offset %llu, n %lld", (unsigned long long)offs[k],
                 (long long)n);
        cg_philox_normal(99, 2, offs[k], cpu, n);
        CHECK(cuda_philox_normal(99, 2, offs[k], d, n, 0, 1) == CG_OK);
        check_same(what, gpu_fetch(what, d, n), cpu, n);
        snprintf(what, sizeof what, "uniform at offset %llu, n %lld",
                 (unsigned long long)offs[k], (long long)n);
        cg_philox_uniform(99, 2, offs[k], cpu, n);
        CHECK(cuda_philox_uniform(99, 2, offs[k], d, n, 0, 1) == CG_OK);
        check_same(what, gpu_fetch(what, d, n), cpu, n);
    }
    gpu_free_all();
}

TEST(gpu_rng_fill_of_cuda_tensors_matches_cpu)
{
    GPU_OR_SKIP();
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    const int n = 12345;
    cg_tensor *h = cg_new(&ctx, CG_SHAPE(n));
    cg_tensor *g = cg_new_on(&ctx, CG_CUDA, CG_SHAPE(n));
    REQUIRE_OK(&ctx);
    cg_rng rc, rg;
    cg_rng_init(&rc, 7, 3);
    cg_rng_init(&rg, 7, 3);
    for (int round = 0; round < 3; round++) {
        /* normal(0.5, 2), uniform(-3, 1), then normal(0, 1): the maps and
         * the identity, and the stream advancing alike */
        if (round == 0) {
            cg_init_normal(h, &rc, 0.5, 2);
            CHECK(cg_init_normal(g, &rg, 0.5, 2) == CG_OK, "%s", cg_cuda_last_error());
        } else if (round == 1) {
            cg_init_uniform(h, &rc, -3, 1);
            CHECK(cg_init_uniform(g, &rg, -3, 1) == CG_OK, "%s", cg_cuda_last_error());
        } else {
            cg_rng_fill_normal(&rc, h, 0, 1);
            CHECK(cg_rng_fill_normal(&rg, g, 0, 1) == CG_OK, "%s", cg_cuda_last_error());
        }
        real *back = th_alloc(sizeof(real) * n);
        CHECK(cg_copy_to_host(&ctx, back, g) == CG_OK, "%s", ctx.errmsg);
        char what[32];
        snprintf(what, sizeof what, "fill %d", round);
        check_same(what, back, h->data, n);
        CHECK(rc.offset == rg.offset, "stream offsets %llu vs %llu",
              (unsigned long long)rc.offset, (unsigned long long)rg.offset);
    }
    cg_ctx_free(&ctx);
}
