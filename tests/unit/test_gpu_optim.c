/*
 * test_gpu_optim.c: the fused optimizer kernels, the EMA, parameters moved
 * to the GPU and checkpoints of GPU parameters, against the CPU. Adam,
 * AdamW, SGD (momentum, Nesterov, weight decay) and the EMA take 3 steps on
 * both devices from the same weights with the same gradients, one group
 * frozen: weights, m and v agree to 1e-6 (both compute in double per element
 * in the same order, so they are expected to agree bit for bit) and the
 * frozen tensor does not move. Skipped without a GPU (failed under make
 * test-gpu).
 */
#include <string.h>

#include "cugen/io.h"
#include "cugen/optim.h"
#include "gpu_check.h"

#define TOL 1e-6

static const int SIZES[3] = {37, 101, 5};
static const int GROUPS[3] = {0, 1, 0};

static int make(cg_params *p, uint64_t seed)
{
    cg_params_init(p);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        if (!cg_param(p, name, CG_SHAPE(SIZES[i]), GROUPS[i]))
            return 0;
    }
    cg_buffer(p, "running", CG_SHAPE(9));
    if (cg_params_alloc(p) != CG_OK)
        return 0;
    cg_rng r;
    cg_rng_init(&r, seed, 0);
    for (int i = 0; i < 3; i++)
        cg_init_normal(p->t[i], &r, 0, 1);
    cg_init_uniform(p->b[0], &r, 0, 1);
    return 1;
}

/* The same random gradient (zero in the padding) into both. */
static void set_grads(cg_params *cpu, cg_params *gpu, uint64_t seed)
{
    memset(cpu->g, 0, sizeof(real) * (size_t)cpu->n);
    for (int i = 0; i < cpu->count; i++) {
        real *g = gpu_rand(seed + (uint64_t)i, cpu->t[i]->n, 0.1, 2, 1);
        memcpy(cpu->g + cpu->off[i], g, sizeof(real) * (size_t)cpu->t[i]->n);
    }
    CHECK(cg_cuda_upload(gpu->g, cpu->g, sizeof(real) * (size_t)cpu->n) == CG_OK, "%s",
          cg_cuda_last_error());
}

static void compare(const char *what, cg_params *cpu, cg_params *gpu)
{
    char w[96];
    snprintf(w, sizeof w, "%s: w", what);
    gpu_compare(w, gpu_get(gpu->w, gpu->n), cpu->w, cpu->n, TOL);
    snprintf(w, sizeof w, "%s: m", what);
    gpu_compare(w, gpu_get(gpu->m, gpu->n), cpu->m, cpu->n, TOL);
    snprintf(w, sizeof w, "%s: v", what);
    double e = th_rel_err(gpu_get(gpu->v, gpu->n), cpu->v, cpu->n);
    CHECK(e < TOL, "%s: relative error %.3g", w, e);
}

typedef enum { ADAM, ADAMW, SGD, SGD_NESTEROV } optim_kind;

static void run(optim_kind kind, const char *what)
{
    cg_params c, g;
    char err[256];
    REQUIRE(make(&c, 11) && make(&g, 11));
    REQUIRE(cg_params_to_device(&g, err, sizeof err) == CG_OK, "%s", err);
    CHECK(g.t[0]->dev == CG_CUDA && g.b[0]->dev == CG_CUDA);
    cg_params_freeze(&c, 1, 1);
    cg_params_freeze(&g, 1, 1);
    real *frozen0 = th_alloc(sizeof(real) * SIZES[1]);
    memcpy(frozen0, c.t[1]->data, sizeof(real) * SIZES[1]);
    cg_adam ac, ag;
    cg_sgd sc, sg;
    cg_adam_init(&ac, 0.01, 0.9, 0.999, 1e-8, 0.05, kind == ADAMW);
    ag = ac;
    cg_sgd_init(&sc, 0.05, 0.9, 0, 0.01, kind == SGD_NESTEROV);
    sg = sc;
    cg_ema ec, eg;
    REQUIRE(cg_ema_init(&ec, &c, 0.9) == CG_OK && cg_ema_init(&eg, &g, 0.9) == CG_OK);
    for (int step = 0; step < 3; step++) {
        set_grads(&c, &g, 100 + step * 7);
        if (kind == ADAM || kind == ADAMW) {
            CHECK(cg_adam_step(&ac, &c) == CG_OK);
            CHECK(cg_adam_step(&ag, &g) == CG_OK, "%s", cg_cuda_last_error());
        } else {
            CHECK(cg_sgd_step(&sc, &c) == CG_OK);
            CHECK(cg_sgd_step(&sg, &g) == CG_OK, "%s", cg_cuda_last_error());
        }
        CHECK(cg_ema_update(&ec, &c) == CG_OK && cg_ema_update(&eg, &g) == CG_OK);
    }
    compare(what, &c, &g);
    gpu_compare("ema", gpu_get(eg.w, g.n), ec.w, c.n, TOL);
    CHECK(cg_ema_swap(&ec, &c) == CG_OK && cg_ema_swap(&eg, &g) == CG_OK);
    gpu_compare("ema swapped in", gpu_get(g.w, g.n), c.w, c.n, TOL);
    REQUIRE(cg_params_to_host(&g, err, sizeof err) == CG_OK, "%s", err);
    CHECK(memcmp(g.t[1]->data, frozen0, sizeof(real) * SIZES[1]) == 0, "frozen group moved");
    CHECK(g.t[0]->dev == CG_CPU);
    cg_ema_free(&ec);
    cg_ema_free(&eg);
    cg_params_free(&c);
    cg_params_free(&g);
}

