/*
 * moments.c: the mean and covariance of a set of 2-D points (metrics.h),
 * the one computation the toy models' reports share: sums in double, the
 * mean first, then the centred products.
 */
#include "cugen/metrics.h"

#define MOMENTS2(T)                                                                       \
    {                                                                                     \
        double m0 = 0, m1 = 0;                                                            \
        for (int64_t i = 0; i < n; i++) {                                                 \
            m0 += (double)((const T *)xy)[2 * i];                                         \
            m1 += (double)((const T *)xy)[2 * i + 1];                                     \
        }                                                                                 \
        m0 /= (double)n;                                                                  \
        m1 /= (double)n;                                                                  \
        double c00 = 0, c01 = 0, c11 = 0;                                                 \
        for (int64_t i = 0; i < n; i++) {                                                 \
            double a = ((const T *)xy)[2 * i] - m0, b = ((const T *)xy)[2 * i + 1] - m1; \
            c00 += a * a;                                                                 \
            c01 += a * b;                                                                 \
            c11 += b * b;                                                                 \
        }                                                                                 \
        double d = (double)(n - ddof);                                                    \
        mean[0] = m0;                                                                     \
        mean[1] = m1;                                                                     \
        cov[0] = c00 / d;                                                                 \
        cov[1] = cov[2] = c01 / d;                                                        \
        cov[3] = c11 / d;                                                                 \
    }

void cg_moments2(const real *xy, int64_t n, int ddof, double mean[2], double cov[4])
MOMENTS2(real)

void cg_moments2_f64(const double *xy, int64_t n, int ddof, double mean[2], double cov[4])
MOMENTS2(double)
