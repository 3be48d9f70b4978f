/*
 * sample_util.c: the helpers the models' samplers share (sample_util.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/rng.h"
#include "models/sample_util.h"

int sample_open(const char *path, const char *name, cg_st_file *f)
{
    char file[4096];
    return cg_st_load_run(f, path, name, file, sizeof file, NULL, 0) == CG_OK;
}

int sample_holds(const char *path, const char *name, const char *a, const char *b)
{
    cg_st_file f;
    if (!sample_open(path, name, &f))
        return 0;
    int yes = cg_st_find(&f, a) || (b && cg_st_find(&f, b));
    cg_st_free(&f);
    return yes;
}

int sample_setting(const char *path, const char *key, char *value, size_t len)
{
    struct stat sb;
    char file[4096];
    if (stat(path, &sb) != 0)
        return 0;
    if (S_ISDIR(sb.st_mode)) {
        snprintf(file, sizeof file, "%s/%s", path, CG_CKPT_LATEST);
        return cg_settings_get_dir(path, key, value, len) ||
               cg_settings_get_st(file, key, value, len);
    }
    if (cg_settings_get_st(path, key, value, len))
        return 1;
    snprintf(file, sizeof file, "%s", path);
    char *slash = strrchr(file, '/');
    if (slash)
        *slash = '\0';
    return cg_settings_get_dir(slash ? file : ".", key, value, len);
}

cg_status sample_take(cg_ctx *ctx, const cg_tensor *y, real *x, char *err, size_t len)
{
    cg_status st = CG_OK;
    if (y)
        memcpy(x, y->data, sizeof(real) * (size_t)y->n);
    else
        st = sample_failed(ctx, err, len);
    cg_ctx_free(ctx);
    return st;
}

int sample_side_of(int64_t npix)
{
    int64_t s = llround(sqrt((double)npix));
    return s > 0 && s * s == npix ? (int)s : 0;
}

cg_status sample_latents(real *z, int n, int nz, uint64_t seed, int interpolate, char *err,
                         size_t len)
{
    cg_rng r;
    cg_rng_init(&r, seed, CG_SAMPLE_STREAM);
    if (!interpolate) {
        cg_rng_normal(&r, z, (int64_t)n * nz, 0.0, 1.0);
        return CG_OK;
    }
    real *ends = malloc(sizeof(real) * 2 * (size_t)nz);
    if (!ends) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    const int P = CG_SAMPLE_PER_ROW;
    for (int row = 0; row < n / P; row++) {
        cg_rng_normal(&r, ends, 2 * (int64_t)nz, 0.0, 1.0);
        for (int j = 0; j < P; j++) {
            double t = (double)j / (P - 1);
            real *zj = z + ((size_t)row * P + j) * nz;
            for (int k = 0; k < nz; k++)
                zj[k] = (real)((1 - t) * ends[k] + t * ends[nz + k]);
        }
    }
    free(ends);
    return CG_OK;
}

cg_status sample_rows_check(int interpolate, int n, char *err, size_t len)
{
    if (!interpolate || n % CG_SAMPLE_PER_ROW == 0)
        return CG_OK;
    snprintf(err, len, "--interpolate draws rows of %d: --n must be a multiple of %d, got %d",
             CG_SAMPLE_PER_ROW, CG_SAMPLE_PER_ROW, n);
    return CG_ERR_ARG;
}

cg_status sample_failed(const cg_ctx *ctx, char *err, size_t len)
{
    snprintf(err, len, "%s", ctx->errmsg[0] ? ctx->errmsg : "the model's forward failed");
    return ctx->err && ctx->err != CG_ERR_ARG ? ctx->err : CG_ERR_STATE;
}

cg_status sample_take_copy(cg_ctx *ctx, const cg_tensor *y, real **out, char *err, size_t len)
{
    int64_t n = y ? y->n : 0;
    *out = y ? malloc(sizeof(real) * (size_t)(n ? n : 1)) : NULL;
    if (y && !*out) {
        cg_ctx_free(ctx);
        snprintf(err, len, "out of memory for %lld values", (long long)n);
        return CG_ERR_NOMEM;
    }
    return sample_take(ctx, y, *out, err, len);
}

cg_status sample_gen_alloc(cg_image_set *out, int64_t n, int64_t P, real **z, int64_t nz,
                           cg_ctx *ctx, char *err, size_t len)
{
    out->x = malloc(sizeof(real) * (size_t)(n * P));
    if (z)
        *z = malloc(sizeof(real) * (size_t)nz);
    if (!out->x || (z && !*z) || (ctx && cg_ctx_init(ctx) != CG_OK)) {
        if (z)
            free(*z);
        snprintf(err, len, "out of memory for %lld images", (long long)n);
        return CG_ERR_NOMEM;
    }
    return CG_OK;
}

void sample_progress(const char *kind, int64_t done, int64_t n, double t0)
{
    if (n > 64)
        fprintf(stderr, "cugen eval: %s: %lld/%lld images generated (%.0f s)\n", kind,
                (long long)done, (long long)n, cg_monotonic_seconds() - t0);
}

cg_status sample_weights(cg_status built, const char *why, const char *file, cg_params *p,
                         char *err, size_t len)
{
    if (built != CG_OK) {
        snprintf(err, len, "%s: %s", file, why);
        return built;
    }
    return cg_weights_load(file, p, err, len);
}
