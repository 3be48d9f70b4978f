/*
 * ref.c: reader for the PyTorch reference files (format in ref.h and in
 * scripts/make_refs.py) and the comparisons tests make with them.
 *
 * The parser reads from a bounds-checked cursor over the whole file image:
 * every field is checked against the bytes left before it is used, element
 * counts are checked against the bytes left before anything is allocated.
 *
 * Not for: the reference cases themselves (test_torch_refs*.c).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref.h"

static const char REF_MAGIC[6] = {'C', 'G', 'R', 'E', 'F', '1'};

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    const char *what;
    char *msg;
    size_t msglen;
} ref_reader;

static cg_status ref_err(ref_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static cg_status ref_err(ref_reader *r, const char *fmt, ...)
{
    if (r->msg && r->msglen) {
        int k = snprintf(r->msg, r->msglen, "%s: ", r->what);
        if (k >= 0 && (size_t)k < r->msglen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(r->msg + k, r->msglen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return CG_ERR_IO;
}

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* The next 4-byte field, or 0 when fewer than 4 bytes are left. */
static int rd_u32(ref_reader *r, uint32_t *v)
{
    if (r->len - r->pos < 4)
        return 0;
    *v = le32(r->p + r->pos);
    r->pos += 4;
    return 1;
}

static void ref_tensors_free(ref_tensor *t, int count)
{
    for (int i = 0; i < count && t; i++)
        free(t[i].data);
    free(t);
}

/* One tensor's header and data into *t (index i, for messages). */
static cg_status rd_tensor(ref_reader *r, ref_tensor *t, int i)
{
    uint32_t nlen, ndim;
    if (!rd_u32(r, &nlen))
        return ref_err(r, "truncated in the name length of tensor %d (byte %zu of %zu)", i,
                       r->pos, r->len);
    if (nlen < 1 || nlen > REF_NAME_MAX)
        return ref_err(r, "tensor %d: name length %u not in 1..%d (byte %zu): not a reference "
                       "file, or garbled", i, nlen, REF_NAME_MAX, r->pos - 4);
    if (r->len - r->pos < nlen)
        return ref_err(r, "truncated in the name of tensor %d (%u bytes at byte %zu, %zu left)",
                       i, nlen, r->pos, r->len - r->pos);
    for (uint32_t k = 0; k < nlen; k++) {
        unsigned char c = r->p[r->pos + k];
        if (c < 0x21 || c > 0x7e)
            return ref_err(r, "tensor %d: name has byte 0x%02x (byte %zu): garbled", i, c,
                           r->pos + k);
    }
    memcpy(t->name, r->p + r->pos, nlen);
    t->name[nlen] = '\0';
    r->pos += nlen;
    if (!rd_u32(r, &ndim))
        return ref_err(r, "truncated in the header of tensor %d '%s'", i, t->name);
    if (ndim < 1 || ndim > CG_MAX_DIMS)
        return ref_err(r, "tensor '%s' has %u dims, not 1..%d: garbled", t->name, ndim,
                       CG_MAX_DIMS);
    t->ndim = (int)ndim;
    /* elements bounded by what the file can hold, so the product never overflows */
    const uint64_t max_n = REF_MAX_BYTES / 4;
    uint64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        uint32_t u;
        if (!rd_u32(r, &u))
            return ref_err(r, "truncated in the dims of tensor '%s'", t->name);
        int32_t dim = (int32_t)u;
        if (dim < 1)
            return ref_err(r, "tensor '%s' dim %d is %d: garbled", t->name, d, (int)dim);
        if ((uint64_t)dim > max_n / n)
            return ref_err(r, "tensor '%s' is larger than a reference file can be: garbled",
                           t->name);
        t->shape[d] = dim;
        n *= (uint64_t)dim;
    }
    size_t left = r->len - r->pos;
    if (n > left / 4)
        return ref_err(r, "truncated: tensor '%s' needs %llu bytes of data at byte %zu, %zu "
                       "left", t->name, (unsigned long long)(n * 4), r->pos, left);
    t->n = (int64_t)n;
    t->data = malloc(sizeof(real) * (size_t)n);
    if (!t->data) {
        ref_err(r, "out of memory for tensor '%s'", t->name);
        return CG_ERR_NOMEM;
    }
    for (uint64_t k = 0; k < n; k++) {
        uint32_t bits = le32(r->p + r->pos + 4 * k);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (!isfinite(f))
            return ref_err(r, "tensor '%s' element %llu is not finite", t->name,
                           (unsigned long long)k);
        t->data[k] = (real)f;
    }
    r->pos += 4 * (size_t)n;
    return CG_OK;
}

