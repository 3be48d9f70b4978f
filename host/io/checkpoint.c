/*
 * checkpoint.c: weights files and training checkpoints over safetensors
 * (layout and rules in cugen/io.h).
 *
 * Saving and loading share one "plan": the list of named tensors a model
 * (and, for a checkpoint, its training state) consists of, each with where
 * its values live. Saving turns the plan into safetensors tensors; loading
 * matches the plan against a parsed file, checks every entry (presence,
 * shape, dtype, CRC, finite values) and only then copies, so a refused file
 * leaves the destination exactly as it was.
 *
 * Not for: the file format itself (safetensors*.c), the run directory's
 * latest and previous checkpoints (resume.c), when to save (the loops).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_internal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "safetensors data is little-endian; this code copies it as host memory");

typedef enum { W_REAL, W_I64, W_U64 } want_kind;

typedef struct {
    char *name;
    want_kind kind;
    const cg_tensor *like;  /* W_REAL: the shape */
    real *dst;              /* W_REAL: like->n values */
    int64_t *i64;           /* W_I64 */
    uint64_t *u64;          /* W_U64 */
    int buffer;             /* integer dtypes accepted on load */
    int as_i64;             /* saved as an I64 scalar (num_batches_tracked) */
    int optional;           /* may be absent from the file */
    const cg_st_tensor *src;
    int64_t scratch;        /* as_i64: the value written */
    float *f32;             /* real is double: the values written */
} want;

typedef struct {
    want *w;
    int n, cap, oom;
    size_t skip;  /* a part of the model: characters of the prefix dropped from names */
} plan;

static const char *const RESERVED[] = {"optim.", "train.", "ema."};

static int reserved(const char *name)
{
    for (size_t i = 0; i < sizeof RESERVED / sizeof *RESERVED; i++)
        if (strncmp(name, RESERVED[i], strlen(RESERVED[i])) == 0)
            return 1;
    return 0;
}

static want *plan_add(plan *pl, const char *prefix, const char *name, want_kind kind)
{
    if (pl->oom)
        return NULL;
    if (pl->n == pl->cap) {
        int nc = pl->cap ? 2 * pl->cap : 64;
        want *w = realloc(pl->w, sizeof *w * (size_t)nc);
        if (!w) {
            pl->oom = 1;
            return NULL;
        }
        pl->w = w;
        pl->cap = nc;
    }
    size_t len = strlen(prefix) + strlen(name) + 1;
    want *w = &pl->w[pl->n];
    memset(w, 0, sizeof *w);
    w->name = malloc(len);
    if (!w->name) {
        pl->oom = 1;
        return NULL;
    }
    snprintf(w->name, len, "%s%s", prefix, name);
    w->kind = kind;
    pl->n++;
    return w;
}

static void add_real(plan *pl, const char *prefix, const cg_tensor *t, real *dst, int buffer)
{
    want *w = plan_add(pl, prefix, t->name + pl->skip, W_REAL);
    if (!w)
        return;
    w->like = t;
    w->dst = dst;
    w->buffer = buffer;
    size_t k = strlen(t->name), s = strlen("num_batches_tracked");
    w->as_i64 = buffer && t->n == 1 && k >= s && strcmp(t->name + k - s, "num_batches_tracked")
                == 0 && (k == s || t->name[k - s - 1] == '.');
}

static void add_int(plan *pl, const char *name, int64_t *i64, uint64_t *u64)
{
    want *w = plan_add(pl, "", name, u64 ? W_U64 : W_I64);
    if (w) {
        w->i64 = i64;
        w->u64 = u64;
    }
}

static void plan_free(plan *pl)
{
    for (int i = 0; i < pl->n; i++) {
        free(pl->w[i].name);
        free(pl->w[i].f32);
    }
    free(pl->w);
    memset(pl, 0, sizeof *pl);
}

static int in_part(const char *name, const char *part)
{
    return !part || strncmp(name, part, strlen(part)) == 0;
}

/* The tensors of p (and of the training state s, when not NULL), or only
 * those whose names start with `part` (then without it; never with s). The
 * plan points into p and s: it reads them on save and writes them on load. */
