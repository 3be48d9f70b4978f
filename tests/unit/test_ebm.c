/*
 * test_ebm.c: the energy-based model (cugen/ebm.h, cugen train ebm).
 *
 *   - one step of each objective against PyTorch (scripts/make_refs.py,
 *     cases ebm_noise and ebm_langevin, float64): the article's MLP against
 *     noise; the conv energy's Langevin chains from fixed starts with the
 *     reference's noise fed in, then one contrastive-divergence Adam step; on
 *     the CPU and (where there is one) the GPU;
 *   - dE/dx with frozen weights leaves every weight gradient as it was (the
 *     values against finite differences: tests/grad/grad_ebm.c);
 *   - the replay buffer's draw: fresh chains uniform in the box, the others
 *     copies of filled slots;
 *   - the command: a toy run's pictures and samples, flags refused in one line.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/ebm.h"
#include "cugen/ops.h"
#include "cugen/tape.h"
#include "gpu_check.h"
#include "harness.h"
#include "ref.h"

/* Parity bound: float32 against float64 through a few ops and one Adam step;
 * the errors measured are near 1e-7 (printed by ref_check). Scalars that are
 * differences of nearly equal means (cd) are compared against the size of
 * the energies, the scale their rounding error has. */
#define TOL 1e-5

static int load_init(cg_ebm *m, const ref_file *rf)
{
    int loaded = 0;
    for (int i = 0; i < rf->count; i++) {
        const ref_tensor *t = &rf->t[i];
        if (strncmp(t->name, "init.", 5) != 0)
            continue;
        char name[96];
        snprintf(name, sizeof name, "E.%s", t->name + 5);
        cg_tensor *dst = cg_params_find(&m->p, name);
        if (!dst || dst->n != t->n)
            return -1;
        memcpy(dst->data, t->data, sizeof(real) * (size_t)t->n);
        loaded++;
    }
    return loaded;
}

/* every final.<name> against the model's E.<name> (on the host) */
static void check_final(const cg_ebm *m, const ref_file *rf)
{
    int n = 0;
    for (int i = 0; i < rf->count; i++) {
        const ref_tensor *t = &rf->t[i];
        if (strncmp(t->name, "final.", 6) != 0)
            continue;
        char name[96];
        snprintf(name, sizeof name, "E.%s", t->name + 6);
        cg_tensor *p = cg_params_find(&m->p, name);
        REQUIRE(p, "%s", name);
        REF_CHECK_DATA(rf, t->name, p, TOL);
        n++;
    }
    CHECK(n == m->p.count, "%d final tensors, %d parameters", n, m->p.count);
}

static void check_scalar(const char *what, double got, double want, double scale)
{
    CHECK(fabs(got - want) <= TOL * fmax(fabs(want), scale), "%s: %.9g vs PyTorch %.9g", what,
          got, want);
}

TEST(ebm_noise_step_matches_pytorch)
{
    ref_file rf;
    if (!REF_OPEN(&rf, "ebm_noise"))
        return;
    int D = (int)ref_cfg(&rf, 0), H = (int)ref_cfg(&rf, 1);
    cg_ebm_arch a = {.net = CG_EBM_MLP, .channels = 1, .height = 1, .width = D, .hidden = H};
    cg_ebm m;
    char err[256];
    REQUIRE(cg_ebm_build(&m, &a, 1, 1, err, sizeof err) == CG_OK, "%s", err);
    CHECK(load_init(&m, &rf) == m.p.count, "the article's state_dict is the model's");
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_adam adam;
    cg_adam_init(&adam, 1e-3, 0.9, 0.999, 1e-8, 0, 0);
    cg_ebm_stats s;
    cg_status st = cg_ebm_nce_step(&ctx, &m, &adam, REF_CONST(&rf, "x"), REF_CONST(&rf, "noise"),
                                   &s);
    REQUIRE(st == CG_OK, "%s", ctx.errmsg);
    double scale = fabs(s.e_data) + fabs(s.e_other);
    check_scalar("loss", s.loss, REF_GET(&rf, "loss")->data[0], scale);
    check_scalar("e_data", s.e_data, REF_GET(&rf, "e_data")->data[0], scale);
    check_scalar("e_noise", s.e_other, REF_GET(&rf, "e_noise")->data[0], scale);
    check_final(&m, &rf);
    cg_ctx_free(&ctx);
    cg_ebm_free(&m);
    ref_free(&rf);
}

