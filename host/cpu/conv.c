/*
 * conv.c: reference conv2d and conv_transpose2d as im2col / col2im + GEMM.
 *
 * conv2d, per image: col (Cin kh kw, Ho Wo) = im2col(x), y (Cout, Ho Wo) =
 * w (Cout, Cin kh kw) col (kernels may be rectangular, padding per axis). Backward: dw += dy col^T, dcol = w^T dy, dx =
 * col2im(dcol).
 *
 * conv_transpose2d is the adjoint of conv2d (its forward is conv2d's input
 * gradient): col (Cout k k, H W) = w^T (Cout k k, Cin) x (Cin, H W), y =
 * col2im(col) on the Ho x Wo image. Backward: col = im2col(dy), dx = w col,
 * dw += x col^T.
 *
 * Work split: the batch is divided between the CPU threads (cpu_parallel.h),
 * each doing whole images with single-threaded GEMMs; dw is accumulated per
 * thread and summed in thread order afterwards, so results do not depend on
 * timing. Within a thread, images whose output grid is small (the 8x8 and 4x4
 * layers of a DCGAN) would give thin GEMMs, so `nb` of them are put side by
 * side in one column matrix (C, nb P) and done in one GEMM; activations are
 * repacked between (nb, C, P) and (C, nb P) around it. A conv whose kernel
 * covers its whole unpadded input (DCGAN's 4x4 -> 1x1 and 1x1 -> 4x4 ends)
 * is one matrix product over the batch, threaded by the BLAS.
 *
 * Not for: shape checks (host/ops/conv.c).
 */
#include <string.h>

#include "cpu/cpu_conv.h"
#include "cpu/cpu_dense.h"
#include "cpu/cpu_gemm.h"
#include "cpu/cpu_parallel.h"

/* GEMM columns worth batching images up to (a single-threaded sgemm is near
 * its best from ~256 columns on, as the reduction of the dw GEMM too); the
 * most reals in one thread's column matrix (4 MB of floats); the least work
 * (flops) worth starting threads for. */
#define CONV_MIN_COLS 256
#define CONV_MAX_COL ((int64_t)1 << 20)
#define CONV_PAR_MIN_FLOPS 1e7

/* How one call is split: nt threads, each taking a share of the images and
 * doing them nb at a time, with per_thread reals of scratch: its column
 * matrix (K, nb P), the repacked activation (Cpacked, nb P) when nb > 1, and
 * im2col's work. Backward scratch adds (nt - 1) private dw. */
typedef struct {
    int nt, nb;
    int64_t K, P;        /* column matrix rows, columns per image */
    int64_t ncol, npacked, nwork, per_thread;
    int C, H, W, Ho, Wo; /* im2col's images (C, H, W) and its Ho x Wo grid */
} conv_plan;

static conv_plan conv_plan_make(int N, int64_t K, int64_t P, int Cpacked, int64_t nwork,
                                int Cother)
{
    conv_plan pl = {.K = K, .P = P, .nwork = nwork};
    double flops = 2.0 * N * (double)K * (double)P * Cother;
    pl.nt = flops < CONV_PAR_MIN_FLOPS ? 1 : cpu_threads();
    if (pl.nt > N)
        pl.nt = N;
    int per = (N + pl.nt - 1) / pl.nt;  /* most images a thread gets */
    int64_t nb = P >= CONV_MIN_COLS ? 1 : (CONV_MIN_COLS + P - 1) / P;
    while (nb > 1 && K * nb * P > CONV_MAX_COL)
        nb--;
    if (nb > per)
        nb = per;
    int64_t chunks = (per + nb - 1) / nb;  /* spread evenly over the chunks */
    pl.nb = (int)((per + chunks - 1) / chunks);
    pl.ncol = K * pl.nb * P;
    pl.npacked = pl.nb > 1 ? (int64_t)Cpacked * pl.nb * P : 0;
    pl.per_thread = pl.ncol + pl.npacked + nwork;
    return pl;
}

/* the weights' reals: (Cout, Cin, kh, kw) or (Cin, Cout, kh, kw) */
static int64_t conv_nw(const cg_conv_geom *d)
{
    return (int64_t)d->Cout * d->Cin * d->kh * d->kw;
}

/* The column matrix of the patches of images (C, H, W) at an Ho x Wo grid:
 * (C kh kw, Ho Wo) per image; the GEMMs' other side has Cother channels. */
