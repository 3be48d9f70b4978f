/*
 * grad_embedding.c: gradchecks of the row lookup cg_embedding: the table's
 * gradient with repeated indices and rows no index names, a one-row table
 * named by every index, and one table in two lookups whose outputs multiply
 * (the tape adds both paths, and each depends on the table nonlinearly).
 */
#include "cugen/ops.h"
#include "harness.h"

#define NIDX 9

/* 7 rows: 4 named three times, 0 and 1 twice, 3 and 5 never */
static const int32_t IDX[NIDX] = {4, 1, 4, 0, 6, 4, 1, 2, 0};
static const int32_t IDX2[NIDX] = {0, 0, 3, 6, 6, 2, 4, 1, 0};
static const int32_t ZEROS[NIDX] = {0};

/* arg: NIDX indices */
static cg_tensor *f_lookup(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_embedding(ctx, in[0], arg, NIDX);
}

static cg_tensor *f_product(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    return cg_mul(ctx, cg_embedding(ctx, in[0], IDX, NIDX),
                  cg_embedding(ctx, in[0], IDX2, NIDX));
}

TEST(gradcheck_embedding)
{
    cg_tensor *in[1] = {TH_LEAF(61, 7, 5)};
    GRADCHECK("embedding (7, 5), 9 indices", f_lookup, (void *)IDX, in, 1);
    GRADCHECK("embedding times embedding, one table", f_product, NULL, in, 1);
    cg_tensor *one[1] = {TH_LEAF(62, 1, 3)};
    GRADCHECK("embedding (1, 3), 9 indices of row 0", f_lookup, (void *)ZEROS, one, 1);
}