/* The Langevin case on dev: chains from x0 with the reference's noise, then
 * one CD step; everything compared on the host */
static void langevin_case(cg_device dev)
{
    ref_file rf;
    if (!REF_OPEN(&rf, "ebm_langevin"))
        return;
    int C = (int)ref_cfg(&rf, 0), S = (int)ref_cfg(&rf, 1), h = (int)ref_cfg(&rf, 2);
    int N = (int)ref_cfg(&rf, 3);
    cg_langevin l = {.steps = (int)ref_cfg(&rf, 4), .step_size = ref_cfg(&rf, 5),
                     .noise = ref_cfg(&rf, 6), .clip = ref_cfg(&rf, 7), .lo = -1, .hi = 1};
    double alpha = ref_cfg(&rf, 8);
    cg_ebm_arch a = {.net = CG_EBM_CNN, .channels = C, .height = S, .width = S, .hidden = h,
                     .buffer = N};
    cg_ebm m;
    char err[256];
    REQUIRE(cg_ebm_build(&m, &a, 1, 1, err, sizeof err) == CG_OK, "%s", err);
    CHECK(load_init(&m, &rf) == m.p.count, "the tutorial's state_dict is the model's");
    const ref_tensor *x0 = REF_GET(&rf, "x0"), *noise = REF_GET(&rf, "noise");
    REQUIRE(x0 && noise && x0->n == m.replay->n);
    memcpy(m.replay->data, x0->data, sizeof(real) * (size_t)x0->n);
    if (dev == CG_CUDA)
        REQUIRE(cg_params_to_device(&m.p, err, sizeof err) == CG_OK, "%s", err);
    cg_ctx ctx, chains;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK && cg_ctx_init(&chains) == CG_OK);
    cg_tensor *x = cg_to_device(&ctx, REF_CONST(&rf, "x"), dev);
    cg_tensor *jitter = cg_to_device(&ctx, REF_CONST(&rf, "jitter"), dev);
    cg_tensor *slots = cg_wrap(&ctx, m.replay->data, CG_SHAPE(N, C, S, S));
    REQUIRE(x && jitter && slots, "%s", ctx.errmsg);
    slots->dev = (uint8_t)dev;
    REQUIRE(cg_ebm_langevin(&chains, &m, slots, &l, NULL, noise->data) == CG_OK, "%s",
            chains.errmsg);
    cg_adam adam;
    cg_adam_init(&adam, 1e-4, 0.0, 0.999, 1e-8, 0, 0);
    cg_ebm_stats s;
    REQUIRE(cg_ebm_cd_step(&ctx, &m, &adam, x, jitter, slots, alpha, -1, 1, &s) == CG_OK, "%s",
            ctx.errmsg);
    REQUIRE(cg_params_to_host(&m.p, err, sizeof err) == CG_OK, "%s", err);
    cg_tensor *samples = cg_wrap(&ctx, m.replay->data, CG_SHAPE(N, C, S, S));
    REF_CHECK_DATA(&rf, "samples", samples, TOL);
    double scale = fabs(s.e_data) + fabs(s.e_other);
    check_scalar("loss", s.loss, REF_GET(&rf, "loss")->data[0], scale);
    check_scalar("cd", s.cd, REF_GET(&rf, "cd")->data[0], scale);
    check_scalar("reg", s.reg, REF_GET(&rf, "reg")->data[0], scale);
    check_scalar("e_data", s.e_data, REF_GET(&rf, "e_data")->data[0], scale);
    check_scalar("e_sample", s.e_other, REF_GET(&rf, "e_sample")->data[0], scale);
    check_final(&m, &rf);
    cg_ctx_free(&chains);
    cg_ctx_free(&ctx);
    cg_ebm_free(&m);
    ref_free(&rf);
}

