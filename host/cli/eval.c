/*
 * eval.c: `cugen eval [RUN] --metric M [flags]`: dispatch by metric. A
 * model's own metrics (a VAE's elbo and nll, an image flow's bpd: those its
 * sampler declares, cugen/sampler.h) are measured by eval_model.c; the
 * distances between two sets of images (mmd, fid, kid) and the Inception
 * Score of one (is), which any model that generates images takes part in,
 * by eval_samples.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/samplers.h"

#define MAX_KINDS 32

/* the value of --metric (as "--metric M" or "--metric=M"), or NULL */
static const char *metric_of(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--metric") == 0)
            return i + 1 < argc ? argv[i + 1] : "";
        if (strncmp(argv[i], "--metric=", 9) == 0)
            return argv[i] + 9;
    }
    return NULL;
}

static void usage(const char *models)
{
    printf("usage: cugen eval RUN --metric %s [flags]\n"
           "       cugen eval --metric mmd|fid|kid --real SRC --fake SRC [flags]\n"
           "       cugen eval --metric is --fake SRC --net PATH [flags]\n\nmetrics:\n",
           models);
    const cg_model_kind *k[MAX_KINDS];
    int n = cli_sampling_kinds(k, MAX_KINDS);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k[i]->sampler->nmetrics; j++)
            printf("  %-6s %s\n", k[i]->sampler->metrics[j].name,
                   k[i]->sampler->metrics[j].help);
    printf("  mmd    the lecture notes' MMD score between two sets of images\n"
           "  fid    FID: Frechet distance of a classifier's features (FMNIST net or Inception)\n"
           "  kid    KID: unbiased MMD^2 of those features, cubic kernel, over subsets\n"
           "  is     Inception Score of one set with the network's classifier\n\n"
           "cugen eval --metric M --help lists the flags of a metric.\n");
}

int cli_eval(int argc, char **argv)
{
    char models[256];
    cli_model_metrics(models, sizeof models);
    const char *metric = metric_of(argc, argv);
    if (!metric) {
        if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            usage(models);
            return 0;
        }
        fprintf(stderr, "cugen eval: give --metric %s|mmd|fid|kid|is (see cugen eval --help)\n",
                models);
        return 2;
    }
    int recognised;
    if (cli_metric_kind(metric, NULL, &recognised))
        return cli_eval_model(argc, argv, metric);
    if (strcmp(metric, "mmd") == 0 || strcmp(metric, "fid") == 0 || strcmp(metric, "kid") == 0 ||
        strcmp(metric, "is") == 0)
        return cli_eval_samples(argc, argv);
    fprintf(stderr, "cugen eval: --metric expects one of %s|mmd|fid|kid|is, got '%s'\n", models,
            metric);
    return 2;
}
