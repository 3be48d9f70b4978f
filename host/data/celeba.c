/*
 * celeba.c: CelebA preparation: the img_align_celeba JPEGs of one split,
 * squared to size x size, written in file-name order to one packed file
 * (cg_celeba_prepare, see data.h).
 *
 * The split comes from list_eval_partition.txt ("000001.jpg 0" per line; 0
 * train, 1 valid, 2 test), found in the image folder or its parent. Without
 * it every file of the folder is taken. Files that cannot be decoded are
 * skipped, counted and named in the report. list_attr_celeba.txt, found the
 * same way, gives each image its attributes (cugen/data.h has the format).
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
#define ATTRS "list_attr_celeba.txt"

static const char *const split_names[] = {"train", "valid", "test"};

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* the images of the folder: not the lists that may lie beside them */
static int not_a_list(const char *name)
{
    return strcmp(name, PARTITION) != 0 && strcmp(name, ATTRS) != 0;
}

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

/* the file `name` in src or in its parent, into path; 0 when neither */
static int find_list(const char *src, const char *name, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", src, name);
    if (exists(path))
        return 1;
    char *full = realpath(src, NULL);
    if (full) {
        char *slash = strrchr(full, '/');
        if (slash)
            *slash = '\0';
        snprintf(path, n, "%s/%s", full, name);
        free(full);
        if (exists(path))
            return 1;
    }
    path[0] = '\0';
    return 0;
}

/* ---- list_attr_celeba.txt ---------------------------------------------------- */

typedef struct {
    char *name;
    uint64_t bits;   /* bit j: attribute j is 1 */
    int64_t line;
} attr_row;

typedef struct {
    int n;                          /* attributes */
    char names[CG_MAX_ATTRS][CG_ATTR_NAME + 1];
    attr_row *rows;                 /* sorted by name */
    int64_t nrows;
} attr_table;

static void attr_table_free(attr_table *a)
{
    for (int64_t i = 0; i < a->nrows; i++)
        free(a->rows[i].name);
    free(a->rows);
    a->rows = NULL;
    a->nrows = 0;
}

static int row_cmp(const void *x, const void *y)
{
    return strcmp(((const attr_row *)x)->name, ((const attr_row *)y)->name);
}

/* the next whitespace-separated token of *p (NUL-terminated in place), or NULL */
static char *token(char **p)
{
    char *s = *p;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return NULL;
    char *start = s;
    while (*s && !isspace((unsigned char)*s))
        s++;
    if (*s)
        *s++ = '\0';
    *p = s;
    return start;
}

static int blank(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* Line 2: the attribute names */
static cg_status attr_names(const char *path, char *line, attr_table *a, char *err,
                            size_t errlen)
{
    char *p = line, *t;
    while ((t = token(&p)) != NULL) {
        if (a->n == CG_MAX_ATTRS) {
            snprintf(err, errlen, "%s:2: more than %d attribute names", path, CG_MAX_ATTRS);
            return CG_ERR_IO;
        }
        const char *why = cg_attr_name_problem(t);
        if (why) {
            snprintf(err, errlen, "%s:2: attribute name '%.40s' %s", path, t, why);
            return CG_ERR_IO;
        }
        for (int j = 0; j < a->n; j++)
            if (strcmp(a->names[j], t) == 0) {
                snprintf(err, errlen, "%s:2: attribute '%s' is named twice", path, t);
                return CG_ERR_IO;
            }
        snprintf(a->names[a->n++], CG_ATTR_NAME + 1, "%s", t);
    }
    if (a->n == 0) {
        snprintf(err, errlen, "%s:2: expected the attribute names, got an empty line", path);
        return CG_ERR_IO;
    }
    return CG_OK;
}

/* One row: NAME and a->n values of 1 or -1 */
static cg_status attr_row_parse(const char *path, int64_t lineno, char *line, attr_table *a,
                                attr_row *row, char *err, size_t errlen)
{
    char shown[64];
    snprintf(shown, sizeof shown, "%.60s", line);
    shown[strcspn(shown, "\r\n")] = '\0';
    char *p = line, *name = token(&p), *t;
    int j = 0;
    uint64_t bits = 0;
    while (name && !strchr(name, '/') && j < a->n && (t = token(&p)) != NULL) {
        if (strcmp(t, "1") == 0)
            bits |= (uint64_t)1 << j;
        else if (strcmp(t, "-1") != 0)
            break;
        j++;
    }
    if (!name || strchr(name, '/') || j != a->n || token(&p) != NULL) {
        snprintf(err, errlen, "%s:%lld: expected a file name and %d values of 1 or -1, got "
                 "'%s'", path, (long long)lineno, a->n, shown);
        return CG_ERR_IO;
    }
    row->name = strdup(name);
    row->bits = bits;
    row->line = lineno;
    if (!row->name) {
        snprintf(err, errlen, "out of memory reading %s", path);
        return CG_ERR_NOMEM;
    }
    return CG_OK;
}

/* The whole file: line 1 the row count, line 2 the names, then the rows,
 * sorted by name, each name once */
static cg_status read_attrs(const char *path, attr_table *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return CG_ERR_IO;
    }
    char *line = NULL;
    size_t cap = 0;
    int64_t lineno = 0, want = -1, room = 0;
    cg_status s = CG_OK;
    while (s == CG_OK && getline(&line, &cap, f) >= 0) {
        lineno++;
        if (lineno == 1) {
            char *end;
            long long v = strtoll(line, &end, 10);
            if (end == line || v < 1 || v > ((int64_t)1 << 40) || !blank(end)) {
                line[strcspn(line, "\r\n")] = '\0';
                snprintf(err, errlen, "%s:1: expected the number of images, got '%.60s'", path,
                         line);
                s = CG_ERR_IO;
            }
            want = v;
            continue;
        }
        if (lineno == 2) {
            s = attr_names(path, line, a, err, errlen);
            continue;
        }
        if (blank(line))
            continue;
        if (a->nrows == want) {
            snprintf(err, errlen, "%s:%lld: more rows than the %lld that line 1 says", path,
                     (long long)lineno, (long long)want);
            s = CG_ERR_IO;
            break;
        }
        if (a->nrows == room) {
            room = room ? room * 2 : 1024;
            attr_row *r = realloc(a->rows, sizeof *r * (size_t)room);
            if (!r) {
                snprintf(err, errlen, "out of memory reading %s", path);
                s = CG_ERR_NOMEM;
                break;
            }
            a->rows = r;
        }
        s = attr_row_parse(path, lineno, line, a, &a->rows[a->nrows], err, errlen);
        a->nrows += s == CG_OK;
    }
    free(line);
    int bad = ferror(f);
    fclose(f);
    if (s == CG_OK && bad) {
        snprintf(err, errlen, "%s: read error", path);
        s = CG_ERR_IO;
    } else if (s == CG_OK && lineno < 2) {
        snprintf(err, errlen, "%s:%lld: the file ends before the attribute names (line 2)",
                 path, (long long)lineno + 1);
        s = CG_ERR_IO;
    } else if (s == CG_OK && a->nrows != want) {
        snprintf(err, errlen, "%s:1: says %lld images, the file has %lld rows", path,
                 (long long)want, (long long)a->nrows);
        s = CG_ERR_IO;
    }
    if (s == CG_OK) {
        qsort(a->rows, (size_t)a->nrows, sizeof *a->rows, row_cmp);
        for (int64_t i = 1; i < a->nrows && s == CG_OK; i++)
            if (strcmp(a->rows[i - 1].name, a->rows[i].name) == 0) {
                const attr_row *x = &a->rows[i - 1], *y = &a->rows[i];
                snprintf(err, errlen, "%s:%lld: a second row for %s (the other at line %lld)",
                         path, (long long)(x->line > y->line ? x->line : y->line), x->name,
                         (long long)(x->line > y->line ? y->line : x->line));
                s = CG_ERR_IO;
            }
    }
    if (s != CG_OK)
        attr_table_free(a);
    return s;
}

