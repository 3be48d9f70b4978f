/*
 * im2col.c: patch matrices for the GEMM convolutions, their adjoint, the
 * channel-major repacking that lets one GEMM cover several images, and the
 * per-channel bias.
 *
 * Not for: the convolutions themselves (conv.c).
 */
#include <string.h>

#include "cpu/cpu_conv.h"

/* dst[0, n) = src[0, n), and +=. Written in blocks of fixed length because
 * gcc -O2 vectorizes only loops whose trip count it knows (and restrict
 * spares it the aliasing checks). The rows are short (a 28-wide image: 28
 * reals), millions of them a step: gcc would turn the copy into a call to
 * memmove, whose call costs more than the copy, unless told not to. */
#define NO_LIBC_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))

static inline NO_LIBC_CALLS void row_copy(real *restrict dst, const real *restrict src, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int t = 0; t < 8; t++)
            dst[i + t] = src[i + t];
    for (; i < n; i++)
        dst[i] = src[i];
}

static inline NO_LIBC_CALLS void row_add(real *restrict dst, const real *restrict src, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int t = 0; t < 8; t++)
            dst[i + t] += src[i + t];
    for (; i + 4 <= n; i += 4)
        for (int t = 0; t < 4; t++)
            dst[i + t] += src[i + t];
    for (; i < n; i++)
        dst[i] += src[i];
}

/* ---- phase planes ------------------------------------------------------------
 * Tap (ki, kj) of output pixel (oh, ow) reads xpad[oh s + ki][ow s + kj],
 * xpad being the image with ph zero rows above and below it and pw zero
 * columns left and right. Split xpad by row and
 * column phase: q[c][a][b] (Hq, Wq) holds xpad[i s + a][j s + b]. Then with
 * ki = di s + a, kj = dj s + b the tap reads q[c][a][b][oh + di][ow + dj]:
 * each row of the column matrix is an Ho x Wo window of one phase plane,
 * copied without bounds checks or strided loads. The split itself is one
 * strided pass over the image (k k / s^2 times smaller than the column
 * matrix). */

static void phase_dims(int H, int W, int kh, int kw, int stride, int ph, int pw, int Ho, int Wo,
                       int *Hq, int *Wq)
{
    /* rows the windows read, and rows that hold image pixels */
    int h = Ho + (kh - 1) / stride, w = Wo + (kw - 1) / stride;
    int hi = (H + ph + stride - 1) / stride, wi = (W + pw + stride - 1) / stride;
    *Hq = h > hi ? h : hi;
    *Wq = w > wi ? w : wi;
}

int64_t cpu_im2col_work(int C, int H, int W, int kh, int kw, int stride, int ph, int pw, int Ho,
                        int Wo)
{
    int Hq, Wq;
    phase_dims(H, W, kh, kw, stride, ph, pw, Ho, Wo, &Hq, &Wq);
    return (int64_t)C * stride * stride * Hq * Wq;
}

/* q (C, s, s, Hq, Wq) <- phase planes of img (C, H, W), padded by ph rows
 * and pw columns */
static NO_LIBC_CALLS void phase_split(real *q, const real *img, int C, int H, int W, int s, int ph, int pw,
                        int Hq, int Wq)
{
    for (int c = 0; c < C; c++) {
        const real *plane = img + (int64_t)c * H * W;
        for (int a = 0; a < s; a++) {
            for (int b = 0; b < s; b++) {
                real *Q = q + ((int64_t)(c * s + a) * s + b) * Hq * Wq;
                /* columns j with 0 <= j s + b - pw < W: [j0, j1) */
                int lo = pw - b, hi = W - 1 + pw - b;
                int j0 = lo <= 0 ? 0 : (lo + s - 1) / s;
                int j1 = hi < 0 ? 0 : hi / s + 1;
                j1 = j1 < Wq ? j1 : Wq;
                j0 = j0 < j1 ? j0 : j1;
                for (int i = 0; i < Hq; i++) {
                    real *r = Q + (int64_t)i * Wq;
                    int h = i * s + a - ph;
                    if (h < 0 || h >= H) {
                        memset(r, 0, sizeof(real) * (size_t)Wq);
                        continue;
                    }
                    const real *src = plane + (int64_t)h * W;  /* r[j] = src[j s + off] */
                    int off = b - pw;
                    for (int j = 0; j < j0; j++)
                        r[j] = 0;
                    if (s == 1)   /* rows are short (28 reals): inline, not memcpy */
                        row_copy(r + j0, src + j0 + off, j1 - j0);
                    else
                        for (int j = j0; j < j1; j++)
                            r[j] = src[j * s + off];
                    for (int j = j1; j < Wq; j++)
                        r[j] = 0;
                }
            }
        }
    }
}

/* img (C, H, W) = the image pixels of the phase planes q (the padding ones
 * are dropped) */
static void phase_merge(real *img, const real *q, int C, int H, int W, int s, int ph, int pw,
                        int Hq, int Wq)
{
    for (int c = 0; c < C; c++) {
        for (int h = 0; h < H; h++) {
            int a = (h + ph) % s, i = (h + ph) / s;
            real *dst = img + ((int64_t)c * H + h) * W;
            for (int b = 0; b < s; b++) {
                const real *r = q + (((int64_t)(c * s + a) * s + b) * Hq + i) * Wq;
                /* this phase's columns: w = j s + b - pw from the first w >= 0 */
                int j0 = (b >= pw) ? 0 : (pw - b + s - 1) / s;
                for (int j = j0, w = j0 * s + b - pw; w < W; j++, w += s)
                    dst[w] = r[j];
            }
        }
    }
}

