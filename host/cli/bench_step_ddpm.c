/*
 * bench_step_ddpm.c: `cugen bench step ddpm`: the time of one DDPM training
 * step (t and noise drawn, x_t, the UNet forward and backward, the MSE,
 * Adam, the EMA update) on random images, the median over repeats after
 * warm-up, as img/s; optionally the time of DDIM sampling; then the same in
 * PyTorch eager (scripts/bench_torch_ddpm.py, the same architecture from
 * scripts/ddpm_torch.py), run by this command on the same machine and
 * device. On the GPU (--device cuda) each step uploads its batch as training
 * does and is timed with CUDA events (it ends with its loss read-back).
 * --precision fp32|tf32|both as for every bench step model (bench_step.c).
 *
 * Not for: the DCGAN step (bench_step.c), single layers (bench ops).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cugen/cuda.h"
#include "cugen/ddpm.h"
#include "cugen/io.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of t[0..n-1] (sorts t) */
static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* GPU time between the calls on the GPU (CUDA events; the work ends with a
 * read-back), wall time on the CPU */
static void clock_start(cg_device dev, double *t0)
{
    if (dev == CG_CUDA) {
        cg_cuda_sync();
        cg_cuda_timer_start();
    }
    *t0 = cg_monotonic_seconds();
}

static double clock_ms(cg_device dev, double t0)
{
    double ms = (cg_monotonic_seconds() - t0) * 1e3;
    if (dev == CG_CUDA && cg_cuda_timer_stop(&ms) != CG_OK)
        return -1;
    return ms;
}

static double time_sampling(cg_ctx *ctx, cg_unet *m, const cg_ddpm_sched *s, int n, int steps,
                            char *err, size_t errlen)
{
    int64_t k = (int64_t)n * m->a.in_ch * m->a.image_size * m->a.image_size;
    real *x = malloc(sizeof(real) * (size_t)k);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cg_rng r;
    cg_rng_init(&r, 9, 0);
    cg_rng_normal(&r, x, k, 0, 1);
    double t0;
    clock_start((cg_device)m->p.dev, &t0);
    cg_status st = cg_ddpm_sample(ctx, m, s, x, n, steps, 1, &r, NULL, 0, err, errlen);
    double ms = clock_ms((cg_device)m->p.dev, t0);
    free(x);
    if (st == CG_OK && ms < 0)
        snprintf(err, errlen, "CUDA timer: %s", cg_cuda_last_error());
    return st == CG_OK && ms >= 0 ? ms / 1e3 : -1;
}

