/*
 * bench.c: `cugen bench ops`: times the conv and conv-transpose layers of the
 * DCGAN 64x64 generator and discriminator through the op front ends (the
 * path training takes: tape, step arena), forward and backward (dx and dw),
 * and reports the median over repeats after warm-up with its GFLOP/s.
 * Unless --no-torch it runs scripts/bench_ops_torch.py on the same layers and
 * shows torch time / cugen time (> 1: cugen is faster).
 *
 * --device cuda times the same layers and the elementwise kernels on the GPU
 * (host/cli/bench_cuda.c), at --precision fp32 (full FP32, the default),
 * tf32 (TF32 tensor cores; --tf32 says the same) or both, one table each;
 * PyTorch runs at the same precision.
 *
 * --table times the rows of the op table instead, on either device
 * (host/cli/bench_table.c).
 *
 * Not for: correctness (tests/unit/test_conv.c validates these ops first).
 */
#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/bench.h"
#include "cli/commands.h"
#include "cugen/cuda.h"
#include "cugen/nn.h"
#include "cugen/ops.h"
#include "cugen/rng.h"
#include "cugen/tape.h"

/* DCGAN 64x64, nz = 100, ngf = ndf = 64, no bias */
const bench_layer LAYERS[] = {
    {"G1", 1, 100, 512, 1, 4, 1, 0},  {"G2", 1, 512, 256, 4, 4, 2, 1},
    {"G3", 1, 256, 128, 8, 4, 2, 1},  {"G4", 1, 128, 64, 16, 4, 2, 1},
    {"G5", 1, 64, 3, 32, 4, 2, 1},    {"D1", 0, 3, 64, 64, 4, 2, 1},
    {"D2", 0, 64, 128, 32, 4, 2, 1},  {"D3", 0, 128, 256, 16, 4, 2, 1},
    {"D4", 0, 256, 512, 8, 4, 2, 1},  {"D5", 0, 512, 1, 4, 4, 1, 0},
};
const int NLAYERS = (int)(sizeof LAYERS / sizeof LAYERS[0]);

typedef struct {
    double fwd_ms, bwd_ms;          /* medians */
    double torch_fwd, torch_bwd;    /* ms, 0 when not measured */
} bench_result;

int layer_out(const bench_layer *l)
{
    return l->transpose ? (l->h - 1) * l->stride - 2 * l->pad + l->k
                        : (l->h + 2 * l->pad - l->k) / l->stride + 1;
}

/* Multiply-adds x 2 of one direction. conv2d: 2 N Cout Ho Wo Cin k k (every
 * output pixel is a dot product over Cin k k inputs). conv_transpose2d is the
 * adjoint of the conv2d that maps its output back to its input, so it counts
 * 2 N Cin H W Cout k k over its input grid. Backward does dx and dw, each as
 * many as the forward: 2x the forward count. */
double layer_flops(const bench_layer *l, int batch)
{
    int grid = l->transpose ? l->h : layer_out(l);
    return 2.0 * batch * l->cin * l->cout * (double)grid * grid * l->k * l->k;
}

double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double bench_step_line(double *t, int n, int batch, const char *prec)
{
    double med = median(t, n), rate = batch / med * 1e3;
    printf("cugen:   step_ms %.4f img_per_s %.2f precision %s (fastest %.4f ms, slowest "
           "%.4f ms)\n", med, rate, prec, t[0], t[n - 1]);
    return rate;
}

static void free_all(real *x, real *dy, double *tf, double *tb)
{
    free(x);
    free(dy);
    free(tf);
    free(tb);
}

