/*
 * bench_step.c: `cugen bench step MODEL`: the time of one training step of
 * any model on the trainer (dcgan, ddpm, realnvp on images, vae), as
 * `cugen train MODEL` takes it, on a fixed batch of random 8-bit images:
 * the median over repeats after warm-up, as img/s (cg_trainer_bench; CUDA
 * events on the GPU); then the same step in PyTorch eager (the script the
 * model's kind names, scripts/bench_torch_MODEL.py), run by this command
 * on the same machine, and the ratio. The model's flags are those of
 * `cugen train MODEL`, from its kind's table, with the same defaults and
 * --help; the bench adds its own (device, precision, shape, repeats).
 *
 * Precision: --precision fp32 (the default) runs cugen in full FP32 and
 * PyTorch with both of its TF32 switches off; tf32 runs both sides with
 * TF32 tensor cores allowed; both runs the benchmark once in each, a fresh
 * model each time. The PyTorch script is told the precision and states it
 * in its result line; a ratio is printed only when the two sides agree. On
 * the CPU only fp32 exists.
 *
 * Ranks: --ranks N runs this command again without --ranks, as one process
 * and as N processes under mpirun, each with one CPU thread
 * (OPENBLAS_NUM_THREADS=1) and --batch the global batch (as cugen train
 * takes it), and prints the img/s of both and the scaling efficiency. Under
 * mpirun the command is one rank: the step of cugen train's data-parallel
 * runs (its slice of the batch, the gradients all-reduced), rank 0 printing.
 *
 * Not for: the data loader's speed (bench data), single layers (bench ops),
 * whole training runs (cugen train).
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
#include "cli/train_kinds.h"
#include "cugen/cuda.h"
#include "cugen/dist.h"
#include "cugen/ops.h"
#include "cugen/trainer.h"

#define MAX_OPTS 48

/* scripts/NAME from the working directory, else beside the binary's
 * directory (build/cugen -> scripts/) */
int bench_find_script(const char *name, char *path, size_t len)
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
        !bench_find_script(name, script, sizeof script)) {
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

/* The kind bench step builds and times for registry kind k, NULL: none (a
 * kind drawing its own data has no batch of images to time a step on) */
static const cg_model_kind *bench_kind(const cg_model_kind *k)
{
    const cg_model_kind *b = k && k->bench ? k->bench : k;
    return b && b->build && b->step && !b->own_data ? b : NULL;
}

/* "dcgan, ddpm, ..." : the registry's models with a step benchmark, by name */
static void bench_names(char *buf, size_t len)
{
    const char *names[64];
    int n = 0;
    for (int i = 0; i < cli_n_kinds && n < 64; i++)
        if (bench_kind(cli_kinds[i]))
            names[n++] = cli_kinds[i]->name;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *s = names[j];
            names[j] = names[j - 1];
            names[j - 1] = s;
        }
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? ", " : "", names[i]);
}

/* A flag of another command, or another name of a bench flag: refused with
 * the one this command uses. 0, or 2 after the message. */
static int renamed_flag(const char *cmd, const cg_model_kind *k, int argc, char **argv)
{
    int has_ddim_steps = 0;
    for (int i = 0; i < k->nflags; i++)
        has_ddim_steps |= strcmp(k->flags[i].name, "ddim-steps") == 0;
    char what[64];
    snprintf(what, sizeof what, "bench step (%s)", k->name);
    return bench_renamed_flag(cmd, what, argc, argv, 2, "steps",
                              has_ddim_steps ? "the timed steps are --repeat, the sampler's "
                                               "steps of --sample-n are --ddim-steps"
                                             : "the timed steps are --repeat");
}

typedef struct {
    int64_t batch, image_size, nc, warmup, repeat, sample_n, ranks;
    const char *device, *precision;
    int no_torch;
} bench_flags;

