/*
 * train_flags.c: the flags of `cugen train`: those every model shares, and
 * each model's own built from its table (cg_flag): defaults, ranges,
 * conditions, --help with the defaults, and the device choice.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/train_kinds.h"
#include "cugen/cuda.h"
#include "cugen/dist.h"
#include "cugen/ops.h"

int cli_device_asked_cuda;

const cg_model_kind *cli_kind_find(const char *name)
{
    for (int i = 0; i < cli_n_kinds; i++)
        if (strcmp(cli_kinds[i]->name, name) == 0)
            return cli_kinds[i];
    return NULL;
}

int cli_shared_flags(arg_opt *opts, cg_train_opts *o, const char **device, const char **out,
                     int64_t *seed, int64_t *image_size, int *no_out)
{
    const arg_opt shared[] = {
        {"steps", ARG_INT, &o->steps, "N", "stop after N optimizer steps", 1, 1e12, 0},
        {"epochs", ARG_INT, &o->epochs, "N", "stop after N passes over the data", 1, 1e9, 0},
        {"batch", ARG_INT, &o->batch, "N",
         "batch size (under mpirun the global batch, split evenly over the processes)", 1,
         1 << 20, 0},
        {"lr", ARG_DOUBLE, &o->lr, "LR", "learning rate", 1e-12, 10, 0},
        {"seed", ARG_INT, seed, "N", "random seed (default 0)", 0, 9.007199254740992e15, 0},
        {"device", ARG_CHOICE, device, "auto|cpu|cuda", "where to compute (default auto)", 1, 0,
         0},
        {"out", ARG_STR, out, "DIR",
         "write metrics.jsonl, result.json, pictures (and checkpoints) here (default: a new "
         "runs/MODEL-N); one run at a time (DIR/.lock)", 1, 0, 0},
        {"resume", ARG_FLAG, &o->resume, NULL, "continue the run in --out from its checkpoint",
         1, 0, 0},
        {"overwrite", ARG_FLAG, &o->overwrite, NULL,
         "start over in a --out that holds a run: first remove its *.safetensors, *.png, "
         "metrics.jsonl and result.json", 1, 0, 0},
        {"no-out", ARG_FLAG, no_out, NULL, "write no files (no run directory)", 1, 0, 0},
        {"ckpt-every", ARG_INT, &o->ckpt_every, "N",
         "with --out: checkpoint every N steps and at the end", 1, 1e12,
         0},
        {"log-every", ARG_INT, &o->log_every, "N",
         "a progress line every N steps when stderr is not a terminal (default 100)", 1, 1e12,
         0},
        {"quiet", ARG_FLAG, &o->quiet, NULL, "no progress line", 1, 0, 0},
        {"max-minutes", ARG_DOUBLE, &o->max_minutes, "M",
         "stop after M minutes of training in this command, ending as at the last step (with "
         "a checkpoint, samples and result.json); --resume goes on from there", 0.001, 1e7, 0},
        /* from here on: only for the models whose kind->shared names them */
        {"data", ARG_CHOICE, &o->data, "fashion-mnist|mnist|celeba|imagefolder|"
         "8gaussians|moons|swissroll|checkerboard|gaussian",
         "the training data (default fashion-mnist; realnvp: a 2-D set, default moons)", 1, 0,
         0},
        {"data-dir", ARG_STR, &o->data_dir, "PATH",
         "where they are (celeba: the file of cugen prepare celeba)", 1, 0, 0},
        {"image-size", ARG_INT, image_size, "32|64", "image side (default: the model's)", 32,
         64, 0},
        {"deterministic", ARG_FLAG, &o->deterministic, NULL,
         "reproducible kernels only (the CPU path always is)", 1, 0, 0},
        {"tf32", ARG_FLAG, &o->tf32, NULL,
         "GPU: TF32 tensor-core math for matrix products and convolutions (faster; about 1e-3 "
         "relative instead of fp32's 1e-6)", 1, 0, 0},
        /* the models that can generate images (kind->generate) */
        {"fid-every", ARG_INT, &o->fid_every, "N",
         "FID every N steps and after the last, into metrics.jsonl and curves.png (needs "
         "--fid-net)", 1, 1e12, 0},
        {"fid-n", ARG_INT, &o->fid_n, "M",
         "--fid-every: M generated images against M training images (default 1000)", 2, 1e6,
         0},
        {"fid-net", ARG_STR, &o->fid_net, "PATH",
         "--fid-every: the feature network: the run (or classifier.safetensors) of cugen train "
         "classifier for (Fashion-)MNIST, or FID Inception weights", 1, 0, 0},
        /* the models with batch norm */
        {"sync-bn", ARG_FLAG, &o->sync_bn, NULL,
         "under mpirun: batch norm statistics over the global batch (as PyTorch's "
         "SyncBatchNorm) instead of each process's slice; in one process it changes nothing",
         1, 0, 0},
        {"ghost-bn", ARG_INT, &o->ghost_bn, "N",
         "batch norm statistics over each N images of the batch in turn (ghost batch norm; "
         "under mpirun, of each process's slice); N divides it", 2, 1 << 20, 0},
    };
    int n = (int)(sizeof shared / sizeof shared[0]);
    memcpy(opts, shared, sizeof shared);
    return n;
}