TEST(gpu_adam_sgd_ema_match_cpu)
{
    GPU_OR_SKIP();
    run(ADAM, "adam");
    run(ADAMW, "adamw");
    run(SGD, "sgd");
    run(SGD_NESTEROV, "sgd nesterov");
    gpu_free_all();
}

TEST(gpu_params_checkpoint_round_trip)
{
    GPU_OR_SKIP();
    char *dir = th_tmpdir(), err[512];
    REQUIRE(dir);
    char *path = th_path(dir, "w.safetensors"), *ck = th_path(dir, "c.safetensors");
    cg_params c, g;
    REQUIRE(make(&c, 3) && make(&g, 4));
    REQUIRE(cg_params_to_device(&g, err, sizeof err) == CG_OK, "%s", err);
    /* GPU -> file -> CPU */
    CHECK(cg_weights_save(path, &g, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_weights_load(path, &c, err, sizeof err) == CG_OK, "%s", err);
    gpu_compare("weights GPU -> CPU", c.w, gpu_get(g.w, g.n), c.n, 1e-30);
    gpu_compare("buffers GPU -> CPU", c.buf, gpu_get(g.buf, g.nbuf), c.nbuf, 1e-30);
    /* CPU -> checkpoint (with m, v, EMA) -> GPU */
    cg_init_const(c.t[0], 0.25);
    /* m and v inside the tensors: the alignment padding between them is not
     * in the file (zero on both sides) */
    for (int k = 0; k < c.count; k++)
        for (int64_t i = 0; i < c.t[k]->n; i++)
            c.m[c.off[k] + i] = c.v[c.off[k] + i] = (real)(i % 5) * 0.125f;
    cg_ema ec, eg;
    REQUIRE(cg_ema_init(&ec, &c, 0.5) == CG_OK && cg_ema_init(&eg, &g, 0.5) == CG_OK);
    cg_ckpt_state sc = {.step = 42, .epoch = 2, .seed = 9, .ema = &ec};
    cg_ckpt_state sg = {.ema = &eg};
    CHECK(cg_ckpt_save(ck, &c, &sc, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_ckpt_load(ck, &g, &sg, err, sizeof err) == CG_OK, "%s", err);
    CHECK(sg.step == 42 && sg.epoch == 2 && sg.seed == 9 && sg.ema == &eg);
    gpu_compare("w CPU -> GPU", gpu_get(g.w, g.n), c.w, c.n, 1e-30);
    gpu_compare("m CPU -> GPU", gpu_get(g.m, g.n), c.m, c.n, 1e-30);
    gpu_compare("ema CPU -> GPU", gpu_get(eg.w, g.n), ec.w, c.n, 1e-30);
    /* a refused file leaves the GPU values alone */
    real *before = gpu_get(g.w, g.n);
    cg_params other;
    cg_params_init(&other);
    cg_param(&other, "t0", CG_SHAPE(3), 0);
    REQUIRE(cg_params_alloc(&other) == CG_OK);
    CHECK(cg_weights_save(path, &other, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_weights_load(path, &g, err, sizeof err) != CG_OK);
    CHECK(memcmp(gpu_get(g.w, g.n), before, sizeof(real) * (size_t)g.n) == 0);
    cg_params_free(&other);
    cg_ema_free(&ec);
    cg_ema_free(&eg);
    cg_params_free(&c);
    cg_params_free(&g);
    th_rmtree(dir);
}