static cg_status plan_build(plan *pl, const cg_params *p, const cg_ckpt_state *s,
                            const char *part, char *err, size_t errlen)
{
    memset(pl, 0, sizeof *pl);
    if (!p || !p->allocated)
        return io_err(CG_ERR_STATE, err, errlen, "parameters not allocated");
    if (part && (s || !*part))
        return io_err(CG_ERR_ARG, err, errlen, "a part is a non-empty prefix, of weights only");
    pl->skip = part ? strlen(part) : 0;
    if (s && s->ema && (!s->ema->w || s->ema->n != p->n))
        return io_err(CG_ERR_ARG, err, errlen, "the EMA was not made for these parameters");
    if (s && s->nextra && (s->nextra < 0 || !s->extra))
        return io_err(CG_ERR_ARG, err, errlen, "bad list of extra values");
    for (int i = 0; i < p->count; i++)
        if (in_part(p->t[i]->name, part))
            add_real(pl, "", p->t[i], p->w + p->off[i], 0);
    for (int i = 0; i < p->bcount; i++)
        if (in_part(p->b[i]->name, part))
            add_real(pl, "", p->b[i], p->buf + p->boff[i], 1);
    if (part && pl->n == 0 && !pl->oom)
        return io_err(CG_ERR_ARG, err, errlen, "no parameter name starts with '%s'", part);
    for (int i = 0; i < pl->n && !pl->oom; i++)
        if (reserved(pl->w[i].name))
            return io_err(CG_ERR_ARG, err, errlen, "parameter name '%s' starts with a prefix "
                          "checkpoints reserve (optim., train., ema.)", pl->w[i].name);
    if (s) {
        for (int i = 0; i < p->count; i++) {
            add_real(pl, "optim.m.", p->t[i], p->m + p->off[i], 0);
            add_real(pl, "optim.v.", p->t[i], p->v + p->off[i], 0);
            if (s->ema)
                add_real(pl, "ema.", p->t[i], s->ema->w + p->off[i], 0);
        }
        cg_ckpt_state *ms = (cg_ckpt_state *)s;  /* written only on load */
        add_int(pl, "optim.t", &ms->optim_t, NULL);
        add_int(pl, "train.step", &ms->step, NULL);
        add_int(pl, "train.epoch", &ms->epoch, NULL);
        add_int(pl, "train.seed", NULL, &ms->seed);
        for (int i = 0; i < s->nextra && !pl->oom; i++) {
            if (!s->extra[i].name || !*s->extra[i].name)
                return io_err(CG_ERR_ARG, err, errlen, "extra value %d has no name", i);
            want *w = plan_add(pl, "train.extra.", s->extra[i].name, W_I64);
            if (w) {
                w->i64 = &s->extra[i].value;
                w->optional = s->extra[i].optional;
            }
        }
    }
    return pl->oom ? io_err(CG_ERR_NOMEM, err, errlen, "out of memory") : CG_OK;
}

