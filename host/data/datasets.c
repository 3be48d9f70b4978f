/*
 * datasets.c: datasets by name (what --data NAME --data-dir DIR means): find
 * the files, load them, resize once if asked.
 *
 * Not for: parsing file formats (idx.c and the packed / image-folder readers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/data.h"

#define MAX_SIZE 4096

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* First existing DIR/PREFIX-WHAT-IDX-ubyte[.gz], or the PREFIX-WHAT.IDX-ubyte
 * spelling some mirrors use; e.g. "train", "images", "idx3". */
static int find_idx(const char *dir, const char *prefix, const char *what, const char *idx,
                    char *path, size_t len)
{
    static const char *const forms[] = {"%s/%s-%s-%s-ubyte.gz", "%s/%s-%s-%s-ubyte",
                                        "%s/%s-%s.%s-ubyte.gz", "%s/%s-%s.%s-ubyte"};
    for (int i = 0; i < 4; i++) {
        int n = snprintf(path, len, forms[i], dir, prefix, what, idx);
        if (n > 0 && (size_t)n < len && is_file(path))
            return 1;
    }
    snprintf(path, len, "%s/%s-%s-%s-ubyte[.gz]", dir, prefix, what, idx);
    return 0;
}

static cg_status open_idx_set(const cg_data_spec *spec, const char *dir, int is_test,
                              cg_dataset *out, char *err, size_t errlen)
{
    const char *prefix = is_test ? "t10k" : "train";
    char ipath[4096], lpath[4096];
    int have_i = find_idx(dir, prefix, "images", "idx3", ipath, sizeof ipath);
    int have_l = have_i && find_idx(dir, prefix, "labels", "idx1", lpath, sizeof lpath);
    if (!have_i || !have_l) {
        const char *missing = have_i ? lpath : ipath;
        if (strcmp(spec->name, "fashion-mnist") == 0 && !spec->dir)
            snprintf(err, errlen, "fashion-mnist: %s not found; install Debian's "
                     "dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) "
                     "or pass --data-dir DIR with the IDX files", missing);
        else
            snprintf(err, errlen, "%s: %s not found (--data-dir %s should hold "
                     "{train,t10k}-{images-idx3,labels-idx1}-ubyte, gzipped or not)", spec->name,
                     missing, dir);
        return CG_ERR_IO;
    }
    char name[64];
    snprintf(name, sizeof name, "%s/%s", spec->name, is_test ? "test" : "train");
    return cg_idx_load(ipath, lpath, 10, name, out, err, errlen);
}

cg_status cg_dataset_open(const cg_data_spec *spec, cg_dataset *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!spec->name) {
        snprintf(err, errlen, "no dataset name given");
        return CG_ERR_ARG;
    }
    const char *split = spec->split ? spec->split : "train";
    int is_test = strcmp(split, "test") == 0;
    int is_idx = strcmp(spec->name, "fashion-mnist") == 0 || strcmp(spec->name, "mnist") == 0;
    if (is_idx && !is_test && strcmp(split, "train") != 0) {
        snprintf(err, errlen, "%s: split must be train or test, got '%s'", spec->name, split);
        return CG_ERR_ARG;
    }
    if (!is_idx && spec->split) {
        snprintf(err, errlen, "%s: --split does not apply: the images are chosen when the "
                 "folder or packed file is made (cugen prepare celeba --split ...)", spec->name);
        return CG_ERR_ARG;
    }
    if (spec->size < 0 || spec->size > MAX_SIZE) {
        snprintf(err, errlen, "%s: size must be 0 (native) or 1..%d, got %d", spec->name,
                 MAX_SIZE, spec->size);
        return CG_ERR_ARG;
    }

    cg_status st;
    if (strcmp(spec->name, "fashion-mnist") == 0) {
        st = open_idx_set(spec, spec->dir ? spec->dir : CG_FASHION_MNIST_DIR, is_test, out, err,
                          errlen);
    } else if (strcmp(spec->name, "mnist") == 0) {
        if (!spec->dir) {
            snprintf(err, errlen, "mnist: needs --data-dir DIR holding train-images-idx3-ubyte, "
                     "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte "
                     "(gzipped or not)");
            return CG_ERR_ARG;
        }
        st = open_idx_set(spec, spec->dir, is_test, out, err, errlen);
    }
    else if (strcmp(spec->name, "celeba") == 0) {
        /* the packed file of `cugen prepare celeba`, memory-mapped */
        struct stat sb;
        if (!spec->dir) {
            snprintf(err, errlen, "celeba: needs --data-dir FILE, the packed file written by "
                     "cugen prepare celeba --src DIR/img_align_celeba --out FILE");
            return CG_ERR_ARG;
        }
        if (stat(spec->dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "celeba: %s is a folder; train from the packed file that "
                     "cugen prepare celeba --src %s --out FILE writes", spec->dir, spec->dir);
            return CG_ERR_ARG;
        }
        st = cg_packed_open(spec->dir, out, err, errlen);
    } else if (strcmp(spec->name, "imagefolder") == 0) {
        if (!spec->dir || spec->size <= 0) {
            snprintf(err, errlen, "imagefolder: needs --data-dir DIR and --size N (images are "
                     "resized and center-cropped to N x N)");
            return CG_ERR_ARG;
        }
        st = cg_imagefolder_open(spec->dir, spec->size, out, err, errlen);
    } else {
        snprintf(err, errlen, "unknown dataset '%s' (known: %s)", spec->name, CG_DATASET_NAMES);
        return CG_ERR_ARG;
    }
    if (st != CG_OK)
        return st;
    if (spec->size > 0 && (spec->size != out->height || spec->size != out->width)) {
        st = cg_dataset_resize(out, spec->size, spec->size, err, errlen);
        if (st != CG_OK) {
            cg_dataset_free(out);
            memset(out, 0, sizeof *out);
        }
    }
    return st;
}

cg_status cg_dataset_resize(cg_dataset *d, int height, int width, char *err, size_t errlen)
{
    if (height <= 0 || width <= 0 || height > MAX_SIZE || width > MAX_SIZE) {
        snprintf(err, errlen, "%s: cannot resize to %dx%d", d->name, height, width);
        return CG_ERR_ARG;
    }
    if (height == d->height && width == d->width)
        return CG_OK;
    size_t in = (size_t)d->channels * d->height * d->width;
    size_t img = (size_t)d->channels * height * width, total;
    if (__builtin_mul_overflow(img, (size_t)d->count, &total)) {
        snprintf(err, errlen, "%s: %lld images of %dx%d do not fit in memory", d->name,
                 (long long)d->count, height, width);
        return CG_ERR_NOMEM;
    }
    uint8_t *px = malloc(total ? total : 1);
    if (!px) {
        snprintf(err, errlen, "%s: out of memory for %zu bytes of %dx%d images", d->name,
                 total, height, width);
        return CG_ERR_NOMEM;
    }
    for (int64_t i = 0; i < d->count; i++)
        cg_resize_u8(d->pixels + (size_t)i * in, d->channels, d->height, d->width,
                     px + (size_t)i * img, height, width);
    /* a mapped file stays mapped: its labels may live there */
    free(d->owned_pixels);
    d->owned_pixels = px;
    d->pixels = px;
    d->height = height;
    d->width = width;
    return CG_OK;
}
