/*
 * bench_table.c: `cugen bench ops --table`: the rows of the table of op
 * cases (tests/op_cases.c, the rows the gradchecks and the CPU-vs-GPU tests
 * run) timed forward + backward, one line per row.
 *
 * Each iteration makes the row's inputs in a fresh step (untimed: their
 * values, uploaded on the GPU), then times building the graph through the
 * op front ends and backpropagating from a fixed random output gradient:
 * with the monotonic clock on the CPU, with CUDA events on cugen's stream
 * on the GPU (the host work of the front ends and the tape counts where the
 * GPU waits for it). One untimed run sizes the output and grows the step
 * arena, --warmup more follow (they also choose cuDNN's algorithms), then
 * the median of --repeat.
 *
 * The rows are the tests' sizes: small odd shapes and the kernels' edge
 * cases (grids of many blocks, the DCGAN 64x64 layers at batch 2). A small
 * row's time is the per-op overhead (front end, tape, launches) more than
 * arithmetic: throughput at training sizes is `cugen bench ops` without
 * --table and `cugen bench step`. There is no PyTorch side.
 *
 * Not for: correctness (tests/unit/test_op_table.c, tests/grad/grad_op_table.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench.h"
#include "cugen/cuda.h"
#include "cugen/rng.h"
#include "cugen/tape.h"
#include "op_cases.h"

/* Row k: median and fastest ms of forward + backward. 1, or 0 with the
 * error printed. */
static int time_row(cg_device dev, int k, int warmup, int repeat, double *med, double *fast)
{
    const op_case *c = &OP_CASES[k];
    double *t = malloc(sizeof(double) * (size_t)repeat);
    real *dout = NULL;
    cg_ctx ctx;
    if (!t || cg_ctx_init(&ctx) != CG_OK) {
        fprintf(stderr, "cugen bench: out of memory\n");
        free(t);
        return 0;
    }
    int ok = 1;
    for (int it = -1; it < warmup + repeat && ok; it++) {
        cg_tensor *in[OPC_MAX_IN];
        ok = opc_make_inputs(&ctx, dev, c, k, NULL, in);
        double ms = 0, t0 = bench_now_ms();
        if (ok && dev == CG_CUDA && cg_cuda_timer_start() != CG_OK)
            cg_fail(&ctx, CG_ERR_CUDA, "timer: %s", cg_cuda_last_error());
        cg_tensor *y = ok ? c->build(&ctx, in, c) : NULL;
        if (y && !dout) {  /* the untimed first run: w uniform in [-1, 1] */
            dout = malloc(sizeof(real) * (size_t)y->n);
            cg_rng r;
            cg_rng_init(&r, 12345, 5);
            if (dout) {
                cg_rng_uniform(&r, dout, y->n);
                for (int64_t i = 0; i < y->n; i++)
                    dout[i] = (real)(2.0 * (double)dout[i] - 1.0);
            } else {
                cg_fail(&ctx, CG_ERR_NOMEM, "out of memory for the output gradient");
            }
        }
        if (y && dout)
            cg_backward_from(&ctx, y, dout);
        if (cg_ok(&ctx) && dev == CG_CUDA && cg_cuda_timer_stop(&ms) != CG_OK)
            cg_fail(&ctx, CG_ERR_CUDA, "timer: %s", cg_cuda_last_error());
        if (dev == CG_CPU)
            ms = bench_now_ms() - t0;
        cg_ctx_step_end(&ctx);
        ok = cg_ok(&ctx);
        if (ok && it >= warmup)
            t[it - warmup] = ms;
    }
    if (ok) {
        *med = median(t, repeat);  /* sorts t */
        *fast = t[0];
    } else {
        char label[200];
        fprintf(stderr, "cugen bench: %s: %s\n", opc_label(c, label, sizeof label), ctx.errmsg);
    }
    cg_ctx_free(&ctx);
    free(dout);
    free(t);
    return ok;
}

int bench_table(int cuda, int warmup, int repeat, const char *filter, int tf32)
{
    char label[200];
    int rows = 0;
    for (int k = 0; k < OP_NCASES; k++)
        rows += !filter || strstr(opc_label(&OP_CASES[k], label, sizeof label), filter) != NULL;
    if (rows == 0) {
        fprintf(stderr, "cugen bench: no row of the op table matches --filter '%s'\n", filter);
        return 2;
    }
    char where[300];
    if (cuda) {
        cg_cuda_device_info info;
        if (!bench_cuda_open(tf32, &info))
            return 2;
        snprintf(where, sizeof where, "%s, %s, CUDA events", info.name,
                 tf32 ? "TF32 allowed" : "FP32 (no TF32)");
    } else {
        snprintf(where, sizeof where, "CPU (%s, %d thread%s)", sizeof(real) == 4 ? "float" : "double",
                 cg_cpu_threads(), cg_cpu_threads() == 1 ? "" : "s");
    }
    printf("cugen bench ops --table: %d row%s of tests/op_cases.c, forward + backward, %s, "
           "median of %d after %d warm-up\n\n%10s %10s  %s\n", rows, rows == 1 ? "" : "s",
           where, repeat, warmup,
           "median us", "fastest", "row: input shapes");
    fflush(stdout);
    double total = 0;
    for (int k = 0; k < OP_NCASES; k++) {
        opc_label(&OP_CASES[k], label, sizeof label);
        if (filter && !strstr(label, filter))
            continue;
        double med, fast;
        if (!time_row(cuda ? CG_CUDA : CG_CPU, k, warmup, repeat, &med, &fast))
            return 1;
        printf("%10.2f %10.2f  %s\n", 1e3 * med, 1e3 * fast, label);
        fflush(stdout);
        total += med;
    }
    printf("%10.2f %10s  all %d row%s\n", 1e3 * total, "", rows, rows == 1 ? "" : "s");
    return 0;
}
