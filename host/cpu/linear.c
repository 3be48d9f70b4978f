/*
 * linear.c: reference fully connected layer, y = x w^T + b.
 */
#include "cpu/cpu_dense.h"
#include "cpu/cpu_gemm.h"

void cpu_linear_fwd(real *y, const real *x, const real *w, const real *b, int N, int I, int O)
{
    cpu_gemm(0, 1, N, O, I, 1, x, I, w, I, 0, y, O);
    if (b)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++)
                y[(long)n * O + o] += b[o];
}

void cpu_linear_bwd(real *dx, real *dw, real *db, const real *dy, const real *x,
                    const real *w, int N, int I, int O)
{
    if (dx)  /* dx (N, I) = dy (N, O) w (O, I) */
        cpu_gemm(0, 0, N, I, O, 1, dy, O, w, I, 0, dx, I);
    if (dw)  /* dw (O, I) += dy^T (O, N) x (N, I) */
        cpu_gemm(1, 0, O, I, N, 1, dy, O, x, I, 1, dw, I);
    if (db) {
        for (int o = 0; o < O; o++) {
            double s = 0;
            for (int n = 0; n < N; n++)
                s += dy[(long)n * O + o];
            db[o] += (real)s;
        }
    }
}
