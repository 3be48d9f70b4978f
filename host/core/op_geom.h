/*
 * op_geom.h: the geometry of one call of an op, as its front end (host/ops/)
 * works it out from the tensors' shapes and as both backends take it: the
 * CPU reference (host/cpu/) and the CUDA twins (kernels/). Plain structs of
 * sizes, host memory, passed by pointer.
 *
 * Not for: the arithmetic itself (the cpu_ headers, the .cu files), shape checks.
 */
#ifndef CUGEN_CORE_OP_GEOM_H
#define CUGEN_CORE_OP_GEOM_H

#include <stdint.h>

/* A convolution, the same fields for both directions: x is (N, Cin, H, W),
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
} cg_conv_geom;

/* How b of a broadcasting binary op maps onto a (cpu_broadcast.h says how it
 * is built): a's shape with neighbouring dims merged wherever b steps through
 * them the same way. */
typedef struct {
    int64_t n, nb;       /* elements of a (and of the output), of b */
    int64_t dim[4];      /* a's merged shape, padded with 1s on the left */
    int64_t bstride[4];  /* b's stride along dim[k]: 0 where broadcast; bstride[3] is 0 or 1 */
} cg_bcast;

/* Pooling: x (NC, H, W) -> y (NC, Ho, Wo), k x k windows every `stride`
 * pixels over x zero-padded by pad. */
typedef struct {
    int64_t NC;
    int H, W, Ho, Wo;
    int k, stride, pad;
    int count_include_pad;   /* average pooling: divide by k k (padding counted) */
} cg_pool_geom;

/* Resizing: x (NC, H, W) -> y (NC, Ho, Wo), any sizes */
typedef struct {
    int64_t NC;
    int H, W, Ho, Wo;
} cg_resize_geom;

#endif