/* Times one layer; returns 0 on success, prints the error otherwise. */
static int bench_one(const bench_layer *l, int batch, int warmup, int repeat, bench_result *res)
{
    int ho = layer_out(l);
    int64_t nx = (int64_t)batch * l->cin * l->h * l->h;
    int64_t ny = (int64_t)batch * l->cout * ho * ho;
    cg_params p;
    cg_params_init(&p);
    cg_tensor *w = l->transpose ? cg_param(&p, "w", CG_SHAPE(l->cin, l->cout, l->k, l->k), 0)
                                : cg_param(&p, "w", CG_SHAPE(l->cout, l->cin, l->k, l->k), 0);
    real *x = malloc(sizeof(real) * (size_t)nx), *dy = malloc(sizeof(real) * (size_t)ny);
    double *tf = malloc(sizeof(double) * (size_t)repeat), *tb = malloc(sizeof(double) * (size_t)repeat);
    cg_ctx ctx;
    int ok = w && x && dy && tf && tb && cg_params_alloc(&p) == CG_OK && cg_ctx_init(&ctx) == CG_OK;
    if (!ok) {
        fprintf(stderr, "cugen bench: out of memory for layer %s\n", l->name);
        free_all(x, dy, tf, tb);
        cg_params_free(&p);
        return 1;
    }
    /* random, non-zero data: weights as DCGAN initialises them */
    cg_rng r;
    cg_rng_init(&r, 1234, 0);
    cg_init_normal(w, &r, 0.0, 0.02);
    cg_rng_normal(&r, x, nx, 0.0, 1.0);
    cg_rng_normal(&r, dy, ny, 0.0, 1.0);

    for (int it = 0; it < warmup + repeat && ok; it++) {
        cg_tensor *xt = cg_wrap(&ctx, x, CG_SHAPE(batch, l->cin, l->h, l->h));
        if (xt)
            xt->requires_grad = 1;  /* an activation: dx is wanted */
        double t0 = bench_now_ms();
        cg_tensor *y = l->transpose ? cg_conv_transpose2d(&ctx, xt, w, NULL, l->stride, l->pad)
                                    : cg_conv2d(&ctx, xt, w, NULL, l->stride, l->pad);
        double t1 = bench_now_ms();
        if (y)
            cg_backward_from(&ctx, y, dy);
        double t2 = bench_now_ms();
        ok = cg_ok(&ctx);
        if (it >= warmup) {
            tf[it - warmup] = t1 - t0;
            tb[it - warmup] = t2 - t1;
        }
        cg_ctx_step_end(&ctx);
    }
    if (ok) {
        res->fwd_ms = median(tf, repeat);
        res->bwd_ms = median(tb, repeat);
    } else {
        fprintf(stderr, "cugen bench: layer %s failed: %s\n", l->name, ctx.errmsg);
    }
    cg_ctx_free(&ctx);
    cg_params_free(&p);
    free_all(x, dy, tf, tb);
    return !ok;
}

/* scripts/bench_ops_torch.py from the working directory, else beside the
 * binary's directory (build/cugen -> scripts/). */
int bench_renamed_flag(const char *cmd, const char *what, int argc, char **argv, int first,
                       const char *extra, const char *extra_use)
{
    const struct {
        const char *name, *use;
    } renamed[] = {
        {"repeats", "the timed runs are --repeat"},
        {"torch", "the PyTorch side runs unless --no-torch"},
        {"tf32", "it is --precision tf32 here"},
        {extra, extra_use},
    };
    const int n = (int)(sizeof renamed / sizeof renamed[0]) - (extra ? 0 : 1);
    for (int a = first; a < argc; a++) {
        if (strncmp(argv[a], "--", 2) != 0)
            continue;
        size_t len = strcspn(argv[a] + 2, "=");
        for (int i = 0; i < n; i++)
            if (strlen(renamed[i].name) == len && strncmp(argv[a] + 2, renamed[i].name, len) == 0) {
                fprintf(stderr, "%s: --%s is not a flag of %s: %s\n", cmd, renamed[i].name,
                        what, renamed[i].use);
                return 2;
            }
    }
    return 0;
}

int find_torch_script(char *path, size_t len)
{
    return bench_find_script("bench_ops_torch.py", path, len);
}

int bench_layer_flags(char *cmd, size_t size, int k)
{
    for (int i = 0; i < NLAYERS && k < (int)size; i++) {
        const bench_layer *l = &LAYERS[i];
        k += snprintf(cmd + k, size - (size_t)k, " --layer %s,%s,%d,%d,%d,%d,%d,%d", l->name,
                      l->transpose ? "convT" : "conv", l->cin, l->cout, l->h, l->k, l->stride,
                      l->pad);
    }
    return k;
}

int bench_torch_read(const char *python, const char *cmd, const bench_torch_slot *slots, int n,
                     char *ran, size_t ranlen)
{
    fflush(stdout);
    FILE *f = popen(cmd, "r");
    if (!f) {
        printf("note: could not run %s: %s; no PyTorch comparison\n", python, strerror(errno));
        return 0;
    }
    char line[512], note[400] = "";
    int got = 0;
    while (fgets(line, sizeof line, f)) {
        char kind[16], name[32], word[16];
        double fm, bm;
        if (ran && sscanf(line, "precision %15s", word) == 1) {
            snprintf(ran, ranlen, "%s", word);
        } else if (sscanf(line, "%15s %31s fwd_ms %lf bwd_ms %lf", kind, name, &fm, &bm) == 4) {
            for (int i = 0; i < n; i++)
                if (strcmp(kind, slots[i].kind) == 0 && strcmp(name, slots[i].name) == 0) {
                    *slots[i].fwd = fm;
                    *slots[i].bwd = bm;
                    got++;
                }
        } else if (strncmp(line, "error ", 6) == 0) {
            snprintf(note, sizeof note, "%.300s", line + 6);
            note[strcspn(note, "\n")] = 0;
        }
    }
    int st = pclose(f);
    if (got == 0)
        printf("note: no PyTorch comparison (%s)\n",
               note[0] ? note : st ? "the script failed" : "the script printed no timings");
    return got;
}

