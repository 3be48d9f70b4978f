/*
 * bench_step_vae.c: `cugen bench step vae`: the time of one VAE training
 * step as `cugen train vae` takes it (cg_vae_train_step: the batch copied in
 * and mapped to [0, 1], eps drawn, forward, backward, Adam, the loss read
 * back) on a fixed random batch, the median over repeats after warm-up, as
 * img/s; then the same step in PyTorch eager (scripts/bench_torch_vae.py),
 * run by this command on the same machine, and the ratio. --precision
 * fp32|tf32|both as for every bench step model (bench_step.c).
 *
 * Not for: the DCGAN and DDPM steps (bench_step.c, bench_step_ddpm.c).
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
#include "cugen/vae.h"

int cli_bench_step_vae(int argc, char **argv)
{
    const char *cmd = "cugen bench step vae";
    int64_t batch = 128, size = 0, nc = 1, hidden = 400, width = 32, latent = 20, warmup = 3,
            repeat = 20;
    const char *device = "cpu", *arch = "conv", *lik = "bernoulli", *precision = "fp32";
    int no_torch = 0;
    arg_opt opts[] = {
        {"arch", ARG_CHOICE, &arch, "mlp|conv", "which VAE (default conv)", 1, 0, 0},
        {"likelihood", ARG_CHOICE, &lik, "bernoulli|gaussian",
         "pixel likelihood (default bernoulli)", 1, 0, 0},
        {"device", ARG_CHOICE, &device, "cpu|cuda", "where to run (default cpu)", 1, 0, 0},
        {"precision", ARG_CHOICE, &precision, "fp32|tf32|both", "GPU math, the same on both "
         "sides: full FP32 (default), TF32 tensor cores, or both one after the other", 1, 0, 0},
        {"image-size", ARG_INT, &size, "N",
         "image side (default: 32 conv, 28 mlp; conv takes 32 or 64)", 1, 1024, 0},
        {"nc", ARG_INT, &nc, "1|3", "channels (default 1)", 1, 3, 0},
        {"hidden", ARG_INT, &hidden, "N", "mlp: hidden width (default 400)", 1, 65536, 0},
        {"width", ARG_INT, &width, "N", "conv: first width (default 32)", 1, 1024, 0},
        {"latent", ARG_INT, &latent, "N", "latent size (default 20)", 1, 4096, 0},
        {"batch", ARG_INT, &batch, "N", "batch size (default 128)", 1, 4096, 0},
        {"warmup", ARG_INT, &warmup, "N", "untimed steps first (3)", 0, 100000, 0},
        {"repeat", ARG_INT, &repeat, "N", "timed steps; the median is shown (20)", 1, 100000, 0},
        {"no-torch", ARG_FLAG, &no_torch, NULL, "skip the PyTorch comparison", 1, 0, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int r = args_parse(cmd, opts, nopts, argc, argv, 2, NULL, 0, NULL);
    if (r == ARGS_HELP) {
        args_usage("cugen bench step", "vae [flags]", opts, nopts);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    int conv = strcmp(arch, "conv") == 0, gaussian = strcmp(lik, "gaussian") == 0;
    if (nc == 2) {
        fprintf(stderr, "%s: --nc must be 1 or 3\n", cmd);
        return 2;
    }
    if (!conv && gaussian && !no_torch) {
        fprintf(stderr, "%s: the PyTorch side of --arch mlp is the article's Bernoulli VAE; "
                "add --no-torch for a Gaussian MLP\n", cmd);
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
    if (dev == CG_CPU && strcmp(precision, "fp32") != 0) {
        fprintf(stderr, "%s: --precision %s is for --device cuda (the CPU computes in FP32)\n",
                cmd, precision);
        return 2;
    }
    int S = (int)(size ? size : conv ? 32 : 28), C = (int)nc;
    cg_vae_arch a = {.x_dim = C * S * S, .latent = (int)latent,
                     .kind = conv ? CG_VAE_CONV : CG_VAE_MLP,
                     .lik = gaussian ? CG_VAE_GAUSSIAN : CG_VAE_BERNOULLI};
    if (conv) {
        a.channels = C;
        a.size = S;
        a.width = (int)width;
    } else {
        a.hidden = (int)hidden;
    }
    cg_vae m;
    char err[512];
    cg_status st = cg_vae_build(&m, &a, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return st == CG_ERR_ARG ? 2 : 1;
    }
    cg_vae_init(&m, 1, 1);
    if (dev == CG_CUDA && (st = cg_vae_to_device(&m, CG_CUDA, err, sizeof err)) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        cg_vae_free(&m);
        return 1;
    }
    int B = (int)batch;
    int64_t nx = (int64_t)B * a.x_dim;
    real *x = malloc(sizeof(real) * (size_t)nx);
    double *t = malloc(sizeof(double) * (size_t)repeat);
    cg_ctx ctx;
    if (!x || !t || cg_ctx_init(&ctx) != CG_OK) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        cg_vae_free(&m);
        free(x);
        free(t);
        return 1;
    }
    cg_rng data, noise;
    cg_rng_init(&data, 7, 0);
    cg_rng_init(&noise, 7, 3);
    cg_rng_uniform(&data, x, nx);
    for (int64_t i = 0; i < nx; i++)
        x[i] = 2 * x[i] - 1;  /* the loader's range */
    cg_adam opt;
    cg_adam_init(&opt, 1e-3, 0.9, 0.999, 1e-8, 0, 0);
    int threads = cpu_threads();
    char where[200];
    if (dev == CG_CUDA) {
        cg_cuda_device_info info;
        if (cg_cuda_device_info_get(0, &info) != CG_OK)
            snprintf(info.name, sizeof info.name, "GPU 0");
        snprintf(where, sizeof where, "%s, CUDA %s, cuDNN %s", info.name,
                 cg_cuda_runtime_version(), cg_cuda_cudnn_version());
    } else {
        snprintf(where, sizeof where, "CPU, %d thread%s", threads, threads == 1 ? "" : "s");
    }
    char shape[96];
    if (conv)
        snprintf(shape, sizeof shape, "conv, width %d", a.width);
    else
        snprintf(shape, sizeof shape, "mlp, hidden %d", a.hidden);
    int code = 0;
    const int both = strcmp(precision, "both") == 0;
    for (int k = 0; k < (both ? 2 : 1) && code == 0; k++) {
        const char *prec = both ? (k ? "tf32" : "fp32") : precision;
        cg_cuda_set_tf32(strcmp(prec, "tf32") == 0);
        printf("%s: %dx%dx%d, %s, latent %d, %s, %lld parameters, batch %d, %s, %s; median of "
               "%d steps after %d warm-up\n", cmd, C, S, S, shape, a.latent, lik,
               (long long)cg_params_count(&m.p), B, where,
               strcmp(prec, "tf32") == 0 ? "TF32 allowed" : "FP32 (no TF32)", (int)repeat,
               (int)warmup);
        fflush(stdout);
        for (int it = 0; it < warmup + repeat; it++) {
            if (dev == CG_CUDA)
                cg_cuda_sync();
            /* the step ends with its read-back, so the wall time covers the GPU's work */
            double t0 = cg_monotonic_seconds();
            cg_vae_stats s;
            st = cg_vae_train_step(&ctx, &m, &opt, x, B, &noise, &s);
            double dt = cg_monotonic_seconds() - t0;
            if (st != CG_OK) {
                fprintf(stderr, "%s: %s\n", cmd, ctx.errmsg);
                code = 1;
                break;
            }
            if (it >= warmup)
                t[it - warmup] = dt * 1e3;
        }
        if (code != 0)
            break;
        double rate = bench_step_line(t, (int)repeat, B, prec);
        if (!no_torch) {
            char args[512];
            snprintf(args, sizeof args, "--device %s --arch %s --likelihood %s --image-size %d "
                     "--nc %d --hidden %d --width %d --latent %d --batch %d --warmup %d "
                     "--repeat %d --threads %d --precision %s", device, arch, lik, S, C,
                     (int)hidden, (int)width, a.latent, B, (int)warmup, (int)repeat, threads,
                     prec);
            double tms = 0, tr = bench_torch_rate("bench_torch_vae.py", args, &tms, NULL);
            if (tr > 0)
                printf("ratio:   cugen img/s / PyTorch img/s = %.2f at %s (> 1: cugen is "
                       "faster)\n", rate / tr, prec);
        }
    }
    cg_ctx_free(&ctx);
    cg_vae_free(&m);
    free(x);
    free(t);
    return code;
}
