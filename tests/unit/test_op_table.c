/*
 * test_op_table.c: the table of op cases (tests/op_cases.c) in its CPU-vs-GPU
 * mode, and the table's own checks.
 *
 * Each row's graph is built on CPU tensors and on CUDA tensors from the same
 * values and backpropagated from L = sum(w * y), w fixed and random (not
 * uniform, read on the device). Compared: the output, every input's
 * gradient, and every data input's values after the step (what an op
 * updates in place: batch norm's running statistics), within the row's
 * bound (op_cases.c states and justifies them). Weight gradients start from
 * small random values on both devices, so an op that overwrites instead of
 * adding fails. On the GPU the row runs twice in one context:
 *   - red zones (CUGEN_ARENA_REDZONE=1, set here) follow every step-arena
 *     allocation and are checked at each step's end: an op writing past its
 *     output, or before it (into the zone of the allocation before it: the
 *     inputs are allocated first), fails the row;
 *   - before the second run every byte of the device arena is poisoned with
 *     NaN, so an element an op leaves unwritten stays NaN and fails the
 *     comparison; the second run must allocate no device memory and give
 *     the first run's bits (deterministic mode: no atomics, fixed trees).
 * One test per op, gpu_op_table_<op>, registered from the table: a new row
 * needs no new test. Skipped without a GPU (failed under make test-gpu).
 *
 * Then the conv rows with TF32 opted into, and two checks that need no GPU:
 * every op of include/cugen/ops.h that has a gradient has rows (and is
 * gradchecked), and every row builds and backpropagates on the CPU.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/tape.h"
#include "gpu_check.h"
#include "op_cases.h"

/* With TF32 opted into (and determinism off, as `--tf32` trains): cuDNN may
 * take tensor-op algorithms, which round each operand to a 10-bit mantissa
 * (relative 2^-11 = 4.9e-4 per product); sums of random-signed products stay
 * within DESIGN.md's TF32 bound. The bias gradient is summed in double by
 * cugen's kernel either way. */
#define TF32_TOL 3e-3

/* A run of a row, on the host. */
typedef struct {
    real *y;
    int64_t ny;
    real *after[OPC_MAX_IN];  /* input j's gradient, or its values for a data input */
} row_run;

static const char *dev_name(cg_device dev) { return dev == CG_CUDA ? "GPU" : "CPU"; }

/* Row k once on dev in ctx, the step ended (red zones checked). 1, or 0
 * with the test failed. */
static int run_once(cg_ctx *ctx, cg_device dev, const op_case *c, int k, real *const *grad0,
                    const char *label, row_run *r)
{
    cg_tensor *in[OPC_MAX_IN];
    cg_tensor *y = opc_make_inputs(ctx, dev, c, k, grad0, in) ? c->build(ctx, in, c) : NULL;
    if (y)
        cg_backward_from(ctx, y, gpu_rand(77 + (uint64_t)k, y->n, 0.5, 1.5, 1));
    if (cg_ok(ctx)) {
        r->ny = y->n;
        r->y = th_alloc(sizeof(real) * (size_t)y->n);
        cg_copy_to_host(ctx, r->y, y);
        for (int j = 0; j < OPC_MAX_IN; j++) {
            r->after[j] = NULL;
            if (!in[j])
                continue;
            r->after[j] = th_alloc(sizeof(real) * (size_t)in[j]->n);
            if (c->in[j].role == OPC_CONST)
                cg_copy_to_host(ctx, r->after[j], in[j]);
            else if (in[j]->grad)  /* else never reached: zeros */
                cg_memcpy_to_host(ctx, r->after[j], in[j]->grad, dev, in[j]->n);
        }
    }
    cg_ctx_step_end(ctx);
    if (!cg_ok(ctx)) {
        th_fail(__FILE__, __LINE__, "%s on the %s: %s", label, dev_name(dev), ctx->errmsg);
        cg_clear_error(ctx);
        return 0;
    }
    return 1;
}

/* gpu against cpu at the row's bound (tol), or bit for bit; the error. */
static double compare(const op_case *c, const char *label, const char *part, const real *gpu,
                      const real *cpu, int64_t n, double tol)
{
    char what[256];
    snprintf(what, sizeof what, "%s: %s", label, part);
    if (c->exact && tol == 0)
        return gpu_same_bits(what, gpu, cpu, n) ? 0 : INFINITY;
    return gpu_compare(what, gpu, cpu, n, tol);
}

/* Row k on both devices (see the top). tf32: TF32 on, determinism off, the
 * TF32 bound, no comparison of the two GPU runs. */