/* The bench's own flags into opts; their count. sample: the model has a sampler. */
static int bench_opts(arg_opt *opts, bench_flags *f, int sample)
{
    const arg_opt own[] = {
        {"device", ARG_CHOICE, &f->device, "cpu|cuda", "where to run (default cpu)", 1, 0, 0},
        {"precision", ARG_CHOICE, &f->precision, "fp32|tf32|both", "GPU math, the same on both "
         "sides: full FP32 (default), TF32 tensor cores, or both one after the other", 1, 0, 0},
        {"batch", ARG_INT, &f->batch, "N", "batch size (default: the model's training batch)", 1,
         4096, 0},
        {"image-size", ARG_INT, &f->image_size, "N", "image side (default: the model's)", 1,
         1024, 0},
        {"nc", ARG_INT, &f->nc, "1|3", "channels (default: 3 at 64x64, else 1)", 1, 3, 0},
        {"warmup", ARG_INT, &f->warmup, "N", "untimed steps after the first, which is never "
         "timed (default 2)", 0, 100000, 0},
        {"repeat", ARG_INT, &f->repeat, "N", "timed steps; the median is shown (default 20)", 1,
         100000, 0},
        {"no-torch", ARG_FLAG, &f->no_torch, NULL, "skip the PyTorch comparison", 1, 0, 0},
        {"ranks", ARG_INT, &f->ranks, "N", "time 1 and N processes under mpirun instead, one CPU "
         "thread each, --batch the global batch; with the scaling efficiency", 2, 64, 0},
        {"sample-n", ARG_INT, &f->sample_n, "N", "also time the sampling of N images (default "
         "0: no)", 0, 4096, 0},
    };
    int n = (int)(sizeof own / sizeof own[0]) - (sample ? 0 : 1);
    memcpy(opts, own, sizeof own[0] * (size_t)n);
    return n;
}

/* What the header line needs beyond the bench's result */
typedef struct {
    const char *model, *where, *prec;
    int channels, size, batch, warmup, repeat;
} header_info;

static void print_header(const cg_bench_result *r, void *arg)
{
    const header_info *h = arg;
    printf("cugen bench step %s: %dx%dx%d, %s%s%lld parameters, batch %d, %s, %s; median of "
           "%d steps after %d warm-up\n", h->model, h->channels, h->size, h->size, r->describe,
           *r->describe ? ", " : "", (long long)r->params, h->batch, h->where,
           strcmp(h->prec, "tf32") == 0 ? "TF32 allowed" : "FP32 (no TF32)", h->repeat,
           h->warmup);
    fflush(stdout);
}

/* The model's flags and the bench's parsed and checked into f, settings
 * and o; 0, or the exit code (after --help, 0 with *done set). */
static int parse(const char *cmd, const cg_model_kind *k, const cg_model_kind *bk, int argc,
                 char **argv, bench_flags *f, void *settings, cg_train_opts *o, int *done)
{
    arg_opt opts[MAX_OPTS];
    int nb = bench_opts(opts, f, bk->sample != NULL);
    int nopts = cli_model_flags(k, opts, nb, MAX_OPTS, settings);
    char full[64];
    snprintf(full, sizeof full, "%s %s", cmd, k->name);
    int r = renamed_flag(cmd, k, argc, argv) ? ARGS_ERROR : ARGS_OK;
    if (r == ARGS_OK)
        r = cli_flags_foreign(cmd, k, opts, nopts, argc, argv);
    if (r == ARGS_OK)
        r = args_parse(full, opts, nopts, argc, argv, 2, NULL, 0, NULL);
    if (r == ARGS_HELP) {
        cli_flags_usage(cmd, k, opts, nb, nopts);
        *done = 1;
        return 0;
    }
    if (r == ARGS_OK)
        r = cli_flags_apply(cmd, k, opts, nb, nopts, settings);
    if (r != ARGS_OK)
        return 2;
    char err[512];
    const cg_model_kind *checks[2] = {k, bk};
    for (int i = 0; i < (bk == k ? 1 : 2); i++)
        if (checks[i]->check && checks[i]->check(settings, o, err, sizeof err) != CG_OK) {
            fprintf(stderr, "%s: %s\n", full, err);
            return 2;
        }
    if (f->nc == 2) {
        fprintf(stderr, "%s: --nc: 1 or 3 channels, got 2\n", full);
        return 2;
    }
    int cuda = strcmp(f->device, "cuda") == 0;
    if (!cuda && strcmp(f->precision, "fp32") != 0) {
        fprintf(stderr, "%s: --precision %s is for --device cuda (the CPU computes in FP32)\n",
                full, f->precision);
        return 2;
    }
    if (cuda) {
        char why[256] = "";
        if (cg_cuda_device_count(why, sizeof why) == 0) {
            fprintf(stderr, "%s: --device cuda: %s\n", full, why);
            return 2;
        }
        if (!bk->gpu) {
            fprintf(stderr, "%s: --device cuda: this model trains on the CPU only\n", full);
            return 2;
        }
    }
    o->device = cuda ? CG_CUDA : CG_CPU;
    o->batch = f->batch ? f->batch : k->batch ? k->batch : bk->batch;
    o->lr = k->lr ? k->lr : bk->lr;
    o->seed = 1;
    if (!f->image_size)
        f->image_size = bk->default_size ? bk->default_size(settings) : bk->image_size;
    if (!f->image_size)
        f->image_size = 28;  /* Fashion-MNIST's, every image model's default data */
    if (!f->nc)
        f->nc = f->image_size >= 64 ? 3 : 1;
    return 0;
}

