/*
 * conv.cu: the CUDA twins of host/cpu/conv.c on cuDNN: conv2d and
 * conv_transpose2d, forward and backward.
 *
 * Both ops are one convolution seen from two sides. conv2d maps x (N, Cin,
 * H, W) to y (N, Cout, Ho, Wo) with the filter (K = Cout, C = Cin, k, k);
 * conv_transpose2d is its adjoint, so with the "conv space" of the conv
 * that maps its output (N, Cout, Ho, Wo) back to its input (N, Cin, H, W)
 * through the filter (K = Cin, C = Cout, k, k), which is exactly its weight
 * layout (Cin, Cout, k, k):
 *
 *                     conv2d                    conv_transpose2d
 *   forward           ConvolutionForward        ConvolutionBackwardData
 *   dx (written)      ConvolutionBackwardData   ConvolutionForward
 *   dw (+=, beta 1)   ConvolutionBackwardFilter ConvolutionBackwardFilter
 *                     (x, dy)                   (conv input dy, conv grad x)
 *
 * Descriptors are NCHW float, CUDNN_CROSS_CORRELATION (PyTorch's conv does
 * not flip the kernel). Math: CUDNN_FMA_MATH (plain FP32; CUDNN_DEFAULT_MATH
 * would allow TF32 for float data on Ampere and later) unless TF32 was
 * opted into; then CUDNN_TENSOR_OP_MATH (TF32 tensor cores) or FMA, never
 * CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, which may round the operands to
 * FP16. The descriptor is set to the mode's math before each heuristics
 * query (the list depends on it) and to the chosen algorithm's math before
 * each convolution call (one descriptor serves all three directions).
 *
 * Plans: one per shape (N, C, H, W, K, Ho, Wo, kh, kw, stride, ph, pw and the mode:
 * deterministic, TF32) holding the descriptors and, per direction, the
 * algorithm, chosen on first use by cuDNN's heuristics
 * (cudnnGetConvolution*Algorithm_v7): the first of its ranked list that
 * succeeded, fits in MAX_WS of workspace, uses no tensor-op math unless TF32
 * is on, and, when cg_cuda_deterministic(), is deterministic and of the
 * implicit-GEMM class: a direct sum of products per output, rounded like the
 * CPU's im2col GEMM (FFT and Winograd transform the operands and round
 * worse; backward-filter algorithms 0 and 3 and backward-data 0 sum with
 * atomics and are refused by name as well). Deterministic mode is what the
 * FP32 GPU-vs-CPU tests run under. Heuristics rather than
 * cudnnFind*AlgorithmEx: they run nothing and allocate nothing, so the
 * choice is the same on every run (Find times the candidates, and timing
 * noise can change the algorithm, and with it the rounding, from one run to
 * the next), and Find would need scratch copies of the outputs since dw is
 * accumulated in place. It is also what PyTorch does by default
 * (torch.backends.cudnn.benchmark = False), which the benchmark compares to.
 * A small table, least recently made evicted when full; a training run has
 * a few dozen shapes.
 *
 * Workspace: kernels/cudnn.cu's one buffer, grown on demand.
 *
 * The bias (y += b per channel) and its gradient (db += the sum of dy over
 * N and the pixels, one block per channel, cu_block_sum) are kernels here.
 */
#include <cstring>

#include "block_sum.cuh"
#include "cudnn.cuh"

#define MAX_WS ((size_t)1 << 30)
#define PLANS 64

enum { DIR_FWD, DIR_BWD_DATA, DIR_BWD_FILTER, NDIR };

typedef struct {
    int key[14];   /* N, C, H, W, K, Ho, Wo, kh, kw, stride, ph, pw, deterministic, tf32 */
    int used;
    cudnnTensorDescriptor_t xd, yd;  /* conv input (N, C, H, W), output (N, K, Ho, Wo) */
    cudnnFilterDescriptor_t wd;      /* (K, C, kh, kw) */
    cudnnConvolutionDescriptor_t cd;
    int chosen[NDIR];
    int algo[NDIR];
    cudnnMathType_t math[NDIR];
    size_t ws[NDIR];
} conv_plan;

static conv_plan plans[PLANS];
static int next_slot;

