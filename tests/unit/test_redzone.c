/*
 * test_redzone.c: the step arena's red zones (CUGEN_ARENA_REDZONE=1): a
 * write one element past a tensor inside an arena block, which no guard
 * page or sanitizer sees, is reported at the end of the step, on the host
 * and on the device; writes inside every tensor are not.
 */
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "gpu_check.h"
#include "harness.h"
#include "ops/cuda_ops.h"

/* A context whose arenas keep red zones (the variable is read when an
 * arena is made). */
static int ctx_with_redzones(cg_ctx *ctx)
{
    setenv("CUGEN_ARENA_REDZONE", "1", 1);
    return cg_ctx_init(ctx) == CG_OK && ctx->arena.redzone && ctx->dev_arena.redzone;
}

TEST(arena_redzone_catches_a_write_past_a_host_tensor)
{
    cg_ctx ctx;
    REQUIRE(ctx_with_redzones(&ctx));
    /* 10 and 16 values: one ends inside its 64-byte alignment, one on it */
    cg_tensor *a = cg_new(&ctx, CG_SHAPE(10)), *b = cg_new(&ctx, CG_SHAPE(16));
    REQUIRE(a && b);
    for (int i = 0; i < 10; i++)
        a->data[i] = 1;
    for (int i = 0; i < 16; i++)
        b->data[i] = 2;
    char msg[200] = "";
    CHECK(cg_arena_check(&ctx.arena, msg, sizeof msg) == 0, "%s", msg);
    b->data[16] = 3;  /* the bug */
    CHECK(cg_arena_check(&ctx.arena, msg, sizeof msg) == 1);
    CHECK(strstr(msg, "(64 bytes) was written past its end") != NULL, "%s", msg);
    a->data[10] = 3;
    CHECK(cg_arena_check(&ctx.arena, msg, sizeof msg) == 2);
    cg_ctx_step_end(&ctx);
    CHECK(ctx.err == CG_ERR_STATE && strstr(ctx.errmsg, "step arena (host)"), "%s", ctx.errmsg);
    cg_ctx_free(&ctx);
}

TEST(gpu_arena_redzone_catches_a_write_past_a_device_tensor)
{
    GPU_OR_SKIP();
    cg_ctx ctx;
    REQUIRE(ctx_with_redzones(&ctx));
    cg_tensor *a = cg_new_on(&ctx, CG_CUDA, CG_SHAPE(100)), *b = cg_new_on(&ctx, CG_CUDA,
                                                                           CG_SHAPE(7));
    REQUIRE(a && b, "%s", ctx.errmsg);
    char msg[200] = "";
    CHECK(cuda_fill(a->data, 1, 100) == CG_OK && cuda_fill(b->data, 1, 7) == CG_OK);
    CHECK(cg_arena_check(&ctx.dev_arena, msg, sizeof msg) == 0, "%s", msg);
    CHECK(cuda_fill(a->data, 1, 101) == CG_OK);  /* one past the end */
    CHECK(cg_arena_check(&ctx.dev_arena, msg, sizeof msg) == 1);
    CHECK(strstr(msg, "step arena (device): allocation 0 of the step (400 bytes)") != NULL,
          "%s", msg);
    cg_ctx_step_end(&ctx);
    CHECK(ctx.err == CG_ERR_STATE, "%s", ctx.errmsg);
    cg_ctx_free(&ctx);
    gpu_free_all();
}