static conv_plan im2col_plan(const cg_conv_geom *d, int C, int H, int W, int Ho, int Wo,
                             int Cother)
{
    int64_t work = cpu_im2col_work(C, H, W, d->kh, d->kw, d->stride, d->ph, d->pw, Ho, Wo);
    conv_plan pl = conv_plan_make(d->N, (int64_t)C * d->kh * d->kw, (int64_t)Ho * Wo, Cother,
                                  work, Cother);
    pl.C = C;
    pl.H = H;
    pl.W = W;
    pl.Ho = Ho;
    pl.Wo = Wo;
    return pl;
}

/* scratch reals of a call planned as pl: per thread, plus the private dw of backward */
static int64_t plan_scratch(conv_plan pl, const cg_conv_geom *d, int bwd)
{
    return pl.nt * pl.per_thread + (bwd ? (pl.nt - 1) * conv_nw(d) : 0);
}

/* One thread's part of a call. */
typedef struct {
    real *col, *packed, *work;
    real *dw;        /* where this thread accumulates dw */
    int64_t lo, hi;  /* its images */
    int64_t xs, ys;  /* reals per image of x (Cin, H, W) and of y (Cout, Ho, Wo) */
} conv_part;

/* A call. The im2col paths give chunk, the work on the m images from n0
 * (conv_chunks_part runs it); the shift paths a part function of their own. */
typedef struct conv_job {
    const cg_conv_geom *d;
    conv_plan pl;
    real *y, *dx, *dw;
    const real *x, *w, *dy;
    const real *b;   /* conv2d's bias, added by the shift path's crop; NULL: none there */
    real *scratch;   /* nt per_thread, then (nt - 1) nw private dw */
    int64_t nw;
    void (*chunk)(const struct conv_job *j, const conv_part *p, int64_t n0, int m);
} conv_job;

static conv_part part_of(const conv_job *j, int t, int nt)
{
    conv_part p;
    real *base = j->scratch + t * j->pl.per_thread;
    p.col = base;
    p.packed = base + j->pl.ncol;
    p.work = base + j->pl.ncol + j->pl.npacked;
    p.dw = NULL;
    if (j->dw) {
        p.dw = j->dw;
        if (t > 0) {
            p.dw = j->scratch + nt * j->pl.per_thread + (t - 1) * j->nw;
            memset(p.dw, 0, sizeof(real) * (size_t)j->nw);
        }
    }
    cpu_split(j->d->N, t, nt, &p.lo, &p.hi);
    p.xs = (int64_t)j->d->Cin * j->d->H * j->d->W;
    p.ys = (int64_t)j->d->Cout * j->d->Ho * j->d->Wo;
    return p;
}

/* the images of the chunk that starts at n0: nb, fewer at the part's end */
static int part_chunk(const conv_part *p, int64_t n0, int nb)
{
    return p->hi - n0 < nb ? (int)(p->hi - n0) : nb;
}

/* a thread's images, nb at a time, through the job's chunk */
static void conv_chunks_part(void *arg, int t, int nt)
{
    const conv_job *j = arg;
    conv_part p = part_of(j, t, nt);
    for (int64_t n0 = p.lo; n0 < p.hi; n0 += j->pl.nb)
        j->chunk(j, &p, n0, part_chunk(&p, n0, j->pl.nb));
}

/* col (K, m P) <- the patches of the m images at img */
static void part_im2col(const conv_job *j, const conv_part *p, const real *img, int m)
{
    const conv_plan *pl = &j->pl;
    const cg_conv_geom *d = j->d;
    int64_t ld = m * pl->P, is = (int64_t)pl->C * pl->H * pl->W;
    for (int i = 0; i < m; i++)
        cpu_im2col(p->col + i * pl->P, ld, img + i * is, p->work, pl->C, pl->H, pl->W, d->kh,
                   d->kw, d->stride, d->ph, d->pw, pl->Ho, pl->Wo);
}

/* the m images at img <- the sum of col's (K, m P) patches put back in place */
static void part_col2im(const conv_job *j, const conv_part *p, real *img, int m)
{
    const conv_plan *pl = &j->pl;
    const cg_conv_geom *d = j->d;
    int64_t ld = m * pl->P, is = (int64_t)pl->C * pl->H * pl->W;
    for (int i = 0; i < m; i++)
        cpu_col2im(img + i * is, p->col + i * pl->P, ld, p->work, pl->C, pl->H, pl->W, d->kh,
                   d->kw, d->stride, d->ph, d->pw, pl->Ho, pl->Wo);
}

