/*
 * ema.c: an exponential moving average of the weights (a shadow copy of the
 * whole flat buffer, frozen groups included: their weights do not move, so
 * their shadow simply converges to them).
 *
 * Not for: the optimizers (adam.c, sgd.c).
 */
#include <stdlib.h>
#include <string.h>

#include "cugen/optim.h"
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
    e->w = malloc(bytes);
    if (!e->w)
        return CG_ERR_NOMEM;
    if (p->n > 0)
        memcpy(e->w, p->w, sizeof(real) * (size_t)p->n);
    e->n = p->n;
    e->decay = decay;
    return CG_OK;
}

/* A shadow made for another buffer (or freed) is left alone. */
static int ema_matches(const cg_ema *e, const cg_params *p)
{
    return e && p && e->w && p->allocated && e->n == p->n;
}

void cg_ema_update(cg_ema *e, const cg_params *p)
{
    if (!ema_matches(e, p))
        return;
    const double d = e->decay, keep = 1 - e->decay;
    for (int64_t i = 0; i < e->n; i++)
        e->w[i] = (real)(d * (double)e->w[i] + keep * (double)p->w[i]);
}

void cg_ema_swap(cg_ema *e, cg_params *p)
{
    if (!ema_matches(e, p))
        return;
    /* element by element: the parameter tensors are views into p->w */
    for (int64_t i = 0; i < e->n; i++) {
        real t = e->w[i];
        e->w[i] = p->w[i];
        p->w[i] = t;
    }
}

void cg_ema_free(cg_ema *e)
{
    if (!e)
        return;
    free(e->w);
    memset(e, 0, sizeof *e);
}
