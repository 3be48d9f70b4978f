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

#include "core/op_geom.h"
#include "cugen/tensor.h"

/* One call's geometry: cg_conv_geom (core/op_geom.h). The older name is
 * kept for the benchmark command. */
typedef cg_conv_geom cpu_conv_dims;

/* Scratch reals needed by fwd (bwd = 0) or by bwd (bwd = 1). */
int64_t cpu_conv2d_scratch(const cg_conv_geom *d, int bwd);
void cpu_conv2d_fwd(real *y, const real *x, const real *w, const real *b, real *scratch,
                    const cg_conv_geom *d);
/* x is read only for dw, w only for dx (either may be NULL when not). */
void cpu_conv2d_bwd(real *dx, real *dw, real *db, const real *dy, const real *x,
                    const real *w, real *scratch, const cg_conv_geom *d);

int64_t cpu_conv_transpose2d_scratch(const cg_conv_geom *d, int bwd);
void cpu_conv_transpose2d_fwd(real *y, const real *x, const real *w, const real *b,
                              real *scratch, const cg_conv_geom *d);
void cpu_conv_transpose2d_bwd(real *dx, real *dw, real *db, const real *dy, const real *x,
                              const real *w, real *scratch, const cg_conv_geom *d);

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
/* The padded grids of conv2d's shifted GEMMs (conv.c): dst (C, ld) <- src
 * (nb, C, H, W), image j's row h at column j P + off + h Wq, every other
 * column of dst zero; and back, dst (nb, C, H, W) <- those columns of src,
 * plus b (C) when not NULL. */
void cpu_pack_grid(real *dst, int64_t ld, const real *src, int nb, int C, int H, int W, int Wq,
                   int64_t P, int64_t off);
void cpu_unpack_grid(real *dst, const real *src, int64_t ld, int nb, int C, int H, int W, int Wq,
                     int64_t P, int64_t off, const real *b);
/* dst (C, nb P) <- src (nb, C, P): channel-major, images side by side. */
void cpu_pack_cn(real *dst, const real *src, int nb, int C, int64_t P);
/* dst (nb, C, P) <- src (C, nb P) */
void cpu_unpack_cn(real *dst, const real *src, int nb, int C, int64_t P);
/* y (N, C, P) += b (C) */
void cpu_add_channel_bias(real *y, const real *b, int N, int C, int64_t P);
/* db (C) += sum over N and P of dy (N, C, P), accumulated in double */
void cpu_channel_bias_grad(real *db, const real *dy, int N, int C, int64_t P);

#endif
