/*
 * spectral.c: reference spectral normalisation (cpu_spectral.h): the power
 * iteration, sigma and the division in double, results rounded once.
 */
#include <math.h>

#include "cpu/cpu_spectral.h"

/* x / max(|x|, eps) into out */
static void normalize(real *out, const double *x, int64_t n, double eps)
{
    double s = 0;
    for (int64_t k = 0; k < n; k++)
        s += x[k] * x[k];
    double norm = fmax(sqrt(s), eps);
    for (int64_t k = 0; k < n; k++)
        out[k] = (real)(x[k] / norm);
}

/* wv (h) = W v */
static void mat_vec(double *wv, const real *w, const real *v, int A, int h, int R)
{
    for (int i = 0; i < h; i++) {
        double s = 0;
        for (int a = 0; a < A; a++) {
            const real *row = w + ((int64_t)a * h + i) * R, *va = v + (int64_t)a * R;
            for (int r = 0; r < R; r++)
                s += (double)row[r] * va[r];
        }
        wv[i] = s;
    }
}

void cpu_spectral_norm_fwd(real *y, real *sigma, real *u, real *v, const real *w, int A, int h,
                           int R, int update, double eps, double *acc)
{
    int64_t cols = (int64_t)A * R, n = cols * h;
    double *wv = acc, *wtu = acc + h;
    if (update) {
        for (int64_t j = 0; j < cols; j++)
            wtu[j] = 0;
        for (int a = 0; a < A; a++)
            for (int i = 0; i < h; i++) {
                const real *row = w + ((int64_t)a * h + i) * R;
                double *out = wtu + (int64_t)a * R;
                for (int r = 0; r < R; r++)
                    out[r] += (double)row[r] * u[i];
            }
        normalize(v, wtu, cols, eps);
        mat_vec(wv, w, v, A, h, R);
        normalize(u, wv, h, eps);
    } else {
        mat_vec(wv, w, v, A, h, R);
    }
    double s = 0;
    for (int i = 0; i < h; i++)
        s += (double)u[i] * wv[i];
    sigma[0] = (real)s;
    double sg = sigma[0];
    for (int64_t e = 0; e < n; e++)
        y[e] = (real)(w[e] / sg);
}

void cpu_spectral_norm_bwd(real *dw, const real *dy, const real *w, const real *u,
                           const real *v, const real *sigma, int A, int h, int R)
{
    int64_t n = (int64_t)A * h * R;
    double dot = 0;
    for (int64_t e = 0; e < n; e++)
        dot += (double)dy[e] * w[e];
    double sg = sigma[0], c = dot / (sg * sg);
    for (int a = 0; a < A; a++)
        for (int i = 0; i < h; i++) {
            int64_t at = ((int64_t)a * h + i) * R;
            const real *va = v + (int64_t)a * R;
            for (int r = 0; r < R; r++)
                dw[at + r] += (real)(dy[at + r] / sg - c * u[i] * va[r]);
        }
}
