/*
 * cudnn.cc: the emulated cuDNN (include/cudnn.h): handles, descriptors, the
 * _v7 heuristics, workspace sizes, and the three convolution calls, which
 * check their arguments and queue a job that cudnn_conv.cc computes.
 *
 * What the algorithm numbers mean here. The emulator does not time
 * anything; it gives each algorithm the properties that matter to a caller
 * choosing among them, so that a wrong choice shows in a test:
 *
 *   family         algorithms                        rounding
 *   GEMM-like      FWD IMPLICIT_GEMM, IMPLICIT_PRECOMP_GEMM, GEMM;
 *                  BWD_DATA ALGO_0, ALGO_1;           float sums (as gemm.h)
 *                  BWD_FILTER ALGO_0, ALGO_1, ALGO_3
 *   FFT            FFT, FFT_TILING                    inputs rounded to 12 mantissa bits
 *   Winograd       WINOGRAD, WINOGRAD_NONFUSED        inputs rounded to 11 mantissa bits
 *   unsupported    FWD DIRECT, BWD_FILTER WINOGRAD    (as in cuDNN: never available)
 *
 * The FFT and Winograd rounding is a model of their transform error, not a
 * transform: inputs rounded to 12 (11) bits carry a relative error of up to
 * 2^-13 (2^-12), so outputs of random data are off by about 7e-5 (1.3e-4)
 * relative (L2), deterministically. A caller that admits them where fp32-exact
 * results are wanted fails its 1e-5 comparisons here on typical data, not
 * only on unlucky data as on a GPU. They apply only at stride 1 without
 * dilation: FFT with padded inputs up to 256 and pads below the filter
 * size, FFT_TILING with filters up to 32, WINOGRAD to 3x3 and
 * WINOGRAD_NONFUSED to 3x3 and 5x5 filters (simplified from cuDNN's support
 * tables).
 *
 * Non-deterministic: BWD_DATA ALGO_0 and BWD_FILTER ALGO_0 and ALGO_3, as
 * in cuDNN (atomics there). Each call draws a seed with emu_random(), from
 * which cudnn_conv.cc orders its partial sums differently on every call.
 * Everything else sums in one fixed order.
 *
 * Tensor ops: FWD IMPLICIT_PRECOMP_GEMM exists only as a tensor-op kernel
 * (CUDNN_STATUS_NOT_SUPPORTED under CUDNN_FMA_MATH); BWD_DATA ALGO_0/1 and
 * BWD_FILTER ALGO_0/1 have both kinds. A tensor-op kernel runs when the
 * convolution descriptor's math type at the call is DEFAULT, TENSOR_OP or
 * TENSOR_OP_ALLOW_CONVERSION, and then rounds its inputs to TF32 (10
 * mantissa bits), as Ampere and later do for float data. Under FMA_MATH the
 * same algorithm runs in full FP32.
 *
 * Heuristics (the _v7 calls) rank by the descriptor's math type at the
 * query. Tensor ops allowed: a tensor-op entry first (mathType
 * CUDNN_TENSOR_OP_MATH), then FFT/Winograd, the FMA variants further down.
 * FMA_MATH: FFT/Winograd or a non-deterministic algorithm first, tensor-op
 * entries at the end with status CUDNN_STATUS_NOT_SUPPORTED. Either way the
 * deterministic FP32 algorithm (FWD IMPLICIT_GEMM, BWD ALGO_1) is listed,
 * never first. Entries that cannot run (shape, math type) come last with
 * CUDNN_STATUS_NOT_SUPPORTED. An entry's mathType is what to set on the
 * descriptor to run it: TENSOR_OP_MATH for a tensor-op kernel
 * (ALLOW_CONVERSION if the descriptor says so); FMA_MATH for the FP32
 * kernel of an algorithm that has both kinds; for the others FMA_MATH under
 * FMA_MATH, DEFAULT_MATH otherwise. time is -1: nothing is measured.
 *
 * Workspace: every algorithm needs some (a size from its kind and the
 * shape: indices, an im2col buffer, FFT or Winograd transforms); the call
 * checks that the workspace is device memory of at least that size
 * (CUDNN_STATUS_BAD_PARAM otherwise, with a note) and fills it with NaN
 * when the queued work starts. The emulator computes in host scratch.
 *
 * Checks: descriptors must be live and set; dims and strides positive,
 * pads non-negative; channels of input and filter equal; the filter no
 * larger than the padded input; the output descriptor equal to
 * cudnnGetConvolution2dForwardOutputDim: CUDNN_STATUS_BAD_PARAM. Formats
 * other than NCHW and data types other than float are
 * CUDNN_STATUS_NOT_SUPPORTED (the emulator does not model them). Tensors,
 * filter and workspace must each lie in one device allocation (a host
 * pointer is CUDNN_STATUS_BAD_PARAM with a note: a GPU would fault later).
 * alpha and beta are host floats read at the call; beta == 0: the output is
 * not read.
 *
 * Fault injection (CUGEN_EMU_FAIL=cudnn:K): every call that can fail on a
 * GPU asks emu_inject("cudnn") first and an injected failure changes
 * nothing: creates return CUDNN_STATUS_ALLOC_FAILED, the convolutions
 * CUDNN_STATUS_EXECUTION_FAILED (also when the device has a sticky error),
 * everything else CUDNN_STATUS_INTERNAL_ERROR. The destroys,
 * cudnnGetErrorString and cudnnGetVersion are not counted.
 *
 * Not for: grouped convolutions, NHWC, half or double data, the graph API.
 */
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cudnn.h"
#include "cudnn_internal.h"
#include "emu.h"
#include "gemm.h"