cg_status ref_parse(ref_file *rf, const unsigned char *buf, size_t len, const char *what,
                    char *msg, size_t msglen)
{
    memset(rf, 0, sizeof *rf);
    snprintf(rf->what, sizeof rf->what, "%s", what ? what : "reference");
    ref_reader r = {buf, len, 0, rf->what, msg, msglen};
    if (msg && msglen)
        msg[0] = '\0';
    if (!buf || len < sizeof REF_MAGIC || memcmp(buf, REF_MAGIC, sizeof REF_MAGIC) != 0)
        return ref_err(&r, "not a reference file (it does not start with \"CGREF1\")");
    r.pos = sizeof REF_MAGIC;
    uint32_t count;
    if (!rd_u32(&r, &count))
        return ref_err(&r, "truncated in the tensor count");
    if (count < 1 || count > REF_MAX_TENSORS)
        return ref_err(&r, "tensor count %u not in 1..%d: garbled", count, REF_MAX_TENSORS);
    /* each tensor takes at least 17 bytes: name_len, 1-byte name, ndim, 1 dim, 1 value */
    if (count > (len - r.pos) / 17)
        return ref_err(&r, "truncated: %u tensors cannot fit in %zu bytes", count,
                       len - r.pos);
    ref_tensor *t = calloc(count, sizeof *t);
    if (!t) {
        ref_err(&r, "out of memory for %u tensors", count);
        return CG_ERR_NOMEM;
    }
    for (int i = 0; i < (int)count; i++) {
        cg_status st = rd_tensor(&r, &t[i], i);
        for (int j = 0; st == CG_OK && j < i; j++)
            if (strcmp(t[j].name, t[i].name) == 0)
                st = ref_err(&r, "tensor '%s' appears twice", t[i].name);
        if (st != CG_OK) {
            ref_tensors_free(t, i + 1);
            return st;
        }
    }
    if (r.pos != len) {
        ref_tensors_free(t, (int)count);
        return ref_err(&r, "unexpected data after the last tensor (byte %zu of %zu)",
                       r.pos, len);
    }
    rf->count = (int)count;
    rf->t = t;
    return CG_OK;
}

cg_status ref_load(ref_file *rf, const char *path, char *msg, size_t msglen)
{
    char none[1];
    if (!msg || !msglen) {
        msg = none;
        msglen = sizeof none;
    }
    memset(rf, 0, sizeof *rf);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, msglen, "%s: cannot open: %s", path, strerror(errno));
        return CG_ERR_IO;
    }
    /* read at most one byte past the limit, to tell "too large" apart */
    unsigned char *buf = malloc(REF_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        snprintf(msg, msglen, "%s: out of memory", path);
        return CG_ERR_NOMEM;
    }
    size_t len = fread(buf, 1, REF_MAX_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    cg_status st;
    if (bad) {
        snprintf(msg, msglen, "%s: read error", path);
        st = CG_ERR_IO;
    } else if (len > REF_MAX_BYTES) {
        snprintf(msg, msglen, "%s: larger than %zu bytes: not a reference file", path,
                 REF_MAX_BYTES);
        st = CG_ERR_IO;
    } else {
        st = ref_parse(rf, buf, len, path, msg, msglen);
    }
    free(buf);
    return st;
}

const ref_tensor *ref_find(const ref_file *rf, const char *name)
{
    for (int i = 0; i < rf->count; i++)
        if (strcmp(rf->t[i].name, name) == 0)
            return &rf->t[i];
    return NULL;
}

void ref_free(ref_file *rf)
{
    ref_tensors_free(rf->t, rf->count);
    memset(rf, 0, sizeof *rf);
}