/* ---- save ------------------------------------------------------------------------ */
static cg_status plan_save(plan *pl, const char *path, const char *prev, const char *kind,
                           const char *settings, char *err, size_t errlen)
{
    for (int i = 0; i < pl->n; i++) {
        want *w = &pl->w[i];
        for (int64_t k = 0; w->kind == W_REAL && k < w->like->n; k++)
            if (!isfinite((double)w->dst[k]))
                return io_err(CG_ERR_NUMERIC, err, errlen, "%s: not saved: '%s' element %lld "
                              "is %g (the previous file is unchanged)", path, w->name,
                              (long long)k, (double)w->dst[k]);
    }
    cg_st_tensor *t = calloc((size_t)pl->n + 1, sizeof *t);
    if (!t)
        return io_err(CG_ERR_NOMEM, err, errlen, "%s: out of memory", path);
    cg_status st = CG_OK;
    for (int i = 0; i < pl->n && st == CG_OK; i++) {
        want *w = &pl->w[i];
        t[i].name = w->name;
        if (w->kind != W_REAL) {
            t[i].dtype = w->kind == W_I64 ? CG_ST_I64 : CG_ST_U64;
            t[i].data = w->kind == W_I64 ? (const void *)w->i64 : (const void *)w->u64;
            t[i].nbytes = 8;
        } else if (w->as_i64) {
            if (fabs((double)w->dst[0]) >= 9.2e18) {
                st = io_err(CG_ERR_NUMERIC, err, errlen, "%s: not saved: '%s' is %g, out of "
                            "the int64 range", path, w->name, (double)w->dst[0]);
                break;
            }
            w->scratch = (int64_t)llround((double)w->dst[0]);
            t[i].dtype = CG_ST_I64;
            t[i].data = &w->scratch;
            t[i].nbytes = 8;
        } else {
            t[i].dtype = CG_ST_F32;
            t[i].ndim = w->like->ndim;
            for (int d = 0; d < w->like->ndim; d++)
                t[i].shape[d] = w->like->shape[d];
            t[i].nbytes = sizeof(float) * (size_t)w->like->n;
            if (sizeof(real) == sizeof(float)) {
                t[i].data = w->dst;
            } else if ((w->f32 = malloc(t[i].nbytes))) {
                for (int64_t k = 0; k < w->like->n; k++)
                    w->f32[k] = (float)w->dst[k];
                t[i].data = w->f32;
            } else {
                st = io_err(CG_ERR_NOMEM, err, errlen, "%s: out of memory", path);
            }
        }
    }
    const cg_st_meta meta[] = {
        {"format", "pt"}, {"cugen.kind", kind}, {"cugen.version", "1"},
        {CG_CKPT_SETTINGS_KEY, settings},
    };
    if (st == CG_OK)
        st = st_save(path, prev, t, pl->n, meta, settings ? 4 : 3, err, errlen);
    free(t);
    return st;
}

static cg_status save_part(const char *path, const char *prev, const cg_params *p,
                           const cg_ckpt_state *s, const char *part, char *err, size_t errlen)
{
    if (!path || !*path)
        return io_err(CG_ERR_ARG, err, errlen, "no path to save to");
    plan pl = {0};
    char msg[300];
    io_stage sg;  /* GPU values: saved from host copies */
    const cg_params *hp;
    cg_ckpt_state *hs;
    cg_status st = io_stage_begin(&sg, p, s, &hp, &hs, msg, sizeof msg);
    if (st == CG_OK)
        st = plan_build(&pl, hp, hs, part, msg, sizeof msg);
    if (st == CG_OK)
        st = plan_save(&pl, path, prev, s ? "checkpoint" : "weights", s ? s->settings : NULL, err,
                       errlen);
    else
        io_err(st, err, errlen, "%s: %s", path, msg);
    plan_free(&pl);
    io_stage_end(&sg);
    return st;
}

cg_status ckpt_save(const char *path, const char *prev, const cg_params *p,
                    const cg_ckpt_state *s, char *err, size_t errlen)
{
    return save_part(path, prev, p, s, NULL, err, errlen);
}

cg_status cg_weights_save(const char *path, const cg_params *p, char *err, size_t errlen)
{
    return save_part(path, NULL, p, NULL, NULL, err, errlen);
}

cg_status cg_weights_save_part(const char *path, const cg_params *p, const char *part,
                               char *err, size_t errlen)
{
    if (!part)
        return io_err(CG_ERR_ARG, err, errlen, "%s: no part named", path ? path : "(null)");
    return save_part(path, NULL, p, NULL, part, err, errlen);
}

cg_status cg_ckpt_save(const char *path, const cg_params *p, const cg_ckpt_state *s, char *err,
                       size_t errlen)
{
    if (!s)
        return io_err(CG_ERR_ARG, err, errlen, "%s: no training state to save", path);
    return ckpt_save(path, NULL, p, s, err, errlen);
}