/* The attribute masks of names[0..n) into bits[], each by its row; has[i]
 * 0 for a file without one (an error only if it turns out to be an image) */
static void attr_bits(const attr_table *a, char *const *names, int64_t n, uint64_t *bits,
                      uint8_t *has)
{
    for (int64_t i = 0; i < n; i++) {
        attr_row key = {.name = names[i]};
        const attr_row *r = bsearch(&key, a->rows, (size_t)a->nrows, sizeof *a->rows, row_cmp);
        bits[i] = r ? r->bits : 0;
        has[i] = r != NULL;
    }
}

typedef struct {
    cg_packed_writer *w;
    const uint64_t *bits;  /* per listed file, or NULL */
    const uint8_t *has;    /* has[i]: the attribute file has a row for file i */
    char *const *names;
    const char *attr_file;
} emit_arg;

static cg_status emit_to_writer(void *arg, int64_t i, const uint8_t *img, const char *why,
                                char *err, size_t errlen)
{
    const emit_arg *e = arg;
    if (!img)
        return CG_OK;
    if (e->bits && !e->has[i]) {
        snprintf(err, errlen, "%s has no row for the image %s", e->attr_file, e->names[i]);
        return CG_ERR_IO;
    }
    return cg_packed_writer_add_attrs(e->w, img, 0, e->bits ? e->bits[i] : 0, err, errlen);
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
    int have = find_list(o->src, PARTITION, rep->partition, sizeof rep->partition);
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
                            : img_list_dir(o->src, not_a_list, &names, &n, err, errlen);
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
    /* the attributes of every listed file, before any decoding */
    attr_table at = {0};
    uint64_t *bits = NULL;
    uint8_t *has = NULL;
    if (find_list(o->src, ATTRS, rep->attr_file, sizeof rep->attr_file)) {
        s = read_attrs(rep->attr_file, &at, err, errlen);
        if (s == CG_OK && (!(bits = malloc(sizeof *bits * (size_t)n)) ||
                           !(has = malloc((size_t)n)))) {
            snprintf(err, errlen, "out of memory");
            s = CG_ERR_NOMEM;
        }
        if (s == CG_OK)
            attr_bits(&at, names, n, bits, has);
        rep->num_attrs = at.n;
    }
    cg_packed_writer *w = NULL;
    char name[64];
    snprintf(name, sizeof name, "celeba%d-%s", o->size, split);
    if (s == CG_OK)
        s = cg_packed_writer_open(&w, o->out, 3, o->size, o->size, 0, name, err, errlen);
    if (s == CG_OK && bits) {
        const char *an[CG_MAX_ATTRS];
        for (int j = 0; j < at.n; j++)
            an[j] = at.names[j];
        s = cg_packed_writer_attrs(w, at.n, an, err, errlen);  /* checked on line 2 */
    }
    attr_table_free(&at);
    if (s != CG_OK) {
        cg_packed_writer_abort(w);
        free(bits);
        free(has);
        img_free_names(names, n);
        return s;
    }
    emit_arg ea = {w, bits, has, names, rep->attr_file};
    img_job job = {o->src, names, n, o->size, o->threads, IMG_JPEG,
                   o->progress ? "prepare celeba" : NULL, emit_to_writer, &ea};
    s = img_run(&job, &rep->images, err, errlen);
    img_free_names(names, n);
    free(bits);
    free(has);
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