using namespace emu_cudnn;

struct cudnnContext {
    cudaStream_t stream;
};
struct cudnnTensorStruct {
    bool set;
    cudnnTensorFormat_t format;
    cudnnDataType_t type;
    int n, c, h, w;
};
struct cudnnFilterStruct {
    bool set;
    cudnnDataType_t type;
    cudnnTensorFormat_t format;
    int k, c, h, w;
};
struct cudnnConvolutionStruct {
    bool set;
    int ph, pw, sh, sw, dh, dw;
    cudnnConvolutionMode_t mode;
    cudnnDataType_t compute;
    cudnnMathType_t math;
};

namespace {

/* ---- live objects --------------------------------------------------------------------- */
enum { OBJ_HANDLE, OBJ_TENSOR, OBJ_FILTER, OBJ_CONV };
std::mutex live_mu;
std::unordered_map<const void *, int> live;

bool is_live(const void *p, int kind)
{
    std::lock_guard<std::mutex> g(live_mu);
    auto it = live.find(p);
    return p && it != live.end() && it->second == kind;
}

template <class T>
cudnnStatus_t create(T **out, int kind)
{
    if (emu_inject("cudnn"))
        return CUDNN_STATUS_ALLOC_FAILED;
    if (!out)
        return CUDNN_STATUS_BAD_PARAM;
    T *p = new T();
    std::lock_guard<std::mutex> g(live_mu);
    live[p] = kind;
    *out = p;
    return CUDNN_STATUS_SUCCESS;
}

template <class T>
cudnnStatus_t destroy(T *p, int kind)
{
    if (!p)
        return CUDNN_STATUS_SUCCESS;
    if (!is_live(p, kind))
        return CUDNN_STATUS_BAD_PARAM;
    {
        std::lock_guard<std::mutex> g(live_mu);
        live.erase(p);
    }
    delete p;
    return CUDNN_STATUS_SUCCESS;
}

bool tensor_ok(const cudnnTensorStruct *t) { return is_live(t, OBJ_TENSOR) && t->set; }
bool filter_ok(const cudnnFilterStruct *f) { return is_live(f, OBJ_FILTER) && f->set; }
bool conv_ok(const cudnnConvolutionStruct *c) { return is_live(c, OBJ_CONV) && c->set; }

bool tensor_ops_allowed(cudnnMathType_t m)
{
    return m == CUDNN_DEFAULT_MATH || m == CUDNN_TENSOR_OP_MATH ||
           m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

/* ---- geometry --------------------------------------------------------------------------- */
/* Descriptors -> geometry; y may be NULL (the output-dim query), and then
 * data types and formats are not looked at. */
cudnnStatus_t geom_of(const char *fn, const cudnnTensorStruct *x, const cudnnFilterStruct *w,
                      const cudnnConvolutionStruct *cd, const cudnnTensorStruct *y, geom *g)
{
    if (!tensor_ok(x) || !filter_ok(w) || !conv_ok(cd) || (y && !tensor_ok(y))) {
        emu_note("%s: a descriptor is NULL, destroyed or never set", fn);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (x->c != w->c) {
        emu_note("%s: the input has %d channels, the filter %d", fn, x->c, w->c);
        return CUDNN_STATUS_BAD_PARAM;
    }
    int er = cd->dh * (w->h - 1) + 1, es = cd->dw * (w->w - 1) + 1;
    if (x->h + 2 * cd->ph < er || x->w + 2 * cd->pw < es) {
        emu_note("%s: the (dilated) filter %dx%d is larger than the padded input %dx%d", fn, er,
                 es, x->h + 2 * cd->ph, x->w + 2 * cd->pw);
        return CUDNN_STATUS_BAD_PARAM;
    }
    *g = geom{x->n, x->c, x->h, x->w, w->k, w->h, w->w,
              1 + (x->h + 2 * cd->ph - er) / cd->sh, 1 + (x->w + 2 * cd->pw - es) / cd->sw,
              cd->ph, cd->pw, cd->sh, cd->sw, cd->dh, cd->dw, cd->mode == CUDNN_CONVOLUTION,
              cd->math};
    if (!y)
        return CUDNN_STATUS_SUCCESS;
    if (y->n != g->N || y->c != g->K || y->h != g->Ho || y->w != g->Wo) {
        emu_note("%s: the output descriptor is (%d, %d, %d, %d); the convolution gives (%d, %d, "
                 "%d, %d)", fn, y->n, y->c, y->h, y->w, g->N, g->K, g->Ho, g->Wo);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (x->type != w->type || y->type != x->type) {
        emu_note("%s: the tensors' and the filter's data types differ", fn);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (x->type != CUDNN_DATA_FLOAT || cd->compute != CUDNN_DATA_FLOAT ||
        x->format != CUDNN_TENSOR_NCHW || y->format != CUDNN_TENSOR_NCHW ||
        w->format != CUDNN_TENSOR_NCHW) {
        emu_note("%s: the emulator models float NCHW convolutions computed in float only", fn);
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
    return CUDNN_STATUS_SUCCESS;
}

/* ---- algorithms ------------------------------------------------------------------------ */
enum family { FAM_GEMM, FAM_FFT, FAM_FFT_TILING, FAM_WINOGRAD, FAM_WINOGRAD_NONFUSED, FAM_NONE };
enum kernels { FMA_ONLY, TC_ONLY, BOTH };
enum ws_kind { WS_SMALL, WS_INDICES, WS_IM2COL, WS_PARTIALS, WS_TRANSFORM };

struct algo_info {
    family fam;
    kernels kern;
    bool nondet;
    ws_kind ws;
};

const algo_info FWD_ALGOS[] = {
    {FAM_GEMM, FMA_ONLY, false, WS_SMALL},                  /* IMPLICIT_GEMM */
    {FAM_GEMM, TC_ONLY, false, WS_INDICES},                 /* IMPLICIT_PRECOMP_GEMM */
    {FAM_GEMM, FMA_ONLY, false, WS_IM2COL},                 /* GEMM */
    {FAM_NONE, FMA_ONLY, false, WS_SMALL},                  /* DIRECT */
    {FAM_FFT, FMA_ONLY, false, WS_TRANSFORM},               /* FFT */
    {FAM_FFT_TILING, FMA_ONLY, false, WS_TRANSFORM},        /* FFT_TILING */
    {FAM_WINOGRAD, FMA_ONLY, false, WS_TRANSFORM},          /* WINOGRAD */
    {FAM_WINOGRAD_NONFUSED, FMA_ONLY, false, WS_TRANSFORM}, /* WINOGRAD_NONFUSED */
};
const algo_info BWD_DATA_ALGOS[] = {
    {FAM_GEMM, BOTH, true, WS_SMALL},                       /* ALGO_0 */
    {FAM_GEMM, BOTH, false, WS_INDICES},                    /* ALGO_1 */
    {FAM_FFT, FMA_ONLY, false, WS_TRANSFORM},               /* FFT */
    {FAM_FFT_TILING, FMA_ONLY, false, WS_TRANSFORM},        /* FFT_TILING */
    {FAM_WINOGRAD, FMA_ONLY, false, WS_TRANSFORM},          /* WINOGRAD */
    {FAM_WINOGRAD_NONFUSED, FMA_ONLY, false, WS_TRANSFORM}, /* WINOGRAD_NONFUSED */
};
const algo_info BWD_FILTER_ALGOS[] = {
    {FAM_GEMM, BOTH, true, WS_SMALL},                       /* ALGO_0 */
    {FAM_GEMM, BOTH, false, WS_INDICES},                    /* ALGO_1 */
    {FAM_FFT, FMA_ONLY, false, WS_TRANSFORM},               /* FFT */
    {FAM_GEMM, FMA_ONLY, true, WS_PARTIALS},                /* ALGO_3 */
    {FAM_NONE, FMA_ONLY, false, WS_SMALL},                  /* WINOGRAD */
    {FAM_WINOGRAD_NONFUSED, FMA_ONLY, false, WS_TRANSFORM}, /* WINOGRAD_NONFUSED */
    {FAM_FFT_TILING, FMA_ONLY, false, WS_TRANSFORM},        /* FFT_TILING */
};
const int ALGO_COUNT[] = {CUDNN_CONVOLUTION_FWD_ALGO_COUNT, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                          CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT};

const algo_info &info(int dir, int algo)
{
    return dir == DIR_FWD ? FWD_ALGOS[algo]
           : dir == DIR_BWD_DATA ? BWD_DATA_ALGOS[algo] : BWD_FILTER_ALGOS[algo];
}

bool shape_fits(family f, const geom &g)
{
    bool unit = g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1;
    switch (f) {
    case FAM_GEMM: return true;
    case FAM_FFT:
        return unit && g.H + 2 * g.ph <= 256 && g.W + 2 * g.pw <= 256 && g.ph < g.R &&
               g.pw < g.S;
    case FAM_FFT_TILING: return unit && g.R <= 32 && g.S <= 32 && g.ph < g.R && g.pw < g.S;
    case FAM_WINOGRAD: return unit && g.R == 3 && g.S == 3;
    case FAM_WINOGRAD_NONFUSED: return unit && g.R == g.S && (g.R == 3 || g.R == 5);
    case FAM_NONE: return false;
    }
    return false;
}

/* Can algo run with the descriptor's math type (and which kernel)? */
bool runnable(const algo_info &a, const geom &g)
{
    return shape_fits(a.fam, g) && (a.kern != TC_ONLY || tensor_ops_allowed(g.math));
}

/* Mantissa bits the inputs keep when algo runs under the descriptor's math type. */
int input_bits(const algo_info &a, const geom &g)
{
    if (a.kern != FMA_ONLY && tensor_ops_allowed(g.math))
        return EMU_BITS_TF32;
    switch (a.fam) {
    case FAM_FFT:
    case FAM_FFT_TILING: return 12;
    case FAM_WINOGRAD:
    case FAM_WINOGRAD_NONFUSED: return 11;
    default: return EMU_BITS_FP32;
    }
}

size_t pow2_at_least(long v)
{
    size_t p = 1;
    while ((long)p < v)
        p *= 2;
    return p;
}

size_t workspace_bytes(const algo_info &a, const geom &g)
{
    size_t f = sizeof(float), C = (size_t)g.C, K = (size_t)g.K;
    size_t crs = (size_t)g.crs(), pix = (size_t)g.pix();
    switch (a.ws) {
    case WS_SMALL: return 256 + f * K;
    case WS_INDICES: return 256 + f * (crs + pix);
    case WS_IM2COL: return f * crs * pix;
    case WS_PARTIALS: return 256 + f * K * crs * (size_t)std::min(g.N, 8);
    case WS_TRANSFORM: break;
    }
    switch (a.fam) {
    case FAM_FFT:
        return 2 * f * (C + K) * pow2_at_least(g.H + 2 * g.ph) * pow2_at_least(g.W + 2 * g.pw);
    case FAM_FFT_TILING: return 2 * f * (C + K) * 32 * 32;
    case FAM_WINOGRAD: return 256 + 16 * f * (C + K);
    default: {
        size_t tiles = (size_t)((g.Ho + 3) / 4) * (size_t)((g.Wo + 3) / 4);
        size_t t = (size_t)(g.R + 3) * (size_t)(g.R + 3);
        return f * t * (C * K + (C + K) * tiles);
    }
    }
}

/* ---- heuristics -------------------------------------------------------------------------- */
struct rank {
    int algo;
    bool tensor_op;
};
/* Best first, per direction: tensor ops allowed, then FMA_MATH. */
const rank RANK_FWD[2][8] = {
    {{1, true}, {7, false}, {5, false}, {0, false}, {2, false}, {6, false}, {4, false},
     {3, false}},
    {{7, false}, {5, false}, {2, false}, {0, false}, {6, false}, {4, false}, {1, true},
     {3, false}},
};
const rank RANK_BWD_DATA[2][8] = {
    {{0, true}, {1, true}, {5, false}, {3, false}, {0, false}, {1, false}, {4, false},
     {2, false}},
    {{0, false}, {5, false}, {3, false}, {1, false}, {4, false}, {2, false}, {0, true},
     {1, true}},
};
const rank RANK_BWD_FILTER[2][9] = {
    {{0, true}, {3, false}, {1, true}, {5, false}, {6, false}, {0, false}, {1, false},
     {2, false}, {4, false}},
    {{3, false}, {0, false}, {5, false}, {6, false}, {1, false}, {2, false}, {0, true},
     {1, true}, {4, false}},
};

template <class Perf, class Algo>
cudnnStatus_t heuristics(const char *fn, int dir, cudnnHandle_t h, const cudnnTensorStruct *x,
                         const cudnnFilterStruct *w, const cudnnConvolutionStruct *cd,
                         const cudnnTensorStruct *y, int requested, int *returned, Perf *perf)
{
    if (emu_inject("cudnn"))
        return CUDNN_STATUS_INTERNAL_ERROR;
    if (!is_live(h, OBJ_HANDLE) || requested < 1 || !returned || !perf)
        return CUDNN_STATUS_BAD_PARAM;
    geom g;
    cudnnStatus_t st = geom_of(fn, x, w, cd, y, &g);
    if (st != CUDNN_STATUS_SUCCESS)
        return st;
    int tc = tensor_ops_allowed(g.math) ? 0 : 1;
    const rank *list = dir == DIR_FWD ? RANK_FWD[tc]
                       : dir == DIR_BWD_DATA ? RANK_BWD_DATA[tc] : RANK_BWD_FILTER[tc];
    int len = dir == DIR_FWD ? 8 : dir == DIR_BWD_DATA ? 8 : 9;
    std::vector<Perf> ok, not_ok;
    for (int i = 0; i < len; i++) {
        const algo_info &a = info(dir, list[i].algo);
        Perf p{};
        p.algo = (Algo)list[i].algo;
        bool can = shape_fits(a.fam, g) && (!list[i].tensor_op || tensor_ops_allowed(g.math));
        p.status = can ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED;
        p.time = -1;
        p.memory = can ? workspace_bytes(a, g) : 0;
        p.determinism = a.nondet ? CUDNN_NON_DETERMINISTIC : CUDNN_DETERMINISTIC;
        if (list[i].tensor_op)
            p.mathType = g.math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION
                             ? CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION : CUDNN_TENSOR_OP_MATH;
        else
            p.mathType = a.kern == BOTH || g.math == CUDNN_FMA_MATH ? CUDNN_FMA_MATH
                                                                    : CUDNN_DEFAULT_MATH;
        (can ? ok : not_ok).push_back(p);
    }
    ok.insert(ok.end(), not_ok.begin(), not_ok.end());
    *returned = std::min(requested, (int)ok.size());
    std::copy(ok.begin(), ok.begin() + *returned, perf);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t workspace_query(const char *fn, int dir, cudnnHandle_t h,
                              const cudnnTensorStruct *x, const cudnnFilterStruct *w,
                              const cudnnConvolutionStruct *cd, const cudnnTensorStruct *y,
                              int algo, size_t *bytes)
{
    if (emu_inject("cudnn"))
        return CUDNN_STATUS_INTERNAL_ERROR;
    if (!is_live(h, OBJ_HANDLE) || !bytes || algo < 0 || algo >= ALGO_COUNT[dir])
        return CUDNN_STATUS_BAD_PARAM;
    geom g;
    cudnnStatus_t st = geom_of(fn, x, w, cd, y, &g);
    if (st != CUDNN_STATUS_SUCCESS)
        return st;
    if (!runnable(info(dir, algo), g))
        return CUDNN_STATUS_NOT_SUPPORTED;
    *bytes = workspace_bytes(info(dir, algo), g);
    return CUDNN_STATUS_SUCCESS;
}

/* ---- the three calls ---------------------------------------------------------------------- */
const char *const DIR_NAMES[] = {"cudnnConvolutionForward", "cudnnConvolutionBackwardData",
                                 "cudnnConvolutionBackwardFilter"};

bool in_device(const char *fn, const char *what, const void *p, size_t bytes)
{
    if (p && emu_device_range(p, bytes))
        return true;
    emu_note("%s: %s = %p (%zu bytes) is not inside one device allocation", fn, what, p, bytes);
    return false;
}

/* x, w, y: the convolution's input, filter and output in its forward sense;
 * dir says which one is written. */
cudnnStatus_t conv_call(int dir, cudnnHandle_t h, const void *alpha, const void *beta,
                        const cudnnTensorStruct *xd, const cudnnFilterStruct *wd,
                        const cudnnConvolutionStruct *cd, const cudnnTensorStruct *yd, int algo,
                        void *ws, size_t ws_size, const void *x, const void *w, const void *y)
{
    const char *fn = DIR_NAMES[dir];
    if (emu_inject("cudnn"))
        return CUDNN_STATUS_EXECUTION_FAILED;
    if (!is_live(h, OBJ_HANDLE)) {
        emu_note("%s: the handle is NULL or destroyed", fn);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (!alpha || !beta)
        return CUDNN_STATUS_BAD_PARAM;
    if (emu_device_range(alpha, sizeof(float)) || emu_device_range(beta, sizeof(float))) {
        emu_note("%s: alpha and beta are host values; one points to device memory", fn);
        return CUDNN_STATUS_BAD_PARAM;
    }
    geom g;
    cudnnStatus_t st = geom_of(fn, xd, wd, cd, yd, &g);
    if (st != CUDNN_STATUS_SUCCESS)
        return st;
    if (algo < 0 || algo >= ALGO_COUNT[dir]) {
        emu_note("%s: algorithm %d does not exist", fn, algo);
        return CUDNN_STATUS_BAD_PARAM;
    }
    const algo_info &a = info(dir, algo);
    if (!runnable(a, g)) {
        emu_note("%s: algorithm %d does not run this shape under math type %d", fn, algo,
                 (int)g.math);
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
    size_t need = workspace_bytes(a, g);
    if (!ws || ws_size < need) {
        emu_note("%s: algorithm %d needs %zu bytes of workspace; given %p, %zu bytes", fn, algo,
                 need, ws, ws_size);
        return CUDNN_STATUS_BAD_PARAM;
    }
    size_t f = sizeof(float);
    if (!in_device(fn, "the workspace", ws, need) ||
        !in_device(fn, "x", x, f * (size_t)g.N * g.C * g.H * g.W) ||
        !in_device(fn, "w", w, f * (size_t)g.K * (size_t)g.crs()) ||
        !in_device(fn, "y", y, f * (size_t)g.N * g.K * (size_t)g.pix()))
        return CUDNN_STATUS_BAD_PARAM;
    if (emu_sticky() != cudaSuccess)
        return CUDNN_STATUS_EXECUTION_FAILED;
    conv_job j{g, input_bits(a, g), a.nondet, a.nondet ? emu_random() : 0,
               *(const float *)alpha, *(const float *)beta, (const float *)x, (const float *)w,
               (const float *)y, nullptr};
    j.out = (float *)(dir == DIR_FWD ? y : dir == DIR_BWD_DATA ? x : w);
    cudaError_t e = emu_enqueue(h->stream, fn, [j, dir, ws, need]() {
        emu_poison(ws, need);
        if (dir == DIR_FWD)
            run_fwd(j);
        else if (dir == DIR_BWD_DATA)
            run_bwd_data(j);
        else
            run_bwd_filter(j);
    });
    return e == cudaSuccess ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_EXECUTION_FAILED;
}

}  // namespace

/* ---- library, handle ------------------------------------------------------------------------ */
size_t cudnnGetVersion(void)
{
    return 91900;  /* 9.19.0, the headers followed here: major * 10000 + minor * 100 + patch */
}

const char *cudnnGetErrorString(cudnnStatus_t status)
{
    switch (status) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    case CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED:
        return "CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    }
    return "CUDNN_STATUS_UNKNOWN";
}

cudnnStatus_t cudnnCreate(cudnnHandle_t *handle)
{
    if (emu_inject("cudnn"))
        return CUDNN_STATUS_ALLOC_FAILED;
    if (!handle)
        return CUDNN_STATUS_BAD_PARAM;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        cudaGetLastError();  /* the failure is reported as this call's status */
        return CUDNN_STATUS_NOT_INITIALIZED;
    }
    if (emu_sticky() != cudaSuccess)
        return CUDNN_STATUS_NOT_INITIALIZED;
    cudnnContext *h = new cudnnContext{nullptr};
    std::lock_guard<std::mutex> g(live_mu);
    live[h] = OBJ_HANDLE;
    *handle = h;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle)
{
    if (!is_live(handle, OBJ_HANDLE))
        return CUDNN_STATUS_BAD_PARAM;
    emu_drain();
    return destroy(handle, OBJ_HANDLE);
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream)
{
    if (emu_inject("cudnn"))
        return CUDNN_STATUS_INTERNAL_ERROR;
    if (!is_live(handle, OBJ_HANDLE))
        return CUDNN_STATUS_BAD_PARAM;
    handle->stream = stream;
    return CUDNN_STATUS_SUCCESS;
}

/* ---- descriptors -------------------------------------------------------------------------- */
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *desc)
{
    return create(desc, OBJ_TENSOR);
}

cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t desc)
{
    return destroy(desc, OBJ_TENSOR);
}

static bool valid_type(cudnnDataType_t t)
{
    return t == CUDNN_DATA_FLOAT || t == CUDNN_DATA_DOUBLE || t == CUDNN_DATA_HALF;
}

static bool valid_format(cudnnTensorFormat_t f)
{
    return f == CUDNN_TENSOR_NCHW || f == CUDNN_TENSOR_NHWC;
}

/* 2^31 elements at most, as cuDNN */
static bool too_big(int a, int b, int c, int d)
{
    return (long long)a * b * c * d > ((long long)1 << 31);
}

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t desc, cudnnTensorFormat_t format,
                                         cudnnDataType_t dataType, int n, int c, int h, int w)
{
    if (emu_inject("cudnn"))
        return CUDNN_STATUS_INTERNAL_ERROR;
    if (!is_live(desc, OBJ_TENSOR) || n <= 0 || c <= 0 || h <= 0 || w <= 0 ||
        !valid_format(format) || !valid_type(dataType))
        return CUDNN_STATUS_BAD_PARAM;
    if (too_big(n, c, h, w))
        return CUDNN_STATUS_NOT_SUPPORTED;
    *desc = cudnnTensorStruct{true, format, dataType, n, c, h, w};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *desc)
{
    return create(desc, OBJ_FILTER);
}

cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t desc)
{
    return destroy(desc, OBJ_FILTER);
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t desc, cudnnDataType_t dataType,
                                         cudnnTensorFormat_t format, int k, int c, int h, int w)
{
    if (emu_inject("cudnn"))
        return CUDNN_STATUS_INTERNAL_ERROR;
    if (!is_live(desc, OBJ_FILTER) || k <= 0 || c <= 0 || h <= 0 || w <= 0 ||
        !valid_format(format) || !valid_type(dataType))
        return CUDNN_STATUS_BAD_PARAM;
    if (too_big(k, c, h, w))
        return CUDNN_STATUS_NOT_SUPPORTED;
    *desc = cudnnFilterStruct{true, dataType, format, k, c, h, w};
    return CUDNN_STATUS_SUCCESS;
}

/* A new descriptor's math type is CUDNN_DEFAULT_MATH (0), as in cuDNN. */
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *desc)
{
    return create(desc, OBJ_CONV);
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t desc)
{
    return destroy(desc, OBJ_CONV);
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t desc, int pad_h,
                                              int pad_w, int u, int v, int dilation_h,
                                              int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t computeType)
{
    if (emu_inject("cudnn"))
        return CUDNN_STATUS_INTERNAL_ERROR;
    if (!is_live(desc, OBJ_CONV) || pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 ||
        dilation_h <= 0 || dilation_w <= 0 ||
        (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION) ||
        !valid_type(computeType))
        return CUDNN_STATUS_BAD_PARAM;
    *desc = cudnnConvolutionStruct{true, pad_h, pad_w, u, v, dilation_h, dilation_w, mode,
                                   computeType, desc->math};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t desc,
                                          cudnnMathType_t mathType)
{
    if (emu_inject("cudnn"))
        return CUDNN_STATUS_INTERNAL_ERROR;
    if (!is_live(desc, OBJ_CONV) ||
        (mathType != CUDNN_DEFAULT_MATH && mathType != CUDNN_TENSOR_OP_MATH &&
         mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && mathType != CUDNN_FMA_MATH))
        return CUDNN_STATUS_BAD_PARAM;
    desc->math = mathType;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t convDesc,
                                                    const cudnnTensorDescriptor_t inputTensorDesc,
                                                    const cudnnFilterDescriptor_t filterDesc,
                                                    int *n, int *c, int *h, int *w)
{
    if (emu_inject("cudnn"))
        return CUDNN_STATUS_INTERNAL_ERROR;
    if (!n || !c || !h || !w)
        return CUDNN_STATUS_BAD_PARAM;
    geom g;
    cudnnStatus_t st = geom_of("cudnnGetConvolution2dForwardOutputDim", inputTensorDesc,
                               filterDesc, convDesc, nullptr, &g);
    if (st != CUDNN_STATUS_SUCCESS)
        return st;
    *n = g.N;
    *c = g.K;
    *h = g.Ho;
    *w = g.Wo;
    return CUDNN_STATUS_SUCCESS;
}

/* ---- heuristics and workspaces -------------------------------------------------------------- */
cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
    const cudnnFilterDescriptor_t filterDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t destDesc, const int requestedAlgoCount, int *returnedAlgoCount,
    cudnnConvolutionFwdAlgoPerf_t *perfResults)
{
    return heuristics<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(
        "cudnnGetConvolutionForwardAlgorithm_v7", DIR_FWD, handle, srcDesc, filterDesc, convDesc,
        destDesc, requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc,
    const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t gradDesc, const int requestedAlgoCount, int *returnedAlgoCount,
    cudnnConvolutionBwdDataAlgoPerf_t *perfResults)
{
    return heuristics<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(
        "cudnnGetConvolutionBackwardDataAlgorithm_v7", DIR_BWD_DATA, handle, gradDesc,
        filterDesc, convDesc, diffDesc, requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
    const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnFilterDescriptor_t gradDesc, const int requestedAlgoCount, int *returnedAlgoCount,
    cudnnConvolutionBwdFilterAlgoPerf_t *perfResults)
{
    return heuristics<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(
        "cudnnGetConvolutionBackwardFilterAlgorithm_v7", DIR_BWD_FILTER, handle, srcDesc,
        gradDesc, convDesc, diffDesc, requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
    const cudnnFilterDescriptor_t wDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t yDesc, cudnnConvolutionFwdAlgo_t algo, size_t *sizeInBytes)
{
    return workspace_query("cudnnGetConvolutionForwardWorkspaceSize", DIR_FWD, handle, xDesc,
                           wDesc, convDesc, yDesc, algo, sizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc,
    const cudnnTensorDescriptor_t dyDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t dxDesc, cudnnConvolutionBwdDataAlgo_t algo,
    size_t *sizeInBytes)
{
    return workspace_query("cudnnGetConvolutionBackwardDataWorkspaceSize", DIR_BWD_DATA, handle,
                           dxDesc, wDesc, convDesc, dyDesc, algo, sizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
    const cudnnTensorDescriptor_t dyDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnFilterDescriptor_t gradDesc, cudnnConvolutionBwdFilterAlgo_t algo,
    size_t *sizeInBytes)
{
    return workspace_query("cudnnGetConvolutionBackwardFilterWorkspaceSize", DIR_BWD_FILTER,
                           handle, xDesc, gradDesc, convDesc, dyDesc, algo, sizeInBytes);
}

/* ---- convolutions ---------------------------------------------------------------------------- */
cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void *alpha,
                                      const cudnnTensorDescriptor_t xDesc, const void *x,
                                      const cudnnFilterDescriptor_t wDesc, const void *w,
                                      const cudnnConvolutionDescriptor_t convDesc,
                                      cudnnConvolutionFwdAlgo_t algo, void *workSpace,
                                      size_t workSpaceSizeInBytes, const void *beta,
                                      const cudnnTensorDescriptor_t yDesc, void *y)
{
    return conv_call(DIR_FWD, handle, alpha, beta, xDesc, wDesc, convDesc, yDesc, algo, workSpace,
                     workSpaceSizeInBytes, x, w, y);
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void *alpha,
                                           const cudnnFilterDescriptor_t wDesc, const void *w,
                                           const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                           const cudnnConvolutionDescriptor_t convDesc,
                                           cudnnConvolutionBwdDataAlgo_t algo, void *workSpace,
                                           size_t workSpaceSizeInBytes, const void *beta,
                                           const cudnnTensorDescriptor_t dxDesc, void *dx)
{
    return conv_call(DIR_BWD_DATA, handle, alpha, beta, dxDesc, wDesc, convDesc, dyDesc, algo,
                     workSpace, workSpaceSizeInBytes, dx, w, dy);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void *alpha,
                                             const cudnnTensorDescriptor_t xDesc, const void *x,
                                             const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                             const cudnnConvolutionDescriptor_t convDesc,
                                             cudnnConvolutionBwdFilterAlgo_t algo,
                                             void *workSpace, size_t workSpaceSizeInBytes,
                                             const void *beta,
                                             const cudnnFilterDescriptor_t dwDesc, void *dw)
{
    return conv_call(DIR_BWD_FILTER, handle, alpha, beta, xDesc, dwDesc, convDesc, dyDesc, algo,
                     workSpace, workSpaceSizeInBytes, x, dw, dy);
}
