/*
 * cublas.cc: the emulated cuBLAS (include/cublas_v2.h): handles, stream and
 * math mode, SGEMM and its strided-batched form, and the blocked CPU product
 * (gemm.h) that the emulated cuDNN shares.
 *
 * What a GEMM call does, in order: cuBLAS's documented argument checks
 * (CUBLAS_STATUS_INVALID_VALUE for negative sizes, a leading dimension
 * below max(1, rows of the stored matrix), a NULL alpha or beta), alpha and
 * beta read now (pointer mode host), the quick returns (m or n or
 * batchCount 0; k == 0 or alpha == 0 with beta == 1), then every matrix the
 * product reads or writes checked to lie in one device allocation (a host
 * pointer is CUBLAS_STATUS_INVALID_VALUE with a note saying which: a GPU
 * would fault later instead), and the product queued on the handle's
 * stream. A NULL or destroyed handle is CUBLAS_STATUS_NOT_INITIALIZED; a
 * device with a sticky error makes a GEMM CUBLAS_STATUS_EXECUTION_FAILED.
 *
 * Rounding: each element of C is one float sum of its k products in order
 * p = 0 .. k-1, each product rounded to float before it is added (no fused
 * multiply-add; the emulator is built with -ffp-contract=off), then
 * alpha s + beta c. A GPU's SGEMM also sums in float, with FMAs and in its
 * own order, so both are within a few float ulps per term of the exact
 * result. CUBLAS_TF32_TENSOR_OP_MATH rounds A and B to TF32 (10 mantissa
 * bits, to nearest even) first, as tensor cores do; the default and
 * pedantic modes are full FP32.
 *
 * Fault injection (CUGEN_EMU_FAIL=cublas:K): every call that can fail on a
 * GPU asks emu_inject("cublas") first, and an injected failure changes
 * nothing: cublasCreate returns CUBLAS_STATUS_NOT_INITIALIZED (what a
 * failed context set-up gives), the GEMMs CUBLAS_STATUS_EXECUTION_FAILED,
 * the setters CUBLAS_STATUS_INTERNAL_ERROR. cublasDestroy and
 * cublasGetStatusString are not counted.
 *
 * Not for: other cuBLAS functions, device pointer mode, cublasLt.
 */
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "cublas_v2.h"
#include "emu.h"
#include "gemm.h"

/* ---- the CPU product ------------------------------------------------------------------- */
float emu_round_mantissa(float x, int bits)
{
    if (bits >= 23)
        return x;
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u)
        return x;
    int drop = 23 - bits;
    uint32_t half = 1u << (drop - 1);
    u += half - 1 + ((u >> drop) & 1u);
    u &= ~((1u << drop) - 1u);
    memcpy(&x, &u, sizeof x);
    return x;
}

