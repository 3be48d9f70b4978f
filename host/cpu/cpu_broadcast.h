/*
 * cpu_broadcast.h: reference add, sub and mul of a and b with b broadcast to
 * a's shape (numpy rules, b's dims aligned on the right, each 1 or equal to
 * a's). The output has a's shape.
 *
 * cpu_bcast is how b maps onto a: a's shape with neighbouring dims merged
 * wherever b steps through them the same way (both broadcast, or both
 * contiguous), so equal shapes become one run with step 1, a scalar b one run
 * with step 0, a bias b (C) on (N, C) runs of C with step 1, b (1, C, 1, 1) on
 * (N, C, H, W) runs of H W with step 0.
 *
 * Backward: da and db are written (=); db sums over the broadcast dims in
 * double, in the caller's scratch `acc` (cpu_bcast_acc_len doubles, from
 * the step arena; NULL when that is 0). A NULL gradient is skipped.
 */
#ifndef CUGEN_CPU_BROADCAST_H
#define CUGEN_CPU_BROADCAST_H

#include <stdint.h>

#include "cugen/tensor.h"

typedef struct {
    int64_t n, nb;       /* elements of a (and of the output), of b */
    int64_t dim[4];      /* a's merged shape, padded with 1s on the left */
    int64_t bstride[4];  /* b's stride along dim[k]: 0 where broadcast; bstride[3] is 0 or 1 */
} cpu_bcast;

/* Returns 0 if b does not broadcast to a (or either has over 4 dims). */
int cpu_bcast_init(cpu_bcast *bc, const int *ashape, int andim, const int *bshape, int bndim);
/* Doubles of scratch the backward needs for db (0: none). */
int64_t cpu_bcast_acc_len(const cpu_bcast *bc);

/* y = a + b, a - b, a * b */
void cpu_add_fwd(real *y, const real *a, const real *b, const cpu_bcast *bc);
void cpu_sub_fwd(real *y, const real *a, const real *b, const cpu_bcast *bc);
void cpu_mul_fwd(real *y, const real *a, const real *b, const cpu_bcast *bc);
/* da = dy; db = sum dy (sub: -sum dy); mul: da = dy b, db = sum dy a */
void cpu_add_bwd(real *da, real *db, double *acc, const real *dy, const cpu_bcast *bc);
void cpu_sub_bwd(real *da, real *db, double *acc, const real *dy, const cpu_bcast *bc);
void cpu_mul_bwd(real *da, real *db, double *acc, const real *dy, const real *a,
                 const real *b, const cpu_bcast *bc);

#endif
