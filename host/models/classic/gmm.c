/*
 * gmm.c: 2-D Gaussian mixtures with full covariances fitted by EM, the box
 * model, and the article's noisy-disc data. All in double: these are small
 * closed-form computations, not tape ops.
 *
 * EM: the E step gives each point i its responsibilities
 *   r_ij = w_j N(x_i | mu_j, S_j) / sum_l w_l N(x_i | mu_l, S_l)
 * (through log-sum-exp), the M step the weighted maximum-likelihood
 * parameters  N_j = sum_i r_ij,  w_j = N_j / n,  mu_j = sum_i r_ij x_i / N_j,
 * S_j = sum_i r_ij (x_i - mu_j)(x_i - mu_j)^T / N_j. The M step maximises the
 * expected complete log-likelihood exactly (no regulariser added to S_j), so
 * the log-likelihood never decreases from one iteration to the next.
 *
 * Not for: the run, its printing and pictures (gmm_train.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/metrics.h"

void cg_noisy_disc(cg_rng *r, double *xy, int n)
{
    /* np.random.rand for the angle and radius, np.random.normal for the noise */
    real u[2], e[2];
    for (int i = 0; i < n; i++) {
        cg_rng_uniform(r, u, 2);
        cg_rng_normal(r, e, 2, 0.0, 1.0);
        double a = 2 * M_PI * u[0], rad = 10 * sqrt((double)u[1]);
        xy[2 * i] = rad * cos(a) + e[0];
        xy[2 * i + 1] = rad * sin(a) + e[1];
    }
}

static double dist2(const double *a, const double *b)
{
    double dx = a[0] - b[0], dy = a[1] - b[1];
    return dx * dx + dy * dy;
}

cg_status cg_gmm_init(cg_gmm *g, int k, const double *xy, int n, cg_rng *r, char *err,
                      size_t errlen)
{
    memset(g, 0, sizeof *g);
    int kmax = n < CG_GMM_MAX_K ? n : CG_GMM_MAX_K;
    if (k < 1 || k > kmax) {
        snprintf(err, errlen, "gmm: --k must be from 1 to %d, got %d", kmax, k);
        return CG_ERR_ARG;
    }
    double *d2 = malloc(sizeof(double) * (size_t)n);
    if (!d2) {
        snprintf(err, errlen, "gmm: out of memory");
        return CG_ERR_NOMEM;
    }
    double mean[2], cov[4];
    cg_moments2_f64(xy, n, 0, mean, cov);
    g->k = k;
    /* k-means++: the first mean a uniform pick, each next one a point drawn
     * with probability proportional to its squared distance to the nearest
     * mean so far */
    int first = (int)cg_rng_below(r, (uint32_t)n);
    memcpy(g->mu[0], xy + 2 * first, sizeof g->mu[0]);
    for (int i = 0; i < n; i++)
        d2[i] = dist2(xy + 2 * i, g->mu[0]);
    for (int j = 1; j < k; j++) {
        double total = 0;
        for (int i = 0; i < n; i++)
            total += d2[i];
        real u;
        cg_rng_uniform(r, &u, 1);
        double target = u * total, acc = 0;
        int pick = n - 1;
        for (int i = 0; i < n; i++) {
            acc += d2[i];
            if (acc >= target && d2[i] > 0) {
                pick = i;
                break;
            }
        }
        memcpy(g->mu[j], xy + 2 * pick, sizeof g->mu[j]);
        for (int i = 0; i < n; i++)
            d2[i] = fmin(d2[i], dist2(xy + 2 * i, g->mu[j]));
    }
    for (int j = 0; j < k; j++) {
        g->w[j] = 1.0 / k;
        memcpy(g->cov[j], cov, sizeof cov);
    }
    free(d2);
    return CG_OK;
}

/* log w_j + log N(x | mu_j, S_j) */
static double comp_logpdf(const cg_gmm *g, int j, const double *x)
{
    const double *S = g->cov[j];
    double det = S[0] * S[3] - S[1] * S[2];
    double dx = x[0] - g->mu[j][0], dy = x[1] - g->mu[j][1];
    double quad = (S[3] * dx * dx - 2 * S[1] * dx * dy + S[0] * dy * dy) / det;
    return log(g->w[j]) - log(2 * M_PI) - 0.5 * log(det) - 0.5 * quad;
}

/* log sum_j exp(lp[j]) */
static double logsumexp(const double *lp, int k)
{
    double m = lp[0];
    for (int j = 1; j < k; j++)
        m = fmax(m, lp[j]);
    double s = 0;
    for (int j = 0; j < k; j++)
        s += exp(lp[j] - m);
    return m + log(s);
}

double cg_gmm_logpdf(const cg_gmm *g, const double *x)
{
    double lp[CG_GMM_MAX_K];
    for (int j = 0; j < g->k; j++)
        lp[j] = comp_logpdf(g, j, x);
    return logsumexp(lp, g->k);
}

double cg_gmm_loglik(const cg_gmm *g, const double *xy, int n)
{
    double ll = 0;
    for (int i = 0; i < n; i++)
        ll += cg_gmm_logpdf(g, xy + 2 * i);
    return ll;
}