TEST(ebm_langevin_step_matches_pytorch)
{
    langevin_case(CG_CPU);
}

TEST(gpu_ebm_langevin_step_matches_pytorch)
{
    GPU_OR_SKIP();
    langevin_case(CG_CUDA);
}

/* dE/dx of a (3, 1, 12, 12) batch: every weight gradient keeps a sentinel,
 * the gradient has x's shape and is not all zero, the parameters are not
 * left frozen */
static void input_grad_case(cg_device dev, cg_ebm_net net)
{
    cg_ebm_arch a = {.net = net, .channels = 1, .height = 12, .width = 12, .hidden = 6};
    cg_ebm m;
    char err[256];
    REQUIRE(cg_ebm_build(&m, &a, 7, 1, err, sizeof err) == CG_OK, "%s", err);
    for (int64_t i = 0; i < m.p.n; i++)
        m.p.g[i] = (real)0.25;
    if (dev == CG_CUDA)
        REQUIRE(cg_params_to_device(&m.p, err, sizeof err) == CG_OK, "%s", err);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_tensor *x = cg_to_device(&ctx, th_const(CG_SHAPE(3, 1, 12, 12), 8, 0.0, 1.0, 1), dev);
    cg_tensor *g = cg_ebm_input_grad(&ctx, &m, x);
    REQUIRE(g && cg_ok(&ctx), "%s", ctx.errmsg);
    CHECK(cg_same_shape(g, x) && g->dev == x->dev, "dE/dx %s", CG_SHAPE_STR(g));
    real *gh = th_alloc(sizeof(real) * (size_t)g->n);
    REQUIRE(cg_copy_to_host(&ctx, gh, g) == CG_OK);
    double norm = 0;
    for (int64_t i = 0; i < g->n; i++)
        norm += fabs(gh[i]);
    CHECK(norm > 0 && isfinite(norm), "dE/dx sums to %g", norm);
    for (int i = 0; i < m.p.count; i++)
        CHECK(m.p.t[i]->requires_grad, "%s left frozen", m.p.t[i]->name);
    REQUIRE(cg_params_to_host(&m.p, err, sizeof err) == CG_OK, "%s", err);
    int64_t touched = 0;
    for (int i = 0; i < m.p.count; i++)
        for (int64_t k = 0; k < m.p.t[i]->n; k++)
            touched += m.p.g[m.p.off[i] + k] != (real)0.25;
    CHECK(touched == 0, "%lld weight gradients written while sampling", (long long)touched);
    cg_ctx_free(&ctx);
    cg_ebm_free(&m);
}

TEST(ebm_input_grad_leaves_weight_grads)
{
    input_grad_case(CG_CPU, CG_EBM_MLP);
    input_grad_case(CG_CPU, CG_EBM_CNN);
}

TEST(gpu_ebm_input_grad_leaves_weight_grads)
{
    GPU_OR_SKIP();
    input_grad_case(CG_CUDA, CG_EBM_MLP);
    input_grad_case(CG_CUDA, CG_EBM_CNN);
}

