/*
 * pool_impl.h: one output value (forward) or one input gradient (backward)
 * of max pooling, average pooling and bilinear resizing, as inline
 * functions shared by the CPU reference (host/cpu/pool.c) and its CUDA
 * twin (kernels/pool.cu), so the two compute the same sums in the same
 * order (in double) and agree bit for bit.
 *
 * The backward passes are gathers: each input pixel sums the gradients of
 * the outputs that read it, so no two threads write one place (no atomics)
 * and the order of the sum is fixed.
 *
 * Not for: loops over planes (pool.c, pool.cu), shape checks (host/ops/pool.c).
 */
#ifndef CUGEN_POOL_IMPL_H
#define CUGEN_POOL_IMPL_H

#include <math.h>
#include <stdint.h>

#include "cpu/cpu_pool.h"

#ifdef __CUDACC__
#define POOL_HD static inline __host__ __device__
#else
#define POOL_HD static inline
#endif

/* Outputs o of a window (k, s, p) that cover input index i: [*lo, *hi). */
POOL_HD void pool_cover(int i, int k, int s, int p, int n_out, int *lo, int *hi)
{
    /* o s - p <= i <= o s - p + k - 1 */
    int a = i + p - k + 1;
    int l = a <= 0 ? 0 : (a + s - 1) / s;
    int h = (i + p) / s + 1;
    *lo = l;
    *hi = h < n_out ? h : n_out;
}

/* rows [r0, r1) and columns [c0, c1) of a plane */
typedef struct {
    int r0, r1, c0, c1;
} pool_rect;

/* the window of output (oh, ow) within the H x W input (the padding cut off) */
POOL_HD pool_rect pool_window(const cg_pool_geom *d, int oh, int ow)
{
    int h0 = oh * d->stride - d->pad, w0 = ow * d->stride - d->pad;
    pool_rect r;
    r.r0 = h0 < 0 ? 0 : h0;
    r.r1 = h0 + d->k < d->H ? h0 + d->k : d->H;
    r.c0 = w0 < 0 ? 0 : w0;
    r.c1 = w0 + d->k < d->W ? w0 + d->k : d->W;
    return r;
}

/* the outputs (oh, ow) whose windows hold input (i, j) */
POOL_HD pool_rect pool_covering(const cg_pool_geom *d, int i, int j)
{
    pool_rect r;
    pool_cover(i, d->k, d->stride, d->pad, d->Ho, &r.r0, &r.r1);
    pool_cover(j, d->k, d->stride, d->pad, d->Wo, &r.c0, &r.c1);
    return r;
}

/* Row-major index (in the H x W plane) of the first largest element of
 * output (oh, ow)'s window; a NaN wins (propagates) like PyTorch's. */
POOL_HD int maxpool_argmax(const real *x, const cg_pool_geom *d, int oh, int ow)
{
    pool_rect r = pool_window(d, oh, ow);
    int W = d->W, best = r.r0 * W + r.c0;
    real m = x[best];
    if (m != m)
        return best;
    for (int i = r.r0; i < r.r1; i++)
        for (int j = r.c0; j < r.c1; j++) {
            real v = x[i * W + j];
            if (v > m || v != v) {
                best = i * W + j;
                m = v;
                if (v != v)
                    return best;
            }
        }
    return best;
}

/* The value at maxpool_argmax without the index (the forward pass): the
 * same element, a NaN winning from the first one on. */
POOL_HD real maxpool_fwd_at(const real *x, const cg_pool_geom *d, int oh, int ow)
{
    pool_rect r = pool_window(d, oh, ow);
    real m = x[r.r0 * d->W + r.c0];
    for (int i = r.r0; i < r.r1; i++)
        for (int j = r.c0; j < r.c1; j++) {
            real v = x[i * d->W + j];
            m = (v > m || v != v) && m == m ? v : m;
        }
    return m;
}

/* dx at input (i, j) of one plane: dy summed over the windows whose max it is */
POOL_HD real maxpool_bwd_at(const real *dy, const real *x, const cg_pool_geom *d, int i, int j)
{
    pool_rect o = pool_covering(d, i, j);
    double s = 0;
    for (int oh = o.r0; oh < o.r1; oh++)
        for (int ow = o.c0; ow < o.c1; ow++)
            if (maxpool_argmax(x, d, oh, ow) == i * d->W + j)
                s += dy[oh * d->Wo + ow];
    return (real)s;
}

/* The divisor of output (oh, ow): the window's size within the padded image
 * (count_include_pad) or its count of real pixels. */
