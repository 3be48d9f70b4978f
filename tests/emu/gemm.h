/*
 * gemm.h: the CPU matrix product behind the emulated cuBLAS (cublas.cc,
 * which defines it) and cuDNN (cudnn_conv.cc, on im2col columns). Plain host
 * memory in and out: callers run it inside queued device work.
 *
 * Not for: kernels/ or tests (they go through cublasSgemm).
 */
#ifndef CUGEN_EMU_GEMM_H
#define CUGEN_EMU_GEMM_H

/* Mantissa bits kept: all of a float's, and TF32's. */
enum { EMU_BITS_FP32 = 23, EMU_BITS_TF32 = 10 };

/* x rounded to `bits` mantissa bits, to nearest even (bits >= 23: x).
 * Infinities and NaNs pass through; a carry may round up to infinity. */
float emu_round_mantissa(float x, int bits);

/* C (m, n) = alpha op(A) op(B) + beta C, column-major, op(A) (m, k) and
 * op(B) (k, n) read with A and B rounded to `bits` mantissa bits first.
 * Each element is one float sum over p = 0 .. k-1 in order (a product, then
 * an add: no fused multiply-add), then alpha s + beta c. beta == 0: C is
 * not read; alpha == 0 or k == 0: A and B are not read. */
void emu_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *A, long lda,
               const float *B, long ldb, float beta, float *C, long ldc, int bits);

#endif
