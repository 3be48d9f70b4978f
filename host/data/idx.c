/*
 * idx.c: IDX files (MNIST, Fashion-MNIST), raw or gzip, into a cg_dataset.
 *
 * All parsing goes through cg_idx_parse_mem, which the file reader and the
 * fuzzer share. The input is never trusted: every size is checked before it
 * is used and nothing is allocated beyond what the input actually yields (a
 * gzip file that claims a huge image count grows its buffer only as data
 * really arrives).
 *
 * Not for: choosing files by dataset name (datasets.c), other formats.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "cugen/data.h"
#include "cugen/io.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u

/* ---- a byte source: raw memory or a gzip stream over it ------------------ */

typedef struct {
    const uint8_t *buf;
    size_t len, pos;    /* raw: read position; gzip: input consumed */
    int gz, z_open, z_end;
    z_stream zs;
    const char *fail;   /* set on a gzip error */
    char why[160];
} idx_src;

static int src_open(idx_src *s, const uint8_t *buf, size_t len)
{
    memset(s, 0, sizeof *s);
    s->buf = buf;
    s->len = len;
    s->gz = len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
    if (!s->gz)
        return 1;
    if (inflateInit2(&s->zs, 15 + 16) != Z_OK) {  /* 15 + 16: gzip wrapper only */
        s->fail = "cannot start zlib";
        return 0;
    }
    s->z_open = 1;
    return 1;
}

static void src_close(idx_src *s)
{
    if (s->z_open)
        inflateEnd(&s->zs);
    s->z_open = 0;
}

/* Feed zlib the next piece of input (avail_in is 32-bit). */
static void gz_refill(idx_src *s)
{
    if (s->zs.avail_in == 0 && s->pos < s->len) {
        size_t k = s->len - s->pos;
        if (k > (1u << 30))
            k = 1u << 30;
        s->zs.next_in = (Bytef *)(uintptr_t)(s->buf + s->pos);
        s->zs.avail_in = (uInt)k;
        s->pos += k;
    }
}

static size_t gz_unread(const idx_src *s)
{
    return (s->len - s->pos) + s->zs.avail_in;
}

/* Up to n bytes into dst; fewer only at the end of the data. Returns the
 * count, or (size_t)-1 on a gzip error (s->fail, s->why). */
static size_t src_read(idx_src *s, uint8_t *dst, size_t n)
{
    if (!s->gz) {
        size_t k = s->len - s->pos < n ? s->len - s->pos : n;
        if (k)
            memcpy(dst, s->buf + s->pos, k);
        s->pos += k;
        return k;
    }
    size_t got = 0;
    while (got < n) {
        if (s->z_end) {
            /* another gzip member may follow (gzip allows concatenation) */
            size_t left = gz_unread(s);
            if (left == 0)
                break;
            /* the rest of the input follows next_in contiguously in buf */
            gz_refill(s);
            if (left >= 2 && s->zs.next_in[0] == 0x1f && s->zs.next_in[1] == 0x8b) {
                inflateReset(&s->zs);
                s->z_end = 0;
                continue;
            }
            snprintf(s->why, sizeof s->why, "%zu byte%s of garbage after the gzip stream", left,
                     left == 1 ? "" : "s");
            s->fail = s->why;
            return (size_t)-1;
        }
        gz_refill(s);
        size_t want = n - got > (1u << 30) ? (1u << 30) : n - got;
        s->zs.next_out = dst + got;
        s->zs.avail_out = (uInt)want;
        uInt in_before = s->zs.avail_in;
        int r = inflate(&s->zs, Z_NO_FLUSH);
        size_t made = want - s->zs.avail_out;
        got += made;
        if (r == Z_STREAM_END) {
            s->z_end = 1;
        } else if (r == Z_OK || r == Z_BUF_ERROR) {
            /* input was refilled above, so no progress means no input left */
            if (made == 0 && s->zs.avail_in == in_before) {
                s->fail = s->zs.avail_in == 0
                    ? "truncated gzip stream (the file ends before the stream does)"
                    : "gzip stream is corrupt (inflate makes no progress)";
                return (size_t)-1;
            }
        } else {
            snprintf(s->why, sizeof s->why, "gzip stream is corrupt (zlib: %s)",
                     s->zs.msg ? s->zs.msg : "error");
            s->fail = s->why;
            return (size_t)-1;
        }
    }
    return got;
}

/* Bytes left after the payload, counted to the end (this also completes the
 * gzip stream, which checks its CRC). (size_t)-1 on a gzip error. */
static size_t src_rest(idx_src *s)
{
    if (!s->gz)
        return s->len - s->pos;
    uint8_t scratch[4096];
    size_t total = 0, k;
    while ((k = src_read(s, scratch, sizeof scratch)) > 0) {
        if (k == (size_t)-1)
            return k;
        total += k;
    }
    return total;
}

