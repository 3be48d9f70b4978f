/*
 * stage.c: checkpoints and weights files of parameters on the GPU. The
 * file code (checkpoint.c) reads and writes host memory only; for GPU
 * parameters (and a GPU EMA) it works on host stand-ins that this file
 * fills from the device before a save and copies to the device after a
 * load that passed every check, so a refused file leaves the GPU values as
 * they were. Parameters on the host pass through untouched.
 */
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "io/io_internal.h"

/* A host copy of n values of device memory (at least one element). */
static real *host_copy(const real *dev, int64_t n, cg_status *st, char *err, size_t errlen)
{
    size_t bytes = sizeof(real) * (size_t)(n > 0 ? n : 1);
    real *h = malloc(bytes);
    if (!h) {
        *st = io_err(CG_ERR_NOMEM, err, errlen, "out of host memory for %zu bytes", bytes);
        return NULL;
    }
    if (n > 0 && (*st = cg_cuda_download(h, dev, sizeof(real) * (size_t)n)) != CG_OK) {
        io_err(*st, err, errlen, "copying parameters from the GPU: %s", cg_cuda_last_error());
        free(h);
        return NULL;
    }
    return h;
}

cg_status io_stage_begin(io_stage *sg, const cg_params *p, const cg_ckpt_state *s,
                         const cg_params **hp, cg_ckpt_state **hs, char *err, size_t errlen)
{
    memset(sg, 0, sizeof *sg);
    *hp = p;
    *hs = (cg_ckpt_state *)s;
    cg_status st = CG_OK;
    if (p && p->allocated && p->dev == CG_CUDA) {
        sg->p = *p;  /* same tensors and offsets; values on the host */
        sg->p.dev = CG_CPU;
        sg->p.g = NULL;
        sg->p.w = host_copy(p->w, p->n, &st, err, errlen);
        sg->p.m = sg->p.w ? host_copy(p->m, p->n, &st, err, errlen) : NULL;
        sg->p.v = sg->p.m ? host_copy(p->v, p->n, &st, err, errlen) : NULL;
        sg->p.buf = sg->p.v ? host_copy(p->buf, p->nbuf, &st, err, errlen) : NULL;
        sg->staged_p = 1;
        *hp = &sg->p;
    }
    if (st == CG_OK && s && s->ema && s->ema->w && s->ema->dev == CG_CUDA) {
        sg->ema = *s->ema;
        sg->ema.dev = CG_CPU;
        sg->ema.w = host_copy(s->ema->w, s->ema->n, &st, err, errlen);
        sg->s = *s;
        sg->s.ema = &sg->ema;
        sg->staged_ema = 1;
        *hs = &sg->s;
    }
    if (st != CG_OK)
        io_stage_end(sg);
    return st;
}

static cg_status upload(real *dev, const real *host, int64_t n, char *err, size_t errlen)
{
    cg_status st = n > 0 ? cg_cuda_upload(dev, host, sizeof(real) * (size_t)n) : CG_OK;
    if (st != CG_OK)
        io_err(st, err, errlen, "copying parameters to the GPU: %s", cg_cuda_last_error());
    return st;
}

cg_status io_stage_commit(io_stage *sg, cg_params *p, cg_ckpt_state *s, char *err,
                          size_t errlen)
{
    cg_status st = CG_OK;
    if (sg->staged_p) {
        st = upload(p->w, sg->p.w, p->n, err, errlen);
        if (st == CG_OK)
            st = upload(p->m, sg->p.m, p->n, err, errlen);
        if (st == CG_OK)
            st = upload(p->v, sg->p.v, p->n, err, errlen);
        if (st == CG_OK)
            st = upload(p->buf, sg->p.buf, p->nbuf, err, errlen);
    }
    if (sg->staged_ema && st == CG_OK) {
        cg_ema *ema = s->ema;
        *s = sg->s;  /* the step, epoch, seed ... the load wrote into the stand-in */
        s->ema = ema;
        st = upload(ema->w, sg->ema.w, ema->n, err, errlen);
    }
    return st;
}

void io_stage_end(io_stage *sg)
{
    if (sg->staged_p) {
        free(sg->p.w);
        free(sg->p.m);
        free(sg->p.v);
        free(sg->p.buf);
    }
    if (sg->staged_ema)
        free(sg->ema.w);
    memset(sg, 0, sizeof *sg);
}
