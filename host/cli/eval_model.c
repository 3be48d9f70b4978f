/*
 * eval_model.c: `cugen eval RUN --metric M [flags]` for a metric a model
 * declares (cugen/sampler.h: a VAE's elbo and nll, an image flow's bpd),
 * generic over the registry: the kind that declares M (the one that
 * recognises RUN when several do), the flags every such metric shares
 * (the data set, --n, --seed, --device, --out for a model that draws
 * pictures) and the kind's own eval flags; the model measures, this prints.
 *
 * RUN is a run directory, its checkpoint or weights file. A RUN the kind
 * does not recognise goes to its loader all the same, whose message says
 * what the file is not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/samplers.h"
#include "cli/train_kinds.h"
#include "cugen/train.h"

#define MAX_OPTS 32
#define MAX_KINDS 32

/* The exit code of a failed load or measure: bad input (a missing or
 * malformed file, a bad value) is 2, failed work 1 */
static int exit_code(cg_status st)
{
    return st == CG_ERR_ARG || st == CG_ERR_IO ? 2 : 1;
}

/* --out without pictures: the models that draw them, as "a VAE" */
static const char *who_draws(void)
{
    const cg_model_kind *k[MAX_KINDS];
    int n = cli_sampling_kinds(k, MAX_KINDS);
    for (int i = 0; i < n; i++)
        if (k[i]->sampler->pictures)
            return k[i]->sampler->a;
    return "no model";
}

static void usage(const char *cmd, const char *metric, const cg_model_kind *k,
                  const arg_opt *opts, int nshared, int nopts)
{
    char syn[256];
    snprintf(syn, sizeof syn, "RUN --metric %s [flags]   (RUN: a run directory of cugen "
             "train %s, its checkpoint or weights file)", metric, k->name);
    cli_table_usage(cmd, syn, k->sampler->eval_flags, opts, nshared, nopts);
}

/* The model at path measured; 0 or an exit code after the message */
static int measure(const char *cmd, const cg_model_kind *k, int recognised, const void *settings,
                   const cg_eval_opts *eo, const char *note)
{
    cli_model m;
    char err[6000], report[2048] = "";
    cg_status st = cli_model_load(&m, k, eo->path, eo->device, err, sizeof err);
    if (st != CG_OK) {
        const cg_model_kind *other = NULL;
        char why[16];
        if (!recognised)
            cli_kind_of(eo->path, &other, why, sizeof why);
        if (recognised)
            fprintf(stderr, "%s: %s\n", cmd, err);
        else if (other)
            fprintf(stderr, "%s: --metric %s is for %s, and %s is %s: %s\n", cmd, eo->metric,
                    k->sampler->these, eo->path, other->sampler->a, err);
        else
            fprintf(stderr, "%s: --metric %s is for %s: %s\n", cmd, eo->metric,
                    k->sampler->these, err);
        return exit_code(st);
    }
    st = m.s->evaluate(m.self, settings, eo, report, sizeof report, err, sizeof err);
    cli_model_free(&m);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return exit_code(st);
    }
    if (note[0])
        printf("%s\n", note);
    fputs(report, stdout);
    return 0;
}

int cli_eval_model(int argc, char **argv, const char *want)
{
    const char *cmd = "cugen eval";
    char metrics[256];
    cli_model_metrics(metrics, sizeof metrics);
    const char *metric = NULL, *data = "fashion-mnist", *data_dir = NULL, *split = "test";
    const char *out = NULL, *device = "auto";
    int64_t n = 0, seed = 0;
    arg_opt opts[MAX_OPTS] = {
        {"metric", ARG_CHOICE, &metric, metrics, "what to measure", 1, 0, 0},
        {"n", ARG_INT, &n, "N", "only the first N images (default all)", 1, 1e9, 0},
        {"data", ARG_CHOICE, &data, "fashion-mnist|mnist|celeba|imagefolder",
         "the images (default fashion-mnist)", 1, 0, 0},
        {"data-dir", ARG_STR, &data_dir, "PATH", "where they are", 1, 0, 0},
        {"split", ARG_CHOICE, &split, "train|test", "which part (default test)", 1, 0, 0},
        {"seed", ARG_INT, &seed, "N", "seed of the model's noise (default 0)", 0,
         9.007199254740992e15, 0},
        {"out", ARG_STR, &out, "DIR", "also write the model's pictures here (a VAE: "
         "samples.png, recon.png, traversal.png, interp.png, manifold.png for a 2-D latent)",
         1, 0, 0},
        {"device", ARG_CHOICE, &device, "auto|cpu|cuda",
         "where to compute (default auto: the GPU if there is one, for a metric computed "
         "there)", 1, 0, 0},
    };
    const int nshared = 8, SPLIT = 4;
    const char *path = cli_positional(argc, argv, 1, opts, nshared, CLI_FLAGS_EVAL);
    int recognised;
    const cg_model_kind *k = cli_metric_kind(want, path, &recognised);
    const cg_sampler *s = k->sampler;
    void *settings = calloc(1, s->settings_size ? s->settings_size : 1);
    if (!settings)
        return 1;
    int nopts = cli_table_flags(s->eval_flags, s->neval_flags, opts, nshared, MAX_OPTS,
                                settings);
    char flag[64], these[256];
    const char *pos[1];
    int npos = 0, r = ARGS_ERROR;
    if (cli_foreign_flag(argc, argv, 1, opts, nopts, CLI_FLAGS_EVAL, flag, sizeof flag, these,
                         sizeof these))
        fprintf(stderr, "%s: --%s is not a flag of --metric %s (--%s is for %s)\n", cmd, flag,
                want, flag, these);
    else
        r = args_parse(cmd, opts, nopts, argc, argv, 1, pos, 1, &npos);
    if (r == ARGS_HELP)
        usage(cmd, want, k, opts, nshared, nopts);
    if (r != ARGS_OK) {
        free(settings);
        return r == ARGS_HELP ? 0 : 2;
    }
    /* only the IDX sets have splits; a folder or packed file is what it is */
    int has_splits = strcmp(data, "fashion-mnist") == 0 || strcmp(data, "mnist") == 0;
    const cg_metric *m = cli_metric_of(k, metric);
    cg_eval_opts eo = {.path = path, .metric = metric, .n = n, .seed = (uint64_t)seed,
                       .out = out,
                       .data = {.name = data, .dir = data_dir, .split = has_splits ? split
                                                                                  : NULL}};
    char err[1024], note[320] = "";
    int code = 0;
    if (npos != 1) {
        fprintf(stderr, "%s: give one checkpoint: a run directory, its checkpoint or weights "
                "file (see %s --help)\n", cmd, cmd);
        code = 2;
    } else if (!has_splits && opts[SPLIT].seen) {
        fprintf(stderr, "%s: --split is for fashion-mnist and mnist; %s is evaluated whole\n",
                cmd, data);
        code = 2;
    } else if (out && !s->pictures) {
        fprintf(stderr, "%s: --out draws %s's pictures; --metric %s measures %s\n", cmd,
                who_draws(), metric, s->a);
        code = 2;
    } else if (!m->gpu && strcmp(device, "cuda") == 0) {
        fprintf(stderr, "%s: --device cuda: --metric %s runs on the CPU only\n", cmd, metric);
        code = 2;
    } else if (m->gpu && cg_device_resolve(device, &eo.device, note, sizeof note) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, note);
        code = 2;
    } else if (s->eval_check && s->eval_check(settings, &eo, err, sizeof err) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        code = 2;
    }
    if (code == 0)
        code = measure(cmd, k, recognised, settings, &eo, note);
    free(settings);
    return code;
}
