/*
 * score_bound.c: the bound of score_bound.h.
 */
#include <math.h>
#include <stdlib.h>

#include "score_bound.h"

/* log p(y|x) of rows [lo, hi) into lp, the split's p(y) into py (k) */
static void log_probs(const real *l, int64_t lo, int64_t hi, int k, double *lp, double *py)
{
    int64_t rows = hi - lo;
    for (int c = 0; c < k; c++)
        py[c] = 0;
    for (int64_t i = 0; i < rows; i++) {
        const real *r = l + (lo + i) * k;
        double mx = -INFINITY, z = 0;
        for (int c = 0; c < k; c++)
            mx = fmax(mx, r[c]);
        for (int c = 0; c < k; c++)
            z += exp(r[c] - mx);
        for (int c = 0; c < k; c++) {
            lp[i * k + c] = r[c] - mx - log(z);
            py[c] += exp(lp[i * k + c]) / (double)rows;
        }
    }
}

double score_direct_split(const real *logits, int64_t lo, int64_t hi, int k)
{
    int64_t rows = hi - lo;
    double *lp = malloc(sizeof(double) * (size_t)(rows * k)), *py = malloc(sizeof(double) * k);
    log_probs(logits, lo, hi, k, lp, py);
    double kl = 0;
    for (int64_t i = 0; i < rows; i++)
        for (int c = 0; c < k; c++) {
            double p = exp(lp[i * k + c]);
            if (p > 0)
                kl += p * log(p / py[c]) / (double)rows;
        }
    free(lp), free(py);
    return exp(kl);
}

double score_bound(const real *got, const real *ref, int64_t n, int k, int splits, double *e)
{
    *e = 0;
    for (int64_t i = 0; i < n * k; i++)
        *e = fmax(*e, fabs(got[i] - ref[i]));
    double *lp = malloc(sizeof(double) * (size_t)((n / splits + 1) * k)),
           *py = malloc(sizeof(double) * k), b = 0;
    for (int s = 0; s < splits; s++) {
        int64_t lo = s * n / splits, hi = (s + 1) * n / splits;
        log_probs(ref, lo, hi, k, lp, py);
        double a = 0;
        for (int64_t i = 0; i < hi - lo; i++) {
            double row = 0;
            for (int c = 0; c < k; c++)
                row += exp(lp[i * k + c]) * fabs(lp[i * k + c] - log(py[c]));
            a = fmax(a, row);
        }
        double dkl = 4 * *e + (exp(2 * *e) - 1) * a;
        b = fmax(b, score_direct_split(ref, lo, hi, k) * (exp(dkl) - 1));
    }
    free(lp), free(py);
    return b;
}