/* index of the first flag that applies only to some models */
static int first_optional(const arg_opt *opts, int nshared)
{
    int i = 0;
    while (i < nshared && strcmp(opts[i].name, "data") != 0)
        i++;
    return i;
}

/* k, or a kind it hands the run to (realnvp: the image flow), draws images */
static int draws_images(const cg_model_kind *k)
{
    for (const cg_model_kind *const *v = k->hands_to; v && *v; v++)
        if ((*v)->generate)
            return 1;
    return k->generate != NULL;
}

static int takes_shared(const cg_model_kind *k, const char *name)
{
    if (strncmp(name, "fid-", 4) == 0)
        return draws_images(k);
    char have[200], key[40];
    snprintf(have, sizeof have, " %s ", k->shared ? k->shared : "");
    snprintf(key, sizeof key, " %s ", name);
    return strstr(have, key) != NULL;
}

static int ignored(const cg_model_kind *k, const char *name)
{
    if (!k->checkpoints && strcmp(name, "ckpt-every") == 0)
        return 1;  /* a model that keeps no checkpoints has no cadence to set */
    char have[200], key[40];
    snprintf(have, sizeof have, " %s ", k->ignores ? k->ignores : "");
    snprintf(key, sizeof key, " %s ", name);
    return strstr(have, key) != NULL;
}

static void *field(void *settings, const cg_flag *f)
{
    return (char *)settings + f->offset;
}

static const arg_kind kinds_of[] = {
    [CG_FLAG_INT] = ARG_INT, [CG_FLAG_REAL] = ARG_DOUBLE, [CG_FLAG_CHOICE] = ARG_CHOICE,
    [CG_FLAG_STR] = ARG_STR, [CG_FLAG_BOOL] = ARG_FLAG};

int cli_table_flags(const cg_flag *flags, int nflags, arg_opt *opts, int n, int max,
                    void *settings)
{
    for (int i = 0; i < nflags && n < max; i++) {
        const cg_flag *f = &flags[i];
        void *dst = field(settings, f);
        if (f->def) {
            if (f->kind == CG_FLAG_INT)
                *(int64_t *)dst = strtoll(f->def, NULL, 10);
            else if (f->kind == CG_FLAG_REAL)
                *(double *)dst = strtod(f->def, NULL);
            else if (f->kind == CG_FLAG_BOOL)
                *(int *)dst = strcmp(f->def, "1") == 0;
            else
                *(const char **)dst = f->def;
        }
        int ranged = f->kind == CG_FLAG_INT || f->kind == CG_FLAG_REAL;
        opts[n++] = (arg_opt){f->name, kinds_of[f->kind], dst, f->meta, f->help,
                              ranged ? f->min : 1, ranged ? f->max : 0, 0};
    }
    return n;
}

int cli_model_flags(const cg_model_kind *k, arg_opt *opts, int nshared, int max, void *settings)
{
    return cli_table_flags(k->flags, k->nflags, opts, nshared, max, settings);
}

const char *cli_flag_help(const cg_flag *f, char *buf, size_t len)
{
    int k = snprintf(buf, len, "%s", f->help);
    if (f->def && f->kind != CG_FLAG_BOOL && k >= 0 && (size_t)k < len)
        k += snprintf(buf + k, len - (size_t)k, " (default %s)", f->def);
    const char *eq = f->only ? strchr(f->only, '=') : NULL;
    if (eq && k >= 0 && (size_t)k < len)
        snprintf(buf + k, len - (size_t)k, " [with --%.*s %s]", (int)(eq - f->only), f->only,
                 eq + 1);
    return buf;
}

