/*
 * cpu_fastexp.h: e^x in float that the compiler can vectorise, for the hot
 * elementwise loops of the float build (SiLU, softmax). libm's exp is a call
 * per element that no loop around it can vectorise; in a UNet step it cost
 * about as much as the SiLUs' arithmetic itself.
 *
 * Method: x = n ln2 + r with n = round(x / ln2), so |r| < 0.35, ln2 split
 * into a short head (exact in n ln2_hi for |n| < 2^15) and a tail, so r is
 * accurate to a float ulp; e^r by its Taylor series to r^7 (the remainder
 * r^8 / 8! < 5.6e-9 relative, under a tenth of a float ulp), Horner in
 * float; the result scaled by 2^n built from its exponent bits. Measured
 * against double exp over [-87, 88] (tests/unit/test_elementwise.c): within
 * 2 float ulps. Below -87 it returns 0 (e^x < 1.7e-38: only denormals are
 * left, which the callers do not need); above 88 e^88 ~ 1.7e38 instead of
 * inf (the callers, sigmoid and softmax after the row maximum is
 * subtracted, never get there or do not distinguish them). NaN stays NaN.
 *
 * Not for: the gradcheck build (real = double) and anything needing double
 * accuracy: those keep libm's exp.
 */
#ifndef CUGEN_CPU_FASTEXP_H
#define CUGEN_CPU_FASTEXP_H

#include <stdint.h>

static inline float cpu_expf(float x)
{
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693359375f;          /* 355 / 512: 9 significant bits */
    const float ln2_lo = -2.12194440054690583e-4f;  /* ln 2 - ln2_hi */
    float c = x > 88.0f ? 88.0f : x >= -87.0f ? x : -87.0f;  /* NaN: -87, kept finite */
    /* round to nearest by the 1.5 * 2^23 shift (floorf does not vectorise) */
    const float shift = 12582912.0f;
    float n = (c * log2e + shift) - shift;
    float r = (c - n * ln2_hi) - n * ln2_lo;
    /* sum_{k <= 7} r^k / k! */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        int32_t i;
        float f;
    } scale = {.i = (int32_t)((uint32_t)((int32_t)n + 127) << 23)};  /* 2^n, |n| <= 127 */
    float e = p * scale.f;
    return x >= -87.0f ? e : x < -87.0f ? 0.0f : x;
}

#endif