static void check_row(int k, int tf32)
{
    const op_case *c = &OP_CASES[k];
    char label[200];
    opc_label(c, label, sizeof label);
    real *grad0[OPC_MAX_IN] = {0};
    for (int j = 0; j < OPC_MAX_IN; j++)
        if (c->in[j].role == OPC_PARAM)
            grad0[j] = gpu_rand(500 + 16 * (uint64_t)k + j, opc_numel(c, j), 0.001, 0.01, 1);
    row_run cpu, g1, g2;
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    int ok = run_once(&ctx, CG_CPU, c, k, grad0, label, &cpu);
    cg_ctx_free(&ctx);
    if (!ok)
        return;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    ok = run_once(&ctx, CG_CUDA, c, k, grad0, label, &g1);
    int64_t mallocs = ctx.dev_arena.n_mallocs;
    ok = ok && gpu_poison_step_arena(&ctx) && run_once(&ctx, CG_CUDA, c, k, grad0, label, &g2);
    CHECK(!ok || ctx.dev_arena.n_mallocs == mallocs, "%s: the second run made %lld device "
          "allocations", label, (long long)(ctx.dev_arena.n_mallocs - mallocs));
    cg_ctx_free(&ctx);
    if (!ok)
        return;
    REQUIRE(g2.ny == cpu.ny, "%s: %lld outputs on the GPU, %lld on the CPU", label,
            (long long)g2.ny, (long long)cpu.ny);
    double tol = tf32 ? TF32_TOL : c->exact ? 0 : c->tol > 0 ? c->tol : OPC_TOL;
    double worst = compare(c, label, "output", g2.y, cpu.y, cpu.ny, tol);
    for (int j = 0; j < OPC_MAX_IN; j++) {
        if (!cpu.after[j])
            continue;
        char part[64];
        snprintf(part, sizeof part, "input %d %s", j,
                 c->in[j].role == OPC_CONST ? "after the step" : "gradient");
        double e = compare(c, label, part, g2.after[j], cpu.after[j], opc_numel(c, j), tol);
        worst = e > worst ? e : worst;
        if (!tf32 && memcmp(g1.after[j], g2.after[j], sizeof(real) * (size_t)opc_numel(c, j)))
            th_fail(__FILE__, __LINE__, "%s: %s differs between two runs", label, part);
    }
    if (!tf32 && memcmp(g1.y, g2.y, sizeof(real) * (size_t)g2.ny) != 0)
        th_fail(__FILE__, __LINE__, "%s: the output differs between two runs", label);
    if (tol == 0)
        printf("    %-64s the same bits\n", label);
    else
        printf("    %-64s rel err %.1e (bound %.0e)\n", label, worst, tol);
}

static void gpu_op(const void *op)
{
    GPU_OR_SKIP();
    setenv("CUGEN_ARENA_REDZONE", "1", 1);
    for (int k = 0; k < OP_NCASES; k++)
        if (strcmp(OP_CASES[k].op, op) == 0)
            check_row(k, 0);
    gpu_free_all();
}

#define MAX_OPS 64
static char gpu_names[MAX_OPS][48];

__attribute__((constructor)) static void register_gpu_op_tests(void)
{
    const char *ops[MAX_OPS];
    int n = opc_ops(ops, MAX_OPS);
    for (int i = 0; i < n; i++) {
        snprintf(gpu_names[i], sizeof gpu_names[i], "gpu_op_table_%s", ops[i]);
        th_register_arg(gpu_names[i], gpu_op, ops[i]);
    }
}

static int is_conv(const char *op)
{
    return strcmp(op, "conv2d") == 0 || strcmp(op, "conv2d_hw") == 0 ||
           strcmp(op, "conv_transpose2d") == 0;
}

TEST(gpu_op_table_conv_tf32_within_its_bound)
{
    GPU_OR_SKIP();
    setenv("CUGEN_ARENA_REDZONE", "1", 1);
    cg_cuda_set_deterministic(0);
    cg_cuda_set_tf32(1);
    for (int k = 0; k < OP_NCASES; k++)
        if (is_conv(OP_CASES[k].op))
            check_row(k, 1);
    cg_cuda_set_tf32(0);
    cg_cuda_set_deterministic(1);
    gpu_free_all();
}

/* ---- the table itself ------------------------------------------------------------------ */
/* Ops of ops.h without a gradient: no row. */
static const char *const NO_GRADIENT[] = {
    "detach",  /* cuts its input from the tape (test_gpu_ops.c, test_misc.c) */
};

