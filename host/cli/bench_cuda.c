/*
 * bench_cuda.c: `cugen bench ops --device cuda`: GPU times of the DCGAN
 * 64x64 conv and conv-transpose layers (cuDNN) and of the elementwise
 * kernels a DCGAN step runs most (relu, leaky_relu, tanh, add, batch norm),
 * forward and backward, with --torch the same through PyTorch on the same
 * GPU and the ratio.
 *
 * Precision: the math of the run (tf32: TF32 tensor cores allowed in cuDNN
 * and cuBLAS, else full FP32) is passed to the PyTorch script as --precision,
 * which sets both of PyTorch's TF32 switches from it and states the result;
 * the comparison is dropped with a note if the two differ.
 *
 * Timing: the CUDA entry points (ops/cuda_ops.h) are called on device
 * buffers filled once with random normal values, and timed with CUDA events
 * on cugen's stream, one event pair per call: warm-up calls first (they
 * also choose the cuDNN algorithms and grow the workspace), then the median
 * of --repeat calls. The front ends add only host work that overlaps the
 * GPU's. Backward of a conv is dx and dw (no bias), as in training.
 *
 * Rates: conv TFLOP/s from layer_flops (bench.c); elementwise GB/s from the
 * bytes each kernel must move at least (forward: read x (and b for add),
 * write y; backward: read dy and x or y, write dx (and db for add);
 * batch norm forward in training mode reads x twice for the statistics, so
 * its count is 3 reads + 1 write, backward 2 reads for the sums + 2 for dx
 * + 1 write).
 *
 * Not for: correctness (tests/unit/test_gpu_*.c validate these kernels).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench.h"
#include "cpu/cpu_broadcast.h"
#include "cpu/cpu_conv.h"
#include "cugen/cuda.h"
#include "cugen/rng.h"
#include "ops/cuda_ops.h"

typedef struct {
    double fwd, bwd;              /* median ms */
    double torch_fwd, torch_bwd;  /* ms, 0 when not measured */
} gpu_time;

/* A device buffer of n random normal values (NULL and a message if not). */
static real *dev_random(int64_t n, uint64_t seed)
{
    real *h = malloc(sizeof(real) * (size_t)n);
    void *d = NULL;
    if (!h) {
        fprintf(stderr, "cugen bench: out of host memory\n");
        return NULL;
    }
    cg_rng r;
    cg_rng_init(&r, seed, 0);
    cg_rng_normal(&r, h, n, 0.0, 1.0);
    cg_status st = cg_cuda_malloc(&d, sizeof(real) * (size_t)n, "benchmark buffer");
    if (st == CG_OK)
        st = cg_cuda_upload(d, h, sizeof(real) * (size_t)n);
    free(h);
    if (st != CG_OK) {
        fprintf(stderr, "cugen bench: %s\n", cg_cuda_last_error());
        cg_cuda_free(d);
        return NULL;
    }
    return d;
}

/* What one timed call runs: which = 0 forward, 1 backward. */
typedef cg_status (*bench_fn)(void *arg, int which);

/* Median ms of fn(arg, which) over repeat calls after warmup. */
static int time_calls(bench_fn fn, void *arg, int which, int warmup, int repeat, double *ms)
{
    double *t = malloc(sizeof(double) * (size_t)repeat);
    if (!t)
        return 0;
    for (int it = 0; it < warmup + repeat; it++) {
        double e = 0;
        cg_status st = cg_cuda_timer_start();
        if (st == CG_OK)
            st = fn(arg, which);
        if (st == CG_OK)
            st = cg_cuda_timer_stop(&e);
        if (st != CG_OK) {
            fprintf(stderr, "cugen bench: %s\n", cg_cuda_last_error());
            free(t);
            return 0;
        }
        if (it >= warmup)
            t[it - warmup] = e;
    }
    *ms = median(t, repeat);
    free(t);
    return 1;
}

/* ---- conv layers ------------------------------------------------------------------ */
typedef struct {
    cpu_conv_dims d;
    int transpose;
    real *x, *w, *y, *dy, *dx, *dw;
} conv_job;