namespace {

/* Register tile MR x NR of C (eight rows in one vector, six columns), K
 * blocked by KC and rows by MC so that the packed panels stay in cache. */
typedef float v8f __attribute__((vector_size(32)));
constexpr int MR = 8, NR = 6, KC = 256, MC = 128;

struct gemm_scratch {
    std::vector<float> a, b, t;
};
thread_local gemm_scratch scratch;

inline float rounded(float v, int bits)
{
    return bits < 23 ? emu_round_mantissa(v, bits) : v;
}

/* op(A) rows [i0, i0 + mc) (mc a multiple of MR) by columns [p0, p0 + kc)
 * into panels of MR rows: (ii, p) of panel q at (q kc + p) MR + ii; rows
 * past m are 0. */
void pack_a(bool ta, const float *A, long lda, int m, int i0, int mc, int p0, int kc, int bits,
            float *dst)
{
    for (int q = 0; q < mc / MR; q++) {
        float *d = dst + (size_t)q * kc * MR;
        int ib = i0 + q * MR, rows = std::min(MR, m - ib);
        if (rows < MR)
            std::fill(d, d + (size_t)kc * MR, 0.0f);
        if (ta) {  /* op(A)(i, p) = A[p + i lda] */
            for (int ii = 0; ii < rows; ii++) {
                const float *src = A + (long)(ib + ii) * lda + p0;
                for (int p = 0; p < kc; p++)
                    d[p * MR + ii] = rounded(src[p], bits);
            }
        } else {   /* op(A)(i, p) = A[i + p lda] */
            for (int p = 0; p < kc; p++) {
                const float *src = A + (long)(p0 + p) * lda + ib;
                for (int ii = 0; ii < rows; ii++)
                    d[p * MR + ii] = rounded(src[ii], bits);
            }
        }
    }
}

/* op(B) rows [p0, p0 + kc) by all n columns into panels of NR columns:
 * (p, jj) of panel q at (q kc + p) NR + jj; columns past n are 0. */
void pack_b(bool tb, const float *B, long ldb, int n, int p0, int kc, int bits, float *dst)
{
    for (int q = 0; q * NR < n; q++) {
        float *d = dst + (size_t)q * kc * NR;
        int jb = q * NR, cols = std::min(NR, n - jb);
        if (cols < NR)
            std::fill(d, d + (size_t)kc * NR, 0.0f);
        if (tb) {  /* op(B)(p, j) = B[j + p ldb] */
            for (int p = 0; p < kc; p++) {
                const float *src = B + (long)(p0 + p) * ldb + jb;
                for (int jj = 0; jj < cols; jj++)
                    d[p * NR + jj] = rounded(src[jj], bits);
            }
        } else {   /* op(B)(p, j) = B[p + j ldb] */
            for (int jj = 0; jj < cols; jj++) {
                const float *src = B + (long)(jb + jj) * ldb + p0;
                for (int p = 0; p < kc; p++)
                    d[p * NR + jj] = rounded(src[p], bits);
            }
        }
    }
}

/* t (MR x NR, column stride ldt) += the kc products of one A and one B
 * panel, in order of p; first: t starts at 0 (not read). */
void micro(int kc, const float *a, const float *b, float *t, long ldt, bool first)
{
    v8f c0 = {}, c1 = {}, c2 = {}, c3 = {}, c4 = {}, c5 = {};
    if (!first) {
        memcpy(&c0, t + 0 * ldt, sizeof c0);
        memcpy(&c1, t + 1 * ldt, sizeof c1);
        memcpy(&c2, t + 2 * ldt, sizeof c2);
        memcpy(&c3, t + 3 * ldt, sizeof c3);
        memcpy(&c4, t + 4 * ldt, sizeof c4);
        memcpy(&c5, t + 5 * ldt, sizeof c5);
    }
    for (int p = 0; p < kc; p++) {
        v8f av;
        memcpy(&av, a + p * MR, sizeof av);
        const float *bp = b + p * NR;
        c0 += av * bp[0];
        c1 += av * bp[1];
        c2 += av * bp[2];
        c3 += av * bp[3];
        c4 += av * bp[4];
        c5 += av * bp[5];
    }
    memcpy(t + 0 * ldt, &c0, sizeof c0);
    memcpy(t + 1 * ldt, &c1, sizeof c1);
    memcpy(t + 2 * ldt, &c2, sizeof c2);
    memcpy(t + 3 * ldt, &c3, sizeof c3);
    memcpy(t + 4 * ldt, &c4, sizeof c4);
    memcpy(t + 5 * ldt, &c5, sizeof c5);
}

}  // namespace

