/*
 * bench_step_realnvp.c: `cugen bench step realnvp`: the time of one image
 * RealNVP training step (cg_flowimg_step: dequantisation, the flow's NLL,
 * backward, Adam) on random 8-bit images, the median over repeats after
 * warm-up (the first step, which initialises act-norm, is always untimed),
 * as img/s; then the same step in PyTorch eager
 * (scripts/bench_torch_realnvp.py, the flow of make_vae_flow_ref.py) run by
 * this command with the same thread count. On the GPU (--device cuda) each
 * step uploads its batch as training does and is timed with CUDA events.
 * --precision fp32|tf32|both as for every bench step model (bench_step.c).
 *
 * Not for: whole training runs (cugen train realnvp), the other models
 * (bench_step.c, bench_step_ddpm.c).
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/bench.h"
#include "cli/commands.h"
#include "cugen/cuda.h"
#include "cugen/flow.h"
#include "cugen/io.h"

int cli_bench_step_realnvp(int argc, char **argv)
{
    const char *cmd = "cugen bench step realnvp";
    int64_t batch = 64, size = 28, layers = 3, width = 32, scales = 2, warmup = 2, repeat = 10;
    const char *device = "cpu", *norm = "actnorm", *precision = "fp32";
    int no_torch = 0;
    arg_opt opts[] = {
        {"device", ARG_CHOICE, &device, "cpu|cuda", "where to run (default cpu)", 1, 0, 0},
        {"precision", ARG_CHOICE, &precision, "fp32|tf32|both", "GPU math, the same on both "
         "sides: full FP32 (default), TF32 tensor cores, or both one after the other", 1, 0, 0},
        {"image-size", ARG_INT, &size, "N", "image side, 1 channel (default 28)", 2, 256, 0},
        {"layers", ARG_INT, &layers, "N", "couplings per stage (default 3)", 1,
         CG_FLOWIMG_MAX_L, 0},
        {"width", ARG_INT, &width, "N", "s/t net width (default 32)", 1, 1024, 0},
        {"scales", ARG_INT, &scales, "N", "scales (default 2)", 1, CG_FLOWIMG_MAX_SCALES, 0},
        {"norm", ARG_CHOICE, &norm, "actnorm|batchnorm", "normalisation (default actnorm)", 1,
         0, 0},
        {"batch", ARG_INT, &batch, "N", "batch size (default 64)", 1, 4096, 0},
        {"warmup", ARG_INT, &warmup, "N", "untimed steps after the first (2)", 0, 100000, 0},
        {"repeat", ARG_INT, &repeat, "N", "timed steps; the median is shown (10)", 1, 100000, 0},
        {"no-torch", ARG_FLAG, &no_torch, NULL, "skip the PyTorch comparison", 1, 0, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int r = args_parse(cmd, opts, nopts, argc, argv, 2, NULL, 0, NULL);
    if (r == ARGS_HELP) {
        args_usage("cugen bench step", "realnvp [flags]", opts, nopts);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    if (strcmp(device, "cuda") != 0 && strcmp(precision, "fp32") != 0) {
        fprintf(stderr, "%s: --precision %s is for --device cuda (the CPU computes in FP32)\n",
                cmd, precision);
        return 2;
    }
    char err[512];
    cg_flowimg_arch a = {.channels = 1, .size = (int)size, .layers = (int)layers,
                         .width = (int)width, .scales = (int)scales,
                         .norm = strcmp(norm, "batchnorm") == 0 ? CG_FLOWIMG_BATCHNORM
                                                                : CG_FLOWIMG_ACTNORM};
    cg_flowimg m;
    cg_status st = cg_flowimg_build(&m, &a, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return st == CG_ERR_ARG ? 2 : 1;
    }
    cg_flowimg_init(&m, 1, 1);
    cg_device dev = CG_CPU;
    if (strcmp(device, "cuda") == 0) {
        char why[256] = "";
        if (cg_cuda_device_count(why, sizeof why) == 0) {
            fprintf(stderr, "%s: --device cuda: %s\n", cmd, why);
            cg_flowimg_free(&m);
            return 2;
        }
        dev = CG_CUDA;
        if ((st = cg_flowimg_to_device(&m, dev, err, sizeof err)) != CG_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err);
            cg_flowimg_free(&m);
            return 1;
        }
    }
    int B = (int)batch, S = (int)size;
    int64_t nx = (int64_t)B * S * S;
    real *x = malloc(sizeof(real) * (size_t)nx);
    double *t = malloc(sizeof(double) * (size_t)repeat);
    cg_ctx ctx;
    if (!x || !t || cg_ctx_init(&ctx) != CG_OK) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        cg_flowimg_free(&m);
        free(x);
        free(t);
        return 1;
    }
    cg_rng data, deq;
    cg_rng_init(&data, 7, 0);
    cg_rng_init(&deq, 7, 5);
    cg_rng_uniform(&data, x, nx);
    for (int64_t i = 0; i < nx; i++)   /* 8-bit pixel values in [-1, 1], as the loader's */
        x[i] = (real)(floor(x[i] * 256.0) / 127.5 - 1.0);
    cg_adam opt;
    cg_adam_init(&opt, 1e-3, 0.9, 0.999, 1e-8, 0, 0);
    int threads = openblas_get_num_threads();
    char where[200];
    if (dev == CG_CUDA) {
        cg_cuda_device_info info;
        if (cg_cuda_device_info_get(0, &info) != CG_OK)
            snprintf(info.name, sizeof info.name, "GPU 0");
        snprintf(where, sizeof where, "%s, CUDA events", info.name);
    } else {
        snprintf(where, sizeof where, "CPU (%d thread%s)", threads, threads == 1 ? "" : "s");
    }
    int code = 0;
    const int both = strcmp(precision, "both") == 0;
    for (int k = 0; k < (both ? 2 : 1) && code == 0; k++) {
        const char *prec = both ? (k ? "tf32" : "fp32") : precision;
        cg_cuda_set_tf32(strcmp(prec, "tf32") == 0);
        printf("%s: 1x%dx%d, %d scales, %d couplings per stage, width %d, %s, %lld parameters, "
               "batch %d, %s, %s; median of %d steps after %d warm-up\n", cmd, S, S, m.a.scales,
               m.a.layers, m.a.width, norm, (long long)cg_params_count(&m.p), B, where,
               strcmp(prec, "tf32") == 0 ? "TF32 allowed" : "FP32 (no TF32)", (int)repeat,
               (int)warmup + 1);
        fflush(stdout);
        for (int it = 0; it < 1 + warmup + repeat; it++) {
            double t0 = cg_monotonic_seconds(), nll, ld;
            if (dev == CG_CUDA) {
                cg_cuda_sync();
                cg_cuda_timer_start();
            }
            cg_tensor *xt = dev == CG_CPU ? cg_wrap(&ctx, x, CG_SHAPE(B, 1, S, S))
                                          : cg_new_on(&ctx, dev, CG_SHAPE(B, 1, S, S));
            if (xt && dev != CG_CPU)
                cg_copy_from_host(&ctx, xt, x);
            st = cg_flowimg_step(&ctx, &m, &opt, xt, &deq, &nll, &ld);
            double ms = (cg_monotonic_seconds() - t0) * 1e3;
            if (st == CG_OK && dev == CG_CUDA && cg_cuda_timer_stop(&ms) != CG_OK) {
                snprintf(ctx.errmsg, sizeof ctx.errmsg, "CUDA timer: %s", cg_cuda_last_error());
                st = CG_ERR_CUDA;
            }
            cg_ctx_step_end(&ctx);
            if (st != CG_OK) {
                fprintf(stderr, "%s: %s\n", cmd, st == CG_ERR_NUMERIC ? "the loss is not finite"
                                                                    : ctx.errmsg);
                code = 1;
                break;
            }
            if (it >= 1 + warmup)
                t[it - 1 - warmup] = ms;
        }
        if (code != 0)
            break;
        double rate = bench_step_line(t, (int)repeat, B, prec);
        if (!no_torch) {
            char args[512];
            snprintf(args, sizeof args, "--image-size %d --layers %d --width %d --scales %d "
                     "--norm %s --batch %d --warmup %d --repeat %d --threads %d --device %s "
                     "--precision %s", S, m.a.layers, m.a.width, m.a.scales, norm, B,
                     (int)warmup, (int)repeat, threads, device, prec);
            double tms = 0;
            double tr = bench_torch_rate("bench_torch_realnvp.py", args, &tms, NULL);
            if (tr > 0)
                printf("ratio:   cugen img/s / PyTorch img/s = %.2f at %s (> 1: cugen is "
                       "faster)\n", rate / tr, prec);
        }
    }
    cg_ctx_free(&ctx);
    cg_flowimg_free(&m);
    free(x);
    free(t);
    return code;
}
