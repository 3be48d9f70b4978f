/*
 * data.c: `cugen data --data NAME ...`: open a dataset the way training
 * does, print what it holds (count, shape, classes, pixel statistics) and
 * optionally write a grid of its first images, so a user can check the
 * data before spending hours on it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cugen/data.h"
#include "cugen/io.h"

static void print_stats(const cg_dataset *d)
{
    printf("%s: %lld images of %d x %d x %d (C x H x W)\n", d->name, (long long)d->count,
           d->channels, d->height, d->width);
    size_t img = (size_t)d->channels * d->height * d->width;
    double sum = 0, sum2 = 0;
    for (int64_t i = 0; i < d->count; i++) {
        const uint8_t *p = d->pixels + (size_t)i * img;
        uint64_t s = 0, s2 = 0;
        for (size_t k = 0; k < img; k++) {
            s += p[k];
            s2 += (uint64_t)p[k] * p[k];
        }
        sum += (double)s;
        sum2 += (double)s2;
    }
    double n = (double)d->count * (double)img;
    double mean = sum / n, var = sum2 / n - mean * mean;
    printf("pixels: mean %.3f, std %.3f (of 255)\n", mean, sqrt(var > 0 ? var : 0));
    if (!d->labels || d->num_classes <= 0) {
        printf("labels: none\n");
        return;
    }
    int64_t *hist = calloc((size_t)d->num_classes, sizeof *hist);
    if (!hist)
        return;
    for (int64_t i = 0; i < d->count; i++)
        if (d->labels[i] >= 0 && d->labels[i] < d->num_classes)
            hist[d->labels[i]]++;
    printf("labels: %d classes:", d->num_classes);
    for (int c = 0; c < d->num_classes; c++)
        printf(" %lld", (long long)hist[c]);
    printf("\n");
    free(hist);
}

static int write_grid(const cg_dataset *d, const char *path, int n)
{
    if (n > d->count)
        n = (int)d->count;
    size_t img = (size_t)d->channels * d->height * d->width;
    real *x = malloc(sizeof(real) * img * (size_t)n);
    if (!x) {
        fprintf(stderr, "cugen data: out of memory for the grid\n");
        return 1;
    }
    for (size_t k = 0; k < img * (size_t)n; k++)
        x[k] = (real)(d->pixels[k] / 127.5 - 1.0);
    char err[256];
    int nrow = (int)ceil(sqrt((double)n));
    cg_status st = cg_png_write_grid(path, x, n, d->channels, d->height, d->width, nrow, err,
                                     sizeof err);
    free(x);
    if (st != CG_OK) {
        fprintf(stderr, "cugen data: --grid: %s\n", err);
        return st == CG_ERR_ARG ? 2 : 1;
    }
    printf("grid: first %d images in %s\n", n, path);
    return 0;
}

int cli_data(int argc, char **argv)
{
    const char *cmd = "cugen data";
    cg_data_spec spec = {0};
    const char *grid = NULL;
    int64_t size = 0, count = 64;
    arg_opt opts[] = {
        {"data", ARG_CHOICE, &spec.name, "fashion-mnist|mnist|celeba|imagefolder",
         "the dataset (required)", 1, 0, 0},
        {"data-dir", ARG_STR, &spec.dir, "PATH",
         "its folder (celeba: the packed file of cugen prepare celeba)", 1, 0, 0},
        {"split", ARG_CHOICE, &spec.split, "train|test", "fashion-mnist / mnist split", 1, 0, 0},
        {"size", ARG_INT, &size, "N", "resize (and for image folders crop) to N x N", 1, 4096,
         0},
        {"grid", ARG_STR, &grid, "FILE.png", "write the first images as a PNG grid", 1, 0, 0},
        {"count", ARG_INT, &count, "N", "images in the grid (default 64)", 1, 1024, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int r = args_parse(cmd, opts, nopts, argc, argv, 1, NULL, 0, NULL);
    if (r == ARGS_HELP) {
        args_usage(cmd, "--data NAME [flags]", opts, nopts);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    if (!spec.name) {
        fprintf(stderr, "%s: --data NAME is required (%s)\n", cmd, CG_DATASET_NAMES);
        return 2;
    }
    spec.size = (int)size;
    cg_dataset d;
    char err[512];
    cg_status st = cg_dataset_open(&spec, &d, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return st == CG_ERR_ARG ? 2 : 1;
    }
    print_stats(&d);
    int rc = grid ? write_grid(&d, grid, (int)count) : 0;
    cg_dataset_free(&d);
    return rc;
}
