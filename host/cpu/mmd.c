/*
 * mmd.c: reference squared maximum mean discrepancy under a sum of Gaussian
 * kernels, forward and backward, by direct O((N + M)^2 D) loops in double.
 * The kernel matrices are recomputed in the backward rather than kept.
 *
 * Gradient: with g(a, b) = d k(a, b) / d a = -(a - b) sum_s k_s(a, b) / sigma_s^2
 * and k symmetric,
 *   d out / d x_p = 2 / N^2 sum_j g(x_p, x_j) - 2 / (N M) sum_j g(x_p, y_j),
 *   d out / d y_q = 2 / M^2 sum_j g(y_q, y_j) - 2 / (N M) sum_i g(y_q, x_i).
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu_loss.h"

/* k(a, b) for rows a, b of length D; *w = sum_s k_s(a, b) / sigma_s^2. */
static double rbf(const real *a, const real *b, int D, const double *sigmas, int ns, double *w)
{
    double d2 = 0;
    for (int d = 0; d < D; d++) {
        double t = (double)a[d] - (double)b[d];
        d2 += t * t;
    }
    double k = 0, kw = 0;
    for (int s = 0; s < ns; s++) {
        double s2 = sigmas[s] * sigmas[s], ks = exp(-d2 / (2 * s2));
        k += ks;
        kw += ks / s2;
    }
    *w = kw;
    return k;
}

/* sum over all pairs of rows of A (na, D) and B (nb, D) of k */
static double kernel_sum(const real *A, int na, const real *B, int nb, int D,
                         const double *sigmas, int ns)
{
    double s = 0, w;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            s += rbf(A + (int64_t)i * D, B + (int64_t)j * D, D, sigmas, ns, &w);
    return s;
}

void cpu_mmd2_rbf_fwd(real *out, const real *x, const real *y, const double *sigmas, int ns,
                      int N, int M, int D)
{
    double kxx = kernel_sum(x, N, x, N, D, sigmas, ns);
    double kyy = kernel_sum(y, M, y, M, D, sigmas, ns);
    double kxy = kernel_sum(x, N, y, M, D, sigmas, ns);
    out[0] = (real)(kxx / ((double)N * N) + kyy / ((double)M * M) - 2 * kxy / ((double)N * M));
}

/* acc (D) += c sum_j g(a, B_j) over the rows of B (nb, D) */
static void add_row_grad(double *acc, const real *a, const real *B, int nb, int D,
                         const double *sigmas, int ns, double c)
{
    for (int j = 0; j < nb; j++) {
        const real *b = B + (int64_t)j * D;
        double w;
        rbf(a, b, D, sigmas, ns, &w);
        double f = -c * w;
        for (int d = 0; d < D; d++)
            acc[d] += f * ((double)a[d] - (double)b[d]);
    }
}

/* dA (na, D) = g0 (c_self sum_j g(A_p, A_j) + c_cross sum_j g(A_p, B_j)) */
static void rows_grad(real *dA, double *acc, const real *A, int na, const real *B, int nb,
                      int D, const double *sigmas, int ns, double c_self, double c_cross,
                      double g0)
{
    for (int p = 0; p < na; p++) {
        const real *a = A + (int64_t)p * D;
        memset(acc, 0, sizeof(double) * (size_t)D);
        add_row_grad(acc, a, A, na, D, sigmas, ns, c_self);
        add_row_grad(acc, a, B, nb, D, sigmas, ns, c_cross);
        for (int d = 0; d < D; d++)
            dA[(int64_t)p * D + d] = (real)(g0 * acc[d]);
    }
}

void cpu_mmd2_rbf_bwd(real *dx, real *dy, double *acc, const real *dout, const real *x,
                      const real *y, const double *sigmas, int ns, int N, int M, int D)
{
    double cross = -2 / ((double)N * M);
    if (dx)
        rows_grad(dx, acc, x, N, y, M, D, sigmas, ns, 2 / ((double)N * N), cross, dout[0]);
    if (dy)
        rows_grad(dy, acc, y, M, x, N, D, sigmas, ns, 2 / ((double)M * M), cross, dout[0]);
}
