/*
 * test_libs.cc: the emulated cuBLAS and cuDNN (cublas.cc, cudnn.cc) against
 * double-precision references written out here as plain loops, and their
 * documented refusals. Data moves through the emulated runtime (cudaMalloc,
 * cudaMemcpy, cudaStreamSynchronize); skipped without CUGEN_EMU_GPU=1.
 *
 * Bounds: 1e-5 relative (L2) for the float paths, which sum at most a few
 * thousand products in float (a few 1e-7 expected). The FFT/Winograd
 * stand-ins must be *above* 1e-5: their inputs keep 12 / 11 mantissa bits,
 * a relative error of up to 2^-13 / 2^-12 each (cudnn.cc). TF32 checks are
 * exact: the inputs are chosen so that rounding to 10 mantissa bits, to
 * nearest even, changes them by a known amount.
 *
 * Not for: the kernels/ code that calls these libraries (tests/unit's gpu
 * tests run that on the emulated device).
 */
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

extern "C" {
#include "harness.h"
}

/* ---- helpers ------------------------------------------------------------------------- */
static bool have_device(void)
{
    int n = 0;
    bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    cudaGetLastError();
    return ok;
}

#define DEVICE_OR_SKIP()                                                       \
    do {                                                                       \
        if (!have_device())                                                    \
            SKIP("no emulated device (CUGEN_EMU_GPU=1 not set)");              \
    } while (0)

/* A device array of floats, freed at scope end. */
struct dev_buf {
    float *p = nullptr;
    size_t n = 0;
    explicit dev_buf(size_t count) : n(count)
    {
        if (cudaMalloc((void **)&p, count * sizeof(float)) != cudaSuccess)
            p = nullptr;
    }
    ~dev_buf() { cudaFree(p); }
    dev_buf(const dev_buf &) = delete;
    dev_buf &operator=(const dev_buf &) = delete;
    void put(const std::vector<float> &v)
    {
        cudaMemcpy(p, v.data(), v.size() * 4, cudaMemcpyHostToDevice);
    }
    std::vector<float> get() const
    {
        std::vector<float> v(n);
        cudaStreamSynchronize(0);
        cudaMemcpy(v.data(), p, n * 4, cudaMemcpyDeviceToHost);
        return v;
    }
};

static std::vector<float> rand_vec(size_t n, unsigned seed)
{
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (float &x : v)
        x = u(g);
    return v;
}

static std::vector<float> nan_vec(size_t n)
{
    return std::vector<float>(n, std::nanf(""));
}

/* ||a - b||_2 / ||b||_2 */
static double rel_err(const std::vector<float> &a, const std::vector<double> &b)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < b.size(); i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += b[i] * b[i];
    }
    return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

static bool all_finite(const std::vector<float> &v)
{
    for (float x : v)
        if (!std::isfinite(x))
            return false;
    return true;
}

/* 1 + 2^-11 is half a TF32 ulp above 1 (a tie: to even, 1); 1 + 3 2^-11 is a
 * tie above 1 + 2^-10 (odd: up to 1 + 2^-9); 1 + 2^-12 is below half (1). */
static const float TIE_DOWN = 1.0f + 0x1p-11f, TIE_UP = 1.0f + 3 * 0x1p-11f,
                   BELOW_HALF = 1.0f + 0x1p-12f;

/* ---- cuBLAS ---------------------------------------------------------------------------- */
struct blas_handle {
    cublasHandle_t h = nullptr;
    blas_handle() { cublasCreate(&h); }
    ~blas_handle() { cublasDestroy(h); }
};

/* C (m, n, ldc) = alpha op(A) op(B) + beta C0, column-major, in double */
static std::vector<double> ref_gemm(bool ta, bool tb, int m, int n, int k, double alpha,
                                    const std::vector<float> &A, int lda,
                                    const std::vector<float> &B, int ldb, double beta,
                                    const std::vector<float> &C0, int ldc)
{
    std::vector<double> C(C0.begin(), C0.end());
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += (double)(ta ? A[p + (size_t)i * lda] : A[i + (size_t)p * lda]) *
                     (double)(tb ? B[j + (size_t)p * ldb] : B[p + (size_t)j * ldb]);
            C[i + (size_t)j * ldc] = alpha * s + (beta == 0 ? 0 : beta * C0[i + (size_t)j * ldc]);
        }
    return C;
}

TEST(emu_cublas_sgemm_matches_reference)
{
    DEVICE_OR_SKIP();
    blas_handle bh;
    REQUIRE(bh.h);
    /* the second shape spans several row and K blocks of gemm.h */
    const int shapes[][3] = {{37, 29, 53}, {150, 50, 600}};
    for (auto &sh : shapes)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int m = sh[0], n = sh[1], k = sh[2];
                int lda = (ta ? k : m) + 3, ldb = (tb ? n : k) + 2, ldc = m + 1;
                std::vector<float> A = rand_vec((size_t)lda * (ta ? m : k), 1);
                std::vector<float> B = rand_vec((size_t)ldb * (tb ? k : n), 2);
                std::vector<float> C = rand_vec((size_t)ldc * n, 3);
                dev_buf dA(A.size()), dB(B.size()), dC(C.size());
                dA.put(A);
                dB.put(B);
                dC.put(C);
                float alpha = 0.75f, beta = -0.5f;
                cublasStatus_t st = cublasSgemm(bh.h, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                                tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha,
                                                dA.p, lda, dB.p, ldb, &beta, dC.p, ldc);
                CHECK(st == CUBLAS_STATUS_SUCCESS, "%s", cublasGetStatusString(st));
                std::vector<float> got = dC.get();
                std::vector<double> want = ref_gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta,
                                                    C, ldc);
                double e = rel_err(got, want);
                CHECK(e < 1e-5, "m %d n %d k %d ta %d tb %d: relative error %.3g", m, n, k, ta,
                      tb, e);
                for (int j = 0; j < n; j++)  /* the rows between m and ldc are not touched */
                    CHECK(got[(size_t)m + (size_t)j * ldc] == C[(size_t)m + (size_t)j * ldc]);
            }
}