static void dw_reduce_part(void *arg, int t, int nt)
{
    const conv_job *j = arg;
    int64_t lo, hi;
    cpu_split(j->nw, t, nt, &lo, &hi);
    for (int u = 1; u < j->pl.nt; u++) {
        const real *src = j->scratch + j->pl.nt * j->pl.per_thread + (u - 1) * j->nw;
        for (int64_t i = lo; i < hi; i++)
            j->dw[i] += src[i];
    }
}

/* Runs part(job, t, nt) on the plan's threads, then adds the private dw. */
static void conv_run(conv_job *j, void (*part)(void *, int, int))
{
    cpu_parallel(part, j, j->pl.nt);
    if (j->dw && j->pl.nt > 1)
        cpu_parallel(dw_reduce_part, j, j->pl.nt);
}

/* ---- conv2d ------------------------------------------------------------------ */

/* kernel == unpadded input: y (N, Cout) = x (N, Cin H W) w^T, a linear layer */
static int conv2d_is_dense(const cg_conv_geom *d)
{
    return d->ph == 0 && d->pw == 0 && d->kh == d->H && d->kw == d->W;
}

/* Stride 1, shifted GEMMs: with the images zero-padded to Hq x Wq (Hq = Ho
 * + kh - 1, Wq = Wo + kw - 1) and laid side by side in each channel's row,
 * (Cin, nb Hq Wq + kw - 1), tap (ki, kj) of every output reads the same
 * matrix shifted by ki Wq + kj. So y = sum over taps of w_tap (Cout, Cin)
 * times that shifted view: kh kw GEMMs straight on the padded images, with
 * no column matrix. Output columns on the padded grid outside Ho x Wo are
 * junk (they read across a row's end, into the next image or the zeroed
 * tail): y is cropped out, and dy is spread with zeros there, so that they
 * add nothing to dw and dx. Taken when the padded grid is at most a quarter
 * larger each way: at 28 x 28 and 14 x 14 (3 x 3 kernels) the GEMMs'
 * extra columns cost less than building the column matrix. */
static int conv2d_is_shift(const cg_conv_geom *d)
{
    int64_t Hq = d->Ho + d->kh - 1, Wq = d->Wo + d->kw - 1;
    return d->stride == 1 && d->kh * d->kw > 1 && 4 * Wq <= 5 * (int64_t)d->Wo &&
           4 * Hq <= 5 * (int64_t)d->Ho;
}

/* the shift plan: P = Hq Wq columns per image; per thread the padded x
 * (Cin, L), the output or spread dy (Cout, L), the padded dx (Cin, L), the
 * weights by tap and dw by tap (kh kw, Cout, Cin) each, L = nb P + kw - 1 */
static conv_plan conv2d_shift_plan(const cg_conv_geom *d)
{
    int64_t P = (int64_t)(d->Ho + d->kh - 1) * (d->Wo + d->kw - 1);
    int64_t taps = (int64_t)d->kh * d->kw * d->Cout * d->Cin;
    conv_plan pl = conv_plan_make(d->N, d->Cin, P, d->Cout, 0, d->Cout * d->kh * d->kw);
    int64_t L = pl.nb * P + d->kw - 1;
    pl.ncol = (int64_t)d->Cin * L;
    pl.npacked = (int64_t)d->Cout * L;
    pl.nwork = (int64_t)d->Cin * L + 2 * taps;
    pl.per_thread = pl.ncol + pl.npacked + pl.nwork;
    return pl;
}

/* the shift plan, else the column matrix of x (Cin, H, W) at the Ho x Wo outputs */
static conv_plan conv2d_plan(const cg_conv_geom *d)
{
    if (conv2d_is_shift(d))
        return conv2d_shift_plan(d);
    return im2col_plan(d, d->Cin, d->H, d->W, d->Ho, d->Wo, d->Cout);
}

int64_t cpu_conv2d_scratch(const cg_conv_geom *d, int bwd)
{
    return conv2d_is_dense(d) ? 1 : plan_scratch(conv2d_plan(d), d, bwd);
}

static void conv2d_fwd_chunk(const conv_job *j, const conv_part *p, int64_t n0, int m)
{
    const cg_conv_geom *d = j->d;
    int K = (int)j->pl.K, ld = (int)(m * j->pl.P);
    part_im2col(j, p, j->x + n0 * p->xs, m);  /* col (K, m P) */
    real *out = m == 1 ? j->y + n0 * p->ys : p->packed;  /* (Cout, m P) */
    cpu_gemm(0, 0, d->Cout, ld, K, 1, j->w, K, p->col, ld, 0, out, ld);
    if (m > 1)
        cpu_unpack_cn(j->y + n0 * p->ys, p->packed, m, d->Cout, j->pl.P);
}