static void plan_clear(conv_plan *p)
{
    if (p->xd)
        cudnnDestroyTensorDescriptor(p->xd);
    if (p->yd)
        cudnnDestroyTensorDescriptor(p->yd);
    if (p->wd)
        cudnnDestroyFilterDescriptor(p->wd);
    if (p->cd)
        cudnnDestroyConvolutionDescriptor(p->cd);
    memset(p, 0, sizeof *p);
}

/* The math a plan's mode asks of cuDNN (see the top). */
static cudnnMathType_t mode_math(int tf32)
{
    return tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
}

static cg_status plan_make(conv_plan *p, const int *key)
{
    int N = key[0], C = key[1], H = key[2], W = key[3], K = key[4], Ho = key[5], Wo = key[6];
    int kh = key[7], kw = key[8], stride = key[9], ph = key[10], pw = key[11];
    CUDNN_TRY(cudnnCreateTensorDescriptor(&p->xd));
    CUDNN_TRY(cudnnCreateTensorDescriptor(&p->yd));
    CUDNN_TRY(cudnnCreateFilterDescriptor(&p->wd));
    CUDNN_TRY(cudnnCreateConvolutionDescriptor(&p->cd));
    CUDNN_TRY(cudnnSetTensor4dDescriptor(p->xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, C, H, W));
    CUDNN_TRY(cudnnSetTensor4dDescriptor(p->yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, K, Ho,
                                         Wo));
    CUDNN_TRY(cudnnSetFilter4dDescriptor(p->wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, K, C, kh, kw));
    CUDNN_TRY(cudnnSetConvolution2dDescriptor(p->cd, ph, pw, stride, stride, 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_TRY(cudnnSetConvolutionMathType(p->cd, mode_math(key[13])));
    int on, oc, oh, ow;  /* cuDNN's idea of the output must be ours */
    CUDNN_TRY(cudnnGetConvolution2dForwardOutputDim(p->cd, p->xd, p->wd, &on, &oc, &oh, &ow));
    if (on != N || oc != K || oh != Ho || ow != Wo)
        return cu_fail(CG_ERR_CUDA, __FILE__, __LINE__, "cuDNN gives a (%d, %d, %d, %d) output "
                       "for (%d, %d, %d, %d), k %dx%d, stride %d, pad %d,%d; cugen expects (%d, "
                       "%d, %d, %d)", on, oc, oh, ow, N, C, H, W, kh, kw, stride, ph, pw, N, K, Ho,
                       Wo);
    memcpy(p->key, key, sizeof p->key);
    p->used = 1;
    return CG_OK;
}

/* The plan of conv input (N, C, H, W) -> output (N, K, Ho, Wo). */
static cg_status plan_get(int N, int C, int H, int W, int K, int Ho, int Wo, int kh, int kw,
                          int stride, int ph, int pw, conv_plan **out)
{
    int key[14] = {N, C, H, W, K, Ho, Wo, kh, kw, stride, ph, pw, cg_cuda_deterministic(),
                   cu_tf32()};
    for (int i = 0; i < PLANS; i++) {
        if (plans[i].used && memcmp(plans[i].key, key, sizeof key) == 0) {
            *out = &plans[i];
            return CG_OK;
        }
    }
    conv_plan *p = &plans[next_slot];
    next_slot = (next_slot + 1) % PLANS;
    plan_clear(p);
    cg_status st = plan_make(p, key);
    if (st != CG_OK) {
        plan_clear(p);
        return st;
    }
    *out = p;
    return CG_OK;
}

/* Release every plan (cg_cuda_shutdown); the table starts empty again. */
void cu_conv_release(void)
{
    for (int i = 0; i < PLANS; i++)
        plan_clear(&plans[i]);
    next_slot = 0;
}

/* Algorithms that compute each output as a direct sum of products, as the
 * CPU's GEMM does: the only ones admitted in deterministic mode. FFT and
 * Winograd (and anything newer) are left out. */
static int gemm_class(int dir, int algo)
{
    switch (dir) {
    case DIR_FWD:
        return algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM ||
               algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
               algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM ||
               algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
    case DIR_BWD_DATA:
        return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 ||
               algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
    default:
        return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 ||
               algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 ||
               algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
    }
}

/* Algorithms whose sums use atomics (cuDNN's documentation), refused in
 * deterministic mode whatever the perf struct says. */
static int atomic_algo(int dir, int algo)
{
    if (dir == DIR_BWD_DATA)
        return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
    if (dir == DIR_BWD_FILTER)
        return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 ||
               algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
    return 0;
}

/* Workspace bytes of `algo` in direction dir: CUDNN_STATUS_NOT_SUPPORTED
 * when the algorithm does not run under the descriptor's math type (the
 * caller tries the next), any other failure as cuDNN gives it. */
static cudnnStatus_t ws_size(cudnnHandle_t h, const conv_plan *p, int dir, int algo,
                             size_t *bytes)
{
    *bytes = 0;
    switch (dir) {
    case DIR_FWD:
        return cudnnGetConvolutionForwardWorkspaceSize(h, p->xd, p->wd, p->cd, p->yd,
                                                       (cudnnConvolutionFwdAlgo_t)algo, bytes);
    case DIR_BWD_DATA:
        return cudnnGetConvolutionBackwardDataWorkspaceSize(
            h, p->wd, p->yd, p->cd, p->xd, (cudnnConvolutionBwdDataAlgo_t)algo, bytes);
    default:
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(
            h, p->xd, p->yd, p->cd, p->wd, (cudnnConvolutionBwdFilterAlgo_t)algo, bytes);
    }
}

/* One candidate of a heuristics list, as plain fields. */
typedef struct {
    int algo;
    cudnnStatus_t status;
    size_t memory;
    cudnnDeterminism_t determinism;
    cudnnMathType_t math;
} candidate;

/* above any direction's algorithm count times its math types */
#define MAX_CAND 32

template <class Perf>
static int to_candidates(const Perf *perf, int n, candidate *c)
{
    for (int i = 0; i < n; i++)
        c[i] = candidate{(int)perf[i].algo, perf[i].status, perf[i].memory, perf[i].determinism,
                         perf[i].mathType};
    return n;
}

/* The ranked list of direction dir, asked under the mode's math: the
 * descriptor may still hold the math of another direction's choice. */
static cg_status heuristics(cudnnHandle_t h, const conv_plan *p, int dir, candidate *c, int *n)
{
    *n = 0;
    CUDNN_TRY(cudnnSetConvolutionMathType(p->cd, mode_math(p->key[13])));
    switch (dir) {
    case DIR_FWD: {
        cudnnConvolutionFwdAlgoPerf_t perf[MAX_CAND];
        CUDNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7(h, p->xd, p->wd, p->cd, p->yd, MAX_CAND,
                                                         n, perf));
        to_candidates(perf, *n, c);
        break;
    }
    case DIR_BWD_DATA: {
        cudnnConvolutionBwdDataAlgoPerf_t perf[MAX_CAND];
        CUDNN_TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p->wd, p->yd, p->cd, p->xd,
                                                              MAX_CAND, n, perf));
        to_candidates(perf, *n, c);
        break;
    }
    default: {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[MAX_CAND];
        CUDNN_TRY(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p->xd, p->yd, p->cd, p->wd,
                                                                MAX_CAND, n, perf));
        to_candidates(perf, *n, c);
    }
    }
    return CG_OK;
}

