/*
 * main.c: the cugen command: dispatch to a subcommand, then release the
 * GPU backend's state; and the version line, the one file built with the
 * commit it comes from (version.h, written by the Makefile).
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cugen/cuda.h"
#include "version.h"

const char *cli_version(void)
{
    return "cugen " CUGEN_VERSION " (git " CUGEN_GIT_HASH ", built " CUGEN_BUILD_DATE ")";
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cugen COMMAND [flags]\n\n"
            "commands:\n"
            "  train MODEL   train a model (cugen train --help lists them)\n"
            "  sample CKPT   a grid of images from a trained generator\n"
            "  eval          a checkpoint's likelihood (--metric elbo|nll|mse|bpd), MMD, FID or KID\n"
            "                between two sets of images (--metric mmd|fid|kid), or the\n"
            "                Inception Score of one (--metric is)\n"
            "  bench ops     time the DCGAN conv layers forward and backward (GFLOP/s), or\n"
            "                with --table every case of the op table (tests/op_cases.c)\n"
            "  bench step    one training step of a model (dcgan, ddpm, realnvp, vae), img/s,\n"
            "                beside PyTorch\n"
            "  bench data    loader and prepare throughput (img/s)\n"
            "  prepare DATA  decode a dataset into a packed file (prepare celeba)\n"
            "  data          open a dataset, print its statistics, draw a sample grid\n"
            "  info          the build, the BLAS, the GPUs\n"
            "  version       the version, commit and build date (also --version)\n\n"
            "models:\n");
    if (f == stdout)
        cli_train_list();
    fprintf(f, "\nEvery command takes --help.\n");
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0 || strcmp(c, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(c, "--version") == 0 || strcmp(c, "version") == 0) {
        if (argc > 2) {
            fprintf(stderr, "cugen %s: takes no arguments\n", c);
            return 2;
        }
        printf("%s\n", cli_version());
        return 0;
    }
    if (strcmp(c, "train") == 0)
        return cli_train(argc - 1, argv + 1);
    if (strcmp(c, "sample") == 0)
        return cli_sample(argc - 1, argv + 1);
    if (strcmp(c, "eval") == 0)
        return cli_eval(argc - 1, argv + 1);
    if (strcmp(c, "bench") == 0)
        return cli_bench(argc - 1, argv + 1);
    if (strcmp(c, "prepare") == 0)
        return cli_prepare(argc - 1, argv + 1);
    if (strcmp(c, "data") == 0)
        return cli_data(argc - 1, argv + 1);
    if (strcmp(c, "info") == 0)
        return cli_info(argc - 1, argv + 1);
    fprintf(stderr, "cugen: unknown command '%s' (see cugen --help)\n", c);
    return 2;
}

/* Every command returns here (none calls exit), so the GPU state the
 * backend made (stream, cuBLAS and cuDNN handles, plans, workspace, timer
 * events) is released on every path; nothing when the GPU was not used. */
int main(int argc, char **argv)
{
    int code = run(argc, argv);
    cg_cuda_shutdown();
    return code;
}