TEST(emu_cublas_sgemm_strided_batched_matches_reference)
{
    DEVICE_OR_SKIP();
    blas_handle bh;
    REQUIRE(bh.h);
    int m = 17, n = 13, k = 11, batch = 3;
    int lda = k, ldb = k, ldc = m;  /* A transposed: (k, m) stored */
    long long sa = (long long)lda * m + 5, sb = (long long)ldb * n + 7, sc = (long long)ldc * n + 4;
    std::vector<float> A = rand_vec((size_t)(sa * batch), 4), B = rand_vec((size_t)(sb * batch), 5);
    std::vector<float> C = rand_vec((size_t)(sc * batch), 6);
    dev_buf dA(A.size()), dB(B.size()), dC(C.size());
    dA.put(A);
    dB.put(B);
    dC.put(C);
    float alpha = 1.25f, beta = 0.5f;
    cublasStatus_t st = cublasSgemmStridedBatched(bh.h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha,
                                                  dA.p, lda, sa, dB.p, ldb, sb, &beta, dC.p, ldc,
                                                  sc, batch);
    REQUIRE(st == CUBLAS_STATUS_SUCCESS, "%s", cublasGetStatusString(st));
    std::vector<float> got = dC.get();
    for (int b = 0; b < batch; b++) {
        std::vector<float> Ab(A.begin() + b * sa, A.begin() + b * sa + lda * m);
        std::vector<float> Bb(B.begin() + b * sb, B.begin() + b * sb + ldb * n);
        std::vector<float> Cb(C.begin() + b * sc, C.begin() + b * sc + ldc * n);
        std::vector<float> gb(got.begin() + b * sc, got.begin() + b * sc + ldc * n);
        double e = rel_err(gb, ref_gemm(true, false, m, n, k, alpha, Ab, lda, Bb, ldb, beta, Cb,
                                        ldc));
        CHECK(e < 1e-5, "batch %d: relative error %.3g", b, e);
        for (long long i = (long long)ldc * n; i < sc; i++)  /* the gaps are not touched */
            CHECK(got[(size_t)(b * sc + i)] == C[(size_t)(b * sc + i)]);
    }
}

TEST(emu_cublas_beta_zero_does_not_read_c)
{
    DEVICE_OR_SKIP();
    blas_handle bh;
    REQUIRE(bh.h);
    int m = 9, n = 7, k = 5;
    std::vector<float> A = rand_vec((size_t)m * k, 7), B = rand_vec((size_t)k * n, 8);
    dev_buf dA(A.size()), dB(B.size()), dC((size_t)m * n);
    dA.put(A);
    dB.put(B);
    dC.put(nan_vec(dC.n));
    float one = 1, zero = 0;
    REQUIRE(cublasSgemm(bh.h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, dA.p, m, dB.p, k, &zero,
                        dC.p, m) == CUBLAS_STATUS_SUCCESS);
    std::vector<float> got = dC.get();
    CHECK(all_finite(got), "NaN in C leaked through beta = 0");
    double e = rel_err(got, ref_gemm(false, false, m, n, k, 1, A, m, B, k, 0, got, m));
    CHECK(e < 1e-5, "relative error %.3g", e);

    /* alpha = 0 and beta = 0: C = 0 whatever A, B and C hold */
    dA.put(nan_vec(dA.n));
    dC.put(nan_vec(dC.n));
    REQUIRE(cublasSgemm(bh.h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &zero, dA.p, m, dB.p, k, &zero,
                        dC.p, m) == CUBLAS_STATUS_SUCCESS);
    for (float v : dC.get())
        CHECK(v == 0.0f, "alpha = beta = 0 gave %g", (double)v);
}

