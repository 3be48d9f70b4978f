/*
 * pixelcnn_sample.c: drawing from a PixelCNN pixel by pixel, and the model
 * as `cugen sample` and `cugen eval` see it (cugen/sampler.h): from a run
 * directory (its pixelcnn.safetensors), a checkpoint, or a weights file.
 *
 *   sample    --n images of --size pixels a side, 8 per row, on --device
 *             (the GPU when asked): one forward pass per pixel
 *   generate  the same, for eval --metric mmd|fid
 *   metrics   nll (nats per image) and bpd (bits per dimension): the exact
 *             likelihood of a data set (the test split by default), one
 *             forward pass per batch
 *
 * A pass for pixel (r, c) runs over rows r - R .. r only (R the network's
 * vertical reach, cg_pixelcnn_reach): row r's outputs depend on nothing
 * else, and the zero padding that replaces the rows above r - R changes
 * only outputs less than R rows below it.
 *
 * Not for: the network (pixelcnn.c), training (pixelcnn_train.c).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/io.h"
#include "cugen/pixelcnn.h"
#include "cugen/rng.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"
#include "models/sample_util.h"

#define SAMPLE_CHUNK 64   /* images drawn together */

/* the value of pixel k of a pass's logits z (n images of rows x S pixels,
 * the last row's column c): binary, u < sigmoid(logit); 256 levels, the
 * inverse of the softmax's CDF at u */
static int draw_level(const real *z, int levels, int64_t at, double u)
{
    if (levels == 2)
        return u < 1.0 / (1.0 + exp(-(double)z[at]));
    const real *l = z + at * 256;
    double mx = l[0], tot = 0;
    for (int j = 1; j < 256; j++)
        mx = l[j] > mx ? l[j] : mx;
    for (int j = 0; j < 256; j++)
        tot += exp(l[j] - mx);
    double acc = 0, target = u * tot;
    for (int j = 0; j < 255; j++) {
        acc += exp(l[j] - mx);
        if (target < acc)
            return j;
    }
    return 255;
}

/* n <= SAMPLE_CHUNK images into lev (n, S, S) with the uniforms of r */
static cg_status sample_chunk(cg_pixelcnn *m, cg_ctx *ctx, int n, int S, cg_rng *r,
                              int32_t *lev, real *x, char *err, size_t len)
{
    int L = m->a.levels, R = cg_pixelcnn_reach(m);
    int64_t D = (int64_t)S * S;
    real u[SAMPLE_CHUNK];
    memset(x, 0, sizeof(real) * (size_t)(n * D));
    real *crop = malloc(sizeof(real) * (size_t)(n * (R + 1) * S));
    real *z = malloc(sizeof(real) * (size_t)(n * (R + 1) * S) * (L == 2 ? 1 : 256));
    cg_status st = CG_OK;
    if (!crop || !z) {
        snprintf(err, len, "pixelcnn: out of memory");
        st = CG_ERR_NOMEM;
    }
    for (int row = 0; row < S && st == CG_OK; row++) {
        int top = row > R ? row - R : 0, rows = row - top + 1;
        for (int c = 0; c < S && st == CG_OK; c++) {
            for (int k = 0; k < n; k++)
                memcpy(crop + (int64_t)k * rows * S, x + k * D + (int64_t)top * S,
                       sizeof(real) * (size_t)(rows * S));
            cg_tensor *t = cg_new_on(ctx, (cg_device)m->p.dev, CG_SHAPE(n, 1, rows, S));
            if (t && cg_copy_from_host(ctx, t, crop) != CG_OK)
                t = NULL;
            cg_tensor *logits = cg_pixelcnn_logits(ctx, m, t);
            if (!logits || cg_copy_to_host(ctx, z, logits) != CG_OK) {
                st = sample_failed(ctx, err, len);
                break;
            }
            cg_rng_uniform(r, u, n);
            for (int k = 0; k < n; k++) {
                int v = draw_level(z, L, (int64_t)k * rows * S + (int64_t)(rows - 1) * S + c,
                                   u[k]);
                lev[k * D + (int64_t)row * S + c] = v;
                x[k * D + (int64_t)row * S + c] = (real)(L == 2 ? v : v / 255.0);
            }
            cg_ctx_step_end(ctx);
        }
    }
    free(crop);
    free(z);
    return st;
}

cg_status cg_pixelcnn_sample(cg_pixelcnn *m, int n, int S, uint64_t seed, uint32_t stream,
                             real *out, char *err, size_t errlen)
{
    int64_t D = (int64_t)S * S;
    int32_t *lev = malloc(sizeof(int32_t) * SAMPLE_CHUNK * (size_t)D);
    real *x = malloc(sizeof(real) * SAMPLE_CHUNK * (size_t)D);
    cg_ctx ctx;
    if (!lev || !x || cg_ctx_init(&ctx) != CG_OK) {
        free(lev), free(x);
        snprintf(err, errlen, "pixelcnn: out of memory");
        return CG_ERR_NOMEM;
    }
    cg_set_grad(&ctx, 0);
    cg_rng r;
    cg_rng_init(&r, seed, stream);
    cg_status st = CG_OK;
    double top = m->a.levels == 2 ? 1.0 : 255.0;
    for (int at = 0; at < n && st == CG_OK; at += SAMPLE_CHUNK) {
        int k = n - at < SAMPLE_CHUNK ? n - at : SAMPLE_CHUNK;
        st = sample_chunk(m, &ctx, k, S, &r, lev, x, err, errlen);
        for (int64_t i = 0; st == CG_OK && i < k * D; i++)
            out[at * D + i] = (real)(2.0 * lev[i] / top - 1.0);
    }
    cg_ctx_free(&ctx);
    free(lev), free(x);
    return st;
}

