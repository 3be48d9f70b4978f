/*
 * conv.c: reference conv2d and conv_transpose2d as im2col / col2im + GEMM.
 *
 * conv2d, per image: col (Cin k k, Ho Wo) = im2col(x), y (Cout, Ho Wo) =
 * w (Cout, Cin k k) col. Backward: dw += dy col^T, dcol = w^T dy, dx =
 * col2im(dcol).
 *
 * conv_transpose2d is the adjoint of conv2d (its forward is conv2d's input
 * gradient): col (Cout k k, H W) = w^T (Cout k k, Cin) x (Cin, H W), y =
 * col2im(col) on the Ho x Wo image. Backward: col = im2col(dy), dx = w col,
 * dw += x col^T.
 *
 * Batching: images whose output grid is small (the 8x8 and 4x4 layers of a
 * DCGAN) give thin GEMMs, so `nb` images are put side by side in one column
 * matrix (C, nb P) and done in one GEMM; activations are repacked between
 * (nb, C, P) and (C, nb P) around it. A conv whose kernel covers its whole
 * unpadded input (DCGAN's 4x4 -> 1x1 and 1x1 -> 4x4 ends) is a plain matrix
 * product and skips im2col.
 *
 * Not for: shape checks (host/ops/conv.c).
 */
#include "cpu/cpu_conv.h"
#include "cpu/cpu_dense.h"
#include "cpu/cpu_gemm.h"

/* GEMM columns worth batching up to, and the most reals in a column matrix. */
#define CONV_MIN_COLS 1024
#define CONV_MAX_COL ((int64_t)1 << 22)

/* Images per GEMM for a column matrix of K rows and P columns per image,
 * spread evenly over the chunks. */
static int conv_chunk(int N, int64_t K, int64_t P)
{
    int64_t nb = P >= CONV_MIN_COLS ? 1 : (CONV_MIN_COLS + P - 1) / P;
    while (nb > 1 && K * nb * P > CONV_MAX_COL)
        nb--;
    if (nb > N)
        nb = N;
    int64_t chunks = (N + nb - 1) / nb;
    return (int)((N + chunks - 1) / chunks);
}

/* ---- conv2d ------------------------------------------------------------------ */

/* kernel == unpadded input: y (N, Cout) = x (N, Cin H W) w^T, a linear layer */
static int conv2d_is_dense(const cpu_conv_dims *d)
{
    return d->pad == 0 && d->k == d->H && d->k == d->W;
}

int64_t cpu_conv2d_scratch(const cpu_conv_dims *d)
{
    if (conv2d_is_dense(d))
        return 1;
    int64_t K = (int64_t)d->Cin * d->k * d->k, P = (int64_t)d->Ho * d->Wo;
    int nb = conv_chunk(d->N, K, P);
    return K * nb * P + (nb > 1 ? (int64_t)d->Cout * nb * P : 0);
}

/* x (N, Cin, H, W), w (Cout, Cin, k, k), b (Cout) or NULL -> y (N, Cout, Ho, Wo) */
void cpu_conv2d_fwd(real *y, const real *x, const real *w, const real *b, real *scratch,
                    const cpu_conv_dims *d)
{
    int K = d->Cin * d->k * d->k;
    if (conv2d_is_dense(d)) {
        cpu_linear_fwd(y, x, w, b, d->N, K, d->Cout);
        return;
    }
    int64_t P = (int64_t)d->Ho * d->Wo;
    int64_t xs = (int64_t)d->Cin * d->H * d->W, ys = (int64_t)d->Cout * P;
    int nb = conv_chunk(d->N, K, P);
    real *col = scratch;              /* (K, nb P) */
    real *yt = scratch + K * nb * P;  /* (Cout, nb P) */
    for (int n0 = 0; n0 < d->N; n0 += nb) {
        int m = d->N - n0 < nb ? d->N - n0 : nb;
        int ld = (int)(m * P);
        for (int j = 0; j < m; j++)
            cpu_im2col(col + j * P, ld, x + (n0 + j) * xs, d->Cin, d->H, d->W, d->k,
                       d->stride, d->pad, d->Ho, d->Wo);
        real *out = m == 1 ? y + n0 * ys : yt;
        cpu_gemm(0, 0, d->Cout, ld, K, 1, w, K, col, ld, 0, out, ld);
        if (m > 1)
            cpu_unpack_cn(y + n0 * ys, yt, m, d->Cout, P);
    }
    if (b)
        cpu_add_channel_bias(y, b, d->N, d->Cout, P);
}