TEST(ebm_replay_start_draws_fresh_and_old_chains)
{
    cg_ebm_arch a = {.net = CG_EBM_MLP, .channels = 2, .height = 1, .width = 1, .hidden = 4,
                     .buffer = 40};
    cg_ebm m;
    char err[256];
    REQUIRE(cg_ebm_build(&m, &a, 3, 1, err, sizeof err) == CG_OK, "%s", err);
    for (int64_t i = 0; i < m.replay->n; i++)   /* slot s holds (100 + s, -100 - s) */
        m.replay->data[i] = (real)(i % 2 ? -100 - i / 2 : 100 + i / 2);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    cg_rng pick, noise;
    cg_rng_init(&pick, 1, 4);
    cg_rng_init(&noise, 1, 5);
    /* an empty buffer: all fresh, in [-3, 3] */
    cg_tensor *x = cg_ebm_replay_start(&ctx, &m, 10, 0, 0, 0.05, -3, 3, &pick, &noise);
    REQUIRE(x && x->n == 20 && x->data == m.replay->data, "%s", ctx.errmsg);
    for (int i = 0; i < 20; i++)
        CHECK(fabs(x->data[i]) <= 3, "fresh value %g", x->data[i]);
    cg_ctx_step_end(&ctx);
    /* every slot filled with the pattern again, reinit 0: chains at 30..39 copy slots */
    for (int64_t i = 0; i < m.replay->n; i++)
        m.replay->data[i] = (real)(i % 2 ? -100 - i / 2 : 100 + i / 2);
    x = cg_ebm_replay_start(&ctx, &m, 10, 30, 40, 0.0, -3, 3, &pick, &noise);
    REQUIRE(x && x->data == m.replay->data + 60, "%s", ctx.errmsg);
    for (int i = 0; i < 10; i++) {
        double u = x->data[2 * i], v = x->data[2 * i + 1];
        CHECK(u >= 100 && u < 140 && v == -u, "chain %d starts at (%g, %g)", i, u, v);
    }
    /* a range past the buffer's end is refused */
    CHECK(!cg_ebm_replay_start(&ctx, &m, 10, 35, 40, 0.0, -3, 3, &pick, &noise) &&
          ctx.err == CG_ERR_ARG && strstr(ctx.errmsg, "replay buffer"), "%s", ctx.errmsg);
    cg_ctx_free(&ctx);
    cg_ebm_free(&m);
}

TEST(ebm_toy_run_draws_energy_and_samples)
{
    th_run_result r;
    char *dir = th_tmpdir();
    REQUIRE(dir);
    NEED_BIN(&r, "train", "ebm", "--data", "moons", "--objective", "langevin", "--steps", "20",
             "--batch", "32", "--buffer", "64", "--langevin-steps", "5", "--hidden", "16",
             "--device", "cpu", "--quiet", "--out", dir);
    CHECK(r.code == 0, "%s", r.err);
    const char *files[] = {"energy.png", "samples.png", "ebm.safetensors", "checkpoint.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        struct stat sb;
        CHECK(stat(th_path(dir, files[i]), &sb) == 0 && sb.st_size > 0, "%s", files[i]);
    }
    char *png = th_path(dir, "drawn.png");
    char *raw = th_path(dir, "drawn");
    NEED_BIN(&r, "sample", dir, "--n", "16", "--langevin-steps", "4", "--out", png, "--dump",
             raw);
    CHECK(r.code == 0 && strstr(r.out, "16 points of an EBM"), "%s%s", r.out, r.err);
    th_rmtree(dir);
}

TEST(ebm_flags_refused_in_one_line)
{
    static const char *const cases[][12] = {
        {"train", "ebm", "--langevin-steps", "5", NULL},    /* a langevin flag with noise */
        {"train", "ebm", "--data", "moons", "--net", "cnn", NULL},
        {"train", "ebm", "--objective", "langevin", "--buffer", "16", "--batch", "32", NULL},
        {"train", "ebm", "--objective", "gibbs", NULL},
        {"train", "ebm", "--objective", "langevin", "--reinit", "1.5", NULL},
        {"train", "ebm", "--objective", "langevin", "--grad-clip", "0", NULL},
    };
    static const char *const why[] = {"objective", "net", "--buffer", "objective", "reinit",
                                      "grad-clip"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        th_run_result r;
        if (!th_run_cugen(&r, cases[i]))
            SKIP("CUGEN_BIN not set (run through make test)");
        CHECK(r.code == 2 && th_count_lines(r.err) == 1 && strstr(r.err, why[i]),
              "case %zu: exit %d: %s", i, r.code, r.err);
    }
}