/* The benchmark at one precision: 0 or the exit code. */
static int bench_at(const cg_model_kind *k, const cg_model_kind *bk, const void *settings,
                    cg_train_opts *o, const bench_flags *f, const char *prec, const char *where,
                    double *ms)
{
    o->tf32 = strcmp(prec, "tf32") == 0;
    header_info h = {.model = k->name, .where = where, .prec = prec, .channels = (int)f->nc,
                     .size = (int)f->image_size, .batch = (int)o->batch,
                     .warmup = (int)f->warmup + 1, .repeat = (int)f->repeat};
    cg_bench_opts b = {.channels = (int)f->nc, .image_size = (int)f->image_size,
                       .warmup = (int)f->warmup, .repeat = (int)f->repeat,
                       .torch = !f->no_torch && bk->torch_bench, .sample_n = (int)f->sample_n,
                       .built = print_header, .arg = &h};
    cg_bench_result r = {.step_ms = ms};
    char err[2048];
    cg_status st = cg_trainer_bench(bk, settings, o, &b, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen bench step %s\n", err);
        return st == CG_ERR_ARG ? 2 : 1;
    }
    double rate = bench_step_line(ms, (int)f->repeat, (int)o->batch, prec);
    if (f->image_size == 64 && f->nc == 3)
        printf("         one CelebA epoch (202,599 images) at this rate: %.1f s\n",
               202599.0 / rate);
    if (f->sample_n > 0)
        printf("cugen:   sampling, %s, %d images: %.3f s (sample_s)\n", r.sample_what,
               (int)f->sample_n, r.sample_s);
    if (f->no_torch)
        return 0;
    if (!bk->torch_bench) {
        printf("PyTorch: not measured (no script for this model)\n");
        return 0;
    }
    char args[1024];
    int n = snprintf(args, sizeof args, "%s --device %s --image-size %d --batch %d --warmup %d "
                     "--repeat %d --threads %d --precision %s", r.torch_args, f->device,
                     (int)f->image_size, (int)o->batch, (int)f->warmup + 1, (int)f->repeat,
                     cg_cpu_threads(), prec);
    if (f->sample_n > 0 && n < (int)sizeof args)
        snprintf(args + n, sizeof args - (size_t)n, " --sample-n %d", (int)f->sample_n);
    double tms = 0, tsample = 0;
    double tr = bench_torch_rate(bk->torch_bench, args, &tms, &tsample);
    if (tr > 0)
        printf("ratio:   cugen img/s / PyTorch img/s = %.2f at %s (> 1: cugen is faster)\n",
               rate / tr, prec);
    if (tr > 0 && f->sample_n > 0 && tsample > 0)
        printf("ratio:   sampling, %s, %d images: PyTorch s / cugen s = %.2f at %s (> 1: cugen "
               "is faster)\n", r.sample_what, (int)f->sample_n, tsample / r.sample_s, prec);
    return 0;
}

/* img/s of `[mpirun -np np] cugen bench step ARGS` with one CPU thread
 * (np 1: no mpirun), its lines echoed after `label`; 0 when it failed */
static double rank_rate(const char *exe, int np, const char *args, const char *label)
{
    char cmd[8192], line[1024];
    char launch[64] = "";
    if (np > 1)
        snprintf(launch, sizeof launch, "mpirun --oversubscribe -np %d ", np);
    snprintf(cmd, sizeof cmd, "OPENBLAS_NUM_THREADS=1 %s'%s' bench step %s --no-torch 2>&1",
             launch, exe, args);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    double rate = 0;
    while (fgets(line, sizeof line, p)) {
        printf("%s: %s", label, line);
        double ms, r;
        if (sscanf(line, "cugen: step_ms %lf img_per_s %lf", &ms, &r) == 2)
            rate = r;
    }
    int st = pclose(p);
    return st == 0 ? rate : 0;
}

