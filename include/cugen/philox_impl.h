/*
 * philox_impl.h: the Philox4x32-10 block function and the conversions from
 * its 32-bit outputs to uniform and normal numbers, written once for the C
 * reference and the CUDA kernels (CG_HD marks them host+device under nvcc).
 *
 * Bit-identical on both sides because every floating-point step is correctly
 * rounded in IEEE double on both: +, -, *, /, sqrt and explicit fma(). log and
 * sin/cos are our own short series rather than libm's (glibc and CUDA differ
 * in the last bit). Each multiply-add is an explicit fma() and no expression
 * mixes * and + so that neither compiler can contract differently; the C file
 * that includes this is also built with -ffp-contract=off.
 *
 * Not for: stream bookkeeping (host/core/rng.c).
 */
#ifndef CUGEN_PHILOX_IMPL_H
#define CUGEN_PHILOX_IMPL_H

#include <stdint.h>
#include <math.h>

#ifdef __CUDACC__
#define CG_HD __host__ __device__ __forceinline__
#else
#define CG_HD static inline
#endif

#define CG_PHILOX_M0 0xD2511F53u
#define CG_PHILOX_M1 0xCD9E8D57u
#define CG_PHILOX_W0 0x9E3779B9u
#define CG_PHILOX_W1 0xBB67AE85u

CG_HD void cg_philox_block(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)CG_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)CG_PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += CG_PHILOX_W0;
        k1 += CG_PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* Uniform in (0, 1) with 23 random bits: ((u >> 9) + 0.5) * 2^-23, exact in
 * float (24 significant bits at most), never 0 or 1. */
CG_HD float cg_u32_to_uniform(uint32_t u)
{
    return ((float)(u >> 9) + 0.5f) * 1.1920928955078125e-07f;
}

/* (u + 0.5) * 2^-32 in (0, 1), exact in double. */
CG_HD double cg_u32_to_unit(uint32_t u)
{
    return ((double)u + 0.5) * 2.3283064365386962890625e-10;
}

/* Natural log of x in (0, 1]: x = m * 2^e with m in [sqrt(1/2), sqrt(2)),
 * log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716; the odd series to
 * s^23 leaves a truncation error below 1e-17. */
CG_HD double cg_log_unit(double x)
{
    int e;
    double m = frexp(x, &e);          /* m in [0.5, 1) */
    if (m < 0.70710678118654752440) {
        m = m * 2.0;
        e = e - 1;
    }
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s;
    double p = 1.0 / 23.0;
    p = fma(p, s2, 1.0 / 21.0);
    p = fma(p, s2, 1.0 / 19.0);
    p = fma(p, s2, 1.0 / 17.0);
    p = fma(p, s2, 1.0 / 15.0);
    p = fma(p, s2, 1.0 / 13.0);
    p = fma(p, s2, 1.0 / 11.0);
    p = fma(p, s2, 1.0 / 9.0);
    p = fma(p, s2, 1.0 / 7.0);
    p = fma(p, s2, 1.0 / 5.0);
    p = fma(p, s2, 1.0 / 3.0);
    p = fma(p, s2, 1.0);
    double logm = 2.0 * (s * p);
    /* e * ln2 with ln2 split so that e * LN2_HI is exact (|e| < 2^11). */
    const double LN2_HI = 6.93147180369123816490e-01;
    const double LN2_LO = 1.90821492927058770002e-10;
    return fma((double)e, LN2_HI, fma((double)e, LN2_LO, logm));
}

/* sin and cos of 2*pi*f for f in (0, 1): quadrant from 4f (exact), the rest
 * r in [0, 1/4) becomes x = 2*pi*r in [0, pi/2) and Taylor series to x^21 /
 * x^22 (truncation below 4e-18). */
CG_HD void cg_sincos_2pi(double f, double *sn, double *cs)
{
    double q = floor(f * 4.0);
    double r = f - q * 0.25;          /* exact: f has at most 33 significant bits */
    const double TWO_PI = 6.28318530717958647692;
    double x = r * TWO_PI;
    double x2 = x * x;
    /* sin x = x * sum_k (-1)^k x2^k / (2k+1)!,  cos x = sum_k (-1)^k x2^k / (2k)! */
    double ps = 1.0 / 51090942171709440000.0;                  /* 1/21! */
    ps = fma(ps, x2, -1.0 / 121645100408832000.0);             /* 1/19! */
    ps = fma(ps, x2, 1.0 / 355687428096000.0);                 /* 1/17! */
    ps = fma(ps, x2, -1.0 / 1307674368000.0);                  /* 1/15! */
    ps = fma(ps, x2, 1.0 / 6227020800.0);                      /* 1/13! */
    ps = fma(ps, x2, -1.0 / 39916800.0);                       /* 1/11! */
    ps = fma(ps, x2, 1.0 / 362880.0);                          /* 1/9! */
    ps = fma(ps, x2, -1.0 / 5040.0);                           /* 1/7! */
    ps = fma(ps, x2, 1.0 / 120.0);                             /* 1/5! */
    ps = fma(ps, x2, -1.0 / 6.0);                              /* 1/3! */
    double x3 = x * x2;
    double s = fma(x3, ps, x);
    double pc = -1.0 / 1124000727777607680000.0;               /* 1/22! */
    pc = fma(pc, x2, 1.0 / 2432902008176640000.0);             /* 1/20! */
    pc = fma(pc, x2, -1.0 / 6402373705728000.0);               /* 1/18! */
    pc = fma(pc, x2, 1.0 / 20922789888000.0);                  /* 1/16! */
    pc = fma(pc, x2, -1.0 / 87178291200.0);                    /* 1/14! */
    pc = fma(pc, x2, 1.0 / 479001600.0);                       /* 1/12! */
    pc = fma(pc, x2, -1.0 / 3628800.0);                        /* 1/10! */
    pc = fma(pc, x2, 1.0 / 40320.0);                           /* 1/8! */
    pc = fma(pc, x2, -1.0 / 720.0);                            /* 1/6! */
    pc = fma(pc, x2, 1.0 / 24.0);                              /* 1/4! */
    pc = fma(pc, x2, -0.5);
    double c = fma(x2, pc, 1.0);
    int qi = (int)q;
    if (qi == 0)      { *sn = s;  *cs = c; }
    else if (qi == 1) { *sn = c;  *cs = -s; }
    else if (qi == 2) { *sn = -s; *cs = -c; }
    else              { *sn = -c; *cs = s; }
}

/* Box-Muller on two uint32s: radius from a, angle from b. */
CG_HD void cg_box_muller(uint32_t a, uint32_t b, float *z0, float *z1)
{
    double rad = sqrt(-2.0 * cg_log_unit(cg_u32_to_unit(a)));
    double sn, cs;
    cg_sincos_2pi(cg_u32_to_unit(b), &sn, &cs);
    *z0 = (float)(rad * cs);
    *z1 = (float)(rad * sn);
}

#endif