void cli_table_usage(const char *cmd, const char *syn, const cg_flag *flags, const arg_opt *opts,
                     int nshared, int nopts)
{
    arg_opt shown[96];
    static char help[96][512];
    for (int i = 0; i < nopts && i < 96; i++) {
        shown[i] = opts[i];
        if (i >= nshared)
            shown[i].help = cli_flag_help(&flags[i - nshared], help[i], sizeof help[i]);
    }
    args_usage(cmd, syn, shown, nopts < 96 ? nopts : 96);
}

static int known_by(const cg_model_kind *k, const char *name, size_t len)
{
    for (int i = 0; i < k->nflags; i++)
        if (strlen(k->flags[i].name) == len && strncmp(k->flags[i].name, name, len) == 0)
            return 1;
    return 0;
}

int cli_flags_foreign(const char *cmd, const cg_model_kind *k, const arg_opt *opts, int nopts,
                      int argc, char **argv)
{
    for (int a = 2; a < argc; a++) {
        if (strncmp(argv[a], "--", 2) != 0)
            continue;
        const char *name = argv[a] + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int mine = 0;
        for (int i = 0; i < nopts && !mine; i++)
            mine = strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0;
        if (mine)
            continue;
        for (int j = 0; j < cli_n_kinds; j++)
            if (known_by(cli_kinds[j], name, len)) {
                fprintf(stderr, "%s %s: --%.*s is not a flag of this model (see %s %s --help)\n",
                        cmd, k->name, (int)len, name, cmd, k->name);
                return ARGS_ERROR;
            }
    }
    return ARGS_OK;
}

const cg_model_kind *cli_flags_variant(const char *cmd, const cg_model_kind *k,
                                       const arg_opt *opts, int nshared, int nopts,
                                       const cg_train_opts *o, const void *settings)
{
    if (!k->variant)
        return k;
    const cg_model_kind *v = k->variant(o, settings);
    int opt0 = first_optional(opts, nshared);
    for (int i = 0; i < nopts; i++) {
        const char *name = opts[i].name;
        int takes = i < nshared ? !((i >= opt0 && !takes_shared(v, name)) || ignored(v, name))
                                : known_by(v, name, strlen(name));
        if (opts[i].seen && !takes) {
            fprintf(stderr, "%s %s: --%s is not a flag of %s, the model this --data trains "
                    "(see %s %s --help)\n", cmd, k->name, name, v->title, cmd, k->name);
            return NULL;
        }
    }
    return v;
}

void cli_flags_usage(const char *cmd, const cg_model_kind *k, const arg_opt *opts, int nshared,
                     int nopts)
{
    arg_opt mine[96];
    static char help[64][512];
    int n = 0, opt0 = first_optional(opts, nshared);
    for (int i = 0; i < nopts && n < 96; i++) {
        if ((i >= opt0 && i < nshared && !takes_shared(k, opts[i].name)) ||
            (i < nshared && ignored(k, opts[i].name)))
            continue;
        mine[n] = opts[i];
        static char shared_help[4][160];
        const char *const sh[4] = {"steps", "epochs", "batch", "lr"};
        for (int j = 0; j < 4; j++) {
            if (strcmp(opts[i].name, sh[j]) != 0)
                continue;
            char def[48];
            if (j == 0)
                snprintf(def, sizeof def, k->steps ? "%lld" : "none: one epoch",
                         (long long)k->steps);
            else if (j == 1)
                snprintf(def, sizeof def, k->epochs ? "%lld" : k->steps ? "none" : "1",
                         (long long)k->epochs);
            else if (j == 2)
                snprintf(def, sizeof def, "%lld", (long long)k->batch);
            else
                snprintf(def, sizeof def, "%g", k->lr);
            snprintf(shared_help[j], sizeof shared_help[0], "%s (default %s)", opts[i].help,
                     def);
            mine[n].help = shared_help[j];
        }
        if (strcmp(opts[i].name, "ckpt-every") == 0 && k->checkpoints) {
            static char ckpt[160];
            snprintf(ckpt, sizeof ckpt, "with --out: checkpoint every N steps and at the end "
                     "(default %lld)", (long long)k->ckpt_every);
            mine[n].help = ckpt;
        }
        if (i >= nshared && i - nshared < 64)
            mine[n].help = cli_flag_help(&k->flags[i - nshared], help[i - nshared],
                                         sizeof help[0]);
        n++;
    }
    char syn[64];
    snprintf(syn, sizeof syn, "%s [flags]", k->name);
    args_usage(cmd, syn, mine, n);
    if (k->data_help)
        printf("\n%s\n", k->data_help);
}

