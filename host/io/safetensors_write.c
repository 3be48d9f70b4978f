/*
 * safetensors_write.c: the safetensors writer (format in cugen/io.h).
 *
 * The header is built in memory; the data is not copied: the file is the
 * pieces [size][header][tensor 1][tensor 2]... handed to the atomic writer
 * (or joined into one buffer by cg_st_encode). Tensors are laid out by
 * element size, largest first (stable), as the reference writer does, so
 * every tensor starts at a multiple of its element size from the 8-aligned
 * data region. Every tensor gets a "crc32.<name>" metadata entry.
 *
 * Everything the reader would refuse is refused here first, so cugen never
 * writes a file it cannot read back.
 *
 * Not for: reading (safetensors.c), checkpoint layout (checkpoint.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/json.h"

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n + 1)
            nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_u64(sbuf *b, uint64_t v)
{
    char t[24];
    sb_put(b, t, (size_t)snprintf(t, sizeof t, "%llu", (unsigned long long)v));
}

/* s as a JSON string (UTF-8 passes through; quotes, backslashes and control
 * characters are escaped) */
static void sb_json(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\', e[1] = (char)c;
            sb_put(b, e, 2);
        } else if (c < 0x20) {
            sb_put(b, e, (size_t)snprintf(e, sizeof e, "\\u%04x", c));
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static int text_ok(const char *s)
{
    return s && *s && js_utf8_valid((const unsigned char *)s, strlen(s));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A name of `names` (n of them) that appears twice, or NULL (or "" on OOM). */
static const char *duplicate(const char **names, int n)
{
    if (n < 2)
        return NULL;
    const char **s = malloc(sizeof *s * (size_t)n);
    if (!s)
        return "";
    memcpy(s, names, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_str);
    const char *twice = NULL;
    for (int i = 1; i < n && !twice; i++)
        if (strcmp(s[i - 1], s[i]) == 0)
            twice = s[i];
    free(s);
    return twice;
}

static cg_status check_inputs(const cg_st_tensor *t, int count, const cg_st_meta *meta, int nmeta,
                              char *err, size_t errlen)
{
    if (count < 0 || nmeta < 0 || (count && !t) || (nmeta && !meta))
        return io_err(CG_ERR_ARG, err, errlen, "safetensors write: bad tensor or metadata list");
    const char **names = malloc(sizeof *names * (size_t)(count + nmeta + 1));
    if (!names)
        return io_err(CG_ERR_NOMEM, err, errlen, "safetensors write: out of memory");
    cg_status st = CG_OK;
    for (int i = 0; i < count && st == CG_OK; i++) {
        const cg_st_tensor *x = &t[i];
        names[i] = x->name;
        size_t es = cg_st_dtype_size(x->dtype);
        uint64_t n = 1;  /* dims first, then the element size: as the reader counts */
        int ok = x->ndim >= 0 && x->ndim <= CG_ST_MAX_DIMS;
        for (int d = 0; ok && d < x->ndim; d++)
            ok = x->shape[d] >= 0 && !__builtin_mul_overflow(n, (uint64_t)x->shape[d], &n);
        ok = ok && !__builtin_mul_overflow(n, (uint64_t)es, &n);
        if (!text_ok(x->name) || strcmp(x->name, "__metadata__") == 0)
            st = io_err(CG_ERR_ARG, err, errlen, "safetensors write: tensor %d has no name, a "
                        "name that is not UTF-8, or the name \"__metadata__\"", i);
        else if (!es)
            st = io_err(CG_ERR_ARG, err, errlen, "safetensors write: tensor '%s' has an "
                        "unknown dtype", x->name);
        else if (!ok)
            st = io_err(CG_ERR_ARG, err, errlen, "safetensors write: tensor '%s' has a bad "
                        "shape (0..%d dims, each >= 0)", x->name, CG_ST_MAX_DIMS);
        else if (x->nbytes != n || (n && !x->data))
            st = io_err(CG_ERR_ARG, err, errlen, "safetensors write: tensor '%s' has %zu bytes "
                        "of data, its shape and dtype need %llu", x->name, x->data ? x->nbytes
                        : 0, (unsigned long long)n);
    }
    for (int i = 0; i < nmeta && st == CG_OK; i++) {
        names[count + i] = meta[i].key;
        if (!meta[i].key || !js_utf8_valid((const unsigned char *)meta[i].key,
                                           strlen(meta[i].key)) || !meta[i].value ||
            !js_utf8_valid((const unsigned char *)meta[i].value, strlen(meta[i].value)))
            st = io_err(CG_ERR_ARG, err, errlen, "safetensors write: metadata %d has no key or "
                        "value, or one that is not UTF-8", i);
        else if (strncmp(meta[i].key, "crc32.", 6) == 0)
            st = io_err(CG_ERR_ARG, err, errlen, "safetensors write: metadata key \"%s\" is "
                        "reserved (the writer adds the crc32 entries)", meta[i].key);
    }
    const char *twice = st == CG_OK ? duplicate(names, count) : NULL;
    if (!twice && st == CG_OK)
        twice = duplicate(names + count, nmeta);
    if (twice)
        st = *twice ? io_err(CG_ERR_ARG, err, errlen, "safetensors write: \"%s\" appears twice",
                             twice)
                    : io_err(CG_ERR_NOMEM, err, errlen, "safetensors write: out of memory");
    free(names);
    return st;
}

typedef struct {
    unsigned char size[8];
    sbuf hdr;
    cg_io_piece *pieces;
    int npieces;
} st_image;

typedef struct {
    size_t esize;
    int i;
} by_size;

static int cmp_by_size(const void *a, const void *b)
{
    const by_size *x = a, *y = b;
    if (x->esize != y->esize)
        return x->esize > y->esize ? -1 : 1;
    return x->i - y->i;
}

static cg_status build(st_image *im, const cg_st_tensor *t, int count, const cg_st_meta *meta,
                       int nmeta, char *err, size_t errlen)
{
    memset(im, 0, sizeof *im);
    cg_status st = check_inputs(t, count, meta, nmeta, err, errlen);
    if (st != CG_OK)
        return st;
    by_size *order = malloc(sizeof *order * (size_t)(count > 0 ? count : 1));
    im->pieces = malloc(sizeof *im->pieces * (size_t)(count + 2));
    if (!order || !im->pieces) {
        free(order);
        return io_err(CG_ERR_NOMEM, err, errlen, "safetensors write: out of memory");
    }
    for (int i = 0; i < count; i++)
        order[i] = (by_size){cg_st_dtype_size(t[i].dtype), i};
    qsort(order, (size_t)count, sizeof *order, cmp_by_size);

    sbuf *h = &im->hdr;
    sb_str(h, "{");
    if (count || nmeta) {
        sb_str(h, "\"__metadata__\":{");
        for (int i = 0; i < nmeta; i++) {
            sb_str(h, i ? "," : "");
            sb_json(h, meta[i].key);
            sb_str(h, ":");
            sb_json(h, meta[i].value);
        }
        for (int k = 0; k < count; k++) {
            const cg_st_tensor *x = &t[order[k].i];
            char *key = malloc(strlen(x->name) + 7), crc[16];
            if (!key) {
                h->oom = 1;
                break;
            }
            snprintf(key, strlen(x->name) + 7, "crc32.%s", x->name);
            snprintf(crc, sizeof crc, "%08x", (unsigned)io_crc32(x->data, x->nbytes));
            sb_str(h, nmeta || k ? "," : "");
            sb_json(h, key);
            sb_str(h, ":");
            sb_json(h, crc);
            free(key);
        }
        sb_str(h, "}");
    }
    uint64_t at = 0;
    for (int k = 0; k < count; k++) {
        const cg_st_tensor *x = &t[order[k].i];
        sb_str(h, ",");
        sb_json(h, x->name);
        sb_str(h, ":{\"dtype\":\"");
        sb_str(h, cg_st_dtype_name(x->dtype));
        sb_str(h, "\",\"shape\":[");
        for (int d = 0; d < x->ndim; d++) {
            sb_str(h, d ? "," : "");
            sb_u64(h, (uint64_t)x->shape[d]);
        }
        sb_str(h, "],\"data_offsets\":[");
        sb_u64(h, at);
        sb_str(h, ",");
        sb_u64(h, at += x->nbytes);
        sb_str(h, "]}");
        im->pieces[2 + k] = (cg_io_piece){x->data, x->nbytes};
    }
    sb_str(h, "}");
    while (!h->oom && h->n % 8)
        sb_str(h, " ");
    free(order);
    if (h->oom)
        return io_err(CG_ERR_NOMEM, err, errlen, "safetensors write: out of memory");
    if (h->n > CG_ST_MAX_HEADER)
        return io_err(CG_ERR_ARG, err, errlen, "safetensors write: header of %zu bytes is over "
                      "the %u-byte limit readers accept", h->n, CG_ST_MAX_HEADER);
    for (int i = 0; i < 8; i++)
        im->size[i] = (unsigned char)((uint64_t)h->n >> (8 * i));
    im->pieces[0] = (cg_io_piece){im->size, 8};
    im->pieces[1] = (cg_io_piece){h->p, h->n};
    im->npieces = count + 2;
    return CG_OK;
}

static void image_free(st_image *im)
{
    free(im->hdr.p);
    free(im->pieces);
    memset(im, 0, sizeof *im);
}

cg_status st_save(const char *path, const char *prev, const cg_st_tensor *t, int count,
                  const cg_st_meta *meta, int nmeta, char *err, size_t errlen)
{
    if (!path || !*path)
        return io_err(CG_ERR_ARG, err, errlen, "safetensors write: no path");
    char msg[400];
    st_image im;
    cg_status st = build(&im, t, count, meta, nmeta, msg, sizeof msg);
    if (st == CG_OK)
        st = io_write_atomic(path, prev, im.pieces, im.npieces, err, errlen);
    else
        io_err(st, err, errlen, "%s: %s", path, msg);
    image_free(&im);
    return st;
}

cg_status cg_st_save(const char *path, const cg_st_tensor *t, int count, const cg_st_meta *meta,
                     int nmeta, char *err, size_t errlen)
{
    return st_save(path, NULL, t, count, meta, nmeta, err, errlen);
}

cg_status cg_st_encode(const cg_st_tensor *t, int count, const cg_st_meta *meta, int nmeta,
                       void **out, size_t *len, char *err, size_t errlen)
{
    if (!out || !len)
        return io_err(CG_ERR_ARG, err, errlen, "safetensors write: no output pointer");
    *out = NULL;
    *len = 0;
    st_image im;
    cg_status st = build(&im, t, count, meta, nmeta, err, errlen);
    size_t total = 0;
    for (int i = 0; st == CG_OK && i < im.npieces; i++)
        total += im.pieces[i].n;
    unsigned char *b = st == CG_OK ? malloc(total) : NULL;
    if (st == CG_OK && !b)
        st = io_err(CG_ERR_NOMEM, err, errlen, "safetensors write: out of memory for %zu bytes",
                    total);
    if (st == CG_OK) {
        size_t at = 0;
        for (int i = 0; i < im.npieces; i++) {
            if (im.pieces[i].n)
                memcpy(b + at, im.pieces[i].p, im.pieces[i].n);
            at += im.pieces[i].n;
        }
        *out = b;
        *len = total;
    }
    image_free(&im);
    return st;
}