POOL_HD int avgpool_count(const cg_pool_geom *d, int oh, int ow)
{
    if (d->count_include_pad) {
        int h0 = oh * d->stride - d->pad, w0 = ow * d->stride - d->pad;
        int h1 = h0 + d->k, w1 = w0 + d->k;
        int hp = d->H + d->pad, wp = d->W + d->pad;
        return ((h1 < hp ? h1 : hp) - h0) * ((w1 < wp ? w1 : wp) - w0);
    }
    pool_rect r = pool_window(d, oh, ow);
    return (r.r1 - r.r0) * (r.c1 - r.c0);
}

POOL_HD real avgpool_fwd_at(const real *x, const cg_pool_geom *d, int oh, int ow)
{
    pool_rect r = pool_window(d, oh, ow);
    double s = 0;
    for (int i = r.r0; i < r.r1; i++)
        for (int j = r.c0; j < r.c1; j++)
            s += x[i * d->W + j];
    return (real)(s / avgpool_count(d, oh, ow));
}

POOL_HD real avgpool_bwd_at(const real *dy, const cg_pool_geom *d, int i, int j)
{
    pool_rect o = pool_covering(d, i, j);
    double s = 0;
    for (int oh = o.r0; oh < o.r1; oh++)
        for (int ow = o.c0; ow < o.c1; ow++)
            s += (double)dy[oh * d->Wo + ow] / avgpool_count(d, oh, ow);
    return (real)s;
}

/* ---- bilinear, align_corners = False -------------------------------------------
 * Output index o of n_out reads the input (n_in) at src = (o + 0.5) n_in /
 * n_out - 0.5, clamped below at 0: i0 = floor(src), i1 = min(i0 + 1,
 * n_in - 1), weights 1 - t and t with t = src - i0. */
POOL_HD void bilinear_src(int o, int n_in, int n_out, int *i0, int *i1, double *t)
{
    double src = (o + 0.5) * ((double)n_in / n_out) - 0.5;
    if (src < 0)
        src = 0;
    int a = (int)src;
    if (a > n_in - 1)
        a = n_in - 1;
    *i0 = a;
    *i1 = a + 1 < n_in ? a + 1 : n_in - 1;
    *t = src - a;
}

POOL_HD real bilinear_fwd_at(const real *x, const cg_resize_geom *d, int oh, int ow)
{
    int h0, h1, w0, w1;
    double th, tw;
    bilinear_src(oh, d->H, d->Ho, &h0, &h1, &th);
    bilinear_src(ow, d->W, d->Wo, &w0, &w1, &tw);
    const real *r0 = x + (int64_t)h0 * d->W, *r1 = x + (int64_t)h1 * d->W;
    double top = (1 - tw) * r0[w0] + tw * r0[w1];
    double bot = (1 - tw) * r1[w0] + tw * r1[w1];
    return (real)((1 - th) * top + th * bot);
}

/* The weight with which output o reads input i on one axis (0 if it does not). */
POOL_HD double bilinear_weight(int o, int i, int n_in, int n_out)
{
    int i0, i1;
    double t;
    bilinear_src(o, n_in, n_out, &i0, &i1, &t);
    return (i0 == i ? 1 - t : 0) + (i1 == i ? t : 0);
}

/* Outputs that may read input i on one axis: [*lo, *hi) (a superset; the
 * weights say which do). */
POOL_HD void bilinear_cover(int i, int n_in, int n_out, int *lo, int *hi)
{
    double r = (double)n_out / n_in;
    int l = (int)floor((i - 0.5) * r - 0.5) - 1;
    int h = (int)ceil((i + 1.5) * r - 0.5) + 2;
    *lo = l < 0 ? 0 : l;
    *hi = h < n_out ? h : n_out;
}

POOL_HD real bilinear_bwd_at(const real *dy, const cg_resize_geom *d, int i, int j)
{
    int l0, l1, m0, m1;
    bilinear_cover(i, d->H, d->Ho, &l0, &l1);
    bilinear_cover(j, d->W, d->Wo, &m0, &m1);
    double s = 0;
    for (int oh = l0; oh < l1; oh++) {
        double a = bilinear_weight(oh, i, d->H, d->Ho);
        if (a == 0)
            continue;
        double row = 0;
        for (int ow = m0; ow < m1; ow++) {
            double b = bilinear_weight(ow, j, d->W, d->Wo);
            if (b != 0)
                row += b * dy[(int64_t)oh * d->Wo + ow];
        }
        s += a * row;
    }
    return (real)s;
}

#endif