/* "arch=conv" holds in settings (a flag the table lacks: it holds) */
static int holds(const cg_flag *flags, int nflags, const char *only, const void *settings)
{
    const char *eq = strchr(only, '=');
    if (!eq)
        return 1;
    size_t len = (size_t)(eq - only);
    for (int i = 0; i < nflags; i++) {
        const cg_flag *f = &flags[i];
        if (strlen(f->name) != len || strncmp(f->name, only, len) != 0)
            continue;
        const void *v = (const char *)settings + f->offset;
        if (f->kind == CG_FLAG_CHOICE || f->kind == CG_FLAG_STR)
            return *(const char *const *)v && strcmp(*(const char *const *)v, eq + 1) == 0;
        if (f->kind == CG_FLAG_BOOL)
            return *(const int *)v == atoi(eq + 1);
        if (f->kind == CG_FLAG_INT)
            return *(const int64_t *)v == strtoll(eq + 1, NULL, 10);
        return *(const double *)v == strtod(eq + 1, NULL);
    }
    return 1;
}

int cli_table_only(const char *who, const cg_flag *flags, int nflags, const arg_opt *opts,
                   const void *settings)
{
    for (int i = 0; i < nflags; i++) {
        const cg_flag *f = &flags[i];
        if (opts[i].seen && f->only && !holds(flags, nflags, f->only, settings)) {
            const char *eq = strchr(f->only, '=');
            fprintf(stderr, "%s: --%s applies with --%.*s %s only\n", who, f->name,
                    (int)(eq - f->only), f->only, eq + 1);
            return ARGS_ERROR;
        }
    }
    return ARGS_OK;
}

int cli_flags_apply(const char *cmd, const cg_model_kind *k, const arg_opt *opts, int nshared,
                    int nopts, const void *settings)
{
    for (int i = 0; i < nshared; i++)
        if (opts[i].seen && ((i >= first_optional(opts, nshared) &&
                              !takes_shared(k, opts[i].name)) || ignored(k, opts[i].name))) {
            fprintf(stderr, "%s %s: --%s is not a flag of this model (see %s %s --help)\n", cmd,
                    k->name, opts[i].name, cmd, k->name);
            return ARGS_ERROR;
        }
    char who[128];
    snprintf(who, sizeof who, "%s %s", cmd, k->name);
    return cli_table_only(who, k->flags, nopts - nshared, opts + nshared, settings);
}

/* Defaults, the flags given, and the checks that need them all. */
int cli_flags_settle(const char *cmd, const cg_model_kind *k, cg_train_opts *o, const char *out,
                     int no_out, const void *settings)
{
    if (o->resume && !k->checkpoints) {
        fprintf(stderr, "%s %s: --resume: this model keeps no checkpoints (it trains in "
                "seconds); run it again\n", cmd, k->name);
        return 2;
    }
    if (o->resume && !out) {
        fprintf(stderr, "%s %s: --resume needs --out DIR (the run to continue)\n", cmd, k->name);
        return 2;
    }
    if (o->resume && o->overwrite) {
        fprintf(stderr, "%s %s: --resume and --overwrite exclude each other (continue the run "
                "or start over)\n", cmd, k->name);
        return 2;
    }
    if (no_out && (out || o->overwrite)) {
        fprintf(stderr, "%s %s: --no-out excludes --out and --overwrite\n", cmd, k->name);
        return 2;
    }
    if (o->tf32 && o->deterministic) {
        fprintf(stderr, "%s %s: --tf32 and --deterministic exclude each other\n", cmd, k->name);
        return 2;
    }
    if (!o->fid_every && (o->fid_n || o->fid_net)) {
        fprintf(stderr, "%s %s: --fid-n and --fid-net go with --fid-every N\n", cmd, k->name);
        return 2;
    }
    if (o->fid_every && !o->fid_net) {
        fprintf(stderr, "%s %s: --fid-every needs --fid-net PATH (the run of cugen train "
                "classifier, or FID Inception weights)\n", cmd, k->name);
        return 2;
    }
    if (o->fid_every && !o->fid_n)
        o->fid_n = 1000;
    if (o->sync_bn && o->ghost_bn) {
        fprintf(stderr, "%s %s: --sync-bn and --ghost-bn exclude each other (statistics over "
                "the global batch, or over slices of it)\n", cmd, k->name);
        return 2;
    }
    if (!o->batch)
        o->batch = k->batch;
    if (!o->lr)
        o->lr = k->lr;
    if (!o->steps && !o->epochs) {
        o->steps = k->steps;
        o->epochs = k->epochs;
        if (!k->steps && !k->epochs)
            o->epochs = 1;  /* image models: one pass over the data */
    }
    if (!o->log_every)
        o->log_every = 100;
    if (!o->ckpt_every)
        o->ckpt_every = k->ckpt_every;
    char err[512];
    if (k->check && k->check(settings, o, err, sizeof err) != CG_OK) {
        fprintf(stderr, "%s %s: %s\n", cmd, k->name, err);
        return 2;
    }
    return 0;
}