/* dy (N, Cout, Ho, Wo) -> dx (N, Cin, H, W) =, dw (Cout, Cin, k, k) +=, db (Cout) += */
void cpu_conv2d_bwd(real *dx, real *dw, real *db, const real *dy, const real *x,
                    const real *w, real *scratch, const cpu_conv_dims *d)
{
    int K = d->Cin * d->k * d->k;
    if (conv2d_is_dense(d)) {
        cpu_linear_bwd(dx, dw, db, dy, x, w, d->N, K, d->Cout);
        return;
    }
    int64_t P = (int64_t)d->Ho * d->Wo;
    if (db)
        cpu_channel_bias_grad(db, dy, d->N, d->Cout, P);
    if (!dx && !dw)
        return;
    int64_t xs = (int64_t)d->Cin * d->H * d->W, ys = (int64_t)d->Cout * P;
    int nb = conv_chunk(d->N, K, P);
    real *col = scratch;               /* (K, nb P): im2col(x), then dcol */
    real *dyt = scratch + K * nb * P;  /* (Cout, nb P) */
    for (int n0 = 0; n0 < d->N; n0 += nb) {
        int m = d->N - n0 < nb ? d->N - n0 : nb;
        int ld = (int)(m * P);
        const real *g = dy + n0 * ys;
        if (m > 1) {
            cpu_pack_cn(dyt, g, m, d->Cout, P);
            g = dyt;
        }
        if (dw) {
            for (int j = 0; j < m; j++)
                cpu_im2col(col + j * P, ld, x + (n0 + j) * xs, d->Cin, d->H, d->W, d->k,
                           d->stride, d->pad, d->Ho, d->Wo);
            cpu_gemm(0, 1, d->Cout, K, ld, 1, g, ld, col, ld, 1, dw, K);
        }
        if (dx) {
            cpu_gemm(1, 0, K, ld, d->Cout, 1, w, K, g, ld, 0, col, ld);
            for (int j = 0; j < m; j++)
                cpu_col2im(dx + (n0 + j) * xs, col + j * P, ld, d->Cin, d->H, d->W, d->k,
                           d->stride, d->pad, d->Ho, d->Wo);
        }
    }
}

/* ---- conv_transpose2d ---------------------------------------------------------- */

/* 1x1 input, no padding: y (N, Cout k k) = x (N, Cin) w (Cin, Cout k k) */
static int convt_is_dense(const cpu_conv_dims *d)
{
    return d->pad == 0 && d->H == 1 && d->W == 1;
}

int64_t cpu_conv_transpose2d_scratch(const cpu_conv_dims *d)
{
    if (convt_is_dense(d))
        return 1;
    int64_t K = (int64_t)d->Cout * d->k * d->k, P = (int64_t)d->H * d->W;
    int nb = conv_chunk(d->N, K, P);
    return K * nb * P + (nb > 1 ? (int64_t)d->Cin * nb * P : 0);
}