/* wt (kh kw, Cout, Cin) <- w (Cout, Cin, kh, kw) */
static void weights_by_tap(real *wt, const real *w, int Cout, int Cin, int taps)
{
    for (int co = 0; co < Cout; co++)
        for (int c = 0; c < Cin; c++)
            for (int k = 0; k < taps; k++)
                wt[((int64_t)k * Cout + co) * Cin + c] = w[((int64_t)co * Cin + c) * taps + k];
}

/* conv2d_fwd_part with shifted GEMMs (conv2d_is_shift) */
static void conv2d_fwd_shift_part(void *arg, int t, int nt)
{
    const conv_job *j = arg;
    const cg_conv_geom *d = j->d;
    conv_part p = part_of(j, t, nt);
    int nb = j->pl.nb, Wq = d->Wo + d->kw - 1, taps = d->kh * d->kw;
    int64_t P = j->pl.P, L = nb * P + d->kw - 1;
    real *wt = p.work + (int64_t)d->Cin * L;
    weights_by_tap(wt, j->w, d->Cout, d->Cin, taps);
    for (int64_t n0 = p.lo; n0 < p.hi; n0 += nb) {
        int m = part_chunk(&p, n0, nb);
        int N = (int)((m - 1) * P + (int64_t)d->Ho * Wq);  /* columns reaching an output */
        cpu_pack_grid(p.col, L, j->x + n0 * p.xs, m, d->Cin, d->H, d->W, Wq, P,
                      (int64_t)d->ph * Wq + d->pw);
        for (int k = 0; k < taps; k++)
            cpu_gemm(0, 0, d->Cout, N, d->Cin, 1, wt + (int64_t)k * d->Cout * d->Cin, d->Cin,
                     p.col + (int64_t)(k / d->kw) * Wq + k % d->kw, (int)L, k ? 1 : 0, p.packed,
                     (int)L);
        cpu_unpack_grid(j->y + n0 * p.ys, p.packed, L, m, d->Cout, d->Ho, d->Wo, Wq, P, 0, j->b);
    }
}

/* x (N, Cin, H, W), w (Cout, Cin, k, k), b (Cout) or NULL -> y (N, Cout, Ho, Wo) */
void cpu_conv2d_fwd(real *y, const real *x, const real *w, const real *b, real *scratch,
                    const cg_conv_geom *d)
{
    if (conv2d_is_dense(d)) {
        cpu_linear_fwd(y, x, w, b, d->N, d->Cin * d->kh * d->kw, d->Cout);
        return;
    }
    int shift = conv2d_is_shift(d);
    conv_job j = {.d = d, .pl = conv2d_plan(d), .y = y, .x = x, .w = w, .scratch = scratch,
                  .b = shift ? b : NULL, .chunk = conv2d_fwd_chunk};
    conv_run(&j, shift ? conv2d_fwd_shift_part : conv_chunks_part);
    if (b && !shift)
        cpu_add_channel_bias(y, b, d->N, d->Cout, (int64_t)d->Ho * d->Wo);
}

static void conv2d_bwd_chunk(const conv_job *j, const conv_part *p, int64_t n0, int m)
{
    const cg_conv_geom *d = j->d;
    int K = (int)j->pl.K, ld = (int)(m * j->pl.P);
    const real *g = j->dy + n0 * p->ys;  /* dy as (Cout, m P) */
    if (m > 1) {
        cpu_pack_cn(p->packed, g, m, d->Cout, j->pl.P);
        g = p->packed;
    }
    if (p->dw) {  /* dw (Cout, K) += dy col^T */
        part_im2col(j, p, j->x + n0 * p->xs, m);
        cpu_gemm(0, 1, d->Cout, K, ld, 1, g, ld, p->col, ld, 1, p->dw, K);
    }
    if (j->dx) {  /* dcol (K, m P) = w^T dy, then back to images */
        cpu_gemm(1, 0, K, ld, d->Cout, 1, j->w, K, g, ld, 0, p->col, ld);
        part_col2im(j, p, j->dx + n0 * p->xs, m);
    }
}

