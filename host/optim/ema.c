/*
 * ema.c: an exponential moving average of the weights (a shadow copy of the
 * whole flat buffer, frozen groups included: their weights do not move, so
 * their shadow simply converges to them).
 *
 * The shadow lives on the parameters' device; on the GPU the update and the
 * swap are kernels/optim.cu (cuda_ema_update, cuda_ema_swap).
 *
 * Not for: the optimizers (adam.c, sgd.c).
 */
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/optim.h"
#include "optim/optim_cuda.h"
#include "optim/optim_common.h"

cg_status cg_ema_init(cg_ema *e, const cg_params *p, double decay)
{
    if (!e)
        return CG_ERR_ARG;
    memset(e, 0, sizeof *e);
    if (!p)
        return CG_ERR_ARG;
    if (!p->allocated)
        return CG_ERR_STATE;
    if (!optim_finite_min(decay, 0) || decay > 1)
        return CG_ERR_ARG;
    size_t bytes = sizeof(real) * (size_t)(p->n > 0 ? p->n : 1);
    if (p->dev == CG_CUDA) {
        cg_status st = cg_cuda_malloc((void **)&e->w, bytes, "EMA shadow weights");
        if (st == CG_OK && p->n > 0)
            st = cg_cuda_copy_d2d(e->w, p->w, sizeof(real) * (size_t)p->n);
        if (st != CG_OK) {
            cg_cuda_free(e->w);
            e->w = NULL;
            return st;
        }
    } else {
        e->w = malloc(bytes);
        if (!e->w)
            return CG_ERR_NOMEM;
        if (p->n > 0)
            memcpy(e->w, p->w, sizeof(real) * (size_t)p->n);
    }
    e->dev = p->dev;
    e->n = p->n;
    e->decay = decay;
    return CG_OK;
}

/* A shadow made for another buffer (or freed) is left alone. */
static int ema_matches(const cg_ema *e, const cg_params *p)
{
    return e && p && e->w && p->allocated && e->n == p->n && e->dev == p->dev;
}

cg_status cg_ema_update(cg_ema *e, const cg_params *p)
{
    if (!ema_matches(e, p))
        return CG_OK;
    if (e->dev == CG_CUDA)
        return cuda_ema_update(e->w, p->w, e->decay, e->n);
    const double d = e->decay, keep = 1 - e->decay;
    for (int64_t i = 0; i < e->n; i++)
        e->w[i] = (real)(d * (double)e->w[i] + keep * (double)p->w[i]);
    return CG_OK;
}

cg_status cg_ema_swap(cg_ema *e, cg_params *p)
{
    if (!ema_matches(e, p))
        return CG_OK;
    if (e->dev == CG_CUDA)
        return cuda_ema_swap(e->w, p->w, e->n);
    /* element by element: the parameter tensors are views into p->w */
    for (int64_t i = 0; i < e->n; i++) {
        real t = e->w[i];
        e->w[i] = p->w[i];
        p->w[i] = t;
    }
    return CG_OK;
}

void cg_ema_free(cg_ema *e)
{
    if (!e)
        return;
    if (e->dev == CG_CUDA)
        cg_cuda_free(e->w);
    else
        free(e->w);
    memset(e, 0, sizeof *e);
}
