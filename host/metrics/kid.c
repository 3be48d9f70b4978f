/*
 * kid.c: the Kernel Inception Distance (cugen/metrics.h): the unbiased
 * squared MMD with the cubic polynomial kernel, averaged over random
 * subsets. Everything in double: the estimate is a difference of sums of
 * about size^2 kernel values of order 1, so float sums would lose the
 * small distances it is meant for.
 *
 * Not for: the lecture notes' Gaussian-kernel score (mmd.c), features
 * (the feature networks).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "cugen/metrics.h"
#include "cugen/rng.h"

#define BLOCK 256

/* sum over i < na, j < nb of (a_i . b_j / d + 1)^3, without i == j when
 * same (a == b); g is BLOCK x nb scratch */
static double kernel_sum(const double *a, int64_t na, const double *b, int64_t nb, int d,
                         int same, double *g)
{
    double total = 0;
    for (int64_t i0 = 0; i0 < na; i0 += BLOCK) {
        int bi = (int)(na - i0 < BLOCK ? na - i0 : BLOCK);
        /* g = a[i0:i0+bi] b^T */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi, (int)nb, d, 1.0 / d,
                    a + i0 * d, d, b, d, 0.0, g, (int)nb);
        for (int i = 0; i < bi; i++)
            for (int64_t j = 0; j < nb; j++) {
                if (same && i0 + i == j)
                    continue;
                double v = g[i * nb + j] + 1;
                total += v * v * v;
            }
    }
    return total;
}

/* rows idx[0..k) of x (or the first k when idx is NULL) as doubles */
static void gather(const real *x, const int32_t *idx, int64_t k, int d, double *out)
{
    for (int64_t i = 0; i < k; i++) {
        const real *r = x + (int64_t)(idx ? idx[i] : i) * d;
        for (int c = 0; c < d; c++)
            out[i * d + c] = r[c];
    }
}

/* the estimate of rows a (n, d), b (m, d) in double; g BLOCK x max(n, m) */
static double mmd2_rows(const double *a, int64_t n, const double *b, int64_t m, int d, double *g)
{
    double kxx = kernel_sum(a, n, a, n, d, 1, g);
    double kyy = kernel_sum(b, m, b, m, d, 1, g);
    double kxy = kernel_sum(a, n, b, m, d, 0, g);
    return kxx / ((double)n * (n - 1)) + kyy / ((double)m * (m - 1)) -
           2 * kxy / ((double)n * m);
}

cg_status cg_kid_mmd2(const real *x, int64_t n, const real *y, int64_t m, int d, double *mmd2)
{
    if (n < 2 || m < 2 || d < 1)
        return CG_ERR_ARG;
    double *a = malloc(sizeof(double) * (size_t)(n * d));
    double *b = malloc(sizeof(double) * (size_t)(m * d));
    double *g = malloc(sizeof(double) * BLOCK * (size_t)(n > m ? n : m));
    cg_status st = a && b && g ? CG_OK : CG_ERR_NOMEM;
    if (st == CG_OK) {
        gather(x, NULL, n, d, a);
        gather(y, NULL, m, d, b);
        *mmd2 = mmd2_rows(a, n, b, m, d, g);
    }
    free(a), free(b), free(g);
    return st;
}

cg_status cg_kid(const real *x, int64_t n, const real *y, int64_t m, int d, int subsets,
                 int size, uint64_t seed, double *mean, double *std)
{
    if (subsets < 1 || size < 2 || size > n || size > m || d < 1)
        return CG_ERR_ARG;
    if (size == n && size == m)
        subsets = 1;  /* every subset is both sets whole: the same estimate */
    int32_t *ix = malloc(sizeof(int32_t) * (size_t)n), *iy = malloc(sizeof(int32_t) * (size_t)m);
    double *a = malloc(sizeof(double) * (size_t)size * d);
    double *b = malloc(sizeof(double) * (size_t)size * d);
    double *g = malloc(sizeof(double) * BLOCK * (size_t)size);
    double *v = malloc(sizeof(double) * (size_t)subsets);
    cg_status st = ix && iy && a && b && g && v ? CG_OK : CG_ERR_NOMEM;
    if (st == CG_OK) {
        for (int64_t i = 0; i < n; i++)
            ix[i] = (int32_t)i;
        for (int64_t i = 0; i < m; i++)
            iy[i] = (int32_t)i;
        cg_rng r;
        cg_rng_init(&r, seed, CG_KID_STREAM);
        double sum = 0, var = 0;
        for (int s = 0; s < subsets; s++) {
            cg_rng_shuffle(&r, ix, n);
            cg_rng_shuffle(&r, iy, m);
            gather(x, ix, size, d, a);
            gather(y, iy, size, d, b);
            v[s] = mmd2_rows(a, size, b, size, d, g);
            sum += v[s];
        }
        for (int s = 0; s < subsets; s++)
            var += (v[s] - sum / subsets) * (v[s] - sum / subsets);
        *mean = sum / subsets;
        *std = subsets > 1 ? sqrt(var / subsets) : 0;
    }
    free(ix), free(iy), free(a), free(b), free(g), free(v);
    return st;
}