/* conv2d_bwd_part with shifted GEMMs: dy spread to the padded grid (zeros
 * off the Ho x Wo outputs); dw by tap (Cout, Cin) summed over the thread's
 * images = dy times the shifted x transposed, added to dw at the end; the
 * padded dx accumulates w_tap^T dy at each shift */
static void conv2d_bwd_shift_part(void *arg, int t, int nt)
{
    const conv_job *j = arg;
    const cg_conv_geom *d = j->d;
    conv_part p = part_of(j, t, nt);
    int nb = j->pl.nb, Wq = d->Wo + d->kw - 1, taps = d->kh * d->kw;
    int64_t P = j->pl.P, L = nb * P + d->kw - 1, nw = (int64_t)d->Cout * d->Cin;
    int64_t xoff = (int64_t)d->ph * Wq + d->pw;
    real *dpad = p.work, *wt = p.work + (int64_t)d->Cin * L, *dwt = wt + taps * nw;
    if (j->dx)  /* w is not read (and may be NULL) when only dw is asked */
        weights_by_tap(wt, j->w, d->Cout, d->Cin, taps);
    for (int64_t n0 = p.lo; n0 < p.hi; n0 += nb) {
        int m = part_chunk(&p, n0, nb);
        int N = (int)((m - 1) * P + (int64_t)d->Ho * Wq);
        cpu_pack_grid(p.packed, L, j->dy + n0 * p.ys, m, d->Cout, d->Ho, d->Wo, Wq, P, 0);
        if (p.dw) {
            cpu_pack_grid(p.col, L, j->x + n0 * p.xs, m, d->Cin, d->H, d->W, Wq, P, xoff);
            for (int k = 0; k < taps; k++)
                cpu_gemm(0, 1, d->Cout, d->Cin, N, 1, p.packed, (int)L,
                         p.col + (int64_t)(k / d->kw) * Wq + k % d->kw, (int)L, n0 > p.lo,
                         dwt + k * nw, d->Cin);
        }
        if (j->dx) {
            memset(dpad, 0, sizeof(real) * (size_t)(d->Cin * L));
            for (int k = 0; k < taps; k++)
                cpu_gemm(1, 0, d->Cin, N, d->Cout, 1, wt + k * nw, d->Cin, p.packed, (int)L, 1,
                         dpad + (int64_t)(k / d->kw) * Wq + k % d->kw, (int)L);
            cpu_unpack_grid(j->dx + n0 * p.xs, dpad, L, m, d->Cin, d->H, d->W, Wq, P, xoff, NULL);
        }
    }
    if (p.dw && p.hi > p.lo)  /* dw (Cout, Cin, kh, kw) += this thread's dw by tap */
        for (int co = 0; co < d->Cout; co++)
            for (int c = 0; c < d->Cin; c++)
                for (int k = 0; k < taps; k++)
                    p.dw[((int64_t)co * d->Cin + c) * taps + k] +=
                        dwt[k * nw + (int64_t)co * d->Cin + c];
}

/* dy (N, Cout, Ho, Wo) -> dx (N, Cin, H, W) =, dw (Cout, Cin, k, k) +=, db (Cout) += */
void cpu_conv2d_bwd(real *dx, real *dw, real *db, const real *dy, const real *x,
                    const real *w, real *scratch, const cg_conv_geom *d)
{
    if (conv2d_is_dense(d)) {
        cpu_linear_bwd(dx, dw, db, dy, x, w, d->N, d->Cin * d->kh * d->kw, d->Cout);
        return;
    }
    if (db)
        cpu_channel_bias_grad(db, dy, d->N, d->Cout, (int64_t)d->Ho * d->Wo);
    if (!dx && !dw)
        return;
    conv_job j = {.d = d, .pl = conv2d_plan(d), .dx = dx, .dw = dw, .dy = dy, .x = x, .w = w,
                  .scratch = scratch, .nw = conv_nw(d), .chunk = conv2d_bwd_chunk};
    conv_run(&j, conv2d_is_shift(d) ? conv2d_bwd_shift_part : conv_chunks_part);
}

/* ---- conv_transpose2d ---------------------------------------------------------- */

/* 1x1 input, no padding: y (N, Cout k k) = x (N, Cin) w (Cin, Cout k k) */
static int convt_is_dense(const cg_conv_geom *d)
{
    return d->ph == 0 && d->pw == 0 && d->H == 1 && d->W == 1;
}

/* The adjoint conv's column matrix: (Cout k k, H W) per image, its image the
 * (Cout, Ho, Wo) output. */
