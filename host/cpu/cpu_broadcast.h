/*
 * cpu_broadcast.h: reference add, sub and mul of a and b with b broadcast to
 * a's shape (numpy rules, b's dims aligned on the right, each 1 or equal to
 * a's). The output has a's shape.
 *
 * cg_bcast (core/op_geom.h) is how b maps onto a: a's shape with neighbouring dims merged
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

#include "core/op_geom.h"
#include "cugen/tensor.h"

/* The older name of cg_bcast (core/op_geom.h), kept for the benchmark command. */
typedef cg_bcast cpu_bcast;

/* Returns 0 if b does not broadcast to a (or either has over 4 dims). */
int cpu_bcast_init(cg_bcast *bc, const int *ashape, int andim, const int *bshape, int bndim);
/* Doubles of scratch the backward needs for db (0: none). */
int64_t cpu_bcast_acc_len(const cg_bcast *bc);

/* y = a + b, a - b, a * b */
void cpu_add_fwd(real *y, const real *a, const real *b, const cg_bcast *bc);
void cpu_sub_fwd(real *y, const real *a, const real *b, const cg_bcast *bc);
void cpu_mul_fwd(real *y, const real *a, const real *b, const cg_bcast *bc);
/* y (a's shape) = b broadcast; the adjoint of db in cpu_add_bwd */
void cpu_expand_fwd(real *y, const real *b, const cg_bcast *bc);
/* da = dy; db = sum dy (sub: -sum dy); mul: da = dy b, db = sum dy a */
void cpu_add_bwd(real *da, real *db, double *acc, const real *dy, const cg_bcast *bc);
void cpu_sub_bwd(real *da, real *db, double *acc, const real *dy, const cg_bcast *bc);
void cpu_mul_bwd(real *da, real *db, double *acc, const real *dy, const real *a,
                 const real *b, const cg_bcast *bc);

#endif