static cg_status conv_call(void *arg, int which)
{
    conv_job *j = arg;
    if (j->transpose)
        return which ? cuda_conv_transpose2d_bwd(j->dx, j->dw, NULL, j->dy, j->x, j->w, &j->d)
                     : cuda_conv_transpose2d_fwd(j->y, j->x, j->w, NULL, &j->d);
    return which ? cuda_conv2d_bwd(j->dx, j->dw, NULL, j->dy, j->x, j->w, &j->d)
                 : cuda_conv2d_fwd(j->y, j->x, j->w, NULL, &j->d);
}

static int bench_conv(const bench_layer *l, int batch, int warmup, int repeat, gpu_time *r)
{
    int ho = layer_out(l);
    conv_job j = {.d = {.N = batch, .Cin = l->cin, .H = l->h, .W = l->h, .Cout = l->cout,
                        .Ho = ho, .Wo = ho, .kh = l->k, .kw = l->k, .stride = l->stride,
                        .ph = l->pad, .pw = l->pad},
                  .transpose = l->transpose};
    int64_t nx = (int64_t)batch * l->cin * l->h * l->h, ny = (int64_t)batch * l->cout * ho * ho;
    int64_t nw = (int64_t)l->cin * l->cout * l->k * l->k;
    j.x = dev_random(nx, 1);
    j.w = dev_random(nw, 2);
    j.dy = dev_random(ny, 3);
    j.y = dev_random(ny, 4);
    j.dx = dev_random(nx, 5);
    j.dw = dev_random(nw, 6);
    int ok = j.x && j.w && j.dy && j.y && j.dx && j.dw &&
             time_calls(conv_call, &j, 0, warmup, repeat, &r->fwd) &&
             time_calls(conv_call, &j, 1, warmup, repeat, &r->bwd);
    real *bufs[] = {j.x, j.w, j.dy, j.y, j.dx, j.dw};
    for (int i = 0; i < 6; i++)
        cg_cuda_free(bufs[i]);
    if (!ok)
        fprintf(stderr, "cugen bench: layer %s failed\n", l->name);
    return ok;
}

/* ---- elementwise kernels on one DCGAN activation ------------------------------------ */
enum { EW_RELU, EW_LEAKY, EW_TANH, EW_ADD, EW_BATCHNORM, NEW };
static const char *const EW_NAMES[NEW] = {"relu", "leaky_relu", "tanh", "add", "batchnorm"};
/* bytes moved per element, in floats, forward and backward (see the top) */
static const int EW_FWD_FLOATS[NEW] = {2, 2, 2, 3, 4};
static const int EW_BWD_FLOATS[NEW] = {3, 3, 3, 3, 5};

typedef struct {
    int op, N, C, S;
    int64_t n;
    cpu_bcast bc;
    real *x, *b, *y, *dy, *dx, *db;
    real *mean, *var, *rstd, *rm, *rv, *gamma, *beta, *dgamma, *dbeta;
} ew_job;

static cg_status ew_call(void *arg, int which)
{
    ew_job *j = arg;
    switch (j->op) {
    case EW_RELU:
        return which ? cuda_relu_bwd(j->dx, j->dy, j->x, j->n) : cuda_relu_fwd(j->y, j->x, j->n);
    case EW_LEAKY:
        return which ? cuda_leaky_relu_bwd(j->dx, j->dy, j->x, 0.2, j->n)
                     : cuda_leaky_relu_fwd(j->y, j->x, 0.2, j->n);
    case EW_TANH:
        return which ? cuda_tanh_bwd(j->dx, j->dy, j->y, j->n) : cuda_tanh_fwd(j->y, j->x, j->n);
    case EW_ADD:
        return which ? cuda_add_bwd(j->dx, j->db, j->dy, &j->bc)
                     : cuda_add_fwd(j->y, j->x, j->b, &j->bc);
    default:
        if (which)
            return cuda_batchnorm_bwd(j->dx, j->dgamma, j->dbeta, j->dy, j->x, j->mean, j->rstd,
                                      j->gamma, j->N, j->C, j->S, 1);
        cg_status st = cuda_batchnorm_stats(j->mean, j->var, j->x, j->N, j->C, j->S);
        if (st == CG_OK)
            st = cuda_batchnorm_update_running(j->rm, j->rv, j->mean, j->var, j->C,
                                               (int64_t)j->N * j->S, 0.1);
        if (st == CG_OK)
            st = cuda_batchnorm_fwd(j->y, j->rstd, j->x, j->mean, j->var, j->gamma, j->beta,
                                    j->N, j->C, j->S, 1e-5);
        return st;
    }
}