/* Runs the PyTorch script on the same layers; fills torch_* of the layers it
 * reports. Returns 0 and prints a note when it cannot. */
static int run_torch(int batch, int warmup, int repeat, int threads, bench_result *res)
{
    static const char *python = "/usr/bin/python3";
    char script[PATH_MAX + 64];
    if (access(python, X_OK) != 0) {
        printf("note: %s not found; no PyTorch comparison\n", python);
        return 0;
    }
    if (!find_torch_script(script, sizeof script)) {
        printf("note: scripts/bench_ops_torch.py not found; no PyTorch comparison\n");
        return 0;
    }
    char cmd[PATH_MAX + 2048];
    int k = snprintf(cmd, sizeof cmd, "%s '%s' --batch %d --warmup %d --repeat %d --threads %d",
                     python, script, batch, warmup, repeat, threads);
    bench_layer_flags(cmd, sizeof cmd, k);
    bench_torch_slot slots[BENCH_MAX_LAYERS];
    for (int i = 0; i < NLAYERS; i++)
        slots[i] = (bench_torch_slot){"layer", LAYERS[i].name, &res[i].torch_fwd,
                                      &res[i].torch_bwd};
    return bench_torch_read(python, cmd, slots, NLAYERS, NULL, 0) > 0;
}

void bench_torch_head(int torch)
{
    if (torch)
        printf("  %9s %9s %7s %7s", "torch fwd", "torch bwd", "x fwd", "x bwd");
    printf("\n");
}

void bench_layer_head(const char *rate, int torch)
{
    printf("\n%-5s %-6s %-9s %-12s %-6s %9s %8s %9s %8s", "layer", "op", "channels", "size",
           "k s p", "fwd ms", rate, "bwd ms", rate);
    bench_torch_head(torch);
}

void bench_layer_cols(const bench_layer *l)
{
    char ch[32], sz[32], ksp[16];
    snprintf(ch, sizeof ch, "%d->%d", l->cin, l->cout);
    snprintf(sz, sizeof sz, "%dx%d->%dx%d", l->h, l->h, layer_out(l), layer_out(l));
    snprintf(ksp, sizeof ksp, "%d %d %d", l->k, l->stride, l->pad);
    printf("%-5s %-6s %-9s %-12s %-6s", l->name, l->transpose ? "convT" : "conv", ch, sz, ksp);
}

static void print_table(const bench_result *res, int batch, int torch)
{
    bench_layer_head("GFLOP/s", torch);
    double tot_f = 0, tot_b = 0, tot_tf = 0, tot_tb = 0, flops = 0;
    for (int i = 0; i < NLAYERS; i++) {
        const bench_result *r = &res[i];
        double fl = layer_flops(&LAYERS[i], batch);
        bench_layer_cols(&LAYERS[i]);
        printf(" %9.3f %8.1f %9.3f %8.1f", r->fwd_ms, fl / r->fwd_ms * 1e-6, r->bwd_ms,
               2 * fl / r->bwd_ms * 1e-6);
        if (torch && r->torch_fwd > 0)
            printf("  %9.3f %9.3f %7.2f %7.2f", r->torch_fwd, r->torch_bwd,
                   r->torch_fwd / r->fwd_ms, r->torch_bwd / r->bwd_ms);
        printf("\n");
        tot_f += r->fwd_ms;
        tot_b += r->bwd_ms;
        tot_tf += r->torch_fwd;
        tot_tb += r->torch_bwd;
        flops += fl;
    }
    printf("%-5s %-6s %-9s %-12s %-6s %9.3f %8.1f %9.3f %8.1f", "all", "", "", "", "", tot_f,
           flops / tot_f * 1e-6, tot_b, 2 * flops / tot_b * 1e-6);
    if (torch)
        printf("  %9.3f %9.3f %7.2f %7.2f", tot_tf, tot_tb, tot_tf / tot_f, tot_tb / tot_b);
    printf("\n");
}

