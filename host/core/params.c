/*
 * params.c: the flat parameter buffer (see nn.h), on the host or the GPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/nn.h"
#include "core/core_cuda.h"

#define PARAM_PAD 16  /* elements: keeps every view 64-byte aligned */

void cg_params_init(cg_params *p)
{
    memset(p, 0, sizeof *p);
}

static cg_tensor *declare(const char *name, const int *shape, int ndim)
{
    if (ndim < 1 || ndim > CG_MAX_DIMS)
        return NULL;
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0)
            return NULL;
    cg_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->name = strdup(name);
    if (!t->name) {
        free(t);
        return NULL;
    }
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int) * (size_t)ndim);
    t->n = cg_shape_numel(ndim, shape);
    return t;
}

static int grow(void **arr, void **offs, int *cap, int count, size_t esz)
{
    if (count < *cap)
        return 1;
    int nc = *cap ? *cap * 2 : 32;
    void *a = realloc(*arr, sizeof(cg_tensor *) * (size_t)nc);
    if (!a)
        return 0;
    *arr = a;
    void *o = realloc(*offs, esz * (size_t)nc);
    if (!o)
        return 0;
    *offs = o;
    *cap = nc;
    return 1;
}

cg_tensor *cg_param(cg_params *p, const char *name, const int *shape, int ndim, int group)
{
    if (p->allocated || group < 0 || group >= CG_MAX_GROUPS)
        return NULL;
    if (!grow((void **)&p->t, (void **)&p->off, &p->cap, p->count, sizeof(int64_t)))
        return NULL;
    cg_tensor *t = declare(name, shape, ndim);
    if (!t)
        return NULL;
    t->is_param = 1;
    t->requires_grad = 1;
    t->group = (int16_t)group;
    p->off[p->count] = p->n;
    p->t[p->count++] = t;
    p->n += (t->n + PARAM_PAD - 1) / PARAM_PAD * PARAM_PAD;
    return t;
}

cg_tensor *cg_buffer(cg_params *p, const char *name, const int *shape, int ndim)
{
    if (p->allocated)
        return NULL;
    if (!grow((void **)&p->b, (void **)&p->boff, &p->bcap, p->bcount, sizeof(int64_t)))
        return NULL;
    cg_tensor *t = declare(name, shape, ndim);
    if (!t)
        return NULL;
    t->group = -1;
    p->boff[p->bcount] = p->nbuf;
    p->b[p->bcount++] = t;
    p->nbuf += (t->n + PARAM_PAD - 1) / PARAM_PAD * PARAM_PAD;
    return t;
}

static real *alloc_zeroed(int64_t n)
{
    size_t bytes = sizeof(real) * (size_t)(n > 0 ? n : PARAM_PAD);
    bytes = (bytes + 63) & ~(size_t)63;
    real *x = aligned_alloc(64, bytes);
    if (x)
        memset(x, 0, bytes);
    return x;
}

cg_status cg_params_alloc(cg_params *p)
{
    if (p->allocated)
        return CG_ERR_STATE;
    p->w = alloc_zeroed(p->n);
    p->g = alloc_zeroed(p->n);
    p->m = alloc_zeroed(p->n);
    p->v = alloc_zeroed(p->n);
    p->buf = alloc_zeroed(p->nbuf);
    if (!p->w || !p->g || !p->m || !p->v || !p->buf)
        return CG_ERR_NOMEM;
    for (int i = 0; i < p->count; i++) {
        p->t[i]->data = p->w + p->off[i];
        p->t[i]->grad = p->g + p->off[i];
    }
    for (int i = 0; i < p->bcount; i++)
        p->b[i]->data = p->buf + p->boff[i];
    p->allocated = 1;
    return CG_OK;
}

cg_status cg_params_zero_grad(cg_params *p)
{
    if (!p->g)
        return CG_OK;
    if (p->dev == CG_CUDA)
        return cg_cuda_memset0(p->g, sizeof(real) * (size_t)p->n);
    memset(p->g, 0, sizeof(real) * (size_t)p->n);
    return CG_OK;
}

/* ---- moving the buffers between host and GPU ---------------------------------- */
enum { NBUF = 5 };

static real **buffer_slot(cg_params *p, int k)
{
    real **slot[NBUF] = {&p->w, &p->g, &p->m, &p->v, &p->buf};
    return slot[k];
}

static size_t buffer_bytes(const cg_params *p, int k)
{
    int64_t n = k == NBUF - 1 ? p->nbuf : p->n;
    size_t bytes = sizeof(real) * (size_t)(n > 0 ? n : PARAM_PAD);
    return (bytes + 63) & ~(size_t)63;
}

static const char *const BUFFER_NAME[NBUF] = {"weights", "gradients", "Adam m", "Adam v",
                                              "buffers"};

