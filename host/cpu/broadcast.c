/*
 * broadcast.c: reference add, sub and mul with b broadcast to a's shape
 * (see cpu_broadcast.h for the merged layout). The output is walked in memory
 * order, one run of dim[3] elements at a time; within a run b advances by 0
 * or 1. The backward of b walks the same runs and sums into b's elements.
 */
#include <string.h>

#include "cpu/cpu_broadcast.h"

typedef enum { BIN_ADD, BIN_SUB, BIN_MUL } binop;

int cpu_bcast_init(cg_bcast *bc, const int *ashape, int andim, const int *bshape, int bndim)
{
    if (andim > 4 || bndim > 4)
        return 0;
    int64_t ad[4] = {1, 1, 1, 1}, bd[4] = {1, 1, 1, 1};
    for (int i = 0; i < andim; i++)
        ad[4 - andim + i] = ashape[i];
    for (int i = 0; i < bndim; i++)
        bd[4 - bndim + i] = bshape[i];
    /* b's strides, 0 along its size-1 dims */
    int64_t bs[4], stride = 1;
    for (int k = 3; k >= 0; k--) {
        if (bd[k] != 1 && bd[k] != ad[k])
            return 0;
        bs[k] = bd[k] == 1 ? 0 : stride;
        stride *= bd[k];
    }
    bc->nb = stride;
    bc->n = ad[0] * ad[1] * ad[2] * ad[3];
    /* Merge from the right: a dim joins the one to its right when b steps
     * through both alike, both broadcast or both not (b is contiguous, so
     * neighbouring non-broadcast dims are contiguous together); size-1 dims
     * of a vanish. */
    int m = 4;  /* merged dims fill dim[m..3] */
    int64_t dim[4] = {1, 1, 1, 1}, str[4] = {0, 0, 0, 0};
    for (int k = 3; k >= 0; k--) {
        if (ad[k] == 1)
            continue;
        if (m < 4 && (bs[k] == 0) == (str[m] == 0)) {
            dim[m] *= ad[k];
            continue;
        }
        m--;
        dim[m] = ad[k];
        str[m] = bs[k];
    }
    /* dim[0..m-1] stay 1 with stride 0 */
    memcpy(bc->dim, dim, sizeof dim);
    memcpy(bc->bstride, str, sizeof str);
    return 1;
}

int64_t cpu_bcast_acc_len(const cg_bcast *bc)
{
    return bc->n == bc->dim[3] ? 0 : bc->nb;
}

/* Offset into b of the r-th run (the r-th index over dim[0..2]). */
static int64_t run_boffset(const cg_bcast *bc, int64_t r)
{
    int64_t i2 = r % bc->dim[2];
    r /= bc->dim[2];
    int64_t i1 = r % bc->dim[1];
    r /= bc->dim[1];
    return r * bc->bstride[0] + i1 * bc->bstride[1] + i2 * bc->bstride[2];
}

/* One run: y[j] = a[j] op b[j step], step 0 or 1. */
static void run_fwd(real *y, const real *a, const real *b, int64_t step, int64_t len, binop op)
{
    if (step == 0) {
        const real c = b[0];
        switch (op) {
        case BIN_ADD: for (int64_t j = 0; j < len; j++) y[j] = a[j] + c; break;
        case BIN_SUB: for (int64_t j = 0; j < len; j++) y[j] = a[j] - c; break;
        case BIN_MUL: for (int64_t j = 0; j < len; j++) y[j] = a[j] * c; break;
        }
    } else {
        switch (op) {
        case BIN_ADD: for (int64_t j = 0; j < len; j++) y[j] = a[j] + b[j]; break;
        case BIN_SUB: for (int64_t j = 0; j < len; j++) y[j] = a[j] - b[j]; break;
        case BIN_MUL: for (int64_t j = 0; j < len; j++) y[j] = a[j] * b[j]; break;
        }
    }
}

static void binary_fwd(real *y, const real *a, const real *b, const cg_bcast *bc, binop op)
{
    int64_t len = bc->dim[3], runs = bc->n / len;
    for (int64_t r = 0; r < runs; r++)
        run_fwd(y + r * len, a + r * len, b + run_boffset(bc, r), bc->bstride[3], len, op);
}

/* db[j] = sign * sum over the elements k of a that read b[j] of dy[k] w[k]
 * (w NULL: 1), summed in double. */
static void bcast_reduce(real *db, double *acc, const real *dy, const real *w, double sign,
                         const cg_bcast *bc)
{
    int64_t len = bc->dim[3], runs = bc->n / len, step = bc->bstride[3];
    if (runs == 1 && step == 1) {  /* equal shapes: nothing to sum */
        for (int64_t j = 0; j < len; j++)
            db[j] = (real)(sign * dy[j] * (w ? (double)w[j] : 1.0));
        return;
    }
    if (runs > 1)
        memset(acc, 0, sizeof(double) * (size_t)bc->nb);
    for (int64_t r = 0; r < runs; r++) {
        const real *g = dy + r * len, *v = w ? w + r * len : NULL;
        double *out = runs > 1 ? acc + run_boffset(bc, r) : NULL;
        if (step == 0) {
            double s = 0;
            for (int64_t j = 0; j < len; j++)
                s += (double)g[j] * (v ? (double)v[j] : 1.0);
            if (out)
                out[0] += s;
            else
                db[0] = (real)(sign * s);  /* scalar b: one run */
        } else {
            for (int64_t j = 0; j < len; j++)
                out[j] += (double)g[j] * (v ? (double)v[j] : 1.0);
        }
    }
    if (runs > 1)
        for (int64_t j = 0; j < bc->nb; j++)
            db[j] = (real)(sign * acc[j]);
}

void cpu_add_fwd(real *y, const real *a, const real *b, const cg_bcast *bc)
{
    binary_fwd(y, a, b, bc, BIN_ADD);
}

void cpu_sub_fwd(real *y, const real *a, const real *b, const cg_bcast *bc)
{
    binary_fwd(y, a, b, bc, BIN_SUB);
}

void cpu_mul_fwd(real *y, const real *a, const real *b, const cg_bcast *bc)
{
    binary_fwd(y, a, b, bc, BIN_MUL);
}

void cpu_expand_fwd(real *y, const real *b, const cg_bcast *bc)
{
    int64_t len = bc->dim[3], runs = bc->n / len, step = bc->bstride[3];
    for (int64_t r = 0; r < runs; r++) {
        real *out = y + r * len;
        const real *src = b + run_boffset(bc, r);
        for (int64_t j = 0; j < len; j++)
            out[j] = src[j * step];
    }
}

void cpu_add_bwd(real *da, real *db, double *acc, const real *dy, const cg_bcast *bc)
{
    if (da)
        memcpy(da, dy, sizeof(real) * (size_t)bc->n);
    if (db)
        bcast_reduce(db, acc, dy, NULL, 1, bc);
}

void cpu_sub_bwd(real *da, real *db, double *acc, const real *dy, const cg_bcast *bc)
{
    if (da)
        memcpy(da, dy, sizeof(real) * (size_t)bc->n);
    if (db)
        bcast_reduce(db, acc, dy, NULL, -1, bc);
}

void cpu_mul_bwd(real *da, real *db, double *acc, const real *dy, const real *a,
                 const real *b, const cg_bcast *bc)
{
    if (da)  /* da = dy * b, b broadcast like the forward */
        binary_fwd(da, dy, b, bc, BIN_MUL);
    if (db)
        bcast_reduce(db, acc, dy, a, 1, bc);
}