int cli_bench(int argc, char **argv)
{
    const char *cmd = "cugen bench";
    int64_t batch = 64, repeat = 10, warmup = 3;
    int no_torch = 0, table = 0;
    const char *device = "cpu", *precision = "fp32", *filter = NULL;
    arg_opt opts[] = {
        {"device", ARG_CHOICE, &device, "cpu|cuda", "where to run (default cpu)", 1, 0, 0},
        {"batch", ARG_INT, &batch, "N", "batch size (default 64 on the CPU, 128 on the GPU)", 1,
         4096, 0},
        {"repeat", ARG_INT, &repeat, "N",
         "timed runs per layer; the median is shown (10 on the CPU, 50 on the GPU)", 1, 100000,
         0},
        {"warmup", ARG_INT, &warmup, "N", "untimed runs first (3)", 0, 100000, 0},
        {"no-torch", ARG_FLAG, &no_torch, NULL,
         "skip timing the same layers in PyTorch (the ratio column)", 1, 0, 0},
        {"precision", ARG_CHOICE, &precision, "fp32|tf32|both", "GPU math, the same for cugen "
         "and PyTorch: full FP32 (default), TF32 tensor cores, or both one after the other", 1,
         0, 0},
        {"table", ARG_FLAG, &table, NULL, "time the rows of the op table (tests/op_cases.c) "
         "forward + backward at their test sizes instead of the DCGAN layers; no PyTorch side",
         1, 0, 0},
        {"filter", ARG_STR, &filter, "TEXT", "with --table: only the rows whose label (op, "
         "variant, input shapes) contains TEXT", 1, 0, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        args_usage(cmd, "ops [flags]", opts, nopts);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "data") == 0)
        return cli_bench_data(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "step") == 0)
        return cli_bench_step(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "inception") == 0)
        return cli_bench_inception(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "ops") != 0) {
        fprintf(stderr, "%s: unknown benchmark '%s' (try: cugen bench ops, bench step MODEL, bench data, bench inception)\n", cmd,
                argc < 2 ? "" : argv[1]);
        return 2;
    }
    if (bench_renamed_flag(cmd, "bench ops", argc, argv, 2, NULL, NULL))
        return 2;
    int r = args_parse(cmd, opts, nopts, argc, argv, 2, NULL, 0, NULL);
    if (r == ARGS_HELP) {
        args_usage(cmd, "ops [flags]", opts, nopts);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    int torch = !no_torch;
    if (strcmp(device, "cuda") != 0 && strcmp(precision, "fp32") != 0) {
        fprintf(stderr, "%s: --precision %s is for --device cuda (the CPU computes in FP32)\n",
                cmd, precision);
        return 2;
    }
    if (filter && !table) {
        fprintf(stderr, "%s: --filter is for --table\n", cmd);
        return 2;
    }
    if (table && opts[1].seen) {
        fprintf(stderr, "%s: --batch does not apply to --table (each row has its own sizes)\n",
                cmd);
        return 2;
    }
    if (table) {
        const int cuda = strcmp(device, "cuda") == 0, both = strcmp(precision, "both") == 0;
        int code = 0;
        for (int k = 0; k < (both ? 2 : 1) && code == 0; k++)
            code = bench_table(cuda, (int)warmup, opts[2].seen ? (int)repeat : cuda ? 50 : 10,
                               filter, both ? k : strcmp(precision, "tf32") == 0);
        return code;
    }
    if (strcmp(device, "cuda") == 0) {
        const int both = strcmp(precision, "both") == 0;
        int code = 0;
        for (int k = 0; k < (both ? 2 : 1) && code == 0; k++)
            code = bench_cuda(opts[1].seen ? (int)batch : 128, (int)warmup,
                              opts[2].seen ? (int)repeat : 50, torch,
                              both ? k : strcmp(precision, "tf32") == 0);
        return code;
    }

    int threads = openblas_get_num_threads();
    printf("cugen bench ops: DCGAN 64x64 conv layers, batch %d, CPU (%s, OpenBLAS %d "
           "thread%s), median of %d after %d warm-up\n",
           (int)batch, sizeof(real) == 4 ? "float" : "double", threads, threads == 1 ? "" : "s",
           (int)repeat, (int)warmup);
    printf("GFLOP/s: conv 2 N Cout Ho Wo Cin k k, convT 2 N Cin H W Cout k k; "
           "backward (dx + dw) counts twice that\n");
    fflush(stdout);
    bench_result res[sizeof LAYERS / sizeof LAYERS[0]];
    memset(res, 0, sizeof res);
    for (int i = 0; i < NLAYERS; i++)
        if (bench_one(&LAYERS[i], (int)batch, (int)warmup, (int)repeat, &res[i]))
            return 1;
    if (torch)
        torch = run_torch((int)batch, (int)warmup, (int)repeat, threads, res);
    print_table(res, (int)batch, torch);
    if (torch)
        printf("x fwd, x bwd: torch time / cugen time (> 1: cugen is faster)\n");
    return 0;
}