/* ---- load ------------------------------------------------------------------------ */
static double elem(const cg_st_tensor *t, int64_t k)
{
    const unsigned char *b = (const unsigned char *)t->data + (size_t)k * cg_st_dtype_size(t->dtype);
    float f;
    double d;
    int64_t i;
    int32_t j;
    switch (t->dtype) {
    case CG_ST_F32: memcpy(&f, b, 4); return f;
    case CG_ST_F64: memcpy(&d, b, 8); return d;
    case CG_ST_I64: memcpy(&i, b, 8); return (double)i;
    case CG_ST_I32: memcpy(&j, b, 4); return j;
    default: return NAN;
    }
}

static void shape_str(char *buf, size_t len, int ndim, const int64_t *shape)
{
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int d = 0; d < ndim && k < len; d++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < len)
        snprintf(buf + k, len - k, ")");
}

static int same_shape(const cg_st_tensor *t, const cg_tensor *like)
{
    if (t->ndim == 0)
        return like->n == 1;  /* PyTorch scalars (shape []) into one-element tensors */
    if (t->ndim != like->ndim)
        return 0;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] != like->shape[d])
            return 0;
    return 1;
}

/* Everything about one entry except presence; nothing is written. */
static cg_status check_one(const want *w, const cg_st_tensor *t, char *err, size_t errlen)
{
    if (w->kind != W_REAL) {
        cg_st_dtype want_dt = w->kind == W_I64 ? CG_ST_I64 : CG_ST_U64;
        if (t->dtype != want_dt || t->ndim > 1 || cg_st_numel(t) != 1)
            return io_err(CG_ERR_ARG, err, errlen, "'%s' must be one %s value, the file has "
                          "dtype %s with %lld elements", w->name, cg_st_dtype_name(want_dt),
                          cg_st_dtype_name(t->dtype), (long long)cg_st_numel(t));
        return CG_OK;
    }
    if (!same_shape(t, w->like)) {
        char a[96], b[96];
        int64_t s[CG_MAX_DIMS];
        for (int d = 0; d < w->like->ndim; d++)
            s[d] = w->like->shape[d];
        shape_str(a, sizeof a, t->ndim, t->shape);
        shape_str(b, sizeof b, w->like->ndim, s);
        return io_err(CG_ERR_ARG, err, errlen, "tensor '%s' has shape %s in the file, the model "
                      "has %s: a file of a different model?", w->name, a, b);
    }
    int ints = t->dtype == CG_ST_I64 || t->dtype == CG_ST_I32;
    if (!(t->dtype == CG_ST_F32 || t->dtype == CG_ST_F64 || (ints && w->buffer)))
        return io_err(CG_ERR_ARG, err, errlen, "tensor '%s' has dtype %s; cugen loads F32 or F64 "
                      "(and I64 or I32 into buffers)", w->name, cg_st_dtype_name(t->dtype));
    for (int64_t k = 0; k < w->like->n; k++) {
        double v = elem(t, k);
        real r = (real)v;
        if (ints && !(fabs(v) < 9007199254740992.0 && (double)r == v))
            return io_err(CG_ERR_ARG, err, errlen, "buffer '%s' element %lld (%.17g) is not "
                          "exactly representable as a %s", w->name, (long long)k, v,
                          sizeof(real) == 4 ? "float" : "double");
        if (!isfinite((double)r))
            return io_err(CG_ERR_NUMERIC, err, errlen, "tensor '%s' element %lld is %g, not "
                          "finite: refusing a diverged or corrupted file", w->name,
                          (long long)k, v);
    }
    return CG_OK;
}

static void copy_one(const want *w, const cg_st_tensor *t)
{
    if (w->kind == W_I64)
        memcpy(w->i64, t->data, 8);
    else if (w->kind == W_U64)
        memcpy(w->u64, t->data, 8);
    else if (t->dtype == CG_ST_F32 && sizeof(real) == sizeof(float))
        memcpy(w->dst, t->data, t->nbytes);
    else
        for (int64_t k = 0; k < w->like->n; k++)
            w->dst[k] = (real)elem(t, k);
}