/* ---- one file ------------------------------------------------------------ */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* "60000 images of 28x28" / "60000 labels" */
static void describe(char *buf, size_t len, const cg_idx_file *f)
{
    if (f->ndim == 3)
        snprintf(buf, len, "%lld images of %dx%d", (long long)f->count, f->height, f->width);
    else
        snprintf(buf, len, "%lld labels", (long long)f->count);
}

cg_status cg_idx_parse_mem(const uint8_t *buf, size_t len, int want_ndim, const char *what,
                           cg_idx_file *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    idx_src s;
    cg_status st = CG_ERR_IO;
    uint8_t *data = NULL;
    const char *unc = "";
    if (!src_open(&s, buf, len)) {
        snprintf(err, errlen, "%s: %s", what, s.fail);
        return CG_ERR_NOMEM;
    }
    if (s.gz)
        unc = " (uncompressed)";

    uint8_t head[16];
    size_t k = src_read(&s, head, 4);
    if (k == (size_t)-1) {
        snprintf(err, errlen, "%s: %s", what, s.fail);
        goto done;
    }
    if (k == 0) {
        snprintf(err, errlen, "%s: empty file, not an IDX file", what);
        goto done;
    }
    if (k < 4) {
        snprintf(err, errlen, "%s: truncated: %zu bytes%s, shorter than the 4-byte IDX magic",
                 what, k, unc);
        goto done;
    }
    uint32_t magic = be32(head);
    if (head[0] != 0 || head[1] != 0) {
        snprintf(err, errlen, "%s: not an IDX file%s: magic 0x%08x (IDX magics start with "
                 "two zero bytes; images 0x%08x, labels 0x%08x)", what,
                 s.gz ? "" : " and not gzip", magic, IDX_MAGIC_IMAGES, IDX_MAGIC_LABELS);
        goto done;
    }
    if (head[2] != 0x08) {
        snprintf(err, errlen, "%s: IDX data type 0x%02x is not supported (only 0x08, unsigned "
                 "byte; magic 0x%08x)", what, head[2], magic);
        goto done;
    }
    int ndim = head[3];
    if (ndim != 1 && ndim != 3) {
        snprintf(err, errlen, "%s: IDX rank %d is not supported (magic 0x%08x; images are "
                 "0x%08x, labels 0x%08x)", what, ndim, magic, IDX_MAGIC_IMAGES, IDX_MAGIC_LABELS);
        goto done;
    }
    if (want_ndim && ndim != want_ndim) {
        snprintf(err, errlen, "%s: wrong magic 0x%08x: %s file, expected %s (0x%08x)", what,
                 magic, ndim == 3 ? "an images" : "a labels", want_ndim == 3 ? "images" : "labels",
                 want_ndim == 3 ? IDX_MAGIC_IMAGES : IDX_MAGIC_LABELS);
        goto done;
    }
    size_t hlen = 4 + 4 * (size_t)ndim;
    k = src_read(&s, head + 4, hlen - 4);
    if (k == (size_t)-1) {
        snprintf(err, errlen, "%s: %s", what, s.fail);
        goto done;
    }
    if (k < hlen - 4) {
        snprintf(err, errlen, "%s: truncated: the header needs %zu bytes, file has %zu bytes%s",
                 what, hlen, 4 + k, unc);
        goto done;
    }
    uint32_t dims[3] = {be32(head + 4), 1, 1};
    if (ndim == 3) {
        dims[1] = be32(head + 8);
        dims[2] = be32(head + 12);
    }
    if (dims[0] == 0 || dims[1] == 0 || dims[2] == 0) {
        if (ndim == 1)
            snprintf(err, errlen, "%s: header says 0 labels: nothing to load", what);
        else
            snprintf(err, errlen, "%s: header says %u images of %ux%u: a zero dimension, "
                     "nothing to load", what, dims[0], dims[1], dims[2]);
        goto done;
    }
    /* count indexes int32 arrays (shuffles, labels); H, W are ints; the
     * payload must fit a size_t */
    size_t payload;
    if (dims[0] > INT32_MAX || dims[1] > INT32_MAX || dims[2] > INT32_MAX ||
        __builtin_mul_overflow((size_t)dims[0], (size_t)dims[1], &payload) ||
        __builtin_mul_overflow(payload, (size_t)dims[2], &payload) ||
        payload > (size_t)PTRDIFF_MAX - hlen) {
        snprintf(err, errlen, "%s: header says %u x %u x %u: sizes overflow (more than "
                 "2^31 - 1 per dimension or a payload that does not fit memory)", what,
                 dims[0], dims[1], dims[2]);
        goto done;
    }
    cg_idx_file f = {ndim, dims[0], ndim == 3 ? (int)dims[1] : 0, ndim == 3 ? (int)dims[2] : 0,
                     NULL};
    char desc[96];
    describe(desc, sizeof desc, &f);

    size_t got = 0;
    if (!s.gz) {
        /* raw: the length is known, check it before allocating anything */
        if (len - hlen != payload) {
            snprintf(err, errlen, "%s: %s: header says %s, file has %zu bytes (needs %zu)",
                     what, len - hlen < payload ? "truncated" : "trailing data", desc, len,
                     payload + hlen);
            goto done;
        }
        data = malloc(payload);
        if (!data) {
            snprintf(err, errlen, "%s: out of memory for %zu bytes", what, payload);
            st = CG_ERR_NOMEM;
            goto done;
        }
        got = src_read(&s, data, payload);
    } else {
        /* gzip: grow with the data actually inflated */
        size_t cap = 0;
        for (;;) {
            if (got == cap) {
                if (cap == payload)
                    break;
                size_t ncap = cap ? cap * 2 : (size_t)1 << 20;
                if (ncap > payload || ncap < cap)
                    ncap = payload;
                uint8_t *p = realloc(data, ncap);
                if (!p) {
                    snprintf(err, errlen, "%s: out of memory for %zu bytes", what, ncap);
                    st = CG_ERR_NOMEM;
                    goto done;
                }
                data = p;
                cap = ncap;
            }
            k = src_read(&s, data + got, cap - got);
            if (k == (size_t)-1) {
                snprintf(err, errlen, "%s: %s", what, s.fail);
                goto done;
            }
            got += k;
            if (k == 0)
                break;
        }
        if (got < payload) {
            snprintf(err, errlen, "%s: truncated: header says %s, file has %zu bytes%s "
                     "(needs %zu)", what, desc, got + hlen, unc, payload + hlen);
            goto done;
        }
        size_t rest = src_rest(&s);
        if (rest == (size_t)-1) {
            snprintf(err, errlen, "%s: %s", what, s.fail);
            goto done;
        }
        if (rest > 0) {
            snprintf(err, errlen, "%s: trailing data: header says %s, file has %zu bytes%s "
                     "(needs %zu)", what, desc, payload + hlen + rest, unc, payload + hlen);
            goto done;
        }
    }
    f.data = data;
    data = NULL;
    *out = f;
    st = CG_OK;
done:
    free(data);
    src_close(&s);
    return st;
}