int cli_bench_step_ddpm(int argc, char **argv)
{
    const char *cmd = "cugen bench step ddpm";
    int64_t batch = 32, size = 32, nc = 1, ch = 32, nrb = 1, warmup = 2, repeat = 10,
            sample_n = 0, steps = 50;
    const char *mult = "1,2,2", *attn = "16", *device = "cpu", *precision = "fp32";
    double dropout = 0.1;
    int no_torch = 0;
    arg_opt opts[] = {
        {"device", ARG_CHOICE, &device, "cpu|cuda", "where to run (default cpu)", 1, 0, 0},
        {"precision", ARG_CHOICE, &precision, "fp32|tf32|both", "GPU math, the same on both "
         "sides: full FP32 (default), TF32 tensor cores, or both one after the other", 1, 0, 0},
        {"image-size", ARG_INT, &size, "N", "image side (default 32)", 8, 256, 0},
        {"nc", ARG_INT, &nc, "1|3", "channels (default 1)", 1, 3, 0},
        {"ch", ARG_INT, &ch, "N", "UNet base width (default 32)", 2, 1024, 0},
        {"ch-mult", ARG_STR, &mult, "M,M,..", "width multipliers (default 1,2,2)", 1, 0, 0},
        {"num-res-blocks", ARG_INT, &nrb, "N", "residual blocks per level (default 1)", 1,
         CG_UNET_MAX_BLOCKS, 0},
        {"attn", ARG_STR, &attn, "R,..|none", "attention resolutions (default 16)", 1, 0, 0},
        {"dropout", ARG_DOUBLE, &dropout, "P", "dropout (default 0.1)", 0, 0.99, 0},
        {"batch", ARG_INT, &batch, "N", "batch size (default 32)", 1, 4096, 0},
        {"warmup", ARG_INT, &warmup, "N", "untimed steps first (2)", 0, 100000, 0},
        {"repeat", ARG_INT, &repeat, "N", "timed steps; the median is shown (10)", 1, 100000, 0},
        {"sample-n", ARG_INT, &sample_n, "N", "also time DDIM sampling of N images (default 0: "
         "no)", 0, 4096, 0},
        {"steps", ARG_INT, &steps, "N", "DDIM steps of --sample-n (default 50)", 1, 1000, 0},
        {"no-torch", ARG_FLAG, &no_torch, NULL, "skip the PyTorch comparison", 1, 0, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int r = args_parse(cmd, opts, nopts, argc, argv, 2, NULL, 0, NULL);
    if (r == ARGS_HELP) {
        args_usage("cugen bench step", "ddpm [flags]", opts, nopts);
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
    cg_unet_arch a = {.in_ch = (int)nc, .image_size = (int)size, .ch = (int)ch,
                      .num_res_blocks = (int)nrb, .dropout = dropout};
    if (cg_unet_parse_mult(mult, &a, err, sizeof err) != CG_OK ||
        cg_unet_parse_attn(attn, &a, err, sizeof err) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return 2;
    }
    cg_unet m;
    cg_status st = cg_unet_build(&m, &a, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return st == CG_ERR_ARG ? 2 : 1;
    }
    cg_unet_init(&m, 1, 1);
    cg_device dev = CG_CPU;
    if (strcmp(device, "cuda") == 0) {
        char why[256] = "";
        if (cg_cuda_device_count(why, sizeof why) == 0) {
            fprintf(stderr, "%s: --device cuda: %s\n", cmd, why);
            cg_unet_free(&m);
            return 2;
        }
        dev = CG_CUDA;
        if ((st = cg_params_to_device(&m.p, err, sizeof err)) != CG_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err);
            cg_unet_free(&m);
            return 1;
        }
    }
    cg_ddpm_sched s;
    int B = (int)batch, S = (int)size;
    int64_t nx = (int64_t)B * a.in_ch * S * S;
    real *x = malloc(sizeof(real) * (size_t)nx);
    double *t = malloc(sizeof(double) * (size_t)repeat);
    cg_ctx ctx;
    cg_ema ema;
    int have_ctx = 0, have_ema = 0;
    if (!x || !t || !(have_ctx = cg_ctx_init(&ctx) == CG_OK) ||
        !(have_ema = cg_ema_init(&ema, &m.p, 0.9999) == CG_OK) ||
        cg_ddpm_sched_init(&s, CG_SCHED_LINEAR, 1000) != CG_OK) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        if (have_ema)
            cg_ema_free(&ema);
        if (have_ctx)
            cg_ctx_free(&ctx);
        cg_unet_free(&m);
        free(x);
        free(t);
        return 1;
    }
    cg_rng data, noise, drop;
    cg_rng_init(&data, 7, 0);
    cg_rng_init(&noise, 7, 3);
    cg_rng_init(&drop, 7, 4);
    cg_rng_uniform(&data, x, nx);
    for (int64_t i = 0; i < nx; i++)
        x[i] = 2 * x[i] - 1;
    cg_adam opt;
    cg_adam_init(&opt, 2e-4, 0.9, 0.999, 1e-8, 0, 0);
    int threads = openblas_get_num_threads();
    char where[200];
    if (dev == CG_CUDA) {
        cg_cuda_device_info info;
        if (cg_cuda_device_info_get(0, &info) != CG_OK)
            snprintf(info.name, sizeof info.name, "GPU 0");
        snprintf(where, sizeof where, "%s, CUDA %s, cuDNN %s, CUDA events", info.name,
                 cg_cuda_runtime_version(), cg_cuda_cudnn_version());
    } else {
        snprintf(where, sizeof where, "CPU (%d thread%s)", threads, threads == 1 ? "" : "s");
    }
    int code = 0;
    const int both = strcmp(precision, "both") == 0;
    for (int k = 0; k < (both ? 2 : 1) && code == 0; k++) {
        const char *prec = both ? (k ? "tf32" : "fp32") : precision;
        cg_cuda_set_tf32(strcmp(prec, "tf32") == 0);
        printf("%s: %dx%dx%d, ch %d, ch-mult %s, %d res blocks, attention at %s, dropout %g, "
               "%lld parameters, batch %d, %s, %s; median of %d steps after %d warm-up\n",
               cmd, a.in_ch, S, S, a.ch, mult, a.num_res_blocks, attn, dropout,
               (long long)cg_params_count(&m.p), B, where,
               strcmp(prec, "tf32") == 0 ? "TF32 allowed" : "FP32 (no TF32)", (int)repeat,
               (int)warmup);
        fflush(stdout);
        for (int it = 0; it < warmup + repeat; it++) {
            double t0, loss;
            clock_start(dev, &t0);
            /* the batch as training hands it over: on the GPU uploaded through
             * the pinned buffer (asynchronously) */
            cg_tensor *xt = dev == CG_CPU ? cg_wrap(&ctx, x, CG_SHAPE(B, a.in_ch, S, S))
                                          : cg_new_on(&ctx, dev, CG_SHAPE(B, a.in_ch, S, S));
            if (xt && dev != CG_CPU)
                cg_copy_from_host(&ctx, xt, x);
            st = cg_ddpm_step(&ctx, &m, &s, &opt, &ema, xt, &noise, &drop, &loss);
            double ms = clock_ms(dev, t0);
            if (st == CG_OK && ms < 0)
                snprintf(ctx.errmsg, sizeof ctx.errmsg, "CUDA timer: %s", cg_cuda_last_error());
            if (st != CG_OK || ms < 0) {
                fprintf(stderr, "%s: %s\n", cmd, ctx.errmsg);
                code = 1;
                break;
            }
            if (it >= warmup)
                t[it - warmup] = ms;
        }
        double sample_s = 0;
        if (code == 0 && sample_n > 0 &&
            (sample_s = time_sampling(&ctx, &m, &s, (int)sample_n, (int)steps, err,
                                      sizeof err)) < 0) {
            fprintf(stderr, "%s: %s\n", cmd, err);
            code = 1;
        }
        if (code != 0)
            break;
        double fast = 0, slow = 0;
        for (int i = 0; i < repeat; i++) {
            fast = i == 0 || t[i] < fast ? t[i] : fast;
            slow = t[i] > slow ? t[i] : slow;
        }
        double med = median(t, (int)repeat), rate = B / med * 1e3;
        printf("cugen:   step_ms %.4f img_per_s %.2f precision %s (fastest %.4f ms, slowest "
               "%.4f ms)\n", med, rate, prec, fast, slow);
        if (sample_n > 0)
            printf("cugen:   DDIM %d steps, %d images: %.3f s (ddim_s)\n", (int)steps,
                   (int)sample_n, sample_s);
        if (!no_torch) {
            char args[512];
            snprintf(args, sizeof args, "--image-size %d --nc %d --ch %d --ch-mult %s "
                     "--num-res-blocks %d --attn %s --dropout %g --batch %d --warmup %d "
                     "--repeat %d --threads %d --sample-n %d --steps %d --device %s "
                     "--precision %s", S, a.in_ch, a.ch, mult, a.num_res_blocks, attn, dropout,
                     B, (int)warmup, (int)repeat, threads, (int)sample_n, (int)steps, device,
                     prec);
            double tms = 0, tsample = 0;
            double tr = bench_torch_rate("bench_torch_ddpm.py", args, &tms, &tsample);
            if (tr > 0)
                printf("ratio:   cugen img/s / PyTorch img/s = %.2f at %s (> 1: cugen is "
                       "faster)\n", rate / tr, prec);
            if (tr > 0 && sample_n > 0 && tsample > 0)
                printf("ratio:   DDIM %d steps, %d images: PyTorch s / cugen s = %.2f at %s "
                       "(> 1: cugen is faster)\n", (int)steps, (int)sample_n,
                       tsample / sample_s, prec);
        }
    }
    cg_ctx_free(&ctx);
    cg_ema_free(&ema);
    cg_unet_free(&m);
    cg_ddpm_sched_free(&s);
    free(x);
    free(t);
    return code;
}
