/*
 * prepare.c: `cugen prepare celeba`: turn the img_align_celeba JPEGs into
 * one packed file of size x size images (the work is cg_celeba_prepare).
 *
 * Exit codes: 2 for usage errors (flags, a missing or empty source folder, a
 * split without its partition file, an output that cannot be created), 1
 * when the work fails (nothing readable, a write error).
 */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cugen/data.h"

static const char *cmd = "cugen prepare celeba";

static void usage(const arg_opt *opts, int nopts)
{
    printf("usage: cugen prepare DATASET [flags]\n\ndatasets:\n"
           "  celeba   the aligned CelebA faces (img_align_celeba/*.jpg)\n\n");
    args_usage(cmd, "--src DIR --out FILE [flags]", opts, nopts);
    printf("\nEach image is resized so its shorter side is --size, then centre-cropped to\n"
           "--size x --size (torchvision's Resize + CenterCrop). list_eval_partition.txt,\n"
           "in DIR or its parent, selects the split (default train when it is there).\n"
           "list_attr_celeba.txt, in DIR or its parent, gives every image its 40\n"
           "attributes (for cugen train dcgan --conditional --attrs NAME,...); without it\n"
           "the file has none.\n");
}

int cli_prepare(int argc, char **argv)
{
    cg_celeba_opts o = {0};
    int64_t size = 64, threads = 0;
    int quiet = 0;
    arg_opt opts[] = {
        {"src", ARG_STR, &o.src, "DIR", "the img_align_celeba folder", 1, 0, 0},
        {"out", ARG_STR, &o.out, "FILE", "the packed file to write", 1, 0, 0},
        {"size", ARG_INT, &size, "N", "side of the square images (default 64)", 1, 4096, 0},
        {"split", ARG_CHOICE, &o.split, "train|valid|test|all",
         "which images (default train with a partition file, else all)", 1, 0, 0},
        {"threads", ARG_INT, &threads, "N", "decoding threads (default: one per CPU)", 1, 256,
         0},
        {"quiet", ARG_FLAG, &quiet, NULL, "no progress line", 1, 0, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(opts, nopts);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "celeba") != 0) {
        fprintf(stderr, "cugen prepare: unknown dataset '%s' (see cugen prepare --help)\n",
                argv[1]);
        return 2;
    }
    int r = args_parse(cmd, opts, nopts, argc, argv, 2, NULL, 0, NULL);
    if (r == ARGS_HELP) {
        usage(opts, nopts);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    if (!o.src || !o.out) {
        fprintf(stderr, "%s: %s is required (see %s --help)\n", cmd,
                !o.src ? "--src DIR" : "--out FILE", cmd);
        return 2;
    }
    o.size = (int)size;
    o.threads = (int)threads;
    o.progress = !quiet;
    cg_celeba_report rep;
    char err[1024];
    cg_status s = cg_celeba_prepare(&o, &rep, err, sizeof err);
    if (s != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return s == CG_ERR_ARG ? 2 : 1;
    }
    const cg_image_report *im = &rep.images;
    if (im->failed > 0)
        fprintf(stderr, "%s: skipped %lld of %lld files that could not be read: %s%s\n", cmd,
                (long long)im->failed, (long long)im->files, im->failures,
                im->failed > 5 ? "; ..." : "");
    char attrs[1100] = ", no attributes (no list_attr_celeba.txt)";
    if (rep.attr_file[0])
        snprintf(attrs, sizeof attrs, ", %d attributes of %s", rep.num_attrs, rep.attr_file);
    printf("wrote %s: %lld images of 3 x %d x %d, split %s%s%s%s, %.1f MB in %.1f s "
           "(%.0f img/s)\n", o.out, (long long)im->ok, o.size, o.size, rep.split,
           rep.partition[0] ? " of " : "", rep.partition, attrs, rep.bytes / 1e6, im->seconds,
           im->seconds > 0 ? im->files / im->seconds : 0.0);
    return 0;
}
