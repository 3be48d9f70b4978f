/*
 * test_gpu_embedding.c: the Embedding layer with its table on the GPU
 * through the front end and the tape against the CPU, and an index out of
 * range on a GPU table refused on the host before any kernel runs (the op
 * itself is in the op table, tests/op_cases.c, with the same bits on both
 * devices). Skipped without a GPU (failed under make test-gpu).
 */
#include <string.h>

#include "cugen/layers.h"
#include "gpu_check.h"

#define TOL 1e-5

/* A conditional model's label table: Embedding(11, 9) on each device, the
 * same init; two lookups of one table (the tape adds both into the
 * parameter's gradient), L = sum(c * y1) + sum(tanh(y2)). */
typedef struct {
    cg_params p;
    cg_nn nn;
    cg_nn_embedding emb;
} table;

static cg_status table_build(table *t)
{
    memset(t, 0, sizeof *t);
    cg_params_init(&t->p);
    cg_nn_begin(&t->nn, &t->p);
    cg_nn_embedding_declare(&t->nn, &t->emb, "label_emb", 11, 9);
    char err[256];
    cg_status st = cg_nn_alloc(&t->nn, err, sizeof err);
    if (st != CG_OK)
        return st;
    cg_rng r;
    cg_rng_init(&r, 8, 0);
    return cg_nn_init(&t->nn, &r);
}

/* y1 and the table's gradient on the host, or 0 (test failed) */
static int table_step(table *t, cg_device dev, const cg_tensor *c, real *y1, real *grad)
{
    static const int32_t a[17] = {3, 0, 3, 7, 10, 3, 1, 0, 7, 7, 2, 9, 3, 4, 5, 0, 8};
    static const int32_t b[5] = {10, 10, 6, 3, 0};
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK)
        return 0;
    cg_tensor *cd = cg_to_device(&ctx, c, dev);
    cg_tensor *ya = cg_nn_embedding_fwd(&ctx, &t->emb, a, 17);
    cg_tensor *yb = cg_nn_embedding_fwd(&ctx, &t->emb, b, 5);
    cg_tensor *loss = cg_add(&ctx, cg_sum(&ctx, cg_mul(&ctx, ya, cd)),
                             cg_sum(&ctx, cg_tanh(&ctx, yb)));
    cg_params_zero_grad(&t->p);
    cg_backward(&ctx, loss);
    if (cg_ok(&ctx))
        cg_copy_to_host(&ctx, y1, ya);
    if (cg_ok(&ctx))
        cg_memcpy_to_host(&ctx, grad, t->emb.weight->grad, dev, t->emb.weight->n);
    int ok = cg_ok(&ctx);
    if (!ok)
        th_fail(__FILE__, __LINE__, "%s: %s", dev == CG_CUDA ? "GPU" : "CPU", ctx.errmsg);
    cg_ctx_free(&ctx);
    return ok;
}

TEST(gpu_embedding_layer_through_the_tape_matches_cpu)
{
    GPU_OR_SKIP();
    table h, d;
    REQUIRE(table_build(&h) == CG_OK && table_build(&d) == CG_OK);
    char err[256];
    REQUIRE(cg_params_to_device(&d.p, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(d.emb.weight->dev == CG_CUDA);
    cg_tensor *c = th_const(CG_SHAPE(17, 9), 9, 0.1, 2, 1);
    real yh[17 * 9], yg[17 * 9], gh[11 * 9], gg[11 * 9];
    if (table_step(&h, CG_CPU, c, yh, gh) && table_step(&d, CG_CUDA, c, yg, gg)) {
        gpu_same_bits("label_emb: output", yg, yh, 17 * 9);
        /* through tanh's backward (CUDA's tanh and glibc's may differ in an
         * ulp): the op tests' bound */
        gpu_compare("label_emb: gradient", gg, gh, 11 * 9, TOL);
    }

    /* out of range on the GPU table: refused on the host, by the layer and by the op */
    static const int32_t bad[3] = {1, 11, 2};
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    CHECK_ARG_ERROR(&ctx, cg_nn_embedding_fwd(&ctx, &d.emb, bad, 3), "label_emb");
    CHECK_ARG_ERROR(&ctx, cg_embedding(&ctx, d.emb.weight, bad, 3), "embedding");
    CHECK(cg_cuda_sync() == CG_OK, "%s", cg_cuda_last_error());
    cg_ctx_free(&ctx);
    cg_params_free(&h.p);
    cg_params_free(&d.p);
    gpu_free_all();
}
