/*
 * im2col.c: patch matrices for the GEMM convolutions, their adjoint, the
 * channel-major repacking that lets one GEMM cover several images, and the
 * per-channel bias.
 *
 * Not for: the convolutions themselves (conv.c).
 */
#include <string.h>

#include "cpu/cpu_conv.h"

/* Output columns ow whose input column iw = ow stride - pad + kj lies in
 * [0, W): the range [*ow0, *ow1). */
static void valid_range(int W, int kj, int stride, int pad, int Wo, int *ow0, int *ow1)
{
    int lo = pad - kj;               /* need ow stride >= lo */
    int a = lo <= 0 ? 0 : (lo + stride - 1) / stride;
    int hi = W - 1 + pad - kj;       /* need ow stride <= hi */
    int b = hi < 0 ? 0 : hi / stride + 1;
    if (b > Wo)
        b = Wo;
    if (a > b)
        a = b;
    *ow0 = a;
    *ow1 = b;
}

void cpu_im2col(real *col, int64_t ld, const real *img, int C, int H, int W, int k,
                int stride, int pad, int Ho, int Wo)
{
    for (int c = 0; c < C; c++) {
        const real *plane = img + (int64_t)c * H * W;
        for (int ki = 0; ki < k; ki++) {
            for (int kj = 0; kj < k; kj++) {
                real *row = col + ((int64_t)(c * k + ki) * k + kj) * ld;
                int ow0, ow1;
                valid_range(W, kj, stride, pad, Wo, &ow0, &ow1);
                for (int oh = 0; oh < Ho; oh++) {
                    real *r = row + (int64_t)oh * Wo;
                    int ih = oh * stride - pad + ki;
                    if (ih < 0 || ih >= H) {
                        memset(r, 0, sizeof(real) * (size_t)Wo);
                        continue;
                    }
                    /* r[ow] = src[ow stride - pad + kj] for ow in [ow0, ow1) */
                    const real *src = plane + (int64_t)ih * W;
                    int off = kj - pad;
                    for (int ow = 0; ow < ow0; ow++)
                        r[ow] = 0;
                    if (stride == 1) {
                        memcpy(r + ow0, src + ow0 + off, sizeof(real) * (size_t)(ow1 - ow0));
                    } else if (stride == 2) {
                        for (int ow = ow0; ow < ow1; ow++)
                            r[ow] = src[2 * ow + off];
                    } else {
                        for (int ow = ow0; ow < ow1; ow++)
                            r[ow] = src[ow * stride + off];
                    }
                    for (int ow = ow1; ow < Wo; ow++)
                        r[ow] = 0;
                }
            }
        }
    }
}

void cpu_col2im(real *img, const real *col, int64_t ld, int C, int H, int W, int k,
                int stride, int pad, int Ho, int Wo)
{
    memset(img, 0, sizeof(real) * (size_t)C * (size_t)H * (size_t)W);
    for (int c = 0; c < C; c++) {
        real *plane = img + (int64_t)c * H * W;
        for (int ki = 0; ki < k; ki++) {
            for (int kj = 0; kj < k; kj++) {
                const real *row = col + ((int64_t)(c * k + ki) * k + kj) * ld;
                int ow0, ow1;
                valid_range(W, kj, stride, pad, Wo, &ow0, &ow1);
                for (int oh = 0; oh < Ho; oh++) {
                    int ih = oh * stride - pad + ki;
                    if (ih < 0 || ih >= H)
                        continue;
                    const real *r = row + (int64_t)oh * Wo;
                    real *dst = plane + (int64_t)ih * W;
                    int off = kj - pad;
                    if (stride == 1) {
                        for (int ow = ow0; ow < ow1; ow++)
                            dst[ow + off] += r[ow];
                    } else if (stride == 2) {
                        for (int ow = ow0; ow < ow1; ow++)
                            dst[2 * ow + off] += r[ow];
                    } else {
                        for (int ow = ow0; ow < ow1; ow++)
                            dst[ow * stride + off] += r[ow];
                    }
                }
            }
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

void cpu_channel_bias_grad(real *db, const real *dy, int N, int C, int64_t P)
{
    for (int c = 0; c < C; c++) {
        double s = 0;
        for (int n = 0; n < N; n++) {
            const real *p = dy + ((int64_t)n * C + c) * P;
            for (int64_t i = 0; i < P; i++)
                s += p[i];
        }
        db[c] += (real)s;
    }
}
