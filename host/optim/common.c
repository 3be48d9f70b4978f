/*
 * common.c: the unfrozen ranges of a flat parameter buffer, and the
 * gradient hook run over them (see optim_common.h).
 */
#include "optim/optim_common.h"

/* Tensors are laid out in declaration order (cg_param appends), so tensor i
 * spans [off[i], off[i + 1]), the last one [off[count - 1], n). */
static int64_t span_end(const cg_params *p, int i)
{
    return i + 1 < p->count ? p->off[i + 1] : p->n;
}

int optim_range_next(const cg_params *p, optim_range_iter *it, int64_t *lo, int64_t *hi)
{
    while (it->i < p->count) {
        int i = it->i++;
        int group = p->t[i]->group;
        if (group < 0 || group >= CG_MAX_GROUPS || !p->frozen[group])
            continue;
        int64_t start = p->off[i], from = it->cursor;
        it->cursor = span_end(p, i);
        if (start > from) {
            *lo = from;
            *hi = start;
            return 1;
        }
    }
    if (it->cursor < p->n) {
        *lo = it->cursor;
        *hi = p->n;
        it->cursor = p->n;
        return 1;
    }
    return 0;
}

static cg_status each_range(cg_params *p, optim_range_fn fn, void *arg)
{
    optim_range_iter it = OPTIM_RANGE_ITER_INIT;
    int64_t lo, hi;
    while (optim_range_next(p, &it, &lo, &hi)) {
        cg_status st = fn(p, lo, hi, arg);
        if (st != CG_OK)
            return st;
    }
    return CG_OK;
}

cg_status optim_sync_grads(cg_params *p)
{
    return p->grad_sync ? each_range(p, p->grad_sync, p->grad_sync_arg) : CG_OK;
}

cg_status optim_update(cg_params *p, optim_range_fn update, void *coef)
{
    cg_status st = optim_sync_grads(p);
    return st != CG_OK ? st : each_range(p, update, coef);
}
