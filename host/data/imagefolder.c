/*
 * imagefolder.c: a folder of JPEG and PNG images decoded into memory as one
 * uint8 dataset of 3 x size x size images, in file-name order
 * (cg_imagefolder_open / cg_imagefolder_load, see data.h).
 *
 * Not for: class sub-folders or labels (every image is unlabelled), data
 * too big for memory (prepare a packed file instead).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/img.h"

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
                   strcasecmp(dot, ".png") == 0);
}

typedef struct {
    uint8_t *pixels;
    size_t img_bytes;
    int64_t kept;
} collect;

static cg_status emit_to_memory(void *arg, int64_t i, const uint8_t *img, const char *why,
                                char *err, size_t errlen)
{
    collect *c = arg;
    if (img)
        memcpy(c->pixels + (size_t)c->kept++ * c->img_bytes, img, c->img_bytes);
    return CG_OK;
}

cg_status cg_imagefolder_load(const char *dir, int size, int threads, cg_dataset *d,
                              cg_image_report *rep, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    memset(rep, 0, sizeof *rep);
    if (size < 1 || size > 4096 || threads < 0) {
        snprintf(err, errlen, "imagefolder: size %d or threads %d out of range", size, threads);
        return CG_ERR_ARG;
    }
    char **names;
    int64_t n;
    cg_status s = img_list_dir(dir, is_image_name, &names, &n, err, errlen);
    if (s != CG_OK)
        return s;
    if (n == 0) {
        img_free_names(names, n);
        snprintf(err, errlen, "%s: no .jpg, .jpeg or .png files", dir);
        return CG_ERR_ARG;
    }
    collect c = {NULL, (size_t)3 * size * size, 0};
    size_t total;
    if (__builtin_mul_overflow((size_t)n, c.img_bytes, &total) || !(c.pixels = malloc(total))) {
        img_free_names(names, n);
        snprintf(err, errlen, "%s: out of memory for %lld images of 3 x %d x %d", dir,
                 (long long)n, size, size);
        return CG_ERR_NOMEM;
    }
    img_job job = {dir, names, n, size, threads, IMG_JPEG | IMG_PNG, NULL, emit_to_memory, &c};
    s = img_run(&job, rep, err, errlen);
    img_free_names(names, n);
    if (s == CG_OK && c.kept == 0) {
        snprintf(err, errlen, "%s: none of the %lld images could be read (%s)", dir,
                 (long long)n, rep->failures);
        s = CG_ERR_IO;
    }
    if (s != CG_OK) {
        free(c.pixels);
        return s;
    }
    if (c.kept < n) {  /* give back the room of the skipped files */
        uint8_t *p = realloc(c.pixels, (size_t)c.kept * c.img_bytes);
        if (p)
            c.pixels = p;
    }
    d->count = c.kept;
    d->channels = 3;
    d->height = d->width = size;
    d->pixels = d->owned_pixels = c.pixels;
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    snprintf(d->name, sizeof d->name, "%s", base);
    return CG_OK;
}

cg_status cg_imagefolder_open(const char *dir, int size, cg_dataset *d, char *err,
                              size_t errlen)
{
    cg_image_report rep;
    cg_status s = cg_imagefolder_load(dir, size, 0, d, &rep, err, errlen);
    if (s == CG_OK && rep.failed > 0)
        fprintf(stderr, "%s: skipped %lld of %lld images that could not be read: %s%s\n", dir,
                (long long)rep.failed, (long long)rep.files, rep.failures,
                rep.failed > 5 ? "; ..." : "");
    return s;
}
