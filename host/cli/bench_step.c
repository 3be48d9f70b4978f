/*
 * bench_step.c: `cugen bench step dcgan`: the time of one whole training
 * iteration of the DCGAN recipe (D step on a real and a fake batch, G step,
 * both Adam updates) on random data, the median over repeats after warm-up,
 * as img/s; then the same iteration in PyTorch eager
 * (scripts/bench_torch_dcgan.py), run by this command on the same machine,
 * and the ratio.
 *
 * Precision (every bench step model): --precision fp32 (the default) runs
 * cugen in full FP32 and PyTorch with both of its TF32 switches off; tf32
 * runs both sides with TF32 tensor cores allowed; both runs the benchmark
 * once in each. The PyTorch script is told the precision and states it in
 * its result line; a ratio is printed only when the two sides agree. On the
 * CPU only fp32 exists.
 *
 * Not for: the data loader's speed (bench data), single layers (bench ops).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/bench.h"
#include "cli/commands.h"
#include "cpu/cpu_parallel.h"
#include "cugen/cuda.h"
#include "cugen/dcgan.h"
#include "cugen/io.h"

/* scripts/NAME from the working directory, else beside the binary's
 * directory (build/cugen -> scripts/) */
static int find_script(const char *name, char *path, size_t len)
{
    snprintf(path, len, "scripts/%s", name);
    if (access(path, R_OK) == 0)
        return 1;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    *slash = 0;
    snprintf(path, len, "%s/../scripts/%s", exe, name);
    return access(path, R_OK) == 0;
}

/* The word after `key` in s ("" when absent), at most len - 1 characters. */
static void word_after(const char *s, const char *key, char *out, size_t len)
{
    const char *p = strstr(s, key);
    size_t n = p ? strcspn(p + strlen(key), " \n") : 0;
    if (n >= len)
        n = len - 1;
    memcpy(out, p ? p + strlen(key) : "", n);
    out[n] = 0;
}

/* img/s of scripts/SCRIPT run with ARGS (it prints "step_ms MS img_per_s
 * RATE ... precision P [ddim_s S]"), 0 with a note printed when it cannot be
 * measured or ran at another precision than ARGS' --precision asks; *ddim_s
 * (when not NULL) the sampling seconds, 0 when none were printed. Python is
 * $CUGEN_PYTHON when set, else for --device cuda the python3 on PATH (a
 * CUDA build of PyTorch is often in a virtual environment), else
 * /usr/bin/python3. */
double bench_torch_rate(const char *name, const char *args, double *step_ms, double *ddim_s)
{
    if (ddim_s)
        *ddim_s = 0;
    const char *python = getenv("CUGEN_PYTHON");
    if (!python || !*python)
        python = strstr(args, "--device cuda") ? "python3" : "/usr/bin/python3";
    char script[PATH_MAX + 32], cmd[2 * PATH_MAX];
    if ((python[0] == '/' && access(python, X_OK) != 0) ||
        !find_script(name, script, sizeof script)) {
        printf("PyTorch: not measured (%s or scripts/%s missing)\n", python, name);
        return 0;
    }
    snprintf(cmd, sizeof cmd, "'%s' '%s' %s 2>&1", python, script, args);
    fflush(stdout);
    FILE *f = popen(cmd, "r");
    if (!f) {
        printf("PyTorch: not measured (%s)\n", strerror(errno));
        return 0;
    }
    char line[512], note[512] = "", result[512] = "";
    double rate = 0;
    while (fgets(line, sizeof line, f)) {
        double ms, r;
        if (sscanf(line, "step_ms %lf img_per_s %lf", &ms, &r) == 2) {
            rate = r;
            *step_ms = ms;
            snprintf(result, sizeof result, "%s", line);
            const char *d = strstr(line, " ddim_s ");
            if (d && ddim_s)
                *ddim_s = strtod(d + 8, NULL);
            printf("PyTorch: %s", line);
        } else if (!note[0] || strncmp(line, "error ", 6) == 0) {
            snprintf(note, sizeof note, "%s", strncmp(line, "error ", 6) == 0 ? line + 6 : line);
            note[strcspn(note, "\n")] = 0;
        }
    }
    int st = pclose(f);
    if (rate <= 0) {
        printf("PyTorch: not measured (%s)\n", note[0] ? note : st ? "the script failed"
                                                                   : "no timing printed");
        return 0;
    }
    char want[16], got[16];
    word_after(args, "--precision ", want, sizeof want);
    word_after(result, " precision ", got, sizeof got);
    if (want[0] && strcmp(want, got) != 0) {
        printf("PyTorch: no ratio: it ran at precision %s, cugen at %s\n",
               got[0] ? got : "(not stated)", want);
        return 0;
    }
    return rate;
}