/* --ranks N: 1 and N processes, their img/s and the scaling efficiency */
static int bench_ranks(const char *cmd, const cg_model_kind *k, int argc, char **argv,
                       const bench_flags *f, const cg_train_opts *o)
{
    int n = (int)f->ranks;
    if (o->batch % n != 0) {
        fprintf(stderr, "%s %s: --batch %lld (the global batch) does not split into %d "
                "processes; give a multiple of %d\n", cmd, k->name, (long long)o->batch, n, n);
        return 2;
    }
    if (!cg_dist_built() || system("command -v mpirun >/dev/null 2>&1") != 0) {
        fprintf(stderr, "%s %s: --ranks %d: %s\n", cmd, k->name, n, !cg_dist_built()
                ? "this cugen was built without MPI (install libopenmpi-dev and rebuild)"
                : "no mpirun on PATH (install openmpi-bin)");
        return 2;
    }
    char exe[PATH_MAX], args[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        fprintf(stderr, "%s %s: --ranks: cannot find this program (/proc/self/exe)\n", cmd,
                k->name);
        return 1;
    }
    exe[len] = 0;
    /* the command's arguments, in quotes, less --ranks and --no-torch */
    size_t at = 0;
    args[0] = 0;
    for (int i = 1; i < argc && at < sizeof args; i++) {
        if (strcmp(argv[i], "--ranks") == 0) {
            i++;
            continue;
        }
        if (strncmp(argv[i], "--ranks=", 8) == 0 || strcmp(argv[i], "--no-torch") == 0)
            continue;
        if (strchr(argv[i], '\'')) {
            fprintf(stderr, "%s %s: --ranks: an argument with a quote: %s\n", cmd, k->name,
                    argv[i]);
            return 2;
        }
        at += (size_t)snprintf(args + at, sizeof args - at, "%s'%s'", i > 1 ? " " : "", argv[i]);
    }
    if (at >= sizeof args) {
        fprintf(stderr, "%s %s: --ranks: the arguments are too long\n", cmd, k->name);
        return 2;
    }
    char label[32];
    snprintf(label, sizeof label, "%d processes", n);
    double one = rank_rate(exe, 1, args, "1 process");
    double many = one > 0 ? rank_rate(exe, n, args, label) : 0;
    if (one <= 0 || many <= 0) {
        fflush(stdout);
        fprintf(stderr, "%s %s: --ranks %d: the run of %d failed (its output above)\n", cmd,
                k->name, n, one <= 0 ? 1 : n);
        return 1;
    }
    printf("ranks:   1 process %.2f img/s, %d processes %.2f img/s (global batch %lld, %lld "
           "images each, one CPU thread each): speed-up %.2f, scaling efficiency %.0f%%\n",
           one, n, many, (long long)o->batch, (long long)o->batch / n, many / one,
           100 * many / (n * one));
    return 0;
}

int cli_bench_step(int argc, char **argv)
{
    const char *cmd = "cugen bench step";
    char names[256];
    bench_names(names, sizeof names);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: %s MODEL [flags]\n\nmodels: %s (%s MODEL --help for the flags: the "
               "model's, as cugen train MODEL takes them, and the bench's)\n", cmd, names, cmd);
        return argc < 2 ? 2 : 0;
    }
    const cg_model_kind *k = cli_kind_find(argv[1]);
    const cg_model_kind *bk = bench_kind(k);
    if (!bk) {
        fprintf(stderr, "%s: unknown model '%s' (models with a step benchmark: %s)\n", cmd,
                argv[1], names);
        return 2;
    }
    bench_flags f = {.warmup = 2, .repeat = 20, .device = "cpu", .precision = "fp32"};
    cg_train_opts o = {0};
    void *settings = calloc(1, k->settings_size ? k->settings_size : 1);
    double *ms = NULL;
    if (!settings)
        return 1;
    int done = 0, code = parse(cmd, k, bk, argc, argv, &f, settings, &o, &done);
    if (code == 0 && !done && !(ms = malloc(sizeof(double) * (size_t)f.repeat)))
        code = 1;
    if (code == 0 && !done && f.ranks > 0)
        code = bench_ranks(cmd, k, argc, argv, &f, &o), done = 1;
    /* under mpirun: this process is one rank, and rank 0 prints */
    if (code == 0 && !done && (code = cli_train_join(cmd, k, &o)) == 0 && cg_dist_rank() != 0 &&
        !freopen("/dev/null", "w", stdout))
        code = 1;
    if (code != 0 || done) {
        free(ms);
        free(settings);
        cg_dist_end(code);
        return code;
    }
    int threads = cg_cpu_threads();
    char where[200];
    if (o.device == CG_CUDA) {
        cg_cuda_device_info info;
        if (cg_cuda_device_info_get(0, &info) != CG_OK)
            snprintf(info.name, sizeof info.name, "GPU 0");
        snprintf(where, sizeof where, "%s, CUDA %s, cuDNN %s, CUDA events", info.name,
                 cg_cuda_runtime_version(), cg_cuda_cudnn_version());
    } else {
        snprintf(where, sizeof where, "CPU, %d thread%s", threads, threads == 1 ? "" : "s");
    }
    const int both = strcmp(f.precision, "both") == 0;
    for (int i = 0; i < (both ? 2 : 1) && code == 0; i++)
        code = bench_at(k, bk, settings, &o, &f, both ? (i ? "tf32" : "fp32") : f.precision,
                        where, ms);
    free(ms);
    free(settings);
    cg_dist_end(code);
    return code;
}
