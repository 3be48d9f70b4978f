/*
 * eval.c: `cugen eval [CKPT] --metric M [flags]`: dispatch by metric to the
 * file that computes it. Likelihood metrics of a checkpoint (elbo, nll, bpd)
 * are in eval_likelihood.c; distances between two sets of images (mmd, fid)
 * in eval_samples.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

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

static void usage(FILE *f)
{
    fprintf(f, "usage: cugen eval CKPT --metric elbo|nll|bpd [flags]\n"
               "       cugen eval --metric mmd|fid --real SRC --fake SRC [flags]\n\n"
               "metrics:\n"
               "  elbo   VAE: the evidence lower bound on the test set, nats per image\n"
               "  nll    VAE: importance-weighted -log p(x) (--k samples), nats per image\n"
               "  bpd    image flows: bits per dimension on the test set\n"
               "  mmd    the lecture notes' MMD score between two sets of images\n"
               "  fid    FMNIST-FID: Frechet distance of a cugen classifier's features\n\n"
               "cugen eval --metric M --help lists the flags of a metric.\n");
}

int cli_eval(int argc, char **argv)
{
    const char *metric = metric_of(argc, argv);
    if (!metric) {
        int help = argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        if (help) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "cugen eval: give --metric elbo|nll|bpd|mmd|fid (see cugen eval "
                "--help)\n");
        return 2;
    }
    if (strcmp(metric, "elbo") == 0 || strcmp(metric, "nll") == 0 || strcmp(metric, "bpd") == 0)
        return cli_eval_likelihood(argc, argv);
    if (strcmp(metric, "mmd") == 0 || strcmp(metric, "fid") == 0)
        return cli_eval_samples(argc, argv);
    fprintf(stderr, "cugen eval: --metric expects one of elbo|nll|bpd|mmd|fid, got '%s'\n",
            metric);
    return 2;
}
