/*
 * gpu_check.c: guards, poison and comparisons for the CPU-vs-GPU tests
 * (see gpu_check.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/rng.h"
#include "gpu_check.h"

#define GUARD 64                 /* values on each side */
#define GUARD_BITS 0x7fbadbadu   /* a signalling-NaN pattern no kernel writes */
#define POISON_BITS 0x7fc0deadu  /* a quiet NaN: unwritten outputs fail as non-finite */

int gpu_ready(void)
{
    char why[256] = "";
    if (cg_cuda_device_count(why, sizeof why) > 0) {
        cg_cuda_set_deterministic(1);  /* fp32 tests: no TF32 */
        return 1;
    }
    const char *req = getenv("CUGEN_REQUIRE_GPU");
    if (req && strcmp(req, "1") == 0)
        th_fail(__FILE__, __LINE__, "CUGEN_REQUIRE_GPU=1 but no GPU: %s", why);
    else
        th_skip(why);
    return 0;
}

static void **allocs;
static int nallocs;

static void *dev_alloc(size_t bytes)
{
    void *p = NULL;
    if (cg_cuda_malloc(&p, bytes, "test buffer") != CG_OK) {
        th_fail(__FILE__, __LINE__, "cg_cuda_malloc: %s", cg_cuda_last_error());
        return NULL;
    }
    void **a = realloc(allocs, sizeof *a * (size_t)(nallocs + 1));
    if (!a) {
        cg_cuda_free(p);
        return NULL;
    }
    allocs = a;
    allocs[nallocs++] = p;
    return p;
}

/* The test's device buffers, then the backend's own state (stream, handles,
 * plans, workspace, timer events), as the cugen command releases it before
 * it exits; a test frees its contexts and parameters before calling this. */
void gpu_free_all(void)
{
    for (int i = 0; i < nallocs; i++)
        cg_cuda_free(allocs[i]);
    free(allocs);
    allocs = NULL;
    nallocs = 0;
    cg_cuda_shutdown();
}

int gpu_poison_step_arena(cg_ctx *ctx)
{
    for (cg_arena_block *b = ctx->dev_arena.head; b; b = b->next)
        if (cg_cuda_fill_u32(b->base, POISON_BITS, b->size / 4) != CG_OK) {
            th_fail(__FILE__, __LINE__, "poisoning the step arena: %s", cg_cuda_last_error());
            return 0;
        }
    return 1;
}

real *gpu_from(const real *host, int64_t n)
{
    real *d = dev_alloc(sizeof(real) * (size_t)(n > 0 ? n : 1));
    if (d && n > 0 && cg_cuda_upload(d, host, sizeof(real) * (size_t)n) != CG_OK) {
        th_fail(__FILE__, __LINE__, "upload: %s", cg_cuda_last_error());
        return NULL;
    }
    return d;
}

static void fill_bits(real *p, int64_t n, uint32_t bits)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(&p[i], &bits, sizeof bits);
}

real *gpu_out(int64_t n)
{
    int64_t total = n + 2 * GUARD;
    real *h = th_alloc(sizeof(real) * (size_t)total);
    fill_bits(h, GUARD, GUARD_BITS);
    fill_bits(h + GUARD, n, POISON_BITS);
    fill_bits(h + GUARD + n, GUARD, GUARD_BITS);
    real *d = gpu_from(h, total);
    return d ? d + GUARD : NULL;
}

real *gpu_out_init(const real *init, int64_t n)
{
    real *d = gpu_out(n);
    if (d && n > 0 && cg_cuda_upload(d, init, sizeof(real) * (size_t)n) != CG_OK) {
        th_fail(__FILE__, __LINE__, "upload: %s", cg_cuda_last_error());
        return NULL;
    }
    return d;
}

real *gpu_get(const real *dev, int64_t n)
{
    real *h = th_alloc(sizeof(real) * (size_t)(n > 0 ? n : 1));
    if (n > 0 && cg_cuda_download(h, dev, sizeof(real) * (size_t)n) != CG_OK)
        th_fail(__FILE__, __LINE__, "download: %s", cg_cuda_last_error());
    return h;
}

real *gpu_fetch(const char *what, const real *dev, int64_t n)
{
    if (!dev)
        return th_alloc(sizeof(real) * (size_t)(n > 0 ? n : 1));
    real *h = gpu_get(dev - GUARD, n + 2 * GUARD);
    for (int64_t i = 0; i < GUARD; i++) {
        uint32_t lo, hi;
        memcpy(&lo, &h[i], sizeof lo);
        memcpy(&hi, &h[GUARD + n + i], sizeof hi);
        if (lo != GUARD_BITS || hi != GUARD_BITS) {
            th_fail(__FILE__, __LINE__, "%s: a guard value %s the output was overwritten",
                    what, lo != GUARD_BITS ? "before" : "after");
            break;
        }
    }
    return h + GUARD;
}

double gpu_compare(const char *what, const real *gpu, const real *cpu, int64_t n, double tol)
{
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite((double)gpu[i])) {
            th_fail(__FILE__, __LINE__, "%s: element %lld of %lld is %g (unwritten or not "
                    "finite)", what, (long long)i, (long long)n, (double)gpu[i]);
            return INFINITY;
        }
    }
    double e = th_rel_err(gpu, cpu, n);
    if (!(e < tol))
        th_fail(__FILE__, __LINE__, "%s: relative error %.3g (bound %g)", what, e, tol);
    return e;
}

int gpu_same_bits(const char *what, const real *gpu, const real *cpu, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite((double)gpu[i])) {
            th_fail(__FILE__, __LINE__, "%s: element %lld of %lld is %g (unwritten or not "
                    "finite)", what, (long long)i, (long long)n, (double)gpu[i]);
            return 0;
        }
        if (memcmp(&gpu[i], &cpu[i], sizeof(real)) != 0) {
            th_fail(__FILE__, __LINE__, "%s: element %lld of %lld is %.9g, the CPU's %.9g", what,
                    (long long)i, (long long)n, (double)gpu[i], (double)cpu[i]);
            return 0;
        }
    }
    return 1;
}

real *gpu_rand(uint64_t seed, int64_t n, double lo, double hi, int signed_)
{
    real *h = th_alloc(sizeof(real) * (size_t)(n > 0 ? n : 1));
    cg_rng r;
    cg_rng_init(&r, seed, 7);
    for (int64_t i = 0; i < n; i++) {
        real u[2];
        cg_rng_uniform(&r, u, 2);
        double m = lo + (hi - lo) * (double)u[0];
        h[i] = (real)(signed_ && u[1] < 0.5f ? -m : m);
    }
    return h;
}