TEST(emu_cublas_rejects_bad_arguments)
{
    DEVICE_OR_SKIP();
    blas_handle bh;
    REQUIRE(bh.h);
    int m = 6, n = 5, k = 4;
    std::vector<float> C0 = rand_vec((size_t)m * n, 9);
    dev_buf dA((size_t)m * k), dB((size_t)k * n), dC(C0.size());
    dA.put(rand_vec(dA.n, 10));
    dB.put(rand_vec(dB.n, 11));
    dC.put(C0);
    float one = 1, zero = 0;
    auto gemm = [&](cublasHandle_t h, cublasOperation_t ta, int mm, int lda, int ldb, int ldc,
                    const float *A) {
        return cublasSgemm(h, ta, CUBLAS_OP_N, mm, n, k, &one, A, lda, dB.p, ldb, &zero, dC.p,
                           ldc);
    };
    /* lda < max(1, m) for N, < max(1, k) for T; ldb < k; ldc < m; m < 0 */
    CHECK(gemm(bh.h, CUBLAS_OP_N, m, m - 1, k, m, dA.p) == CUBLAS_STATUS_INVALID_VALUE);
    CHECK(gemm(bh.h, CUBLAS_OP_T, m, k - 1, k, m, dA.p) == CUBLAS_STATUS_INVALID_VALUE);
    CHECK(gemm(bh.h, CUBLAS_OP_N, m, m, k - 1, m, dA.p) == CUBLAS_STATUS_INVALID_VALUE);
    CHECK(gemm(bh.h, CUBLAS_OP_N, m, m, k, m - 1, dA.p) == CUBLAS_STATUS_INVALID_VALUE);
    CHECK(gemm(bh.h, CUBLAS_OP_N, -1, m, k, m, dA.p) == CUBLAS_STATUS_INVALID_VALUE);
    CHECK(cublasSgemm(bh.h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, nullptr, dA.p, m, dB.p, k, &zero,
                      dC.p, m) == CUBLAS_STATUS_INVALID_VALUE);
    CHECK(cublasSgemmStridedBatched(bh.h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, dA.p, m, 0,
                                    dB.p, k, 0, &zero, dC.p, m, 0, -1) ==
          CUBLAS_STATUS_INVALID_VALUE);
    /* A in host memory; A's last column past its allocation (lda too large) */
    std::vector<float> host((size_t)m * k, 1.0f);
    CHECK(gemm(bh.h, CUBLAS_OP_N, m, m, k, m, host.data()) == CUBLAS_STATUS_INVALID_VALUE);
    CHECK(gemm(bh.h, CUBLAS_OP_N, m, m + 1, k, m, dA.p) == CUBLAS_STATUS_INVALID_VALUE);
    /* NULL and destroyed handles */
    CHECK(gemm(nullptr, CUBLAS_OP_N, m, m, k, m, dA.p) == CUBLAS_STATUS_NOT_INITIALIZED);
    cublasHandle_t gone = nullptr;
    REQUIRE(cublasCreate(&gone) == CUBLAS_STATUS_SUCCESS);
    REQUIRE(cublasDestroy(gone) == CUBLAS_STATUS_SUCCESS);
    CHECK(gemm(gone, CUBLAS_OP_N, m, m, k, m, dA.p) == CUBLAS_STATUS_NOT_INITIALIZED);
    CHECK(cublasSetMathMode(bh.h, (cublasMath_t)99) == CUBLAS_STATUS_INVALID_VALUE);
    /* none of it ran */
    std::vector<float> got = dC.get();
    CHECK(memcmp(got.data(), C0.data(), C0.size() * 4) == 0, "a refused call wrote C");
}

TEST(emu_cublas_tf32_math_rounds_inputs)
{
    DEVICE_OR_SKIP();
    blas_handle bh;
    REQUIRE(bh.h);
    std::vector<float> A = {TIE_DOWN, TIE_UP, BELOW_HALF, -TIE_UP}, B = {1.0f};
    dev_buf dA(A.size()), dB(1), dC(A.size());
    dA.put(A);
    dB.put(B);
    float one = 1, zero = 0;
    const cublasMath_t modes[] = {CUBLAS_DEFAULT_MATH, CUBLAS_PEDANTIC_MATH,
                                  CUBLAS_TF32_TENSOR_OP_MATH};
    for (cublasMath_t mode : modes) {
        REQUIRE(cublasSetMathMode(bh.h, mode) == CUBLAS_STATUS_SUCCESS);
        REQUIRE(cublasSgemm(bh.h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 1, 1, &one, dA.p, 4, dB.p, 1,
                            &zero, dC.p, 4) == CUBLAS_STATUS_SUCCESS);
        std::vector<float> got = dC.get();
        std::vector<float> want = A;
        if (mode == CUBLAS_TF32_TENSOR_OP_MATH)
            want = {1.0f, 1.0f + 0x1p-9f, 1.0f, -(1.0f + 0x1p-9f)};
        for (size_t i = 0; i < A.size(); i++)
            CHECK(got[i] == want[i], "mode %d, element %zu: %.9g, want %.9g", (int)mode, i,
                  (double)got[i], (double)want[i]);
    }
}

/* ---- cuDNN ----------------------------------------------------------------------------- */
struct conv_case {
    int N, C, H, W, K, R, S, ph, pw, sh, sw, dh, dw;
    cudnnConvolutionMode_t mode;
};

/* A handle and the four descriptors of one convolution, destroyed at scope end. */
struct conv_fixture {
    cudnnHandle_t h = nullptr;
    cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;
    cudnnFilterDescriptor_t wd = nullptr;
    cudnnConvolutionDescriptor_t cd = nullptr;
    conv_case c{};
    int Ho = 0, Wo = 0;
    size_t nx = 0, nw = 0, ny = 0;

    bool make(const conv_case &cc, cudnnMathType_t math)
    {
        c = cc;
        Ho = 1 + (c.H + 2 * c.ph - c.dh * (c.R - 1) - 1) / c.sh;
        Wo = 1 + (c.W + 2 * c.pw - c.dw * (c.S - 1) - 1) / c.sw;
        nx = (size_t)c.N * c.C * c.H * c.W;
        nw = (size_t)c.K * c.C * c.R * c.S;
        ny = (size_t)c.N * c.K * Ho * Wo;
        return cudnnCreate(&h) == CUDNN_STATUS_SUCCESS &&
               cudnnCreateTensorDescriptor(&xd) == CUDNN_STATUS_SUCCESS &&
               cudnnCreateTensorDescriptor(&yd) == CUDNN_STATUS_SUCCESS &&
               cudnnCreateFilterDescriptor(&wd) == CUDNN_STATUS_SUCCESS &&
               cudnnCreateConvolutionDescriptor(&cd) == CUDNN_STATUS_SUCCESS &&
               cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, c.N, c.C, c.H,
                                          c.W) == CUDNN_STATUS_SUCCESS &&
               cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, c.N, c.K, Ho,
                                          Wo) == CUDNN_STATUS_SUCCESS &&
               cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, c.K, c.C, c.R,
                                          c.S) == CUDNN_STATUS_SUCCESS &&
               cudnnSetConvolution2dDescriptor(cd, c.ph, c.pw, c.sh, c.sw, c.dh, c.dw, c.mode,
                                               CUDNN_DATA_FLOAT) == CUDNN_STATUS_SUCCESS &&
               cudnnSetConvolutionMathType(cd, math) == CUDNN_STATUS_SUCCESS;
    }
    ~conv_fixture()
    {
        cudnnDestroyConvolutionDescriptor(cd);
        cudnnDestroyFilterDescriptor(wd);
        cudnnDestroyTensorDescriptor(yd);
        cudnnDestroyTensorDescriptor(xd);
        if (h)
            cudnnDestroy(h);
    }
};