cg_status cg_gmm_em_step(cg_gmm *g, const double *xy, int n, double *ll_before, char *err,
                         size_t errlen)
{
    int k = g->k;
    double nk[CG_GMM_MAX_K] = {0}, sx[CG_GMM_MAX_K][2] = {{0}}, lp[CG_GMM_MAX_K];
    double ll = 0;
    double *resp = malloc(sizeof(double) * (size_t)n * (size_t)k);
    if (!resp) {
        snprintf(err, errlen, "gmm: out of memory");
        return CG_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < k; j++)
            lp[j] = comp_logpdf(g, j, xy + 2 * i);
        double lse = logsumexp(lp, k);
        ll += lse;
        for (int j = 0; j < k; j++) {
            double rij = exp(lp[j] - lse);
            resp[(size_t)i * k + j] = rij;
            nk[j] += rij;
            sx[j][0] += rij * xy[2 * i];
            sx[j][1] += rij * xy[2 * i + 1];
        }
    }
    *ll_before = ll;
    double mean[2], dcov[4];
    cg_moments2_f64(xy, n, 0, mean, dcov);
    /* a covariance this much smaller than the data's (in determinant) is a
     * component shrinking onto a point or a line: the likelihood is unbounded there */
    double det_floor = 1e-10 * (dcov[0] * dcov[3] - dcov[1] * dcov[2]);
    cg_gmm next = *g;
    for (int j = 0; j < k; j++) {
        if (!(nk[j] >= 1e-8 * n)) {
            free(resp);
            snprintf(err, errlen, "gmm: component %d lost all its points (weight %.3g); try "
                     "fewer components (--k) or another --seed", j + 1, nk[j] / n);
            return CG_ERR_NUMERIC;
        }
        next.w[j] = nk[j] / n;
        next.mu[j][0] = sx[j][0] / nk[j];
        next.mu[j][1] = sx[j][1] / nk[j];
        double c00 = 0, c01 = 0, c11 = 0;
        for (int i = 0; i < n; i++) {
            double rij = resp[(size_t)i * k + j];
            double a = xy[2 * i] - next.mu[j][0], b = xy[2 * i + 1] - next.mu[j][1];
            c00 += rij * a * a;
            c01 += rij * a * b;
            c11 += rij * b * b;
        }
        next.cov[j][0] = c00 / nk[j];
        next.cov[j][1] = next.cov[j][2] = c01 / nk[j];
        next.cov[j][3] = c11 / nk[j];
        double det = next.cov[j][0] * next.cov[j][3] - next.cov[j][1] * next.cov[j][2];
        if (!(det > det_floor)) {
            free(resp);
            snprintf(err, errlen, "gmm: component %d collapsed (covariance determinant %.3g); "
                     "try fewer components (--k) or another --seed", j + 1, det);
            return CG_ERR_NUMERIC;
        }
    }
    free(resp);
    *g = next;
    return CG_OK;
}

void cg_gmm_sample(const cg_gmm *g, cg_rng *r, double *xy, int n)
{
    real u[1], e[2];
    for (int i = 0; i < n; i++) {
        cg_rng_uniform(r, u, 1);
        int j = 0;
        double acc = g->w[0];
        while (j + 1 < g->k && u[0] > acc)
            acc += g->w[++j];
        cg_rng_normal(r, e, 2, 0.0, 1.0);
        /* x = mu + L e with L the Cholesky factor of S */
        const double *S = g->cov[j];
        double l11 = sqrt(S[0]), l21 = S[2] / l11, l22 = sqrt(S[3] - l21 * l21);
        xy[2 * i] = g->mu[j][0] + l11 * e[0];
        xy[2 * i + 1] = g->mu[j][1] + l21 * e[0] + l22 * e[1];
    }
}

void cg_box_fit(cg_box *b, const double *xy, int n)
{
    b->lo[0] = b->hi[0] = xy[0];
    b->lo[1] = b->hi[1] = xy[1];
    for (int i = 1; i < n; i++)
        for (int d = 0; d < 2; d++) {
            b->lo[d] = fmin(b->lo[d], xy[2 * i + d]);
            b->hi[d] = fmax(b->hi[d], xy[2 * i + d]);
        }
}

double cg_box_loglik(const cg_box *b, const double *xy, int n, int *outside)
{
    int out = 0;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < 2; d++)
            if (xy[2 * i + d] < b->lo[d] || xy[2 * i + d] > b->hi[d]) {
                out++;
                break;
            }
    if (outside)
        *outside = out;
    if (out)
        return -INFINITY;
    return -n * log((b->hi[0] - b->lo[0]) * (b->hi[1] - b->lo[1]));
}

void cg_box_sample(const cg_box *b, cg_rng *r, double *xy, int n)
{
    real u[2];
    for (int i = 0; i < n; i++) {
        cg_rng_uniform(r, u, 2);
        for (int d = 0; d < 2; d++)
            xy[2 * i + d] = b->lo[d] + u[d] * (b->hi[d] - b->lo[d]);
    }
}
