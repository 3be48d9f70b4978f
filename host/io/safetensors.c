/*
 * safetensors.c: the safetensors reader (format and checks in cugen/io.h),
 * dtype names, and the CRC-32 that the writer and the reader share.
 *
 * The header is walked into a list of tensors and metadata pairs
 * (safetensors_header.c); then everything is checked against the data region
 * before a tensor's bytes are looked at: duplicates, sizes, offsets (sorted,
 * they must tile the region), and finally the CRCs. A file image from
 * memory (cg_st_parse, the fuzzer's entry point) and from disk (cg_st_load)
 * go through the same code.
 *
 * Not for: writing (safetensors_write.c), what the tensors mean (checkpoint.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "io/io_internal.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[CG_ST_NDTYPES] = {
    [CG_ST_BOOL] = {"BOOL", 1}, [CG_ST_U8] = {"U8", 1},   [CG_ST_I8] = {"I8", 1},
    [CG_ST_F8_E5M2] = {"F8_E5M2", 1}, [CG_ST_F8_E4M3] = {"F8_E4M3", 1},
    [CG_ST_I16] = {"I16", 2},   [CG_ST_U16] = {"U16", 2}, [CG_ST_F16] = {"F16", 2},
    [CG_ST_BF16] = {"BF16", 2}, [CG_ST_I32] = {"I32", 4}, [CG_ST_U32] = {"U32", 4},
    [CG_ST_F32] = {"F32", 4},   [CG_ST_I64] = {"I64", 8}, [CG_ST_U64] = {"U64", 8},
    [CG_ST_F64] = {"F64", 8},
};

const char *cg_st_dtype_name(cg_st_dtype d)
{
    return (unsigned)d < CG_ST_NDTYPES ? dtypes[d].name : NULL;
}

size_t cg_st_dtype_size(cg_st_dtype d)
{
    return (unsigned)d < CG_ST_NDTYPES ? dtypes[d].size : 0;
}

int64_t cg_st_numel(const cg_st_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= t->shape[d];
    return n;
}

uint32_t io_crc32(const void *p, size_t n)
{
    const unsigned char *b = p;
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt k = n < (1u << 30) ? (uInt)n : 1u << 30;
        crc = crc32(crc, b, k);
        b += k;
        n -= k;
    }
    return (uint32_t)crc;
}

/* ---- checks ------------------------------------------------------------------ */
typedef struct {
    const char *key;
    int i;
} name_ix;

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const name_ix *)a)->key, ((const name_ix *)b)->key);
}

typedef struct {
    uint64_t b, e;
    int i;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->b != y->b)
        return x->b < y->b ? -1 : 1;
    if (x->e != y->e)
        return x->e < y->e ? -1 : 1;
    return x->i - y->i;
}

/* The tensor names (of_meta 0) or metadata keys (1), sorted; *twice is a
 * duplicate or NULL. */
static name_ix *sorted_names(const cg_st_file *f, int of_meta, const char **twice)
{
    int n = of_meta ? f->nmeta : f->count;
    name_ix *ix = malloc(sizeof *ix * (size_t)(n > 0 ? n : 1));
    if (!ix)
        return NULL;
    for (int i = 0; i < n; i++)
        ix[i] = (name_ix){of_meta ? f->meta[i].key : f->t[i].name, i};
    qsort(ix, (size_t)n, sizeof *ix, cmp_name);
    *twice = NULL;
    for (int i = 1; i < n && !*twice; i++)
        if (strcmp(ix[i - 1].key, ix[i].key) == 0)
            *twice = ix[i].key;
    return ix;
}

/* Sizes and offsets of every tensor, against a data region of dlen bytes. */
static cg_status check_sizes(cg_st_file *f, uint64_t (*off)[2], uint64_t dlen, char *err,
                             size_t errlen)
{
    for (int i = 0; i < f->count; i++) {
        cg_st_tensor *t = &f->t[i];
        uint64_t n = 1, b = off[i][0], e = off[i][1];
        for (int d = 0; d < t->ndim; d++)
            if (__builtin_mul_overflow(n, (uint64_t)t->shape[d], &n))
                return io_err(CG_ERR_IO, err, errlen, "tensor '%s': shape product overflows",
                              t->name);
        if (__builtin_mul_overflow(n, (uint64_t)dtypes[t->dtype].size, &n))
            return io_err(CG_ERR_IO, err, errlen, "tensor '%s': byte size overflows", t->name);
        if (e < b)
            return io_err(CG_ERR_IO, err, errlen, "tensor '%s': data_offsets [%llu, %llu] "
                          "end before they begin", t->name, (unsigned long long)b,
                          (unsigned long long)e);
        if (e > dlen)
            return io_err(CG_ERR_IO, err, errlen, "tensor '%s': data_offsets [%llu, %llu] run "
                          "past the end of the data (%llu bytes): truncated or corrupted file",
                          t->name, (unsigned long long)b, (unsigned long long)e,
                          (unsigned long long)dlen);
        if (e - b != n)
            return io_err(CG_ERR_IO, err, errlen, "tensor '%s': shape and dtype %s need %llu "
                          "bytes, data_offsets [%llu, %llu] hold %llu", t->name,
                          dtypes[t->dtype].name, (unsigned long long)n, (unsigned long long)b,
                          (unsigned long long)e, (unsigned long long)(e - b));
        t->nbytes = (size_t)n;
    }
    return CG_OK;
}

