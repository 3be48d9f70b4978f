/*
 * resize.c: antialiased bilinear resampling of uint8 images (see data.h).
 *
 * Separable: rows first into a float buffer, then columns. For an output
 * coordinate i the source centre is (i + 0.5) * scale; the triangle filter
 * has radius max(scale, 1) source pixels, so shrinking averages every source
 * pixel under the output pixel instead of skipping most of them (aliasing).
 */
#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "cugen/data.h"

typedef struct {
    int *first, *count;  /* per output index: first source index, taps */
    float *w;            /* per output index: `taps` weights, normalised */
    int taps;
} resample_plan;

static int plan_make(resample_plan *p, int in, int out)
{
    double scale = (double)in / out;
    double support = scale > 1 ? scale : 1.0;  /* filter radius in source pixels */
    p->taps = (int)ceil(support) * 2 + 1;
    p->first = malloc(sizeof(int) * (size_t)out);
    p->count = malloc(sizeof(int) * (size_t)out);
    p->w = malloc(sizeof(float) * (size_t)out * (size_t)p->taps);
    if (!p->first || !p->count || !p->w)
        return 0;
    for (int i = 0; i < out; i++) {
        double centre = (i + 0.5) * scale;
        int lo = (int)floor(centre - support + 0.5), hi = (int)floor(centre + support + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > in)
            hi = in;
        if (hi - lo > p->taps)
            hi = lo + p->taps;
        int n = hi - lo;
        float *w = p->w + (size_t)i * p->taps;
        double sum = 0;
        for (int j = 0; j < n; j++) {
            double x = fabs((lo + j + 0.5 - centre) / support);
            sum += x < 1 ? 1 - x : 0;
        }
        for (int j = 0; j < n; j++) {
            double x = fabs((lo + j + 0.5 - centre) / support);
            w[j] = (float)(sum > 0 ? (x < 1 ? 1 - x : 0) / sum : 1.0 / n);
        }
        p->first[i] = lo;
        p->count[i] = n;
    }
    return 1;
}

static void plan_free(resample_plan *p)
{
    free(p->first);
    free(p->count);
    free(p->w);
}

static uint8_t to_u8(float v)
{
    v = roundf(v);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

void cg_resize_u8(const uint8_t *src, int C, int H, int W, uint8_t *dst, int H2, int W2)
{
    resample_plan ph = {0}, pv = {0};
    /* tmp: the row pass (H, W2), then one output row of accumulators */
    float *tmp = malloc(sizeof(float) * ((size_t)H + 1) * (size_t)W2);
    if (!tmp || !plan_make(&ph, W, W2) || !plan_make(&pv, H, H2)) {
        /* out of memory: nearest neighbour needs nothing */
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H2; y++)
                for (int x = 0; x < W2; x++)
                    dst[((size_t)c * H2 + y) * W2 + x] =
                        src[((size_t)c * H + (size_t)y * H / H2) * W + (size_t)x * W / W2];
        free(tmp);
        plan_free(&ph);
        plan_free(&pv);
        return;
    }
    for (int c = 0; c < C; c++) {
        const uint8_t *s = src + (size_t)c * H * W;
        uint8_t *d = dst + (size_t)c * H2 * W2;
        for (int y = 0; y < H; y++)          /* rows: (H, W) -> (H, W2) */
            for (int x = 0; x < W2; x++) {
                const float *w = ph.w + (size_t)x * ph.taps;
                const uint8_t *row = s + (size_t)y * W + ph.first[x];
                float acc = 0;
                for (int j = 0; j < ph.count[x]; j++)
                    acc += w[j] * row[j];
                tmp[(size_t)y * W2 + x] = acc;
            }
        float *acc = tmp + (size_t)H * W2;
        for (int y = 0; y < H2; y++) {       /* columns: (H, W2) -> (H2, W2), row-wise */
            const float *w = pv.w + (size_t)y * pv.taps;
            for (int x = 0; x < W2; x++)
                acc[x] = 0;
            for (int j = 0; j < pv.count[y]; j++) {
                const float *trow = tmp + (size_t)(pv.first[y] + j) * W2;
                for (int x = 0; x < W2; x++)
                    acc[x] += w[j] * trow[x];
            }
            for (int x = 0; x < W2; x++)
                d[(size_t)y * W2 + x] = to_u8(acc[x]);
        }
    }
    free(tmp);
    plan_free(&ph);
    plan_free(&pv);
}

void cg_dataset_free(cg_dataset *d)
{
    free(d->owned_pixels);
    free(d->owned_labels);
    if (d->map)
        munmap(d->map, d->map_len);
    d->pixels = NULL;
    d->labels = NULL;
    d->owned_pixels = d->owned_labels = d->map = NULL;
    d->map_len = 0;
}

cg_status cg_resize_images(const real *x, int64_t n, int C, int H, int W, real *out, int H2,
                           int W2)
{
    int64_t P = (int64_t)C * H * W, Q = (int64_t)C * H2 * W2;
    uint8_t *a = malloc((size_t)P), *b = malloc((size_t)Q);
    if (!a || !b) {
        free(a), free(b);
        return CG_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++) {
        for (int64_t p = 0; p < P; p++) {
            double v = x[i * P + p];
            v = v < -1 ? -1 : v > 1 ? 1 : v;
            a[p] = (uint8_t)floor((v + 1) * 127.5 + 0.5);
        }
        cg_resize_u8(a, C, H, W, b, H2, W2);
        for (int64_t q = 0; q < Q; q++)
            out[i * Q + q] = (real)(b[q] / 127.5 - 1);
    }
    free(a), free(b);
    return CG_OK;
}
