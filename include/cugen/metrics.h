/*
 * metrics.h: how good a generator is, from samples: the lecture notes' MMD
 * score, the Frechet distance between feature statistics (FID with a
 * pluggable feature network), and the dense linear algebra they need.
 *
 * Not for: training losses (ops.h: cg_mmd2_rbf is the differentiable MMD).
 */
#ifndef CUGEN_METRICS_H
#define CUGEN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "cugen/tensor.h"

/* ---- linear algebra (double, LAPACK through OpenBLAS) ---------------------- */
/* Eigen-decomposition of the symmetric n x n matrix a (row-major; only its
 * values matter, both triangles are read as one): eigenvalues ascending into
 * w (n), eigenvectors into the columns of a (a[i * n + k]: component i of
 * vector k). CG_ERR_NOMEM, or CG_ERR_NUMERIC if LAPACK does not converge. */
cg_status cg_sym_eig(int n, double *a, double *w);

/* ---- the lecture notes' MMD score ----------------------------------------------
 * compute_score(fake, real): with M_ab[i, j] = |a_i - b_j|^2 (pairwise
 * squared distances; computed as |a|^2 + |b|^2 - 2 a.b with a double GEMM
 * in blocks) and scale = mean of M_rr (real against real, diagonal
 * included), k(a, b) = exp(-M_ab / (2 scale sigma^2)) and
 *   mmd2 = mean k(real, real) + mean k(fake, fake) - 2 mean k(real, fake),
 *   mmd  = sqrt(max(mmd2, 0))   (what the notes print).
 * fake (n, d), real (m, d), rows of d values. CG_ERR_ARG for n or m < 1, d < 1
 * or sigma <= 0; CG_ERR_NUMERIC if the real rows are all equal (scale 0). */
cg_status cg_mmd_score(const real *fake, int n, const real *real_x, int m, int d, double sigma,
                       double *mmd2, double *mmd);

#endif