/* Reorder f->t by offset and check that the tensors tile [0, dlen). */
static cg_status check_tiling(cg_st_file *f, uint64_t (*off)[2], const unsigned char *data,
                              uint64_t dlen, char *err, size_t errlen)
{
    int n = f->count;
    span *sp = malloc(sizeof *sp * (size_t)(n > 0 ? n : 1));
    cg_st_tensor *t = malloc(sizeof *t * (size_t)(n > 0 ? n : 1));
    if (!sp || !t) {
        free(sp);
        free(t);
        return io_err(CG_ERR_NOMEM, err, errlen, "out of memory for %d tensors", n);
    }
    for (int i = 0; i < n; i++)
        sp[i] = (span){off[i][0], off[i][1], i};
    qsort(sp, (size_t)n, sizeof *sp, cmp_span);
    cg_status st = CG_OK;
    uint64_t at = 0;
    for (int k = 0; k < n && st == CG_OK; k++) {
        const char *name = f->t[sp[k].i].name, *before = k ? f->t[sp[k - 1].i].name : NULL;
        if (sp[k].b < at)
            st = io_err(CG_ERR_IO, err, errlen, "tensors '%s' and '%s' overlap in the data "
                        "(bytes [%llu, %llu) and [%llu, %llu))", before, name,
                        (unsigned long long)sp[k - 1].b, (unsigned long long)sp[k - 1].e,
                        (unsigned long long)sp[k].b, (unsigned long long)sp[k].e);
        else if (sp[k].b > at)
            st = io_err(CG_ERR_IO, err, errlen, "gap of %llu bytes in the data before tensor "
                        "'%s' (bytes [%llu, %llu) belong to no tensor)",
                        (unsigned long long)(sp[k].b - at), name, (unsigned long long)at,
                        (unsigned long long)sp[k].b);
        at = sp[k].e;
    }
    if (st == CG_OK && at != dlen)
        st = io_err(CG_ERR_IO, err, errlen, "%llu bytes after the last tensor's data (the "
                    "tensors cover %llu of %llu bytes)", (unsigned long long)(dlen - at),
                    (unsigned long long)at, (unsigned long long)dlen);
    if (st == CG_OK) {
        for (int k = 0; k < n; k++) {
            t[k] = f->t[sp[k].i];
            t[k].data = data + sp[k].b;
        }
        if (n)
            memcpy(f->t, t, sizeof *t * (size_t)n);
    }
    free(sp);
    free(t);
    return st;
}

static int hex8(const char *s, uint32_t *v)
{
    uint32_t x = 0;
    for (int i = 0; i < 8; i++) {
        char h = s[i];
        if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f')))
            return 0;
        x = x << 4 | (uint32_t)(h <= '9' ? h - '0' : h - 'a' + 10);
    }
    *v = x;
    return s[8] == '\0';
}

static cg_status check_crcs(const cg_st_file *f, char *err, size_t errlen)
{
    for (int i = 0; i < f->nmeta; i++) {
        const char *key = f->meta[i].key;
        if (strncmp(key, "crc32.", 6) != 0)
            continue;
        const cg_st_tensor *t = cg_st_find(f, key + 6);
        uint32_t want;
        if (!t)
            return io_err(CG_ERR_IO, err, errlen, "metadata \"%.80s\" is for a tensor the file "
                          "does not have", key);
        if (!hex8(f->meta[i].value, &want))
            return io_err(CG_ERR_IO, err, errlen, "metadata \"%.80s\" is \"%.20s\", not 8 "
                          "lowercase hex digits", key, f->meta[i].value);
        uint32_t got = io_crc32(t->data, t->nbytes);
        if (got != want)
            return io_err(CG_ERR_IO, err, errlen, "tensor '%s': CRC-32 mismatch (data %08x, "
                          "header %08x): the file is corrupted", t->name, (unsigned)got,
                          (unsigned)want);
    }
    return CG_OK;
}

/* ---- entry points -------------------------------------------------------------- */
static uint64_t le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

