/*
 * celeba.c: CelebA preparation: the img_align_celeba JPEGs of one split,
 * squared to size x size, written in file-name order to one packed file
 * (cg_celeba_prepare, see data.h).
 *
 * The split comes from list_eval_partition.txt ("000001.jpg 0" per line; 0
 * train, 1 valid, 2 test), found in the image folder or its parent. Without
 * it every file of the folder is taken. Files that cannot be decoded are
 * skipped, counted and named in the report.
 *
 * Not for: reading the packed file back (packed.c), training loaders.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/img.h"

#define PARTITION "list_eval_partition.txt"

static const char *const split_names[] = {"train", "valid", "test"};

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int not_partition(const char *name) { return strcmp(name, PARTITION) != 0; }

/* The names of split `want` (0, 1, 2) from the partition file, sorted. */
static cg_status read_partition(const char *path, int want, char ***names, int64_t *n,
                                char *err, size_t errlen)
{
    *names = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return CG_ERR_IO;
    }
    char line[512];
    int64_t lineno = 0, cnt = 0, cap = 0;
    char **v = NULL;
    cg_status s = CG_OK;
    while (s == CG_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char name[256];
        int split, used = 0;
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            continue;
        if (sscanf(p, "%255s %d %n", name, &split, &used) != 2 || p[used] != '\0' ||
            split < 0 || split > 2 || strchr(name, '/')) {
            snprintf(err, errlen, "%s:%lld: expected 'NAME.jpg 0|1|2', got '%.60s'", path,
                     (long long)lineno, p);
            s = CG_ERR_IO;
            break;
        }
        if (split != want)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 1024;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) {
                s = CG_ERR_NOMEM;
                break;
            }
            v = nv;
        }
        if (!(v[cnt] = strdup(name)))
            s = CG_ERR_NOMEM;
        else
            cnt++;
    }
    fclose(f);
    if (s == CG_ERR_NOMEM)
        snprintf(err, errlen, "out of memory reading %s", path);
    if (s != CG_OK) {
        img_free_names(v, cnt);
        return s;
    }
    img_sort_names(v, cnt);
    *names = v;
    *n = cnt;
    return CG_OK;
}

/* the partition file in src or in its parent, into path; 0 when neither */
static int find_partition(const char *src, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", src, PARTITION);
    if (exists(path))
        return 1;
    char *full = realpath(src, NULL);
    if (full) {
        char *slash = strrchr(full, '/');
        if (slash)
            *slash = '\0';
        snprintf(path, n, "%s/%s", full, PARTITION);
        free(full);
        if (exists(path))
            return 1;
    }
    path[0] = '\0';
    return 0;
}

static cg_status emit_to_writer(void *arg, int64_t i, const uint8_t *img, const char *why,
                                char *err, size_t errlen)
{
    return img ? cg_packed_writer_add(arg, img, 0, err, errlen) : CG_OK;
}

cg_status cg_celeba_prepare(const cg_celeba_opts *o, cg_celeba_report *rep, char *err,
                            size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    struct stat st;
    if (!o->src || !o->out) {
        snprintf(err, errlen, "%s is required", o->src ? "an output file" : "a source folder");
        return CG_ERR_ARG;
    }
    if (o->size < 1 || o->size > 4096 || o->threads < 0) {
        snprintf(err, errlen, "size %d or threads %d out of range", o->size, o->threads);
        return CG_ERR_ARG;
    }
    if (stat(o->src, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: %s", o->src,
                 access(o->src, F_OK) == 0 ? "not a folder" : "no such folder");
        return CG_ERR_ARG;
    }
    int have = find_partition(o->src, rep->partition, sizeof rep->partition);
    const char *split = o->split ? o->split : have ? "train" : "all";
    int want = -1;
    for (int k = 0; k < 3; k++)
        if (strcmp(split, split_names[k]) == 0)
            want = k;
    if (want < 0 && strcmp(split, "all") != 0) {
        snprintf(err, errlen, "unknown split '%s' (train, valid, test or all)", split);
        return CG_ERR_ARG;
    }
    if (want >= 0 && !have) {
        snprintf(err, errlen, "split '%s' needs %s, not found in %s or its parent", split,
                 PARTITION, o->src);
        return CG_ERR_ARG;
    }
    if (want < 0)
        rep->partition[0] = '\0';  /* not used */
    snprintf(rep->split, sizeof rep->split, "%s", split);

    char **names;
    int64_t n;
    cg_status s = want >= 0 ? read_partition(rep->partition, want, &names, &n, err, errlen)
                            : img_list_dir(o->src, not_partition, &names, &n, err, errlen);
    if (s != CG_OK)
        return s;
    if (n == 0) {
        img_free_names(names, n);
        if (want >= 0)
            snprintf(err, errlen, "%s lists no files for split '%s'", rep->partition, split);
        else
            snprintf(err, errlen, "%s: no files in the folder", o->src);
        return CG_ERR_ARG;
    }
    cg_packed_writer *w;
    char name[64];
    snprintf(name, sizeof name, "celeba%d-%s", o->size, split);
    s = cg_packed_writer_open(&w, o->out, 3, o->size, o->size, 0, name, err, errlen);
    if (s != CG_OK) {
        img_free_names(names, n);
        return s;
    }
    img_job job = {o->src, names, n, o->size, o->threads, IMG_JPEG,
                   o->progress ? "prepare celeba" : NULL, emit_to_writer, w};
    s = img_run(&job, &rep->images, err, errlen);
    img_free_names(names, n);
    if (s == CG_OK && rep->images.ok == 0) {
        snprintf(err, errlen, "none of the %lld files could be read (%s)", (long long)n,
                 rep->images.failures);
        s = CG_ERR_IO;
    }
    if (s != CG_OK) {
        cg_packed_writer_abort(w);
        return s;
    }
    s = cg_packed_writer_close(w, err, errlen);
    if (s == CG_OK && stat(o->out, &st) == 0)
        rep->bytes = (int64_t)st.st_size;
    return s;
}