/* The names NAME of "cg_tensor *cg_NAME(" and "cg_status cg_NAME(" lines. */
static int declared_ops(const char *path, char names[][48], int max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < max) {
        const char *p = NULL;
        if (strncmp(line, "cg_tensor *cg_", 14) == 0)
            p = line + 14;
        else if (strncmp(line, "cg_status cg_", 13) == 0)
            p = line + 13;
        size_t len = p ? strcspn(p, "(") : 0;
        if (p && p[len] == '(' && len < sizeof names[0]) {
            memcpy(names[n], p, len);
            names[n++][len] = '\0';
        }
    }
    fclose(f);
    return n;
}

static int row_of(const char *op, int gradchecked)
{
    for (int k = 0; k < OP_NCASES; k++)
        if (strcmp(OP_CASES[k].op, op) == 0 && (!gradchecked || !(OP_CASES[k].skip & OPC_NO_GRAD)))
            return 1;
    return 0;
}

TEST(op_table_covers_every_op_of_ops_h)
{
    char names[128][48];
    int n = declared_ops("include/cugen/ops.h", names, 128);
    REQUIRE(n > 40, "include/cugen/ops.h: %d ops found (run from the repository root)", n);
    for (int i = 0; i < n; i++) {
        int exempt = 0;
        for (size_t e = 0; e < sizeof NO_GRADIENT / sizeof *NO_GRADIENT; e++)
            exempt |= strcmp(names[i], NO_GRADIENT[e]) == 0;
        if (exempt)
            continue;
        CHECK(row_of(names[i], 0), "ops.h declares cg_%s, and no row of tests/op_cases.c "
              "covers it: add one", names[i]);
        CHECK(row_of(names[i], 1), "cg_%s: every row says OPC_NO_GRAD, so it is never "
              "gradchecked: add a small row", names[i]);
    }
    const char *ops[MAX_OPS];
    int nops = opc_ops(ops, MAX_OPS);
    CHECK(nops < MAX_OPS, "more than %d ops: raise MAX_OPS here and in grad_op_table.c",
          MAX_OPS - 1);
    for (int i = 0; i < nops; i++) {
        int found = 0;
        for (int d = 0; d < n; d++)
            found |= strcmp(ops[i], names[d]) == 0;
        CHECK(found, "a row names op '%s', which ops.h does not declare", ops[i]);
    }
}

/* Well formed: a differentiated input, every slot's shape positive, labels
 * unique; then built and backpropagated on the CPU with finite values. */
TEST(op_table_rows_are_well_formed_and_run_on_the_cpu)
{
    static char labels[1024][200];
    REQUIRE(OP_NCASES <= 1024);
    cg_ctx ctx;
    REQUIRE(cg_ctx_init(&ctx) == CG_OK);
    for (int k = 0; k < OP_NCASES; k++) {
        const op_case *c = &OP_CASES[k];
        opc_label(c, labels[k], sizeof labels[k]);
        int differentiated = 0;
        for (int j = 0; j < OPC_MAX_IN; j++) {
            differentiated |= c->in[j].role == OPC_ACT || c->in[j].role == OPC_PARAM;
            if (c->in[j].role != OPC_NONE)
                CHECK(c->in[j].ndim > 0 && opc_numel(c, j) > 0 && c->in[j].lo <= c->in[j].hi,
                      "%s: input %d", labels[k], j);
        }
        CHECK(differentiated, "%s: no input has a gradient", labels[k]);
        for (int i = 0; i < k; i++)
            CHECK(strcmp(labels[i], labels[k]) != 0, "rows %d and %d are both '%s'", i, k,
                  labels[k]);
        cg_tensor *in[OPC_MAX_IN];
        cg_tensor *y = opc_make_inputs(&ctx, CG_CPU, c, k, NULL, in) ? c->build(&ctx, in, c) : NULL;
        if (y)
            cg_backward_from(&ctx, y, gpu_rand(77 + (uint64_t)k, y->n, 0.5, 1.5, 1));
        if (!cg_ok(&ctx)) {
            th_fail(__FILE__, __LINE__, "%s: %s", labels[k], ctx.errmsg);
            cg_clear_error(&ctx);
            cg_ctx_step_end(&ctx);
            continue;
        }
        int finite = 1;
        for (int64_t i = 0; i < y->n; i++)
            finite &= isfinite((double)y->data[i]);
        for (int j = 0; j < OPC_MAX_IN; j++)
            for (int64_t i = 0; in[j] && in[j]->grad && i < in[j]->n; i++)
                finite &= isfinite((double)in[j]->grad[i]);
        CHECK(finite, "%s: a value or gradient is not finite", labels[k]);
        cg_ctx_step_end(&ctx);
    }
    cg_ctx_free(&ctx);
}