int cli_train_device(const char *cmd, const cg_model_kind *k, const char *device,
                     cg_train_opts *o, char *note, size_t len)
{
    cli_device_asked_cuda = strcmp(device, "cuda") == 0;
    cg_status st = cg_device_resolve(device, &o->device, note, len);
    if (st != CG_OK) {
        fprintf(stderr, "%s %s: %s\n", cmd, k->name, note);
        return 2;
    }
    if (o->device == CG_CUDA && !k->gpu) {
        if (cli_device_asked_cuda) {
            fprintf(stderr, "%s %s: --device cuda: this model trains on the CPU only\n", cmd,
                    k->name);
            return 2;
        }
        o->device = CG_CPU;
        snprintf(note, len, "device: cpu (auto: this model trains on the CPU only)");
    }
    return 0;
}

/* Under mpirun: MPI joined, and the GPU of the local rank taken. 0, or the
 * exit code after a one-line message. */
int cli_train_join(const char *cmd, const cg_model_kind *k, const cg_train_opts *o)
{
    char err[512];
    if (cg_dist_init(err, sizeof err) != CG_OK) {
        fprintf(stderr, "%s %s: %s\n", cmd, k->name, err);
        return 2;
    }
    if (cg_dist_size() > 1 && o->device == CG_CUDA &&
        cg_cuda_select(cg_dist_local_rank()) != CG_OK) {
        fprintf(stderr, "%s %s: rank %d: --device cuda: %s\n", cmd, k->name, cg_dist_rank(),
                cg_cuda_last_error());
        return 2;
    }
    return 0;
}

FILE *cli_open_result(const cg_train_opts *o)
{
    if (!o->out_dir)
        return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/result.json", o->out_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "cugen train: cannot write %s\n", path);
    return f;
}

const char *cli_jnum(char *buf, double v)
{
    if (isfinite(v))
        snprintf(buf, 32, "%.9g", v);
    else
        snprintf(buf, 32, "null");
    return buf;
}

/* The flags a resumed run may change, said when they do: where the data
 * are, and how it computes (the last bits of the results may change). The
 * others in the record must be the run's own. */
const char *const cli_may_change = "data-dir deterministic tf32 cpu-threads";

/* Flags of the command, not of the run: left out of the record, so that
 * two runs that differ in them keep the same checkpoints */
static int of_the_command(const char *name)
{
    static const char *const names[] = {"steps", "epochs", "device", "out", "resume",
                                        "overwrite", "no-out", "ckpt-every", "log-every",
                                        "quiet", "fid-every", "fid-n", "fid-net", "max-minutes"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

const char *cli_settings(const cg_model_kind *k, const arg_opt *opts, int nshared, int nopts,
                         const cg_train_opts *o, cg_settings_text *s)
{
    cg_settings_begin(s);
    cg_settings_add(s, "model", k->name);  /* how sample and eval tell the run's kind */
    int opt0 = first_optional(opts, nshared);
    for (int i = 0; i < nopts; i++) {
        if ((i >= opt0 && i < nshared && !takes_shared(k, opts[i].name)) ||
            of_the_command(opts[i].name))
            continue;
        char v[64];
        const char *text = v;
        switch (opts[i].kind) {
        case ARG_INT:
            snprintf(v, sizeof v, "%lld", (long long)*(const int64_t *)opts[i].dst);
            break;
        case ARG_DOUBLE:
            snprintf(v, sizeof v, "%.17g", *(const double *)opts[i].dst);
            break;
        case ARG_FLAG:
            snprintf(v, sizeof v, "%d", *(const int *)opts[i].dst);
            break;
        default:
            text = *(const char *const *)opts[i].dst;
        }
        cg_settings_add(s, opts[i].name, text);
    }
    char threads[32];
    snprintf(threads, sizeof threads, "%d", o->device == CG_CPU ? cg_cpu_threads() : 0);
    cg_settings_add(s, "cpu-threads", threads);
    return cg_settings_end(s);
}
