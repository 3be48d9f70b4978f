/*
 * bench_inception.c: `cugen bench inception --net FILE`: img/s of the FID
 * Inception features (resize to 299, the network, features copied back) on
 * --n random images of 3 x S x S, in batches, on the CPU or the GPU; unless
 * --no-torch, scripts/bench_inception_torch.py times torchvision's model (the
 * same layout and batches) in the same command and the ratio is printed.
 *
 * One untimed batch first (the arenas grow, cuDNN picks its algorithms),
 * then the n images once, timed by the host clock around whole batches
 * whose features are copied back (which waits for the GPU).
 *
 * --precision fp32 (full FP32, the default), tf32 (TF32 tensor cores) or
 * both (one run each): the GPU math of cugen and of the PyTorch script,
 * which is told the precision and states it; no ratio when they differ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/bench.h"
#include "cli/commands.h"
#include "cpu/cpu_parallel.h"
#include "cugen/cuda.h"
#include "cugen/io.h"
#include "cugen/metrics.h"
#include "cugen/rng.h"
#include "cugen/tape.h"

int cli_bench_inception(int argc, char **argv)
{
    const char *cmd = "cugen bench inception", *net_path = NULL, *device = "cpu",
               *precision = "fp32";
    int64_t n = 64, batch = 16, size = 64;
    int no_torch = 0;
    arg_opt opts[] = {
        {"net", ARG_STR, &net_path, "FILE", "the FID Inception weights (safetensors)", 1, 0, 0},
        {"device", ARG_CHOICE, &device, "cpu|cuda", "where to run (default cpu)", 1, 0, 0},
        {"precision", ARG_CHOICE, &precision, "fp32|tf32|both", "GPU math, the same on both "
         "sides: full FP32 (default), TF32 tensor cores, or both one after the other", 1, 0, 0},
        {"n", ARG_INT, &n, "N", "images timed (default 64)", 1, 1e6, 0},
        {"batch", ARG_INT, &batch, "N", "images per forward pass (default 16)", 1, 4096, 0},
        {"image-size", ARG_INT, &size, "S", "input side before the resize (default 64)", 8,
         1024, 0},
        {"no-torch", ARG_FLAG, &no_torch, NULL, "skip timing torchvision's model (the ratio)", 1,
         0, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (bench_renamed_flag(cmd, "bench inception", argc, argv, 1, NULL, NULL))
        return 2;
    int r = args_parse(cmd, opts, nopts, argc, argv, 1, NULL, 0, NULL);
    int torch = !no_torch;
    if (r == ARGS_HELP) {
        args_usage(cmd, "--net FILE [flags]", opts, nopts);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    if (!net_path) {
        fprintf(stderr, "%s: needs --net FILE (scripts/convert_fid_inception.py makes one)\n",
                cmd);
        return 2;
    }
    if (strcmp(device, "cuda") != 0 && strcmp(precision, "fp32") != 0) {
        fprintf(stderr, "%s: --precision %s is for --device cuda (the CPU computes in FP32)\n",
                cmd, precision);
        return 2;
    }
    cg_device dev = CG_CPU;
    if (strcmp(device, "cuda") == 0) {
        char why[256] = "";
        if (cg_cuda_device_count(why, sizeof why) == 0) {
            fprintf(stderr, "%s: --device cuda: %s\n", cmd, why);
            return 2;
        }
        dev = CG_CUDA;
    }
    cg_inception *m = NULL;
    char err[2048];
    cg_status st = cg_inception_load(net_path, &m, err, sizeof err);
    if (st == CG_OK && dev == CG_CUDA)
        st = cg_inception_to_device(m, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        cg_inception_free(m);
        return st == CG_ERR_ARG || st == CG_ERR_IO ? 2 : 1;
    }
    int S = (int)size, B = (int)batch;
    int64_t P = 3 * (int64_t)S * S;
    real *x = malloc(sizeof(real) * (size_t)(n * P));
    real *f = malloc(sizeof(real) * (size_t)B * CG_INCEPTION_FEATURES);
    cg_ctx ctx;
    if (!x || !f || cg_ctx_init(&ctx) != CG_OK) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        free(x);
        free(f);
        cg_inception_free(m);
        return 1;
    }
    cg_rng rng;
    cg_rng_init(&rng, 7, 0);
    cg_rng_uniform(&rng, x, n * P);   /* [0, 1], what the network takes */
    cg_set_grad(&ctx, 0);
    int threads = cpu_threads();
    const int both = strcmp(precision, "both") == 0;
    for (int k = 0; k < (both ? 2 : 1) && st == CG_OK; k++) {
        const char *prec = both ? (k ? "tf32" : "fp32") : precision;
        cg_cuda_set_tf32(strcmp(prec, "tf32") == 0);
        printf("cugen bench inception: %lld images of 3x%dx%d resized to 299x299, batch %d, "
               "%s%s\n", (long long)n, S, S, B, dev == CG_CUDA ? "GPU" : "CPU",
               dev != CG_CUDA ? "" : strcmp(prec, "tf32") == 0 ? ", TF32 allowed"
                                                              : ", FP32 (no TF32)");
        fflush(stdout);
        double t0 = 0;
        for (int64_t at = -1; at < n && st == CG_OK; at += at < 0 ? 1 : B) {
            int64_t lo = at < 0 ? 0 : at;  /* at = -1: the untimed batch */
            int count = (int)(n - lo < B ? n - lo : B);
            if (at == 0)
                t0 = cg_monotonic_seconds();
            cg_tensor *xt = cg_wrap(&ctx, x + lo * P, CG_SHAPE(count, 3, S, S));
            if (xt && dev == CG_CUDA)
                xt = cg_to_device(&ctx, xt, CG_CUDA);
            cg_tensor *ft = cg_inception_forward(&ctx, m, xt);
            st = ft ? cg_copy_to_host(&ctx, f, ft) : ctx.err ? ctx.err : CG_ERR_STATE;
            if (st != CG_OK)
                fprintf(stderr, "%s: %s\n", cmd, ctx.errmsg);
            cg_ctx_step_end(&ctx);
        }
        double secs = cg_monotonic_seconds() - t0;
        if (st != CG_OK)
            break;
        double rate = (double)n / secs;
        printf("cugen:   %.1f ms per batch, %.2f img/s, precision %s (%s%d thread%s)\n",
               secs / ((n + B - 1) / B) * 1e3, rate, prec, dev == CG_CUDA ? "host " : "",
               threads, threads == 1 ? "" : "s");
        if (torch) {
            char args[256];
            double ms = 0;
            snprintf(args, sizeof args, "--device %s --n %lld --batch %d --image-size %d "
                     "--threads %d --precision %s", device, (long long)n, B, S, threads, prec);
            double tr = bench_torch_rate("bench_inception_torch.py", args, &ms, NULL);
            if (tr > 0)
                printf("cugen / PyTorch: %.2fx the img/s at %s\n", rate / tr, prec);
        }
    }
    int code = st == CG_OK ? 0 : 1;
    free(x);
    free(f);
    cg_ctx_free(&ctx);
    cg_inception_free(m);
    return code;
}