/* ---- the sampler ------------------------------------------------------------------- */
typedef struct {
    int64_t size;
} pcnn_sample_flags;

typedef struct {
    cg_pixelcnn m;
    int loaded;
} pcnn_sampler;

static int recognise(const char *path)
{
    cg_st_file f;
    if (!sample_open(path, "pixelcnn.safetensors", &f))
        return 0;
    int yes = cg_st_find(&f, "conv_in.weight") && cg_st_find(&f, "out2.weight");
    cg_st_free(&f);
    return yes;
}

static cg_status load(void *self, const char *path, cg_device dev, char *err, size_t len)
{
    pcnn_sampler *s = self;
    cg_status st = cg_pixelcnn_load(path, &s->m, err, len);
    s->loaded = st == CG_OK;
    if (st == CG_OK && dev == CG_CUDA)
        st = cg_pixelcnn_to_device(&s->m, dev, err, len);
    return st;
}

static cg_status sample(void *self, const void *settings, const cg_sample_opts *o,
                        cg_samples *out, char *err, size_t len)
{
    pcnn_sampler *s = self;
    int S = (int)((const pcnn_sample_flags *)settings)->size;
    int64_t n = o->n;
    out->x = malloc(sizeof(real) * (size_t)(n * S * S));
    if (!out->x) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    double t0 = cg_monotonic_seconds();
    cg_status st = cg_pixelcnn_sample(&s->m, (int)n, S, o->seed, CG_SAMPLE_STREAM, out->x, err,
                                      len);
    if (st != CG_OK)
        return st;
    const cg_pixelcnn_arch *a = &s->m.a;
    out->n = n, out->c = 1, out->h = out->w = S, out->per_row = CG_SAMPLE_PER_ROW;
    snprintf(out->what, sizeof out->what, "%lld samples of a %dx%d PixelCNN (%s, h %d, %d "
             "blocks) from %s, seed %llu: %d forward passes, %.1f s on the %s",
             (long long)n, S, S, a->levels == 2 ? "binary" : "256 levels", a->hidden,
             a->blocks, o->path, (unsigned long long)o->seed, S * S,
             cg_monotonic_seconds() - t0, s->m.p.dev == CG_CUDA ? "GPU" : "CPU");
    return CG_OK;
}

static cg_status generate(void *self, const void *settings, int64_t n, uint64_t seed,
                          cg_image_set *out, char *err, size_t len)
{
    pcnn_sampler *s = self;
    int S = (int)((const pcnn_sample_flags *)settings)->size;
    out->x = malloc(sizeof(real) * (size_t)(n * S * S));
    if (!out->x) {
        snprintf(err, len, "out of memory for %lld images", (long long)n);
        return CG_ERR_NOMEM;
    }
    out->n = n, out->c = 1, out->h = out->w = S;
    return cg_pixelcnn_sample(&s->m, (int)n, S, seed, SAMPLE_EVAL_STREAM, out->x, err, len);
}

static cg_status evaluate(void *self, const void *settings, const cg_eval_opts *o,
                          char *report, size_t rlen, char *err, size_t len)
{
    pcnn_sampler *s = self;
    cg_dataset ds;
    cg_status st = cg_dataset_open(&o->data, &ds, err, len);
    if (st != CG_OK)
        return st;
    double nats;
    int64_t count;
    st = cg_pixelcnn_evaluate(&s->m, &ds, o->n, &nats, &count, err, len);
    const cg_pixelcnn_arch *a = &s->m.a;
    if (st == CG_OK)
        snprintf(report, rlen, "%s, %lld images of %dx%d%s; PixelCNN (h %d, %d blocks) from "
                 "%s\n  NLL %.4f nats per image\n  %.5f bits per dimension\n", ds.name,
                 (long long)count, ds.height, ds.width,
                 a->levels == 2 ? ", binarized at 0.5" : ", 256 levels", a->hidden, a->blocks,
                 o->path, nats, cg_pixelcnn_bpd(nats, (int64_t)ds.height * ds.width));
    cg_dataset_free(&ds);
    return st;
}

static void free_sampler(void *self)
{
    pcnn_sampler *s = self;
    if (s->loaded)
        cg_pixelcnn_free(&s->m);
}

static const cg_flag flags[] = {
    {"size", CG_FLAG_INT, offsetof(pcnn_sample_flags, size), "28", 1, 256, "S",
     "side of the sampled images (the network is convolutional)", NULL},
};

static const cg_metric metrics[] = {
    {"nll", "PixelCNNs: the exact -log p(x) in nats per image on the test set", 1},
    {"bpd", "PixelCNNs: the same in bits per dimension", 1},
};

const cg_sampler cg_sampler_pixelcnn = {
    .a = "a PixelCNN", .these = "PixelCNNs", .models = "PixelCNNs",
    .recognise = recognise, .gpu = 1, .settings_size = sizeof(pcnn_sample_flags),
    .flags = flags, .nflags = 1, .state_size = sizeof(pcnn_sampler), .load = load,
    .sample = sample, .source_flags = flags, .nsource_flags = 1, .generate = generate,
    .metrics = metrics, .nmetrics = 2, .evaluate = evaluate, .free = free_sampler,
};