/* Match the plan against the file, check all, then copy. */
static cg_status plan_load(plan *pl, const cg_st_file *f, int ckpt, char *err, size_t errlen)
{
    const char *kind = cg_st_meta_get(f, "cugen.kind");
    int ckpt_file = kind && strcmp(kind, "checkpoint") == 0;
    if (ckpt && !ckpt_file)
        return io_err(CG_ERR_ARG, err, errlen, "not a cugen checkpoint (no \"cugen.kind\": "
                      "\"checkpoint\" in its metadata); a weights file loads with "
                      "cg_weights_load");
    unsigned char *used = calloc((size_t)f->count + 1, 1);
    if (!used)
        return io_err(CG_ERR_NOMEM, err, errlen, "out of memory");
    cg_status st = CG_OK;
    char key[300];
    for (int i = 0; i < pl->n && st == CG_OK; i++) {
        want *w = &pl->w[i];
        w->src = cg_st_find(f, w->name);
        snprintf(key, sizeof key, "crc32.%s", w->name);
        if (!w->src && w->optional)
            continue;
        if (!w->src)
            st = io_err(CG_ERR_ARG, err, errlen, "missing tensor '%s': a file of a different "
                        "model or training setup?", w->name);
        else if (used[w->src - f->t]++)
            st = io_err(CG_ERR_ARG, err, errlen, "the model declares '%s' twice", w->name);
        else if (ckpt && !cg_st_meta_get(f, key))
            st = io_err(CG_ERR_IO, err, errlen, "tensor '%s' has no CRC-32 in the header (a "
                        "cugen checkpoint has one for every tensor): edited or not cugen's",
                        w->name);
        else
            st = check_one(w, w->src, err, errlen);
    }
    for (int i = 0; i < f->count && st == CG_OK; i++)
        if (!used[i] && (ckpt || !ckpt_file || !reserved(f->t[i].name)))
            st = io_err(CG_ERR_ARG, err, errlen, "unexpected tensor '%s' (the model has no such "
                        "%s): a file of a different model or training setup?", f->t[i].name,
                        ckpt ? "tensor or value" : "parameter or buffer");
    free(used);
    for (int i = 0; i < pl->n && st == CG_OK; i++)
        if (pl->w[i].src)  /* an optional value the file lacks stays as it is */
            copy_one(&pl->w[i], pl->w[i].src);
    return st;
}

static cg_status load(const char *path, cg_params *p, cg_ckpt_state *s, const char *part,
                      char *err, size_t errlen)
{
    if (!path)
        return io_err(CG_ERR_ARG, err, errlen, "no path to load from");
    plan pl = {0};
    cg_st_file f;
    char msg[400];
    io_stage sg;  /* GPU values: loaded into host copies, uploaded once all passed */
    const cg_params *hp;
    cg_ckpt_state *hs;
    cg_status st = io_stage_begin(&sg, p, s, &hp, &hs, msg, sizeof msg);
    if (st == CG_OK)
        st = plan_build(&pl, hp, hs, part, msg, sizeof msg);
    if (st == CG_OK) {
        st = cg_st_load(&f, path, err, errlen);  /* its messages name the path */
        if (st == CG_OK) {
            st = plan_load(&pl, &f, s != NULL, msg, sizeof msg);
            cg_st_free(&f);
            if (st == CG_OK)
                st = io_stage_commit(&sg, p, s, msg, sizeof msg);
            if (st != CG_OK)
                io_err(st, err, errlen, "%s: %s", path, msg);
        }
    } else {
        io_err(st, err, errlen, "%s: %s", path, msg);
    }
    plan_free(&pl);
    io_stage_end(&sg);
    return st;
}

cg_status cg_weights_load(const char *path, cg_params *p, char *err, size_t errlen)
{
    return load(path, p, NULL, NULL, err, errlen);
}

cg_status cg_weights_load_part(const char *path, cg_params *p, const char *part, char *err,
                               size_t errlen)
{
    if (!part)
        return io_err(CG_ERR_ARG, err, errlen, "%s: no part named", path ? path : "(null)");
    return load(path, p, NULL, part, err, errlen);
}

cg_status cg_ckpt_load(const char *path, cg_params *p, cg_ckpt_state *s, char *err,
                       size_t errlen)
{
    if (!s)
        return io_err(CG_ERR_ARG, err, errlen, "%s: no training state to load into", path);
    return load(path, p, s, NULL, err, errlen);
}