void emu_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *A, long lda,
               const float *B, long ldb, float beta, float *C, long ldc, int bits)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0 || alpha == 0) {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
                C[i + j * ldc] = beta == 0 ? 0.0f : beta * C[i + j * ldc];
        return;
    }
    /* t: the sums, (mp, np) column-major, padded to whole tiles */
    long mp = (m + MR - 1) / MR * MR, np = (n + NR - 1) / NR * NR;
    gemm_scratch &s = scratch;
    s.t.resize((size_t)(mp * np));
    s.b.resize((size_t)KC * np);
    s.a.resize((size_t)KC * MC);
    float *t = s.t.data();
    for (int p0 = 0; p0 < k; p0 += KC) {
        int kc = std::min(KC, k - p0);
        pack_b(tb, B, ldb, n, p0, kc, bits, s.b.data());
        for (long i0 = 0; i0 < mp; i0 += MC) {
            int mc = (int)std::min((long)MC, mp - i0);
            pack_a(ta, A, lda, m, (int)i0, mc, p0, kc, bits, s.a.data());
            for (long j = 0; j < np; j += NR)
                for (int i = 0; i < mc; i += MR)
                    micro(kc, s.a.data() + (size_t)(i / MR) * kc * MR,
                          s.b.data() + (size_t)(j / NR) * kc * NR, t + (i0 + i) + j * mp, mp,
                          p0 == 0);
        }
    }
    for (int j = 0; j < n; j++) {
        const float *tj = t + j * mp;
        float *cj = C + j * ldc;
        if (beta == 0)
            for (int i = 0; i < m; i++)
                cj[i] = alpha * tj[i];
        else
            for (int i = 0; i < m; i++)
                cj[i] = alpha * tj[i] + beta * cj[i];
    }
}

/* ---- handles ------------------------------------------------------------------------- */
struct cublasContext {
    cudaStream_t stream;
    cublasMath_t math;
};

namespace {

std::mutex live_mu;
std::unordered_set<const cublasContext *> live;

bool is_live(const cublasContext *h)
{
    std::lock_guard<std::mutex> g(live_mu);
    return h && live.count(h) != 0;
}

const char *op_name(cublasOperation_t op)
{
    return op == CUBLAS_OP_N ? "N" : "T";
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t *handle)
{
    if (emu_inject("cublas"))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!handle)
        return CUBLAS_STATUS_INVALID_VALUE;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        cudaGetLastError();  /* the failure is reported as this call's status */
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    if (emu_sticky() != cudaSuccess)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    cublasContext *h = new cublasContext{nullptr, CUBLAS_DEFAULT_MATH};
    {
        std::lock_guard<std::mutex> g(live_mu);
        live.insert(h);
    }
    *handle = h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle)
{
    if (!is_live(handle))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    emu_drain();
    {
        std::lock_guard<std::mutex> g(live_mu);
        live.erase(handle);
    }
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream)
{
    if (emu_inject("cublas"))
        return CUBLAS_STATUS_INTERNAL_ERROR;
    if (!is_live(handle))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    if (emu_inject("cublas"))
        return CUBLAS_STATUS_INTERNAL_ERROR;
    if (!is_live(handle))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_DEFAULT_MATH && mode != CUBLAS_PEDANTIC_MATH &&
        mode != CUBLAS_TF32_TENSOR_OP_MATH) {
        emu_note("cublasSetMathMode: mode %d is not one the emulator models (DEFAULT, PEDANTIC, "
                 "TF32_TENSOR_OP)", (int)mode);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t status)
{
    switch (status) {
    case CUBLAS_STATUS_SUCCESS:
        return "CUBLAS_STATUS_SUCCESS: success";
    case CUBLAS_STATUS_NOT_INITIALIZED:
        return "CUBLAS_STATUS_NOT_INITIALIZED: the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED:
        return "CUBLAS_STATUS_ALLOC_FAILED: resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE:
        return "CUBLAS_STATUS_INVALID_VALUE: an invalid value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH:
        return "CUBLAS_STATUS_ARCH_MISMATCH: an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR:
        return "CUBLAS_STATUS_MAPPING_ERROR: an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED:
        return "CUBLAS_STATUS_EXECUTION_FAILED: the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR:
        return "CUBLAS_STATUS_INTERNAL_ERROR: an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED:
        return "CUBLAS_STATUS_NOT_SUPPORTED: the functionality requested is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR:
        return "CUBLAS_STATUS_LICENSE_ERROR: license error";
    }
    return "unknown cuBLAS status";
}

