/*
 * safetensors_header.c: the JSON header of a safetensors file, walked with
 * the pull parser of json.c into names, dtypes, shapes, offsets and metadata.
 *
 * The walk enforces the shape of the document: a top-level object whose
 * members are "__metadata__" (at most once; an object of strings) or tensors
 * (an object with exactly "dtype", "shape" and "data_offsets", each once).
 * Anything else is an error with its position.
 *
 * Not for: checks across tensors (sizes, offsets, duplicates, CRCs:
 * safetensors.c).
 */
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/json.h"

typedef struct {
    cg_st_file *f;
    int tcap, mcap;
    uint64_t (*off)[2];       /* data_offsets per tensor, parallel to f->t */
    js_cursor c;
} st_parser;

static int parse_dims(st_parser *s, cg_st_tensor *t)
{
    js_cursor *c = &s->c;
    if (!js_arr_begin(c))
        return 0;
    int r;
    while ((r = js_arr_next(c)) == 1) {
        if (t->ndim == CG_ST_MAX_DIMS)
            return js_fail(c, "tensor '%s' has more than %d dims", t->name, CG_ST_MAX_DIMS);
        uint64_t v;
        if (!js_uint(c, &v))
            return 0;
        if (v > INT64_MAX)
            return js_fail(c, "tensor '%s' has a dim larger than 2^63 - 1", t->name);
        t->shape[t->ndim++] = (int64_t)v;
    }
    return r == 0;
}

static int parse_offsets(st_parser *s, const char *name, uint64_t off[2])
{
    js_cursor *c = &s->c;
    if (!js_arr_begin(c))
        return 0;
    int k = 0, r;
    while ((r = js_arr_next(c)) == 1) {
        if (k == 2)
            return js_fail(c, "tensor '%s': data_offsets has more than 2 numbers", name);
        if (!js_uint(c, &off[k++]))
            return 0;
    }
    if (r == 0 && k != 2)
        return js_fail(c, "tensor '%s': data_offsets has %d numbers, not 2", name, k);
    return r == 0;
}

static int parse_dtype(st_parser *s, cg_st_tensor *t)
{
    char *name;
    if (!js_string(&s->c, &name, NULL))
        return 0;
    int found = -1;
    for (int d = 0; d < CG_ST_NDTYPES; d++)
        if (strcmp(name, cg_st_dtype_name((cg_st_dtype)d)) == 0)
            found = d;
    if (found < 0)
        js_fail(&s->c, "tensor '%s': unknown dtype \"%.40s\"", t->name, name);
    free(name);
    t->dtype = (cg_st_dtype)found;
    return found >= 0;
}

/* {"dtype": ..., "shape": [...], "data_offsets": [b, e]}, each exactly once */
static int parse_tensor(st_parser *s, cg_st_tensor *t, uint64_t off[2])
{
    js_cursor *c = &s->c;
    if (!js_obj_begin(c))
        return 0;
    const char *fields[3] = {"dtype", "shape", "data_offsets"};
    int have[3] = {0, 0, 0}, r;
    char *key;
    while ((r = js_obj_next(c, &key, NULL)) == 1) {
        int i = 0;
        while (i < 3 && strcmp(key, fields[i]) != 0)
            i++;
        int ok = 0;
        if (i == 3)
            js_fail(c, "tensor '%s': unknown field \"%.40s\"", t->name, key);
        else if (have[i])
            js_fail(c, "tensor '%s': field \"%s\" appears twice", t->name, key);
        else if (i == 0)
            ok = parse_dtype(s, t);
        else if (i == 1)
            ok = parse_dims(s, t);
        else
            ok = parse_offsets(s, t->name, off);
        free(key);
        if (!ok)
            return 0;
        have[i] = 1;
    }
    for (int i = 0; r == 0 && i < 3; i++)
        if (!have[i])
            return js_fail(c, "tensor '%s' has no \"%s\"", t->name, fields[i]);
    return r == 0;
}

static int parse_meta(st_parser *s)
{
    js_cursor *c = &s->c;
    cg_st_file *f = s->f;
    if (!js_obj_begin(c))
        return 0;
    int r;
    char *key;
    while ((r = js_obj_next(c, &key, NULL)) == 1) {
        if (f->nmeta == s->mcap) {
            int nc = s->mcap ? 2 * s->mcap : 16;
            void *m = realloc(f->meta, sizeof *f->meta * (size_t)nc);
            if (!m) {
                free(key);
                c->nomem = 1;
                return js_fail(c, "out of memory for metadata");
            }
            f->meta = m;
            s->mcap = nc;
        }
        char *value;
        if (!js_string(c, &value, NULL)) {  /* values must be strings */
            free(key);
            return 0;
        }
        f->meta[f->nmeta].key = key;
        f->meta[f->nmeta++].value = value;
    }
    return r == 0;
}

static int parse_header(st_parser *s)
{
    js_cursor *c = &s->c;
    cg_st_file *f = s->f;
    int seen_meta = 0, r;
    if (!js_obj_begin(c))
        return 0;
    char *key;
    while ((r = js_obj_next(c, &key, NULL)) == 1) {
        if (strcmp(key, "__metadata__") == 0) {
            free(key);
            if (seen_meta)
                return js_fail(c, "\"__metadata__\" appears twice");
            seen_meta = 1;
            if (!parse_meta(s))
                return 0;
            continue;
        }
        if (f->count == s->tcap) {
            int nc = s->tcap ? 2 * s->tcap : 16;
            void *t = realloc(f->t, sizeof *f->t * (size_t)nc);
            void *o = t ? realloc(s->off, sizeof *s->off * (size_t)nc) : NULL;
            if (t)
                f->t = t;
            if (!o) {
                free(key);
                c->nomem = 1;
                return js_fail(c, "out of memory for %d tensors", nc);
            }
            s->off = o;
            s->tcap = nc;
        }
        cg_st_tensor *t = &f->t[f->count];
        memset(t, 0, sizeof *t);
        t->name = key;
        f->count++;
        if (!*key)
            return js_fail(c, "a tensor has an empty name");
        if (!parse_tensor(s, t, s->off[f->count - 1]))
            return 0;
    }
    return r == 0 && js_end(c);
}

cg_status st_parse_header(cg_st_file *f, const unsigned char *hdr, size_t n,
                          uint64_t (**off)[2], char *err, size_t errlen)
{
    st_parser s = {.f = f};
    js_init(&s.c, hdr, n);
    int ok = parse_header(&s);
    *off = s.off;
    if (ok)
        return CG_OK;
    return io_err(s.c.nomem ? CG_ERR_NOMEM : CG_ERR_IO, err, errlen, "invalid header: %s",
                  s.c.err);
}