/* ---- for tests ------------------------------------------------------------------ */
int ref_open_impl(const char *file, int line, ref_file *rf, const char *name)
{
    char path[256], msg[512];
    snprintf(path, sizeof path, "tests/ref/%s.ref", name);
    if (ref_load(rf, path, msg, sizeof msg) != CG_OK) {
        th_fail(file, line, "%s (regenerate with `make refs`; tests run from the repository "
                "root)", msg);
        return 0;
    }
    return 1;
}

const ref_tensor *ref_get_impl(const char *file, int line, const ref_file *rf, const char *name)
{
    const ref_tensor *t = ref_find(rf, name);
    if (!t)
        th_fail(file, line, "%s: no tensor '%s'", rf->what, name);
    return t;
}

double ref_cfg(const ref_file *rf, int i)
{
    const ref_tensor *c = ref_find(rf, "cfg");
    return c && i >= 0 && i < c->n ? (double)c->data[i] : NAN;
}

cg_tensor *ref_tensor_impl(const char *file, int line, const ref_file *rf, const char *name,
                           int leaf)
{
    const ref_tensor *r = ref_get_impl(file, line, rf, name);
    if (!r)
        return NULL;
    cg_tensor *t = th_alloc(sizeof *t);
    t->ndim = r->ndim;
    memcpy(t->shape, r->shape, sizeof r->shape);
    t->n = r->n;
    t->group = -1;
    t->data = th_alloc(sizeof(real) * (size_t)r->n);
    memcpy(t->data, r->data, sizeof(real) * (size_t)r->n);
    if (leaf) {
        t->grad = th_alloc(sizeof(real) * (size_t)r->n);
        t->requires_grad = 1;
        t->is_param = 1;
    }
    return t;
}

static int same_shape(const ref_tensor *r, const cg_tensor *t)
{
    if (r->ndim != t->ndim)
        return 0;
    for (int d = 0; d < r->ndim; d++)
        if (r->shape[d] != t->shape[d])
            return 0;
    return 1;
}

static const char *ref_shape_str(const ref_tensor *r, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int d = 0; d < r->ndim && k < len; d++)
        k += (size_t)snprintf(buf + k, len - k, "%s%d", d ? ", " : "(", r->shape[d]);
    if (k < len)
        snprintf(buf + k, len - k, ")");
    return buf;
}

double ref_check_impl(const char *file, int line, const ref_file *rf, const char *name,
                      const real *got, const cg_tensor *like, double tol, int quiet)
{
    const ref_tensor *r = ref_get_impl(file, line, rf, name);
    if (!r)
        return INFINITY;
    if (!like || !got) {
        th_fail(file, line, "%s '%s': nothing to compare (no tensor or no gradient)", rf->what,
                name);
        return INFINITY;
    }
    if (!same_shape(r, like)) {
        char a[64], b[64];
        th_fail(file, line, "%s '%s': shape %s, reference %s", rf->what, name,
                cg_shape_str(like, a, sizeof a), ref_shape_str(r, b, sizeof b));
        return INFINITY;
    }
    double err = th_rel_err(got, r->data, r->n);
    const char *shown = strncmp(rf->what, "tests/ref/", 10) == 0 ? rf->what + 10 : rf->what;
    if (!quiet)
        printf("    %-28s %-16s rel err %.2e\n", shown, name, err);
    if (!(err < tol))
        th_fail(file, line, "%s '%s': ||got - ref|| / ||ref|| = %.3e >= %.0e", rf->what, name,
                err, tol);
    return err;
}

int ref_backward_impl(const char *file, int line, cg_ctx *ctx, const ref_file *rf,
                      cg_tensor *y)
{
    const ref_tensor *dy = ref_get_impl(file, line, rf, "dy");
    if (!dy)
        return 0;
    if (!y || !cg_ok(ctx)) {
        th_fail(file, line, "%s: forward failed: %s", rf->what, ctx->errmsg);
        return 0;
    }
    if (!same_shape(dy, y)) {
        char a[64], b[64];
        th_fail(file, line, "%s: output %s, reference dy %s", rf->what,
                cg_shape_str(y, a, sizeof a), ref_shape_str(dy, b, sizeof b));
        return 0;
    }
    if (cg_backward_from(ctx, y, dy->data) != CG_OK) {
        th_fail(file, line, "%s: backward failed: %s", rf->what, ctx->errmsg);
        return 0;
    }
    return 1;
}