/* The algorithm of direction dir (chosen once per plan; see the top). */
static cg_status choose(cudnnHandle_t h, conv_plan *p, int dir)
{
    if (p->chosen[dir])
        return CG_OK;
    int det = p->key[12], tf32 = p->key[13];
    candidate c[MAX_CAND];
    int n = 0;
    cg_status st = heuristics(h, p, dir, c, &n);
    if (st != CG_OK)
        return st;
    for (int i = 0; i < n; i++) {
        if (c[i].status != CUDNN_STATUS_SUCCESS || c[i].memory > MAX_WS)
            continue;
        if (det && (c[i].determinism != CUDNN_DETERMINISTIC || !gemm_class(dir, c[i].algo) ||
                    atomic_algo(dir, c[i].algo)))
            continue;
        /* FP16 down-conversion is never wanted; tensor cores (TF32) only when
         * opted into. A candidate in CUDNN_DEFAULT_MATH (which allows TF32
         * for float data) runs in TENSOR_OP math under TF32, in FMA math
         * otherwise: the math is always one the mode names. */
        if (c[i].math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
            continue;
        if (c[i].math == CUDNN_TENSOR_OP_MATH && !tf32)
            continue;
        cudnnMathType_t math = tf32 && c[i].math != CUDNN_FMA_MATH ? CUDNN_TENSOR_OP_MATH
                                                                   : CUDNN_FMA_MATH;
        size_t bytes;
        CUDNN_TRY(cudnnSetConvolutionMathType(p->cd, math));
        cudnnStatus_t ws = ws_size(h, p, dir, c[i].algo, &bytes);
        if (ws == CUDNN_STATUS_NOT_SUPPORTED || (ws == CUDNN_STATUS_SUCCESS && bytes > MAX_WS))
            continue;  /* not available in this math mode after all */
        if (ws != CUDNN_STATUS_SUCCESS)
            return cu_check_cudnn(ws, "cudnnGetConvolution*WorkspaceSize", __FILE__, __LINE__);
        p->algo[dir] = c[i].algo;
        p->math[dir] = math;
        p->ws[dir] = bytes;
        p->chosen[dir] = 1;
        return CG_OK;
    }
    static const char *const names[NDIR] = {"forward", "backward-data", "backward-filter"};
    return cu_fail(CG_ERR_CUDA, __FILE__, __LINE__, "cuDNN offers no %s%s convolution algorithm "
                   "for input (%d, %d, %d, %d), k %dx%d, stride %d, pad %d,%d within %zu MiB "
                   "of workspace (%d candidates)", det ? "deterministic implicit-GEMM " : "",
                   names[dir], p->key[0], p->key[1], p->key[2], p->key[3], p->key[7],
                   p->key[8], p->key[9], p->key[10], p->key[11], MAX_WS >> 20, n);
}

/* Handle, algorithm, math mode and workspace for one call in direction dir. */
static cg_status prepare(conv_plan *p, int dir, cudnnHandle_t *h, void **ws)
{
    cg_status st = cu_cudnn(h);
    if (st == CG_OK)
        st = choose(*h, p, dir);
    if (st == CG_OK)
        st = cu_workspace(p->ws[dir], ws);
    if (st != CG_OK)
        return st;
    CUDNN_TRY(cudnnSetConvolutionMathType(p->cd, p->math[dir]));
    return CG_OK;
}

static const float ONE = 1.0f, ZERO = 0.0f;

/* y (conv output) = conv(x, w) */
static cg_status conv_forward(conv_plan *p, real *y, const real *x, const real *w)
{
    cudnnHandle_t h;
    void *ws;
    cg_status st = prepare(p, DIR_FWD, &h, &ws);
    if (st != CG_OK)
        return st;
    CUDNN_TRY(cudnnConvolutionForward(h, &ONE, p->xd, x, p->wd, w, p->cd,
                                      (cudnnConvolutionFwdAlgo_t)p->algo[DIR_FWD], ws,
                                      p->ws[DIR_FWD], &ZERO, p->yd, y));
    return CG_OK;
}

/* dx (conv input side) = conv^T(dy, w), written */
static cg_status conv_backward_data(conv_plan *p, real *dx, const real *dy, const real *w)
{
    cudnnHandle_t h;
    void *ws;
    cg_status st = prepare(p, DIR_BWD_DATA, &h, &ws);
    if (st != CG_OK)
        return st;
    CUDNN_TRY(cudnnConvolutionBackwardData(h, &ONE, p->wd, w, p->yd, dy, p->cd,
                                           (cudnnConvolutionBwdDataAlgo_t)p->algo[DIR_BWD_DATA],
                                           ws, p->ws[DIR_BWD_DATA], &ZERO, p->xd, dx));
    return CG_OK;
}

/* dw += the filter gradient of conv input x and output gradient dy */
static cg_status conv_backward_filter(conv_plan *p, real *dw, const real *x, const real *dy)
{
    cudnnHandle_t h;
    void *ws;
    cg_status st = prepare(p, DIR_BWD_FILTER, &h, &ws);
    if (st != CG_OK)
        return st;
    CUDNN_TRY(cudnnConvolutionBackwardFilter(
        h, &ONE, p->xd, x, p->yd, dy, p->cd,
        (cudnnConvolutionBwdFilterAlgo_t)p->algo[DIR_BWD_FILTER], ws, p->ws[DIR_BWD_FILTER],
        &ONE, p->wd, dw));
    return CG_OK;
}

/* ---- bias ---------------------------------------------------------------------------- */
/* y (N, C, P) += b (C), as cpu_add_channel_bias */
static cg_status add_channel_bias(real *y, const real *b, int N, int C, int64_t P)
{
    return cu_map((int64_t)N * C * P, [=] __device__(int64_t i) { y[i] += b[i / P % C]; });
}

/* db (C) += the sum over N and P of dy (N, C, P), as cpu_channel_bias_grad */
static cg_status channel_bias_grad(real *db, const real *dy, int N, int C, int64_t P)
{
    return cu_per_block(C, [=] __device__(int64_t c) {
        double s = cu_block_sum((int64_t)N * P, [=](int64_t j) {
            return (double)dy[(j / P * C + c) * P + j % P];
        });
        if (threadIdx.x == 0)
            db[c] += (real)s;
    });
}

/* ---- conv2d ---------------------------------------------------------------------------- */
static cg_status conv2d_plan(const cg_conv_geom *d, conv_plan **p)
{
    return plan_get(d->N, d->Cin, d->H, d->W, d->Cout, d->Ho, d->Wo, d->kh, d->kw, d->stride,
                    d->ph, d->pw, p);
}

extern "C" cg_status cuda_conv2d_fwd(real *y, const real *x, const real *w, const real *b,
                                     const cg_conv_geom *d)
{
    conv_plan *p;
    cg_status st = conv2d_plan(d, &p);
    if (st == CG_OK)
        st = conv_forward(p, y, x, w);
    if (st == CG_OK && b)
        st = add_channel_bias(y, b, d->N, d->Cout, (int64_t)d->Ho * d->Wo);
    return st;
}

extern "C" cg_status cuda_conv2d_bwd(real *dx, real *dw, real *db, const real *dy,
                                     const real *x, const real *w, const cg_conv_geom *d)
{
    cg_status st = CG_OK;
    if (db)
        st = channel_bias_grad(db, dy, d->N, d->Cout, (int64_t)d->Ho * d->Wo);
    if (st != CG_OK || (!dx && !dw))
        return st;
    conv_plan *p;
    st = conv2d_plan(d, &p);
    if (st == CG_OK && dw)
        st = conv_backward_filter(p, dw, x, dy);
    if (st == CG_OK && dx)
        st = conv_backward_data(p, dx, dy, w);
    return st;
}

/* ---- conv_transpose2d: the conv from its output (N, Cout, Ho, Wo) to its input ---------- */
static cg_status convt_plan(const cg_conv_geom *d, conv_plan **p)
{
    return plan_get(d->N, d->Cout, d->Ho, d->Wo, d->Cin, d->H, d->W, d->kh, d->kw, d->stride,
                    d->ph, d->pw, p);
}

extern "C" cg_status cuda_conv_transpose2d_fwd(real *y, const real *x, const real *w,
                                               const real *b, const cg_conv_geom *d)
{
    conv_plan *p;
    cg_status st = convt_plan(d, &p);
    if (st == CG_OK)
        st = conv_backward_data(p, y, x, w);
    if (st == CG_OK && b)
        st = add_channel_bias(y, b, d->N, d->Cout, (int64_t)d->Ho * d->Wo);
    return st;
}

extern "C" cg_status cuda_conv_transpose2d_bwd(real *dx, real *dw, real *db, const real *dy,
                                               const real *x, const real *w,
                                               const cg_conv_geom *d)
{
    cg_status st = CG_OK;
    if (db)
        st = channel_bias_grad(db, dy, d->N, d->Cout, (int64_t)d->Ho * d->Wo);
    if (st != CG_OK || (!dx && !dw))
        return st;
    conv_plan *p;
    st = convt_plan(d, &p);
    if (st == CG_OK && dw)  /* the conv's input is dy, its output gradient x */
        st = conv_backward_filter(p, dw, dy, x);
    if (st == CG_OK && dx)
        st = conv_forward(p, dx, dy, w);
    return st;
}
