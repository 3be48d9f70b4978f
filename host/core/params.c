/*
 * params.c: the flat parameter buffer (see nn.h).
 */
#include <stdlib.h>
#include <string.h>

#include "cugen/nn.h"

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

void cg_params_zero_grad(cg_params *p)
{
    if (p->g)
        memset(p->g, 0, sizeof(real) * (size_t)p->n);
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
    free(p->w);
    free(p->g);
    free(p->m);
    free(p->v);
    free(p->buf);
    memset(p, 0, sizeof *p);
}

void cg_init_normal(cg_tensor *t, cg_rng *r, double mean, double std)
{
    cg_rng_normal(r, t->data, t->n, mean, std);
}

void cg_init_uniform(cg_tensor *t, cg_rng *r, double lo, double hi)
{
    cg_rng_uniform(r, t->data, t->n);
    for (int64_t i = 0; i < t->n; i++)
        t->data[i] = (real)(lo + (hi - lo) * (double)t->data[i]);
}

void cg_init_const(cg_tensor *t, double v)
{
    for (int64_t i = 0; i < t->n; i++)
        t->data[i] = (real)v;
}