static cg_status parse_checked(cg_st_file *f, uint64_t (**off)[2], const unsigned char *b,
                               size_t len, char *err, size_t errlen)
{
    if (len < 8)
        return io_err(CG_ERR_IO, err, errlen, "file is %zu bytes, too short for the 8-byte "
                      "header size: not a safetensors file, or truncated", len);
    uint64_t n = le64(b);
    if (n == 0)
        return io_err(CG_ERR_IO, err, errlen, "header size is 0: not a safetensors file");
    if (n > CG_ST_MAX_HEADER)
        return io_err(CG_ERR_IO, err, errlen, "header size %llu is larger than the limit of %u "
                      "bytes: not a safetensors file, or corrupted", (unsigned long long)n,
                      CG_ST_MAX_HEADER);
    if (n > len - 8)
        return io_err(CG_ERR_IO, err, errlen, "header size %llu runs past the end of the file "
                      "(%zu bytes): truncated, or not a safetensors file",
                      (unsigned long long)n, len);
    if (b[8] != '{')
        return io_err(CG_ERR_IO, err, errlen, "header does not start with '{': not a "
                      "safetensors file");
    cg_status st = st_parse_header(f, b + 8, (size_t)n, off, err, errlen);
    if (st != CG_OK)
        return st;
    /* duplicates first: a repeated name would otherwise show up as an overlap */
    for (int of_meta = 1; of_meta >= 0; of_meta--) {
        const char *twice;
        name_ix *ix = sorted_names(f, of_meta, &twice);
        if (!ix)
            return io_err(CG_ERR_NOMEM, err, errlen, "out of memory");
        if (twice)
            st = io_err(CG_ERR_IO, err, errlen, "%s \"%.80s\" appears twice",
                        of_meta ? "metadata key" : "tensor name", twice);
        free(ix);
        if (twice)
            return st;
    }
    uint64_t dlen = len - 8 - n;
    st = check_sizes(f, *off, dlen, err, errlen);
    if (st == CG_OK)
        st = check_tiling(f, *off, b + 8 + n, dlen, err, errlen);
    if (st != CG_OK)
        return st;
    /* the lookup index, over the tensors in their final (data) order */
    const char *twice;
    name_ix *ix = sorted_names(f, 0, &twice);
    f->by_name = malloc(sizeof *f->by_name * (size_t)(f->count > 0 ? f->count : 1));
    if (!ix || !f->by_name) {
        free(ix);
        return io_err(CG_ERR_NOMEM, err, errlen, "out of memory");
    }
    for (int i = 0; i < f->count; i++)
        f->by_name[i] = ix[i].i;
    free(ix);
    return check_crcs(f, err, errlen);
}

cg_status cg_st_parse(cg_st_file *f, const void *buf, size_t len, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!f)
        return io_err(CG_ERR_ARG, err, errlen, "safetensors: no file struct");
    memset(f, 0, sizeof *f);
    if (!buf && len)
        return io_err(CG_ERR_ARG, err, errlen, "safetensors: no buffer");
    uint64_t(*off)[2] = NULL;
    cg_status st = parse_checked(f, &off, buf ? buf : "", buf ? len : 0, err, errlen);
    free(off);
    if (st != CG_OK)
        cg_st_free(f);
    return st;
}

const cg_st_tensor *cg_st_find(const cg_st_file *f, const char *name)
{
    if (!f || !f->by_name || !name)
        return NULL;
    int lo = 0, hi = f->count;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(f->t[f->by_name[mid]].name, name);
        if (c == 0)
            return &f->t[f->by_name[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *cg_st_meta_get(const cg_st_file *f, const char *key)
{
    for (int i = 0; f && key && i < f->nmeta; i++)
        if (strcmp(f->meta[i].key, key) == 0)
            return f->meta[i].value;
    return NULL;
}

void cg_st_free(cg_st_file *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->count; i++)
        free((char *)f->t[i].name);
    for (int i = 0; i < f->nmeta; i++) {
        free((char *)f->meta[i].key);
        free((char *)f->meta[i].value);
    }
    free(f->t);
    free(f->meta);
    free(f->by_name);
    free(f->image);
    memset(f, 0, sizeof *f);
}

cg_status cg_st_load(cg_st_file *f, const char *path, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!f || !path)
        return io_err(CG_ERR_ARG, err, errlen, "safetensors: no file struct or no path");
    memset(f, 0, sizeof *f);
    unsigned char *buf;
    size_t len;
    cg_status st = cg_read_whole(path, SIZE_MAX, &buf, &len, err, errlen);
    if (st != CG_OK)
        return st;
    char msg[512];
    st = cg_st_parse(f, buf, len, msg, sizeof msg);
    if (st != CG_OK) {
        free(buf);
        return io_err(st, err, errlen, "%s: %s", path, msg);
    }
    f->image = buf;
    f->len = len;
    return CG_OK;
}

cg_status cg_st_load_run(cg_st_file *f, const char *path, const char *name, char *file,
                         size_t flen, char *err, size_t errlen)
{
    cg_run_file(path, name, file, flen);
    return cg_st_load(f, file, err, errlen);
}
