/*
 * sgd.c: stochastic gradient descent over the flat parameter buffer, as
 * torch.optim.SGD computes it (maximize off):
 *
 *   g   = g + wd w
 *   buf = g                                  (first step)
 *   buf = momentum buf + (1 - dampening) g   (later steps)
 *   d   = g + momentum buf  (nesterov)  or  buf  (otherwise)
 *   w   = w - lr d
 *
 * With momentum 0 there is no buffer and d = g. The buffer is the params' m.
 * Per element the arithmetic is in double; stored values are `real`.
 *
 * Parameters on the GPU take the same update in kernels/optim.cu (cuda_sgd_update).
 *
 * Not for: which elements are updated (optim_common.h), Adam (adam.c).
 */
#include "cugen/optim.h"
#include "optim/optim_cuda.h"
#include "optim/optim_common.h"

void cg_sgd_init(cg_sgd *o, double lr, double momentum, double dampening,
                 double weight_decay, int nesterov)
{
    *o = (cg_sgd){.lr = lr, .momentum = momentum, .dampening = dampening,
                  .weight_decay = weight_decay, .nesterov = nesterov != 0};
}

static void sgd_range(const optim_sgd_coef *c, real *restrict w, const real *restrict g,
                      real *restrict buf, int64_t lo, int64_t hi)
{
    const double mom = c->momentum, keep = c->keep;
    for (int64_t i = lo; i < hi; i++) {
        double wi = (double)w[i];
        double gi = (double)g[i] + c->weight_decay * wi;
        double d = gi;
        if (mom != 0) {
            double b = c->first ? gi : mom * (double)buf[i] + keep * gi;
            buf[i] = (real)b;
            d = c->nesterov ? gi + mom * b : b;
        }
        w[i] = (real)(wi - c->lr * d);
    }
}

/* one range on the CPU or the GPU; arg the optim_sgd_coef */
static cg_status sgd_update(cg_params *p, int64_t lo, int64_t hi, void *arg)
{
    const optim_sgd_coef *c = arg;
    if (p->dev == CG_CUDA)
        return cuda_sgd_update(p->w, p->g, p->m, c, lo, hi);
    sgd_range(c, p->w, p->g, p->m, lo, hi);
    return CG_OK;
}

cg_status cg_sgd_step(cg_sgd *o, cg_params *p)
{
    if (!o || !p)
        return CG_ERR_ARG;
    if (!p->allocated)
        return CG_ERR_STATE;
    if (!optim_finite_min(o->lr, 0) || !optim_finite_min(o->momentum, 0) ||
        !isfinite(o->dampening) || !optim_finite_min(o->weight_decay, 0) || o->t < 0)
        return CG_ERR_ARG;
    /* torch: "Nesterov momentum requires a momentum and zero dampening" */
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return CG_ERR_ARG;
    optim_sgd_coef c = {
        .lr = o->lr,
        .momentum = o->momentum,
        .weight_decay = o->weight_decay,
        .keep = 1 - o->dampening,
        .nesterov = o->nesterov,
        .first = o->t == 0,
    };
    cg_status st = optim_update(p, sgd_update, &c);
    if (st == CG_OK)
        o->t++;
    return st;
}
