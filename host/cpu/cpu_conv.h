/*
 * cpu_conv.h: reference 2-D convolution and transposed convolution (im2col +
 * GEMM), and the im2col / col2im building blocks they share.
 *
 * Argument order: outputs, inputs, weights, scratch, geometry. Backward
 * writes dx (=) and accumulates dw, db (+=); a NULL gradient pointer skips
 * that work. Scratch is caller-owned memory (the step arena) of at least
 * cpu_conv2d_scratch / cpu_conv_transpose2d_scratch reals; nothing here
 * allocates. The batch is split between the CPU threads (cpu_parallel.h).
 *
 * Not for: shape checks (host/ops/conv.c), pooling and upsampling
 * (cpu_resample.h).
 */
#ifndef CUGEN_CPU_CONV_H
#define CUGEN_CPU_CONV_H

#include <stdint.h>

#include "cugen/tensor.h"

/* One call's geometry, the same fields for both ops: x is (N, Cin, H, W),
 * y is (N, Cout, Ho, Wo), the kernel kh x kw, ph zero rows padded above and
 * below, pw zero columns left and right.
 *   conv2d:           w (Cout, Cin, kh, kw), Ho = (H + 2 ph - kh) / stride + 1,
 *                     Wo = (W + 2 pw - kw) / stride + 1
 *   conv_transpose2d: w (Cin, Cout, k, k), Ho = (H - 1) stride - 2 pad + k
 *                     (square: kh = kw = k, ph = pw = pad) */
typedef struct {
    int N, Cin, H, W;
    int Cout, Ho, Wo;
    int kh, kw, stride, ph, pw;
} cpu_conv_dims;

/* Scratch reals needed by fwd (bwd = 0) or by bwd (bwd = 1). */
int64_t cpu_conv2d_scratch(const cpu_conv_dims *d, int bwd);
void cpu_conv2d_fwd(real *y, const real *x, const real *w, const real *b, real *scratch,
                    const cpu_conv_dims *d);
void cpu_conv2d_bwd(real *dx, real *dw, real *db, const real *dy, const real *x,
                    const real *w, real *scratch, const cpu_conv_dims *d);

int64_t cpu_conv_transpose2d_scratch(const cpu_conv_dims *d, int bwd);
void cpu_conv_transpose2d_fwd(real *y, const real *x, const real *w, const real *b,
                              real *scratch, const cpu_conv_dims *d);
void cpu_conv_transpose2d_bwd(real *dx, real *dw, real *db, const real *dy, const real *x,
                              const real *w, real *scratch, const cpu_conv_dims *d);

/* ---- building blocks (im2col.c) --------------------------------------------
 * A column matrix holds one kh x kw patch of img (C, H, W) per output
 * position of an Ho x Wo grid (stride, padding ph rows and pw columns): row
 * (c, ki, kj), column (oh, ow), so it is (C kh kw, Ho Wo); ld is the distance between its rows (>= Ho Wo, so that
 * several images can sit side by side). `work` is scratch of
 * cpu_im2col_work reals (the image split into zero-padded stride phases). */
int64_t cpu_im2col_work(int C, int H, int W, int kh, int kw, int stride, int ph, int pw, int Ho,
                        int Wo);
void cpu_im2col(real *col, int64_t ld, const real *img, real *work, int C, int H, int W, int kh,
                int kw, int stride, int ph, int pw, int Ho, int Wo);
/* img (C, H, W) = the sum of col's patches put back in place (written, not
 * accumulated); the adjoint of cpu_im2col. */
void cpu_col2im(real *img, const real *col, int64_t ld, real *work, int C, int H, int W, int kh,
                int kw, int stride, int ph, int pw, int Ho, int Wo);
/* Stride 1, the "wide" column matrix: the output grid is taken Wq = Wo + kw
 * - 1 columns wide (the padded image's width), so that row (c, ki, kj) is
 * one contiguous run of the padded plane (Ho Wq reals from (ki, kj)) instead
 * of Ho runs of Wo. Columns ow >= Wo are junk: they read past a row's end
 * (or, at the last row, into cpu_im2col_wide_work's zeroed tail), and
 * outputs computed there are dropped (cpu_unpack_crop); gradients arriving
 * there must be zero (cpu_pack_wide), which makes cpu_col2im_wide exact. */
int64_t cpu_im2col_wide_work(int C, int H, int W, int kh, int kw, int ph, int pw, int Ho,
                             int Wo);
void cpu_im2col_wide(real *col, int64_t ld, const real *img, real *work, int C, int H, int W,
                     int kh, int kw, int ph, int pw, int Ho, int Wo);
void cpu_col2im_wide(real *img, const real *col, int64_t ld, real *work, int C, int H, int W,
                     int kh, int kw, int ph, int pw, int Ho, int Wo);
/* dst (C, nb Ho Wq) <- src (nb, C, Ho, Wo), the junk columns zero */
void cpu_pack_wide(real *dst, const real *src, int nb, int C, int Ho, int Wo, int Wq);
/* dst (nb, C, Ho, Wo) <- src (C, nb Ho Wq), the junk columns dropped */
void cpu_unpack_crop(real *dst, const real *src, int nb, int C, int Ho, int Wo, int Wq);
/* dst (C, nb P) <- src (nb, C, P): channel-major, images side by side. */
void cpu_pack_cn(real *dst, const real *src, int nb, int C, int64_t P);
/* dst (nb, C, P) <- src (C, nb P) */
void cpu_unpack_cn(real *dst, const real *src, int nb, int C, int64_t P);
/* y (N, C, P) += b (C) */
void cpu_add_channel_bias(real *y, const real *b, int N, int C, int64_t P);
/* db (C) += sum over N and P of dy (N, C, P), accumulated in double */
void cpu_channel_bias_grad(real *db, const real *dy, int N, int C, int64_t P);

#endif
