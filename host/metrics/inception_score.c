/*
 * inception_score.c: the Inception Score of a classifier's logits
 * (formula and splits in cugen/metrics.h), in double.
 *
 * Not for: the network that makes the logits (inception.c, fmnist_net.c).
 */
#include <math.h>
#include <stdlib.h>

#include "cugen/metrics.h"

/* rows [lo, hi) of logits (., k): exp(mean_x KL(p(y|x) || p(y))); lp is
 * (hi - lo) x k scratch, py k */
static double split_score(const real *logits, int64_t lo, int64_t hi, int k, double *lp,
                          double *py)
{
    int64_t rows = hi - lo;
    for (int c = 0; c < k; c++)
        py[c] = 0;
    for (int64_t i = 0; i < rows; i++) {
        const real *l = logits + (lo + i) * k;
        double *o = lp + i * k;
        double mx = l[0], sum = 0;
        for (int c = 1; c < k; c++)
            mx = l[c] > mx ? l[c] : mx;
        for (int c = 0; c < k; c++)
            sum += exp(l[c] - mx);
        double lse = mx + log(sum);
        for (int c = 0; c < k; c++) {
            o[c] = l[c] - lse;          /* log p(y = c | x) */
            py[c] += exp(o[c]);
        }
    }
    for (int c = 0; c < k; c++)
        py[c] = log(py[c] / (double)rows);  /* log p(y = c) */
    double kl = 0;
    for (int64_t i = 0; i < rows; i++)
        for (int c = 0; c < k; c++) {
            double p = exp(lp[i * k + c]);
            if (p > 0)  /* p log p -> 0; p(y) >= p(y|x) / rows > 0 then */
                kl += p * (lp[i * k + c] - py[c]);
        }
    return exp(kl / (double)rows);
}

cg_status cg_inception_score(const real *logits, int64_t n, int k, int splits, double *mean,
                             double *std)
{
    if (splits < 1 || n < splits || k < 2)
        return CG_ERR_ARG;
    int64_t most = (n + splits - 1) / splits + 1;
    double *lp = malloc(sizeof(double) * (size_t)(most * k));
    double *py = malloc(sizeof(double) * (size_t)k);
    double *score = malloc(sizeof(double) * (size_t)splits);
    if (!lp || !py || !score) {
        free(lp), free(py), free(score);
        return CG_ERR_NOMEM;
    }
    double sum = 0;
    for (int i = 0; i < splits; i++) {
        score[i] = split_score(logits, i * n / splits, (i + 1) * n / splits, k, lp, py);
        sum += score[i];
    }
    double mu = sum / splits, var = 0;
    for (int i = 0; i < splits; i++)
        var += (score[i] - mu) * (score[i] - mu);
    *mean = mu;
    *std = sqrt(var / splits);
    free(lp), free(py), free(score);
    return CG_OK;
}