/* ---- SGEMM ---------------------------------------------------------------------------- */
namespace {

/* count matrices of rows x cols (column stride ld), the i-th at p + i stride,
 * all inside one device allocation? */
bool in_device(const float *p, int rows, int cols, long ld, long long stride, int count)
{
    long long last = (long long)(count - 1) * stride;
    long long lo = std::min(0LL, last), hi = std::max(0LL, last);
    size_t bytes = ((size_t)(hi - lo) + (size_t)(cols - 1) * (size_t)ld + (size_t)rows) *
                   sizeof(float);
    uintptr_t start = (uintptr_t)p + (uintptr_t)(lo * (long long)sizeof(float));
    return p && emu_device_range((const void *)start, bytes);
}

bool valid_op(cublasOperation_t op)
{
    return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C;
}

/* cublasSgemm is the count == 1 case. */
cublasStatus_t gemm_call(const char *fn, cublasHandle_t h, cublasOperation_t transa,
                         cublasOperation_t transb, int m, int n, int k, const float *alpha,
                         const float *A, int lda, long long sa, const float *B, int ldb,
                         long long sb, const float *beta, float *C, int ldc, long long sc,
                         int count)
{
    if (emu_inject("cublas"))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    if (!is_live(h))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
    if (!valid_op(transa) || !valid_op(transb) || m < 0 || n < 0 || k < 0 || count < 0 ||
        lda < std::max(1, ta ? k : m) || ldb < std::max(1, tb ? n : k) ||
        ldc < std::max(1, m) || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (emu_device_range(alpha, sizeof *alpha) || emu_device_range(beta, sizeof *beta)) {
        emu_note("%s: alpha or beta points to device memory; the pointer mode is host, so "
                 "they are read on the host at the call", fn);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    float a = *alpha, b = *beta;
    bool reads_ab = k > 0 && a != 0;
    if (m == 0 || n == 0 || count == 0 || (!reads_ab && b == 1))
        return CUBLAS_STATUS_SUCCESS;
    if (!C)
        return CUBLAS_STATUS_INVALID_VALUE;
    const char *bad = nullptr;
    if (reads_ab && !in_device(A, ta ? k : m, ta ? m : k, lda, sa, count))
        bad = "A";
    else if (reads_ab && !in_device(B, tb ? n : k, tb ? k : n, ldb, sb, count))
        bad = "B";
    else if (!in_device(C, m, n, ldc, sc, count))
        bad = "C";
    if (bad) {
        emu_note("%s(%s, %s, m %d, n %d, k %d, lda %d, ldb %d, ldc %d, batch %d): %s = %p and "
                 "the elements it reaches are not inside one device allocation (a host "
                 "pointer, a freed block, or a leading dimension or stride past its end)",
                 fn, op_name(transa), op_name(transb), m, n, k, lda, ldb, ldc, count, bad,
                 (const void *)(bad[0] == 'A' ? A : bad[0] == 'B' ? B : C));
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (emu_sticky() != cudaSuccess)
        return CUBLAS_STATUS_EXECUTION_FAILED;
    int bits = h->math == CUBLAS_TF32_TENSOR_OP_MATH ? (int)EMU_BITS_TF32 : (int)EMU_BITS_FP32;
    cudaError_t e = emu_enqueue(h->stream, fn, [=]() {
        for (int i = 0; i < count; i++)
            emu_sgemm(ta, tb, m, n, k, a, A + i * sa, lda, B + i * sb, ldb, b, C + i * sc, ldc,
                      bits);
    });
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

}  // namespace

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float *alpha,
                           const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc)
{
    return gemm_call("cublasSgemm", handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0,
                     beta, C, ldc, 0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda,
                                         long long int strideA, const float *B, int ldb,
                                         long long int strideB, const float *beta, float *C,
                                         int ldc, long long int strideC, int batchCount)
{
    return gemm_call("cublasSgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda,
                     strideA, B, ldb, strideB, beta, C, ldc, strideC, batchCount);
}