/* x (N, Cin, H, W), w (Cin, Cout, k, k), b (Cout) or NULL -> y (N, Cout, Ho, Wo) */
void cpu_conv_transpose2d_fwd(real *y, const real *x, const real *w, const real *b,
                              real *scratch, const cpu_conv_dims *d)
{
    int K = d->Cout * d->k * d->k;
    int64_t P = (int64_t)d->H * d->W, Po = (int64_t)d->Ho * d->Wo;
    if (convt_is_dense(d)) {
        cpu_gemm(0, 0, d->N, K, d->Cin, 1, x, d->Cin, w, K, 0, y, K);
    } else {
        int64_t xs = (int64_t)d->Cin * P, ys = (int64_t)d->Cout * Po;
        int nb = conv_chunk(d->N, K, P);
        real *col = scratch;              /* (Cout k k, nb H W) */
        real *xt = scratch + K * nb * P;  /* (Cin, nb H W) */
        for (int n0 = 0; n0 < d->N; n0 += nb) {
            int m = d->N - n0 < nb ? d->N - n0 : nb;
            int ld = (int)(m * P);
            const real *a = x + n0 * xs;
            if (m > 1) {
                cpu_pack_cn(xt, a, m, d->Cin, P);
                a = xt;
            }
            cpu_gemm(1, 0, K, ld, d->Cin, 1, w, K, a, ld, 0, col, ld);
            for (int j = 0; j < m; j++)
                cpu_col2im(y + (n0 + j) * ys, col + j * P, ld, d->Cout, d->Ho, d->Wo, d->k,
                           d->stride, d->pad, d->H, d->W);
        }
    }
    if (b)
        cpu_add_channel_bias(y, b, d->N, d->Cout, Po);
}

/* dy (N, Cout, Ho, Wo) -> dx (N, Cin, H, W) =, dw (Cin, Cout, k, k) +=, db (Cout) += */
void cpu_conv_transpose2d_bwd(real *dx, real *dw, real *db, const real *dy, const real *x,
                              const real *w, real *scratch, const cpu_conv_dims *d)
{
    int K = d->Cout * d->k * d->k;
    int64_t P = (int64_t)d->H * d->W, Po = (int64_t)d->Ho * d->Wo;
    if (db)
        cpu_channel_bias_grad(db, dy, d->N, d->Cout, Po);
    if (convt_is_dense(d)) {
        if (dx)  /* dx (N, Cin) = dy (N, K) w^T */
            cpu_gemm(0, 1, d->N, d->Cin, K, 1, dy, K, w, K, 0, dx, d->Cin);
        if (dw)  /* dw (Cin, K) += x^T (Cin, N) dy (N, K) */
            cpu_gemm(1, 0, d->Cin, K, d->N, 1, x, d->Cin, dy, K, 1, dw, K);
        return;
    }
    if (!dx && !dw)
        return;
    int64_t xs = (int64_t)d->Cin * P, ys = (int64_t)d->Cout * Po;
    int nb = conv_chunk(d->N, K, P);
    real *col = scratch;              /* (Cout k k, nb H W) = im2col(dy) */
    real *xt = scratch + K * nb * P;  /* (Cin, nb H W): dx, then x */
    for (int n0 = 0; n0 < d->N; n0 += nb) {
        int m = d->N - n0 < nb ? d->N - n0 : nb;
        int ld = (int)(m * P);
        for (int j = 0; j < m; j++)
            cpu_im2col(col + j * P, ld, dy + (n0 + j) * ys, d->Cout, d->Ho, d->Wo, d->k,
                       d->stride, d->pad, d->H, d->W);
        if (dx) {
            real *out = m == 1 ? dx + n0 * xs : xt;
            cpu_gemm(0, 0, d->Cin, ld, K, 1, w, K, col, ld, 0, out, ld);
            if (m > 1)
                cpu_unpack_cn(dx + n0 * xs, xt, m, d->Cin, P);
        }
        if (dw) {
            const real *a = x + n0 * xs;
            if (m > 1) {
                cpu_pack_cn(xt, a, m, d->Cin, P);
                a = xt;
            }
            cpu_gemm(0, 1, d->Cin, K, ld, 1, a, ld, col, ld, 1, dw, K);
        }
    }
}
