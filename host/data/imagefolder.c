/*
 * imagefolder.c: a folder of JPEG and PNG images decoded into memory as one
 * uint8 dataset of 3 x size x size images, in file-name order
 * (cg_imagefolder_open / cg_imagefolder_load, see data.h); or, when the
 * folder holds no images but sub-folders, torchvision's ImageFolder layout:
 * one sub-folder per class, the classes in sorted name order labelled 0, 1,
 * ..., the images of each class in file-name order.
 *
 * Not for: folders below a class folder (not searched), data too big for
 * memory (prepare a packed file instead).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stdint.h>

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
    const int32_t *label_of;   /* per listed file, or NULL (unlabelled) */
    int32_t *labels;           /* per kept image */
} collect;

static cg_status emit_to_memory(void *arg, int64_t i, const uint8_t *img, const char *why,
                                char *err, size_t errlen)
{
    collect *c = arg;
    if (!img)
        return CG_OK;
    if (c->labels)
        c->labels[c->kept] = c->label_of[i];
    memcpy(c->pixels + (size_t)c->kept++ * c->img_bytes, img, c->img_bytes);
    return CG_OK;
}

/* ImageFolder's layout: "class/file" names of every class folder of dir and
 * the label of each; the class count. A class folder without images is an
 * error, as torchvision makes it one. */
static cg_status list_classes(const char *dir, char ***names, int32_t **label_of, int64_t *n,
                              int *nclasses, char *err, size_t errlen)
{
    char **classes;
    int64_t nc;
    *names = NULL, *label_of = NULL, *n = 0, *nclasses = 0;
    cg_status s = img_list_subdirs(dir, &classes, &nc, err, errlen);
    if (s != CG_OK)
        return s;
    if (nc == 0 || nc > INT32_MAX) {
        img_free_names(classes, nc);
        snprintf(err, errlen, "%s: no .jpg, .jpeg or .png files, and no class sub-folders of "
                 "them", dir);
        return CG_ERR_ARG;
    }
    char **all = NULL, path[4096];
    int32_t *lab = NULL;
    int64_t cnt = 0;
    for (int64_t k = 0; k < nc && s == CG_OK; k++) {
        char **files;
        int64_t nf;
        snprintf(path, sizeof path, "%s/%s", dir, classes[k]);
        if ((s = img_list_dir(path, is_image_name, &files, &nf, err, errlen)) != CG_OK)
            break;
        if (nf == 0) {
            snprintf(err, errlen, "%s: class folder \"%s\" has no .jpg, .jpeg or .png files",
                     dir, classes[k]);
            s = CG_ERR_ARG;
        }
        char **na = s == CG_OK ? realloc(all, sizeof *all * (size_t)(cnt + nf)) : NULL;
        int32_t *nl = na ? realloc(lab, sizeof *lab * (size_t)(cnt + nf)) : NULL;
        all = na ? na : all;
        lab = nl ? nl : lab;
        if (s == CG_OK && (!na || !nl)) {
            snprintf(err, errlen, "out of memory listing %s", dir);
            s = CG_ERR_NOMEM;
        }
        for (int64_t i = 0; s == CG_OK && i < nf; i++) {
            size_t len = strlen(classes[k]) + strlen(files[i]) + 2;
            if (!(all[cnt] = malloc(len))) {
                snprintf(err, errlen, "out of memory listing %s", dir);
                s = CG_ERR_NOMEM;
                break;
            }
            snprintf(all[cnt], len, "%s/%s", classes[k], files[i]);
            lab[cnt++] = (int32_t)k;
        }
        img_free_names(files, nf);
    }
    img_free_names(classes, nc);
    if (s != CG_OK) {
        img_free_names(all, cnt);
        free(lab);
        return s;
    }
    *names = all, *label_of = lab, *n = cnt, *nclasses = (int)nc;
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
    int nclasses = 0;
    int32_t *label_of = NULL;
    cg_status s = img_list_dir(dir, is_image_name, &names, &n, err, errlen);
    if (s != CG_OK)
        return s;
    if (n == 0) {  /* no images here: class sub-folders, or an error */
        img_free_names(names, n);
        if ((s = list_classes(dir, &names, &label_of, &n, &nclasses, err, errlen)) != CG_OK)
            return s;
    }
    collect c = {NULL, (size_t)3 * size * size, 0, label_of, NULL};
    size_t total;
    if (__builtin_mul_overflow((size_t)n, c.img_bytes, &total) || !(c.pixels = malloc(total)) ||
        (label_of && !(c.labels = malloc(sizeof(int32_t) * (size_t)n)))) {
        img_free_names(names, n);
        free(label_of);
        free(c.pixels);
        snprintf(err, errlen, "%s: out of memory for %lld images of 3 x %d x %d", dir,
                 (long long)n, size, size);
        return CG_ERR_NOMEM;
    }
    img_job job = {dir, names, n, size, threads, IMG_JPEG | IMG_PNG, NULL, emit_to_memory, &c};
    s = img_run(&job, rep, err, errlen);
    img_free_names(names, n);
    free(label_of);
    if (s == CG_OK && c.kept == 0) {
        snprintf(err, errlen, "%s: none of the %lld images could be read (%s)", dir,
                 (long long)n, rep->failures);
        s = CG_ERR_IO;
    }
    if (s != CG_OK) {
        free(c.pixels);
        free(c.labels);
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
    if (c.labels) {
        d->labels = d->owned_labels = c.labels;
        d->num_classes = nclasses;
    }
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