static int bench_elementwise(int op, int N, int C, int S, int warmup, int repeat, gpu_time *r)
{
    ew_job j = {.op = op, .N = N, .C = C, .S = S, .n = (int64_t)N * C * S};
    int shape[4] = {N, C, S, 1};
    if (!cpu_bcast_init(&j.bc, shape, 4, shape, 4))
        return 0;
    real **bufs[] = {&j.x, &j.b, &j.y, &j.dy, &j.dx, &j.db};
    int ok = 1;
    for (int i = 0; i < 6 && ok; i++)
        ok = (*bufs[i] = dev_random(j.n, 10 + i)) != NULL;
    real **chan[] = {&j.mean, &j.var, &j.rstd, &j.rm, &j.rv, &j.gamma, &j.beta, &j.dgamma,
                     &j.dbeta};
    for (int i = 0; i < 9 && ok; i++)
        ok = (*chan[i] = dev_random(C, 20 + i)) != NULL;
    ok = ok && time_calls(ew_call, &j, 0, warmup, repeat, &r->fwd) &&
         time_calls(ew_call, &j, 1, warmup, repeat, &r->bwd);
    for (int i = 0; i < 6; i++)
        cg_cuda_free(*bufs[i]);
    for (int i = 0; i < 9; i++)
        cg_cuda_free(*chan[i]);
    if (!ok)
        fprintf(stderr, "cugen bench: %s failed\n", EW_NAMES[op]);
    return ok;
}

/* ---- PyTorch ------------------------------------------------------------------------ */
/* Runs the script with --device cuda on the same layers and elementwise
 * shape; fills torch_* of what it reports. 0 and a note when it cannot. */
static int run_torch(int batch, int warmup, int repeat, int tf32, const int ew_shape[3],
                     gpu_time *conv, gpu_time *ew)
{
    char script[PATH_MAX + 64];
    if (!find_torch_script(script, sizeof script)) {
        printf("note: scripts/bench_ops_torch.py not found; no PyTorch comparison\n");
        return 0;
    }
    /* the python3 on PATH (or $CUGEN_PYTHON): a CUDA build of PyTorch is
     * often in a virtual environment rather than the system's python3 */
    const char *python = getenv("CUGEN_PYTHON");
    if (!python || !*python)
        python = "python3";
    const char *precision = tf32 ? "tf32" : "fp32";
    char cmd[PATH_MAX + 2048];
    int k = snprintf(cmd, sizeof cmd, "'%s' '%s' --device cuda --batch %d --warmup %d "
                     "--repeat %d --precision %s --elementwise %d,%d,%d", python, script, batch,
                     warmup, repeat, precision, ew_shape[0], ew_shape[1], ew_shape[2]);
    bench_layer_flags(cmd, sizeof cmd, k);
    bench_torch_slot slots[BENCH_MAX_LAYERS + NEW];
    int n = 0;
    for (int i = 0; i < NLAYERS; i++)
        slots[n++] = (bench_torch_slot){"layer", LAYERS[i].name, &conv[i].torch_fwd,
                                        &conv[i].torch_bwd};
    for (int i = 0; i < NEW; i++)
        slots[n++] = (bench_torch_slot){"op", EW_NAMES[i], &ew[i].torch_fwd, &ew[i].torch_bwd};
    char ran[16] = "";
    if (bench_torch_read(python, cmd, slots, n, ran, sizeof ran) == 0)
        return 0;
    if (strcmp(ran, precision) != 0) {
        printf("note: no PyTorch comparison (it ran at precision %s, cugen at %s)\n",
               ran[0] ? ran : "(not stated)", precision);
        return 0;
    }
    return 1;
}