enum { FWD, BWD_DATA, BWD_FILTER };

/* Workspace bytes of algo in direction dir (0 if the query fails). */
static size_t ws_need(const conv_fixture &f, int dir, int algo, cudnnStatus_t *st = nullptr)
{
    size_t b = 0;
    cudnnStatus_t s =
        dir == FWD ? cudnnGetConvolutionForwardWorkspaceSize(f.h, f.xd, f.wd, f.cd, f.yd,
                                                             (cudnnConvolutionFwdAlgo_t)algo, &b)
        : dir == BWD_DATA
            ? cudnnGetConvolutionBackwardDataWorkspaceSize(f.h, f.wd, f.yd, f.cd, f.xd,
                                                           (cudnnConvolutionBwdDataAlgo_t)algo, &b)
            : cudnnGetConvolutionBackwardFilterWorkspaceSize(
                  f.h, f.xd, f.yd, f.cd, f.wd, (cudnnConvolutionBwdFilterAlgo_t)algo, &b);
    if (st)
        *st = s;
    return s == CUDNN_STATUS_SUCCESS ? b : 0;
}

/* One convolution call in direction dir: fwd y = conv(x, w), bwd data x = conv^T(y, w),
 * bwd filter w = grad(x, y); out is the written one of x, w, y. */
static cudnnStatus_t run_conv(const conv_fixture &f, int dir, int algo, float alpha, float beta,
                              dev_buf &x, dev_buf &w, dev_buf &y, void *ws, size_t ws_bytes)
{
    switch (dir) {
    case FWD:
        return cudnnConvolutionForward(f.h, &alpha, f.xd, x.p, f.wd, w.p, f.cd,
                                       (cudnnConvolutionFwdAlgo_t)algo, ws, ws_bytes, &beta,
                                       f.yd, y.p);
    case BWD_DATA:
        return cudnnConvolutionBackwardData(f.h, &alpha, f.wd, w.p, f.yd, y.p, f.cd,
                                            (cudnnConvolutionBwdDataAlgo_t)algo, ws, ws_bytes,
                                            &beta, f.xd, x.p);
    default:
        return cudnnConvolutionBackwardFilter(f.h, &alpha, f.xd, x.p, f.yd, y.p, f.cd,
                                              (cudnnConvolutionBwdFilterAlgo_t)algo, ws,
                                              ws_bytes, &beta, f.wd, w.p);
    }
}

/* The three directions in double, straight from the definition:
 * y[n,k,oh,ow] = sum_{c,r,s} x[n,c,oh sh - ph + r dh, ow sw - pw + s dw] w[k,c,r',s'],
 * (r', s') = (r, s) for cross-correlation, (R-1-r, S-1-s) for convolution. */
struct conv_ref {
    const conv_case &c;
    int Ho, Wo;
    template <class F>
    void each(F f) const  /* f(x index, w index, y index) for every product */
    {
        for (int n = 0; n < c.N; n++)
            for (int k = 0; k < c.K; k++)
                for (int oh = 0; oh < Ho; oh++)
                    for (int ow = 0; ow < Wo; ow++)
                        for (int ch = 0; ch < c.C; ch++)
                            for (int r = 0; r < c.R; r++)
                                for (int s = 0; s < c.S; s++) {
                                    int ih = oh * c.sh - c.ph + r * c.dh;
                                    int iw = ow * c.sw - c.pw + s * c.dw;
                                    if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W)
                                        continue;
                                    int fr = c.mode == CUDNN_CONVOLUTION ? c.R - 1 - r : r;
                                    int fs = c.mode == CUDNN_CONVOLUTION ? c.S - 1 - s : s;
                                    f((((size_t)n * c.C + ch) * c.H + ih) * c.W + iw,
                                      (((size_t)k * c.C + ch) * c.R + fr) * c.S + fs,
                                      (((size_t)n * c.K + k) * Ho + oh) * Wo + ow);
                                }
    }
};

/* The reference of direction dir, alpha op + beta out0. */
static std::vector<double> ref_conv(const conv_fixture &f, int dir, double alpha, double beta,
                                    const std::vector<float> &x, const std::vector<float> &w,
                                    const std::vector<float> &y, const std::vector<float> &out0)
{
    std::vector<double> acc(out0.size(), 0.0);
    conv_ref ref{f.c, f.Ho, f.Wo};
    ref.each([&](size_t ix, size_t iw, size_t iy) {
        if (dir == FWD)
            acc[iy] += (double)x[ix] * w[iw];
        else if (dir == BWD_DATA)
            acc[ix] += (double)y[iy] * w[iw];
        else
            acc[iw] += (double)x[ix] * y[iy];
    });
    for (size_t i = 0; i < acc.size(); i++)
        acc[i] = alpha * acc[i] + (beta == 0 ? 0 : beta * out0[i]);
    return acc;
}

static const char *const DIR_NAME[] = {"forward", "backward-data", "backward-filter"};

/* Runs algo in direction dir twice (beta 0 onto NaN; alpha 1.5, beta 0.5 onto
 * random values) and compares with the reference; returns the larger error. */