void cg_idx_file_free(cg_idx_file *f)
{
    free(f->data);
    memset(f, 0, sizeof *f);
}

/* ---- images + labels -> dataset ------------------------------------------ */

cg_status cg_idx_dataset(cg_idx_file *images, cg_idx_file *labels, int num_classes,
                         const char *name, cg_dataset *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cg_status st = CG_ERR_IO;
    int32_t *lab = NULL;
    if (images->ndim != 3 || !images->data) {
        snprintf(err, errlen, "%s: expected an images file (3 dims)", name);
        st = CG_ERR_ARG;
        goto fail;
    }
    if (labels) {
        if (labels->ndim != 1 || !labels->data) {
            snprintf(err, errlen, "%s: expected a labels file (1 dim)", name);
            st = CG_ERR_ARG;
            goto fail;
        }
        if (labels->count != images->count) {
            snprintf(err, errlen, "%s: count mismatch: %lld images but %lld labels", name,
                     (long long)images->count, (long long)labels->count);
            goto fail;
        }
        lab = malloc(sizeof *lab * (size_t)labels->count);
        if (!lab) {
            snprintf(err, errlen, "%s: out of memory for %lld labels", name,
                     (long long)labels->count);
            st = CG_ERR_NOMEM;
            goto fail;
        }
        for (int64_t i = 0; i < labels->count; i++) {
            if (labels->data[i] >= num_classes) {
                snprintf(err, errlen, "%s: label %d at index %lld is out of range [0, %d)",
                         name, labels->data[i], (long long)i, num_classes);
                goto fail;
            }
            lab[i] = labels->data[i];
        }
        cg_idx_file_free(labels);
    }
    out->count = images->count;
    out->channels = 1;
    out->height = images->height;
    out->width = images->width;
    out->pixels = out->owned_pixels = images->data;
    images->data = NULL;
    cg_idx_file_free(images);
    out->labels = lab;
    out->owned_labels = lab;
    out->num_classes = lab ? num_classes : 0;
    snprintf(out->name, sizeof out->name, "%s", name);
    return CG_OK;
fail:
    free(lab);
    cg_idx_file_free(images);
    if (labels)
        cg_idx_file_free(labels);
    return st;
}

static cg_status load_one(const char *path, int ndim, cg_idx_file *f, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    cg_status st = cg_read_whole(path, SIZE_MAX, &buf, &len, err, errlen);
    if (st != CG_OK)
        return st;
    st = cg_idx_parse_mem(buf, len, ndim, path, f, err, errlen);
    free(buf);
    return st;
}

cg_status cg_idx_load(const char *images_path, const char *labels_path, int num_classes,
                      const char *name, cg_dataset *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cg_idx_file im, lb = {0};
    cg_status st = load_one(images_path, 3, &im, err, errlen);
    if (st != CG_OK)
        return st;
    if (labels_path) {
        st = load_one(labels_path, 1, &lb, err, errlen);
        if (st != CG_OK) {
            cg_idx_file_free(&im);
            return st;
        }
    }
    return cg_idx_dataset(&im, labels_path ? &lb : NULL, num_classes, name, out, err, errlen);
}