static conv_plan convt_plan(const cg_conv_geom *d)
{
    return im2col_plan(d, d->Cout, d->Ho, d->Wo, d->H, d->W, d->Cin);
}

int64_t cpu_conv_transpose2d_scratch(const cg_conv_geom *d, int bwd)
{
    return convt_is_dense(d) ? 1 : plan_scratch(convt_plan(d), d, bwd);
}

static void convt_fwd_chunk(const conv_job *j, const conv_part *p, int64_t n0, int m)
{
    const cg_conv_geom *d = j->d;
    int K = (int)j->pl.K, ld = (int)(m * j->pl.P);
    const real *a = j->x + n0 * p->xs;  /* x as (Cin, m H W) */
    if (m > 1) {
        cpu_pack_cn(p->packed, a, m, d->Cin, j->pl.P);
        a = p->packed;
    }
    cpu_gemm(1, 0, K, ld, d->Cin, 1, j->w, K, a, ld, 0, p->col, ld);
    part_col2im(j, p, j->y + n0 * p->ys, m);
}

/* x (N, Cin, H, W), w (Cin, Cout, k, k), b (Cout) or NULL -> y (N, Cout, Ho, Wo) */
void cpu_conv_transpose2d_fwd(real *y, const real *x, const real *w, const real *b,
                              real *scratch, const cg_conv_geom *d)
{
    if (convt_is_dense(d)) {
        int K = d->Cout * d->kh * d->kw;
        cpu_gemm(0, 0, d->N, K, d->Cin, 1, x, d->Cin, w, K, 0, y, K);
    } else {
        conv_job j = {.d = d, .pl = convt_plan(d), .y = y, .x = x, .w = w, .scratch = scratch,
                      .chunk = convt_fwd_chunk};
        conv_run(&j, conv_chunks_part);
    }
    if (b)
        cpu_add_channel_bias(y, b, d->N, d->Cout, (int64_t)d->Ho * d->Wo);
}

static void convt_bwd_chunk(const conv_job *j, const conv_part *p, int64_t n0, int m)
{
    const cg_conv_geom *d = j->d;
    int K = (int)j->pl.K, ld = (int)(m * j->pl.P);
    part_im2col(j, p, j->dy + n0 * p->ys, m);  /* col (Cout k k, m H W) = im2col(dy) */
    if (j->dx) {  /* dx (Cin, m H W) = w col */
        real *out = m == 1 ? j->dx + n0 * p->xs : p->packed;
        cpu_gemm(0, 0, d->Cin, ld, K, 1, j->w, K, p->col, ld, 0, out, ld);
        if (m > 1)
            cpu_unpack_cn(j->dx + n0 * p->xs, p->packed, m, d->Cin, j->pl.P);
    }
    if (p->dw) {  /* dw (Cin, K) += x col^T */
        const real *a = j->x + n0 * p->xs;
        if (m > 1) {
            cpu_pack_cn(p->packed, a, m, d->Cin, j->pl.P);
            a = p->packed;
        }
        cpu_gemm(0, 1, d->Cin, K, ld, 1, a, ld, p->col, ld, 1, p->dw, K);
    }
}

/* dy (N, Cout, Ho, Wo) -> dx (N, Cin, H, W) =, dw (Cin, Cout, k, k) +=, db (Cout) += */
void cpu_conv_transpose2d_bwd(real *dx, real *dw, real *db, const real *dy, const real *x,
                              const real *w, real *scratch, const cg_conv_geom *d)
{
    if (db)
        cpu_channel_bias_grad(db, dy, d->N, d->Cout, (int64_t)d->Ho * d->Wo);
    if (convt_is_dense(d)) {
        int K = d->Cout * d->kh * d->kw;
        if (dx)  /* dx (N, Cin) = dy (N, K) w^T */
            cpu_gemm(0, 1, d->N, d->Cin, K, 1, dy, K, w, K, 0, dx, d->Cin);
        if (dw)  /* dw (Cin, K) += x^T (Cin, N) dy (N, K) */
            cpu_gemm(1, 0, d->Cin, K, d->N, 1, x, d->Cin, dy, K, 1, dw, K);
        return;
    }
    if (!dx && !dw)
        return;
    conv_job j = {.d = d, .pl = convt_plan(d), .dx = dx, .dw = dw, .dy = dy, .x = x, .w = w,
                  .scratch = scratch, .nw = conv_nw(d), .chunk = convt_bwd_chunk};
    conv_run(&j, conv_chunks_part);
}