static double check_algo(conv_fixture &f, int dir, int algo, unsigned seed)
{
    std::vector<float> x = rand_vec(f.nx, seed), w = rand_vec(f.nw, seed + 1),
                       y = rand_vec(f.ny, seed + 2);
    dev_buf dx(f.nx), dw(f.nw), dy(f.ny);
    dx.put(x);
    dw.put(w);
    dy.put(y);
    dev_buf &out = dir == FWD ? dy : dir == BWD_DATA ? dx : dw;
    size_t need = ws_need(f, dir, algo);
    dev_buf ws(need / 4 + 1);
    double worst = 0;
    for (int pass = 0; pass < 2; pass++) {
        float alpha = pass ? 1.5f : 1.0f, beta = pass ? 0.5f : 0.0f;
        std::vector<float> out0 = pass ? rand_vec(out.n, seed + 3) : nan_vec(out.n);
        out.put(out0);
        cudnnStatus_t st = run_conv(f, dir, algo, alpha, beta, dx, dw, dy, ws.p, need);
        CHECK(st == CUDNN_STATUS_SUCCESS, "%s algo %d: %s", DIR_NAME[dir], algo,
              cudnnGetErrorString(st));
        if (st != CUDNN_STATUS_SUCCESS)
            return 1;
        std::vector<float> got = out.get();
        CHECK(all_finite(got), "%s algo %d pass %d: non-finite output", DIR_NAME[dir], algo,
              pass);
        double e = rel_err(got, ref_conv(f, dir, alpha, beta, x, w, y, out0));
        worst = std::max(worst, e);
    }
    return worst;
}