static void print_ratio(const gpu_time *t, int torch)
{
    if (torch && t->torch_fwd > 0)
        printf("  %9.3f %9.3f %7.2f %7.2f", t->torch_fwd, t->torch_bwd, t->torch_fwd / t->fwd,
               t->torch_bwd / t->bwd);
    printf("\n");
}

int bench_cuda_open(int tf32, cg_cuda_device_info *info)
{
    char why[256] = "";
    if (cg_cuda_device_count(why, sizeof why) == 0) {
        fprintf(stderr, "cugen bench: --device cuda: %s\n", why);
        return 0;
    }
    if (cg_cuda_device_info_get(0, info) != CG_OK)
        snprintf(info->name, sizeof info->name, "GPU 0");
    cg_cuda_set_tf32(tf32);
    return 1;
}

int bench_cuda(int batch, int warmup, int repeat, int torch, int tf32)
{
    cg_cuda_device_info info;
    if (!bench_cuda_open(tf32, &info))
        return 2;
    printf("cugen bench ops: DCGAN 64x64 layers and elementwise kernels, batch %d, %s (CUDA "
           "%s, cuDNN %s), %s, CUDA events, median of %d after %d warm-up\n",
           batch, info.name, cg_cuda_runtime_version(), cg_cuda_cudnn_version(),
           tf32 ? "TF32 allowed" : "FP32 (no TF32)", repeat, warmup);
    fflush(stdout);
    gpu_time conv[BENCH_MAX_LAYERS], ew[NEW];
    memset(conv, 0, sizeof conv);
    memset(ew, 0, sizeof ew);
    for (int i = 0; i < NLAYERS; i++)
        if (!bench_conv(&LAYERS[i], batch, warmup, repeat, &conv[i]))
            return 1;
    /* the activation after D1: (batch, 64, 32, 32) */
    const int ew_shape[3] = {batch, 64, 32 * 32};
    for (int op = 0; op < NEW; op++)
        if (!bench_elementwise(op, ew_shape[0], ew_shape[1], ew_shape[2], warmup, repeat,
                               &ew[op]))
            return 1;
    if (torch)
        torch = run_torch(batch, warmup, repeat, tf32, ew_shape, conv, ew);

    bench_layer_head("TFLOP/s", torch);
    for (int i = 0; i < NLAYERS; i++) {
        double fl = layer_flops(&LAYERS[i], batch);
        bench_layer_cols(&LAYERS[i]);
        printf(" %9.3f %8.2f %9.3f %8.2f", conv[i].fwd, fl / conv[i].fwd * 1e-9, conv[i].bwd,
               2 * fl / conv[i].bwd * 1e-9);
        print_ratio(&conv[i], torch);
    }
    int64_t n = (int64_t)ew_shape[0] * ew_shape[1] * ew_shape[2];
    printf("\n%-12s %-18s %9s %8s %9s %8s", "kernel", "shape", "fwd ms", "GB/s", "bwd ms",
           "GB/s");
    bench_torch_head(torch);
    for (int op = 0; op < NEW; op++) {
        char sh[32];
        snprintf(sh, sizeof sh, "(%d, %d, 32, 32)", ew_shape[0], ew_shape[1]);
        double fb = (double)n * sizeof(real) * EW_FWD_FLOATS[op];
        double bb = (double)n * sizeof(real) * EW_BWD_FLOATS[op];
        printf("%-12s %-18s %9.3f %8.1f %9.3f %8.1f", EW_NAMES[op], sh, ew[op].fwd,
               fb / ew[op].fwd * 1e-6, ew[op].bwd, bb / ew[op].bwd * 1e-6);
        print_ratio(&ew[op], torch);
    }
    if (torch)
        printf("x fwd, x bwd: torch time / cugen time, both at %s (> 1: cugen is faster)\n",
               tf32 ? "TF32" : "FP32");
    return 0;
}