/* PyTorch's img/s for the same iteration at the same precision */
static double torch_rate(const cg_dcgan_arch *a, int batch, int warmup, int repeat,
                         int threads, const char *device, const char *precision,
                         double *step_ms)
{
    char args[512];
    snprintf(args, sizeof args, "--device %s --image-size %d --nc %d --nz %d --ngf %d "
             "--ndf %d --batch %d --warmup %d --repeat %d --threads %d --precision %s", device,
             a->image_size, a->nc, a->nz, a->ngf, a->ndf, batch, warmup, repeat, threads,
             precision);
    return bench_torch_rate("bench_torch_dcgan.py", args, step_ms, NULL);
}

int cli_bench_step(int argc, char **argv)
{
    const char *cmd = "cugen bench step";
    int64_t batch = 128, size = 64, ngf = 64, ndf = 64, nz = 100, nc = 0, warmup = 3,
            repeat = 20;
    const char *device = "cpu", *precision = "fp32";
    int no_torch = 0;
    arg_opt opts[] = {
        {"device", ARG_CHOICE, &device, "cpu|cuda", "where to run (default cpu)", 1, 0, 0},
        {"precision", ARG_CHOICE, &precision, "fp32|tf32|both", "GPU math, the same on both "
         "sides: full FP32 (default), TF32 tensor cores, or both one after the other", 1, 0, 0},
        {"image-size", ARG_INT, &size, "32|64", "image side (default 64)", 32, 64, 0},
        {"nc", ARG_INT, &nc, "1|3", "channels (default: 1 at 32x32, 3 at 64x64)", 1, 3, 0},
        {"nz", ARG_INT, &nz, "N", "latent size (default 100)", 1, 4096, 0},
        {"ngf", ARG_INT, &ngf, "N", "generator width (default 64)", 1, 1024, 0},
        {"ndf", ARG_INT, &ndf, "N", "discriminator width (default 64)", 1, 1024, 0},
        {"batch", ARG_INT, &batch, "N", "batch size (default 128)", 2, 4096, 0},
        {"warmup", ARG_INT, &warmup, "N", "untimed iterations first (3)", 0, 100000, 0},
        {"repeat", ARG_INT, &repeat, "N", "timed iterations; the median is shown (20)", 1,
         100000, 0},
        {"no-torch", ARG_FLAG, &no_torch, NULL, "skip the PyTorch comparison", 1, 0, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (argc >= 2 && strcmp(argv[1], "ddpm") == 0)
        return cli_bench_step_ddpm(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "realnvp") == 0)
        return cli_bench_step_realnvp(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "vae") == 0)
        return cli_bench_step_vae(argc, argv);
    if (argc < 2 || strcmp(argv[1], "dcgan") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            args_usage(cmd, "dcgan [flags]", opts, nopts);
            return 0;
        }
        fprintf(stderr, "%s: unknown model '%s' (models with a step benchmark: dcgan, ddpm, "
                "realnvp, vae)\n",
                cmd, argc < 2 ? "" : argv[1]);
        return 2;
    }
    int r = args_parse(cmd, opts, nopts, argc, argv, 2, NULL, 0, NULL);
    if (r == ARGS_HELP) {
        args_usage(cmd, "dcgan [flags]", opts, nopts);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    if (nc == 2) {
        fprintf(stderr, "%s: --nc must be 1 or 3\n", cmd);
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
    cg_dcgan_arch a = {.nz = (int)nz, .ngf = (int)ngf, .ndf = (int)ndf,
                       .nc = nc ? (int)nc : size == 32 ? 1 : 3, .image_size = (int)size};
    cg_dcgan m;
    char err[512];
    cg_status st = cg_dcgan_build(&m, &a, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return st == CG_ERR_ARG ? 2 : 1;
    }
    cg_dcgan_init(&m, 1, 1);
    if (dev == CG_CUDA && (st = cg_dcgan_to_device(&m, CG_CUDA, err, sizeof err)) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        cg_dcgan_free(&m);
        return 1;
    }
    int B = (int)batch, S = (int)size;
    real *x = malloc(sizeof(real) * (size_t)B * a.nc * S * S);
    real *z = malloc(sizeof(real) * (size_t)B * a.nz);
    double *t = malloc(sizeof(double) * (size_t)repeat);
    cg_ctx ctx;
    if (!x || !z || !t || cg_ctx_init(&ctx) != CG_OK) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        cg_dcgan_free(&m);
        free(x);
        free(z);
        free(t);
        return 1;
    }
    cg_rng rng;
    cg_rng_init(&rng, 7, 0);
    cg_rng_uniform(&rng, x, (int64_t)B * a.nc * S * S);
    for (int64_t i = 0; i < (int64_t)B * a.nc * S * S; i++)
        x[i] = 2 * x[i] - 1;
    cg_adam ad, ag;
    cg_adam_init(&ad, 2e-4, 0.5, 0.999, 1e-8, 0, 0);
    cg_adam_init(&ag, 2e-4, 0.5, 0.999, 1e-8, 0, 0);
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
    int code = 0;
    const int both = strcmp(precision, "both") == 0;
    for (int k = 0; k < (both ? 2 : 1) && code == 0; k++) {
        const char *prec = both ? (k ? "tf32" : "fp32") : precision;
        cg_cuda_set_tf32(strcmp(prec, "tf32") == 0);
        printf("cugen bench step dcgan: %dx%dx%d, nz %d, ngf %d, ndf %d, batch %d, %s, %s; "
               "median of %d iterations after %d warm-up\n", a.nc, S, S, a.nz, a.ngf, a.ndf, B,
               where, strcmp(prec, "tf32") == 0 ? "TF32 allowed" : "FP32 (no TF32)",
               (int)repeat, (int)warmup);
        fflush(stdout);
        for (int it = 0; it < warmup + repeat; it++) {
            cg_rng_normal(&rng, z, (int64_t)B * a.nz, 0.0, 1.0);
            /* what a training step gets: the batch and z copied in (on the GPU
             * through the pinned buffer, asynchronously); the step ends with its
             * read-back, so the wall time covers the GPU's work */
            if (dev == CG_CUDA)
                cg_cuda_sync();
            double t0 = cg_monotonic_seconds();
            cg_tensor *xt = cg_new_on(&ctx, dev, CG_SHAPE(B, a.nc, S, S));
            cg_tensor *zt = cg_new_on(&ctx, dev, CG_SHAPE(B, a.nz));
            if (xt && zt) {
                cg_copy_from_host(&ctx, xt, x);
                cg_copy_from_host(&ctx, zt, z);
            }
            cg_dcgan_stats s = {0};
            st = cg_dcgan_step(&ctx, &m, &ad, &ag, xt, zt, &s);
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
        if (S == 64)
            printf("         one CelebA epoch (202,599 images) at this rate: %.1f s\n",
                   202599.0 / rate);
        if (!no_torch) {
            double tms = 0;
            double tr = torch_rate(&a, B, (int)warmup, (int)repeat, threads, device, prec, &tms);
            if (tr > 0)
                printf("ratio:   cugen img/s / PyTorch img/s = %.2f at %s (> 1: cugen is "
                       "faster)\n", rate / tr, prec);
        }
    }
    cg_ctx_free(&ctx);
    cg_dcgan_free(&m);
    free(x);
    free(z);
    free(t);
    return code;
}