TEST(emu_cudnn_conv_matches_reference)
{
    DEVICE_OR_SKIP();
    const conv_case cases[] = {
        /* stride 2, padding, a 3x2 kernel, cross-correlation */
        {2, 3, 11, 9, 4, 3, 2, 1, 0, 2, 2, 1, 1, CUDNN_CROSS_CORRELATION},
        /* convolution mode (flipped filter), dilation 2, per-axis padding and strides */
        {1, 2, 8, 10, 3, 3, 3, 2, 1, 1, 2, 2, 2, CUDNN_CONVOLUTION},
        /* 1x1, stride 1, more images than the non-deterministic chunks */
        {9, 5, 4, 3, 6, 1, 1, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION},
    };
    const int algos[3][3] = {{CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
                              CUDNN_CONVOLUTION_FWD_ALGO_GEMM, -1},
                             {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0,
                              -1},
                             {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0,
                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        conv_fixture f;
        REQUIRE(f.make(cases[i], CUDNN_FMA_MATH));
        for (int dir = 0; dir < 3; dir++)
            for (int a = 0; a < 3 && algos[dir][a] >= 0; a++) {
                double e = check_algo(f, dir, algos[dir][a], 100 + (unsigned)(10 * i));
                CHECK(e < 1e-5, "case %zu %s algo %d: relative error %.3g", i, DIR_NAME[dir],
                      algos[dir][a], e);
            }
    }
}

TEST(emu_cudnn_output_dim_formula)
{
    DEVICE_OR_SKIP();
    /* H, W, pad h, w, R, S, stride, dilation, expected Ho, Wo: cuDNN's
     * 1 + (in + 2 pad - dilation (k - 1) - 1) / stride, worked by hand */
    const int cases[][10] = {
        {32, 32, 1, 1, 3, 3, 1, 1, 32, 32},  /* same-size 3x3 */
        {11, 9, 1, 1, 3, 3, 2, 1, 6, 5},     /* (11+2-3)/2+1, (9+2-3)/2+1 */
        {299, 299, 0, 0, 3, 3, 2, 1, 149, 149}, /* Inception's stem */
        {10, 12, 0, 0, 3, 3, 1, 2, 6, 8},    /* dilation 2: a 5x5 reach */
        {17, 17, 0, 3, 1, 7, 1, 1, 17, 17},  /* 1x7 with (0, 3) padding */
        {7, 7, 0, 0, 7, 7, 1, 1, 1, 1},      /* kernel = input */
        {64, 64, 1, 1, 4, 4, 2, 1, 32, 32},  /* DCGAN's discriminator */
    };
    for (auto &t : cases) {
        conv_case c{3, 4, t[0], t[1], 5, t[4], t[5], t[2], t[3], t[6], t[6], t[7], t[7],
                    CUDNN_CROSS_CORRELATION};
        conv_fixture f;
        REQUIRE(f.make(c, CUDNN_FMA_MATH));
        int n = 0, k = 0, h = 0, w = 0;
        REQUIRE(cudnnGetConvolution2dForwardOutputDim(f.cd, f.xd, f.wd, &n, &k, &h, &w) ==
                CUDNN_STATUS_SUCCESS);
        CHECK(n == 3 && k == 5 && h == t[8] && w == t[9], "%dx%d k %dx%d: got (%d, %d, %d, %d)",
              t[0], t[1], t[4], t[5], n, k, h, w);
    }
}

TEST(emu_cudnn_rejects_bad_descriptors)
{
    DEVICE_OR_SKIP();
    conv_fixture f;
    REQUIRE(f.make({2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION},
                   CUDNN_FMA_MATH));
    const cudnnStatus_t BAD = CUDNN_STATUS_BAD_PARAM;
    CHECK(cudnnSetTensor4dDescriptor(f.xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 0, 8, 8) ==
          BAD);
    CHECK(cudnnSetTensor4dDescriptor(f.xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 3, -8, 8) ==
          BAD);
    CHECK(cudnnSetFilter4dDescriptor(f.wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 4, 3, 0, 3) ==
          BAD);
    CHECK(cudnnSetConvolution2dDescriptor(f.cd, -1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                          CUDNN_DATA_FLOAT) == BAD);
    CHECK(cudnnSetConvolution2dDescriptor(f.cd, 1, 1, 0, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                          CUDNN_DATA_FLOAT) == BAD);
    CHECK(cudnnSetConvolution2dDescriptor(f.cd, 1, 1, 1, 1, 1, 0, CUDNN_CROSS_CORRELATION,
                                          CUDNN_DATA_FLOAT) == BAD);
    CHECK(cudnnSetConvolution2dDescriptor(f.cd, 1, 1, 1, 1, 1, 1, (cudnnConvolutionMode_t)5,
                                          CUDNN_DATA_FLOAT) == BAD);
    CHECK(cudnnSetConvolutionMathType(f.cd, (cudnnMathType_t)9) == BAD);
    /* the failed sets changed nothing */
    int n, k, h, w;
    CHECK(cudnnGetConvolution2dForwardOutputDim(f.cd, f.xd, f.wd, &n, &k, &h, &w) ==
              CUDNN_STATUS_SUCCESS && n == 2 && k == 4 && h == 8 && w == 8);

    /* a descriptor never set; channels that differ; a filter larger than the padded input */
    cudnnTensorDescriptor_t unset = nullptr;
    REQUIRE(cudnnCreateTensorDescriptor(&unset) == CUDNN_STATUS_SUCCESS);
    CHECK(cudnnGetConvolution2dForwardOutputDim(f.cd, unset, f.wd, &n, &k, &h, &w) == BAD);
    cudnnDestroyTensorDescriptor(unset);
    cudnnFilterDescriptor_t other = nullptr;
    REQUIRE(cudnnCreateFilterDescriptor(&other) == CUDNN_STATUS_SUCCESS);
    REQUIRE(cudnnSetFilter4dDescriptor(other, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 4, 2, 3, 3) ==
            CUDNN_STATUS_SUCCESS);
    CHECK(cudnnGetConvolution2dForwardOutputDim(f.cd, f.xd, other, &n, &k, &h, &w) == BAD);
    REQUIRE(cudnnSetFilter4dDescriptor(other, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 4, 3, 11, 3) ==
            CUDNN_STATUS_SUCCESS);
    CHECK(cudnnGetConvolution2dForwardOutputDim(f.cd, f.xd, other, &n, &k, &h, &w) == BAD);
    cudnnDestroyFilterDescriptor(other);

    /* the calls: a wrong output descriptor, workspace too small or NULL, a host
     * pointer, an algorithm that does not exist or does not run here */
    dev_buf dx(f.nx), dw(f.nw), dy(f.ny);
    size_t need = ws_need(f, FWD, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM);
    CHECK(need > 0);
    dev_buf ws(need / 4 + 1);
    float one = 1, zero = 0;
    auto fwd = [&](cudnnTensorDescriptor_t yd, int algo, void *wsp, size_t wsb, const void *x) {
        return cudnnConvolutionForward(f.h, &one, f.xd, x, f.wd, dw.p, f.cd,
                                       (cudnnConvolutionFwdAlgo_t)algo, wsp, wsb, &zero, yd, dy.p);
    };
    const int IG = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
    CHECK(fwd(f.yd, IG, ws.p, need, dx.p) == CUDNN_STATUS_SUCCESS);
    cudnnTensorDescriptor_t wrong = nullptr;
    REQUIRE(cudnnCreateTensorDescriptor(&wrong) == CUDNN_STATUS_SUCCESS);
    REQUIRE(cudnnSetTensor4dDescriptor(wrong, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 4, 7, 8) ==
            CUDNN_STATUS_SUCCESS);
    CHECK(fwd(wrong, IG, ws.p, need, dx.p) == BAD);
    cudnnDestroyTensorDescriptor(wrong);
    CHECK(fwd(f.yd, IG, ws.p, need - 1, dx.p) == BAD);
    CHECK(fwd(f.yd, IG, nullptr, 0, dx.p) == BAD);
    std::vector<float> host(f.nx);
    CHECK(fwd(f.yd, IG, ws.p, need, host.data()) == BAD);
    CHECK(fwd(f.yd, 99, ws.p, need, dx.p) == BAD);
    CHECK(fwd(f.yd, CUDNN_CONVOLUTION_FWD_ALGO_DIRECT, ws.p, need, dx.p) ==
          CUDNN_STATUS_NOT_SUPPORTED);
    cudnnStatus_t st;
    ws_need(f, FWD, CUDNN_CONVOLUTION_FWD_ALGO_DIRECT, &st);
    CHECK(st == CUDNN_STATUS_NOT_SUPPORTED);
    cudaStreamSynchronize(0);
}

/* Two calls of algo in direction dir, same inputs: are the outputs bit-identical? */
static bool same_bits_twice(conv_fixture &f, int dir, int algo)
{
    dev_buf dx(f.nx), dw(f.nw), dy(f.ny);
    dx.put(rand_vec(f.nx, 21));
    dw.put(rand_vec(f.nw, 22));
    dy.put(rand_vec(f.ny, 23));
    dev_buf &out = dir == FWD ? dy : dir == BWD_DATA ? dx : dw;
    size_t need = ws_need(f, dir, algo);
    dev_buf ws(need / 4 + 1);
    std::vector<float> first;
    for (int i = 0; i < 2; i++) {
        CHECK(run_conv(f, dir, algo, 1, 0, dx, dw, dy, ws.p, need) == CUDNN_STATUS_SUCCESS);
        if (i == 0)
            first = out.get();
    }
    std::vector<float> second = out.get();
    return memcmp(first.data(), second.data(), first.size() * 4) == 0;
}

/* The heuristics list of direction dir as (algo, status, determinism, mathType, memory). */
struct entry {
    int algo;
    cudnnStatus_t status;
    cudnnDeterminism_t det;
    cudnnMathType_t math;
    size_t memory;
};

static std::vector<entry> heuristics(conv_fixture &f, int dir, int want)
{
    int n = 0;
    std::vector<entry> out;
    cudnnConvolutionFwdAlgoPerf_t pf[16];
    cudnnConvolutionBwdDataAlgoPerf_t pd[16];
    cudnnConvolutionBwdFilterAlgoPerf_t pw[16];
    cudnnStatus_t st;
    if (dir == FWD)
        st = cudnnGetConvolutionForwardAlgorithm_v7(f.h, f.xd, f.wd, f.cd, f.yd, want, &n, pf);
    else if (dir == BWD_DATA)
        st = cudnnGetConvolutionBackwardDataAlgorithm_v7(f.h, f.wd, f.yd, f.cd, f.xd, want, &n, pd);
    else
        st = cudnnGetConvolutionBackwardFilterAlgorithm_v7(f.h, f.xd, f.yd, f.cd, f.wd, want, &n,
                                                           pw);
    CHECK(st == CUDNN_STATUS_SUCCESS);
    for (int i = 0; i < n; i++) {
        if (dir == FWD)
            out.push_back({pf[i].algo, pf[i].status, pf[i].determinism, pf[i].mathType,
                           pf[i].memory});
        else if (dir == BWD_DATA)
            out.push_back({pd[i].algo, pd[i].status, pd[i].determinism, pd[i].mathType,
                           pd[i].memory});
        else
            out.push_back({pw[i].algo, pw[i].status, pw[i].determinism, pw[i].mathType,
                           pw[i].memory});
    }
    return out;
}

/* The determinism the heuristics report for algo in direction dir (-1: not listed). */
static int reported_determinism(conv_fixture &f, int dir, int algo)
{
    for (const entry &e : heuristics(f, dir, 16))
        if (e.algo == algo)
            return e.det;
    return -1;
}

TEST(emu_cudnn_nondeterministic_algorithms_differ_between_calls)
{
    DEVICE_OR_SKIP();
    conv_fixture f;
    REQUIRE(f.make({2, 8, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION},
                   CUDNN_FMA_MATH));
    struct {
        int dir, algo;
        bool det;
    } cases[] = {
        {FWD, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, true},
        {BWD_DATA, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, true},
        {BWD_DATA, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, false},
        {BWD_FILTER, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, true},
        {BWD_FILTER, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, false},
        {BWD_FILTER, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3, false},
    };
    for (auto &c : cases) {
        CHECK(reported_determinism(f, c.dir, c.algo) ==
                  (c.det ? CUDNN_DETERMINISTIC : CUDNN_NON_DETERMINISTIC),
              "%s algo %d: determinism reported wrong", DIR_NAME[c.dir], c.algo);
        CHECK(same_bits_twice(f, c.dir, c.algo) == c.det, "%s algo %d: %s", DIR_NAME[c.dir],
              c.algo, c.det ? "two calls differ" : "two calls gave the same bits");
    }
}

TEST(emu_cudnn_tensor_op_math_rounds_to_tf32)
{
    DEVICE_OR_SKIP();
    /* 1x1 convolution of one channel with w = 1: every direction passes its
     * input through, rounded to TF32 or not */
    std::vector<float> in = {TIE_DOWN, TIE_UP, BELOW_HALF, 3.0f};
    std::vector<float> tf32 = {1.0f, 1.0f + 0x1p-9f, 1.0f, 3.0f};
    const cudnnMathType_t maths[] = {CUDNN_DEFAULT_MATH, CUDNN_TENSOR_OP_MATH,
                                     CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, CUDNN_FMA_MATH};
    for (cudnnMathType_t math : maths) {
        bool tc = math != CUDNN_FMA_MATH;
        conv_fixture f;
        REQUIRE(f.make({1, 1, 1, 4, 1, 1, 1, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION}, math));
        dev_buf dx(4), dw(1), dy(4);
        dw.put({1.0f});
        /* forward: PRECOMP is tensor-op only; IMPLICIT_GEMM never uses tensor ops */
        cudnnStatus_t st;
        size_t need = ws_need(f, FWD, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, &st);
        CHECK(st == (tc ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED), "math %d", (int)math);
        size_t need_ig = ws_need(f, FWD, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM);
        dev_buf ws(std::max(need, need_ig) / 4 + 64);
        dx.put(in);
        int fwd_algo = tc ? CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM
                          : CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
        REQUIRE(run_conv(f, FWD, fwd_algo, 1, 0, dx, dw, dy, ws.p, ws.n * 4) ==
                CUDNN_STATUS_SUCCESS);
        std::vector<float> y = dy.get();
        /* backward data ALGO_1 and backward filter ALGO_1 have both kinds of kernel */
        dy.put(in);
        REQUIRE(run_conv(f, BWD_DATA, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, 1, 0, dx, dw, dy, ws.p,
                         ws.n * 4) == CUDNN_STATUS_SUCCESS);
        std::vector<float> dxv = dx.get();
        for (size_t i = 0; i < in.size(); i++) {
            float want = tc ? tf32[i] : in[i];
            CHECK(y[i] == want, "math %d forward [%zu]: %.9g, want %.9g", (int)math, i,
                  (double)y[i], (double)want);
            CHECK(dxv[i] == want, "math %d backward-data [%zu]: %.9g, want %.9g", (int)math, i,
                  (double)dxv[i], (double)want);
        }
        dx.put({TIE_DOWN, 0, 0, 0});
        dy.put({1, 0, 0, 0});
        REQUIRE(run_conv(f, BWD_FILTER, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, 1, 0, dx, dw, dy,
                         ws.p, ws.n * 4) == CUDNN_STATUS_SUCCESS);
        float dwv = dw.get()[0];
        CHECK(dwv == (tc ? 1.0f : TIE_DOWN), "math %d backward-filter: %.9g", (int)math,
              (double)dwv);
    }
}

TEST(emu_cudnn_fft_and_winograd_miss_fp32_accuracy)
{
    DEVICE_OR_SKIP();
    conv_fixture f;
    REQUIRE(f.make({2, 16, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION},
                   CUDNN_FMA_MATH));
    const int lossy[3][4] = {
        {CUDNN_CONVOLUTION_FWD_ALGO_FFT, CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING,
         CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED},
        {CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT, CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,
         CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD,
         CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED},
        {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING,
         CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED, -1},
    };
    for (int dir = 0; dir < 3; dir++)
        for (int a = 0; a < 4 && lossy[dir][a] >= 0; a++) {
            double e = check_algo(f, dir, lossy[dir][a], 300);
            printf("  %s algo %d: relative error %.3g\n", DIR_NAME[dir], lossy[dir][a], e);
            CHECK(e > 1e-5 && e < 1e-3, "%s algo %d: relative error %.3g, want (1e-5, 1e-3)",
                  DIR_NAME[dir], lossy[dir][a], e);
        }
}

TEST(emu_cudnn_heuristics_rank_by_math_type)
{
    DEVICE_OR_SKIP();
    const int exact[3] = {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
                          CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1};
    const conv_case shapes[] = {
        {2, 8, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION},
        {2, 8, 12, 12, 16, 4, 4, 1, 1, 2, 2, 1, 1, CUDNN_CROSS_CORRELATION},
    };
    for (const conv_case &c : shapes)
        for (int tc = 0; tc < 2; tc++) {
            conv_fixture f;
            REQUIRE(f.make(c, tc ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
            for (int dir = 0; dir < 3; dir++) {
                std::vector<entry> list = heuristics(f, dir, 16);
                REQUIRE(!list.empty());
                const entry &first = list[0];
                CHECK(first.status == CUDNN_STATUS_SUCCESS);
                if (tc)  /* tensor ops allowed: a tensor-op kernel first */
                    CHECK(first.math == CUDNN_TENSOR_OP_MATH, "%s: first is algo %d, math %d",
                          DIR_NAME[dir], first.algo, (int)first.math);
                else  /* FMA: never a tensor-op entry that runs */
                    for (const entry &e : list)
                        CHECK(e.math != CUDNN_TENSOR_OP_MATH ||
                              e.status == CUDNN_STATUS_NOT_SUPPORTED);
                if (dir != FWD)  /* the backward lists start non-deterministic */
                    CHECK(first.det == CUDNN_NON_DETERMINISTIC, "%s: first is algo %d",
                          DIR_NAME[dir], first.algo);
                bool seen_exact = false, seen_unsupported = false;
                for (size_t i = 0; i < list.size(); i++) {
                    const entry &e = list[i];
                    if (e.algo == exact[dir] && e.math != CUDNN_TENSOR_OP_MATH) {
                        seen_exact = e.status == CUDNN_STATUS_SUCCESS &&
                                     e.det == CUDNN_DETERMINISTIC;
                        CHECK(i > 0, "%s: the FP32 deterministic algorithm is first",
                              DIR_NAME[dir]);
                    }
                    if (e.status != CUDNN_STATUS_SUCCESS) {
                        seen_unsupported = true;
                        continue;
                    }
                    CHECK(!seen_unsupported, "%s: a runnable entry after an unsupported one",
                          DIR_NAME[dir]);
                    /* what the list says must hold for the workspace query too */
                    cudnnSetConvolutionMathType(f.cd, e.math);
                    cudnnStatus_t st;
                    size_t bytes = ws_need(f, dir, e.algo, &st);
                    CHECK(st == CUDNN_STATUS_SUCCESS && bytes == e.memory && bytes > 0,
                          "%s algo %d math %d: workspace %zu, listed %zu", DIR_NAME[dir], e.algo,
                          (int)e.math, bytes, e.memory);
                    cudnnSetConvolutionMathType(f.cd, tc ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
                }
                CHECK(seen_exact, "%s: no deterministic FP32 algorithm listed", DIR_NAME[dir]);
                CHECK(heuristics(f, dir, 2).size() == 2);
            }
        }
}

TEST(emu_cudnn_workspace_is_poisoned)
{
    DEVICE_OR_SKIP();
    conv_fixture f;
    REQUIRE(f.make({1, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION},
                   CUDNN_FMA_MATH));
    size_t need = ws_need(f, FWD, CUDNN_CONVOLUTION_FWD_ALGO_GEMM);
    REQUIRE(need > 0 && need % 4 == 0);
    dev_buf dx(f.nx), dw(f.nw), dy(f.ny), ws(need / 4 + 8);
    dx.put(rand_vec(f.nx, 31));
    dw.put(rand_vec(f.nw, 32));
    ws.put(std::vector<float>(ws.n, 0.0f));
    REQUIRE(run_conv(f, FWD, CUDNN_CONVOLUTION_FWD_ALGO_GEMM, 1, 0, dx, dw, dy, ws.p, need) ==
            CUDNN_STATUS_SUCCESS);
    std::vector<float> got = ws.get();
    for (size_t i = 0; i < ws.n; i++)
        CHECK(i < need / 4 ? std::isnan(got[i]) : got[i] == 0.0f, "workspace float %zu: %g", i,
              (double)got[i]);
}