NO_LIBC_CALLS void cpu_im2col(real *col, int64_t ld, const real *img, real *work, int C, int H, int W, int kh,
                int kw, int stride, int ph, int pw, int Ho, int Wo)
{
    int Hq, Wq, s = stride;
    phase_dims(H, W, kh, kw, s, ph, pw, Ho, Wo, &Hq, &Wq);
    phase_split(work, img, C, H, W, s, ph, pw, Hq, Wq);
    for (int c = 0; c < C; c++) {
        for (int ki = 0; ki < kh; ki++) {
            for (int kj = 0; kj < kw; kj++) {
                const real *Q = work + ((int64_t)(c * s + ki % s) * s + kj % s) * Hq * Wq +
                                (int64_t)(ki / s) * Wq + kj / s;
                real *row = col + ((int64_t)(c * kh + ki) * kw + kj) * ld;
                for (int oh = 0; oh < Ho; oh++)
                    row_copy(row + (int64_t)oh * Wo, Q + (int64_t)oh * Wq, Wo);
            }
        }
    }
}

NO_LIBC_CALLS void cpu_col2im(real *img, const real *col, int64_t ld, real *work, int C, int H, int W, int kh,
                int kw, int stride, int ph, int pw, int Ho, int Wo)
{
    int Hq, Wq, s = stride;
    phase_dims(H, W, kh, kw, s, ph, pw, Ho, Wo, &Hq, &Wq);
    memset(work, 0, sizeof(real) * (size_t)cpu_im2col_work(C, H, W, kh, kw, s, ph, pw, Ho, Wo));
    for (int c = 0; c < C; c++) {
        for (int ki = 0; ki < kh; ki++) {
            for (int kj = 0; kj < kw; kj++) {
                real *Q = work + ((int64_t)(c * s + ki % s) * s + kj % s) * Hq * Wq +
                          (int64_t)(ki / s) * Wq + kj / s;
                const real *row = col + ((int64_t)(c * kh + ki) * kw + kj) * ld;
                for (int oh = 0; oh < Ho; oh++)
                    row_add(Q + (int64_t)oh * Wq, row + (int64_t)oh * Wo, Wo);
            }
        }
    }
    phase_merge(img, work, C, H, W, s, ph, pw, Hq, Wq);
}

/* ---- padded grids (cpu_conv.h) -------------------------------------------------- */

/* dst[0, n) = 0 */
static inline NO_LIBC_CALLS void row_zero(real *restrict dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = 0;
}

/* each channel's row in one pass: zeros up to a run, the run, ... */
NO_LIBC_CALLS void cpu_pack_grid(real *dst, int64_t ld, const real *src, int nb, int C, int H,
                                 int W, int Wq, int64_t P, int64_t off)
{
    for (int c = 0; c < C; c++) {
        real *row = dst + c * ld;
        int64_t z = 0;  /* row[0, z) written */
        for (int j = 0; j < nb; j++) {
            const real *s = src + ((int64_t)j * C + c) * H * W;
            for (int h = 0; h < H; h++) {
                int64_t at = j * P + off + (int64_t)h * Wq;
                row_zero(row + z, at - z);
                row_copy(row + at, s + (int64_t)h * W, W);
                z = at + W;
            }
        }
        row_zero(row + z, ld - z);
    }
}

NO_LIBC_CALLS void cpu_unpack_grid(real *dst, const real *src, int64_t ld, int nb, int C, int H,
                                   int W, int Wq, int64_t P, int64_t off, const real *b)
{
    for (int j = 0; j < nb; j++)
        for (int c = 0; c < C; c++) {
            real *d = dst + ((int64_t)j * C + c) * H * W;
            const real *s = src + c * ld + j * P + off;
            if (b) {
                real v = b[c];
                for (int h = 0; h < H; h++)
                    for (int w = 0; w < W; w++)
                        d[(int64_t)h * W + w] = s[(int64_t)h * Wq + w] + v;
            } else {
                for (int h = 0; h < H; h++)
                    row_copy(d + (int64_t)h * W, s + (int64_t)h * Wq, W);
            }
        }
}

void cpu_pack_cn(real *dst, const real *src, int nb, int C, int64_t P)
{
    for (int c = 0; c < C; c++)
        for (int j = 0; j < nb; j++)
            memcpy(dst + ((int64_t)c * nb + j) * P, src + ((int64_t)j * C + c) * P,
                   sizeof(real) * (size_t)P);
}

void cpu_unpack_cn(real *dst, const real *src, int nb, int C, int64_t P)
{
    for (int j = 0; j < nb; j++)
        for (int c = 0; c < C; c++)
            memcpy(dst + ((int64_t)j * C + c) * P, src + ((int64_t)c * nb + j) * P,
                   sizeof(real) * (size_t)P);
}

void cpu_add_channel_bias(real *y, const real *b, int N, int C, int64_t P)
{
    for (int n = 0; n < N; n++) {
        for (int c = 0; c < C; c++) {
            real *p = y + ((int64_t)n * C + c) * P;
            real v = b[c];
            for (int64_t i = 0; i < P; i++)
                p[i] += v;
        }
    }
}

/* Sums in double in 8 interleaved lanes (lane t takes i = t mod 8), which
 * vectorises where one running sum would not; the lanes are added last. */
void cpu_channel_bias_grad(real *db, const real *dy, int N, int C, int64_t P)
{
    for (int c = 0; c < C; c++) {
        double lane[8] = {0};
        for (int n = 0; n < N; n++) {
            const real *p = dy + ((int64_t)n * C + c) * P;
            int64_t i = 0;
            for (; i + 8 <= P; i += 8)
                for (int t = 0; t < 8; t++)
                    lane[t] += p[i + t];
            for (; i < P; i++)
                lane[i % 8] += p[i];
        }
        double s = 0;
        for (int t = 0; t < 8; t++)
            s += lane[t];
        db[c] += (real)s;
    }
}