static void views_point_into(cg_params *p, int dev)
{
    for (int i = 0; i < p->count; i++) {
        p->t[i]->data = p->w + p->off[i];
        p->t[i]->grad = p->g + p->off[i];
        p->t[i]->dev = (uint8_t)dev;
    }
    for (int i = 0; i < p->bcount; i++) {
        p->b[i]->data = p->buf + p->boff[i];
        p->b[i]->dev = (uint8_t)dev;
    }
}

static void buffers_free(int dev, real *bufs[NBUF])
{
    for (int k = 0; k < NBUF; k++) {
        if (dev == CG_CUDA)
            cg_cuda_free(bufs[k]);
        else
            free(bufs[k]);
        bufs[k] = NULL;
    }
}

/* Copies of the five buffers on `dev` in fresh[], or the reason in err. */
static cg_status buffers_copy(cg_params *p, int dev, real *fresh[NBUF], char *err, size_t errlen)
{
    for (int k = 0; k < NBUF; k++) {
        size_t bytes = buffer_bytes(p, k);
        char what[64];
        snprintf(what, sizeof what, "parameter %s", BUFFER_NAME[k]);
        cg_status st;
        if (dev == CG_CUDA) {
            st = cg_cuda_malloc((void **)&fresh[k], bytes, what);
            if (st == CG_OK)
                st = cg_cuda_upload(fresh[k], *buffer_slot(p, k), bytes);
        } else {
            fresh[k] = aligned_alloc(64, bytes);
            st = fresh[k] ? cg_cuda_download(fresh[k], *buffer_slot(p, k), bytes)
                          : CG_ERR_NOMEM;
        }
        if (st == CG_OK)
            continue;
        if (dev == CG_CPU && !fresh[k])
            snprintf(err, errlen, "out of host memory for %zu bytes of %s", bytes, what);
        else
            snprintf(err, errlen, "%s", cg_cuda_last_error());
        buffers_free(dev, fresh);
        return st;
    }
    return CG_OK;
}

static cg_status params_move(cg_params *p, int dev, char *err, size_t errlen)
{
    if (!p->allocated) {
        snprintf(err, errlen, "parameters not allocated");
        return CG_ERR_STATE;
    }
    if (p->dev == dev)
        return CG_OK;
    real *fresh[NBUF] = {0};
    cg_status st = buffers_copy(p, dev, fresh, err, errlen);
    if (st != CG_OK)
        return st;
    real *old[NBUF];
    for (int k = 0; k < NBUF; k++) {
        old[k] = *buffer_slot(p, k);
        *buffer_slot(p, k) = fresh[k];
    }
    buffers_free(p->dev, old);
    p->dev = dev;
    views_point_into(p, dev);
    return CG_OK;
}

cg_status cg_params_to_device(cg_params *p, char *err, size_t errlen)
{
    return params_move(p, CG_CUDA, err, errlen);
}

cg_status cg_params_to_host(cg_params *p, char *err, size_t errlen)
{
    return params_move(p, CG_CPU, err, errlen);
}

void cg_params_freeze(cg_params *p, int group, int frozen)
{
    if (group < 0 || group >= CG_MAX_GROUPS)
        return;
    p->frozen[group] = (uint8_t)(frozen != 0);
    for (int i = 0; i < p->count; i++)
        if (p->t[i]->group == group)
            p->t[i]->requires_grad = (uint8_t)!frozen;
}

int64_t cg_params_count(const cg_params *p)
{
    int64_t n = 0;
    for (int i = 0; i < p->count; i++)
        n += p->t[i]->n;
    return n;
}

cg_tensor *cg_params_find(const cg_params *p, const char *name)
{
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->t[i]->name, name) == 0)
            return p->t[i];
    for (int i = 0; i < p->bcount; i++)
        if (strcmp(p->b[i]->name, name) == 0)
            return p->b[i];
    return NULL;
}

static void tensors_free(cg_tensor **ts, int n)
{
    for (int i = 0; i < n; i++) {
        free((void *)ts[i]->name);
        free(ts[i]);
    }
    free(ts);
}

void cg_params_free(cg_params *p)
{
    tensors_free(p->t, p->count);
    tensors_free(p->b, p->bcount);
    free(p->off);
    free(p->boff);
    real *bufs[NBUF] = {p->w, p->g, p->m, p->v, p->buf};
    buffers_free(p->dev, bufs);
    memset(p, 0, sizeof *p);
}

cg_status cg_init_normal(cg_tensor *t, cg_rng *r, double mean, double std)
{
    return cg_rng_fill_normal(r, t, mean, std);
}

cg_status cg_init_uniform(cg_tensor *t, cg_rng *r, double lo, double hi)
{
    return cg_rng_fill_uniform(r, t, lo, hi);
}

cg_status cg_init_const(cg_tensor *t, double v)
{
    if (t->dev == CG_CUDA)
        return cuda_fill(t->data, v, t->n);
    for (int64_t i = 0; i < t->n; i++)
        t->data[i] = (real)v;
    return CG_OK;
}
