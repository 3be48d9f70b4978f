/*
 * linalg.c: the symmetric eigendecomposition the metrics and the Gaussian
 * initialisation need, through LAPACK's dsyevd (OpenBLAS ships LAPACK, so
 * -lopenblas links it). Row-major in, LAPACK's column-major handled here.
 */
#include <stdlib.h>
#include <string.h>

#include "cugen/metrics.h"

void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork,
             int *info);

/* dsyevd with jobz "V" (vectors into a) or "N" (values only, a destroyed) */
static cg_status syevd(const char *jobz, int n, double *a, double *w)
{
    /* a symmetric matrix is its own transpose: the row-major array is the
     * column-major one; the eigenvectors come back as columns (column-major),
     * i.e. a[k * n + i] is component i of vector k, transposed below */
    int info = 0, lwork = -1, liwork = -1, iw;
    double wq;
    dsyevd_(jobz, "L", &n, a, &n, w, &wq, &lwork, &iw, &liwork, &info);
    if (info != 0)
        return CG_ERR_NUMERIC;
    lwork = (int)wq;
    liwork = iw;
    double *work = malloc(sizeof(double) * (size_t)lwork);
    int *iwork = malloc(sizeof(int) * (size_t)liwork);
    if (!work || !iwork) {
        free(work);
        free(iwork);
        return CG_ERR_NOMEM;
    }
    dsyevd_(jobz, "L", &n, a, &n, w, work, &lwork, iwork, &liwork, &info);
    free(work);
    free(iwork);
    return info != 0 ? CG_ERR_NUMERIC : CG_OK;
}

cg_status cg_sym_eigvals(int n, double *a, double *w)
{
    return n < 1 ? CG_ERR_ARG : syevd("N", n, a, w);
}

cg_status cg_sym_eig(int n, double *a, double *w)
{
    if (n < 1)
        return CG_ERR_ARG;
    cg_status st = syevd("V", n, a, w);
    if (st != CG_OK)
        return st;
    for (int i = 0; i < n; i++)
        for (int k = i + 1; k < n; k++) {
            double t = a[i * n + k];
            a[i * n + k] = a[k * n + i];
            a[k * n + i] = t;
        }
    return CG_OK;
}
