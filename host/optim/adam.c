/*
 * adam.c: Adam and AdamW over the flat parameter buffer, as torch.optim.Adam
 * and torch.optim.AdamW compute them (amsgrad and maximize off):
 *
 *   g  = g + wd w                      (Adam: L2 decay through the gradient)
 *   w  = w (1 - lr wd)                 (AdamW: decoupled decay instead)
 *   m  = b1 m + (1 - b1) g
 *   v  = b2 v + (1 - b2) g^2
 *   w  = w - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * m and v are the params' m and v. Per element the arithmetic is in double and
 * only the stored w, m, v are rounded to `real`.
 *
 * Parameters on the GPU take the same update in kernels/optim.cu (cuda_adam_update),
 * with the coefficients computed here.
 *
 * Not for: which elements are updated (optim_common.h), SGD (sgd.c).
 */
#include "cugen/optim.h"
#include "optim/optim_cuda.h"
#include "optim/optim_common.h"

void cg_adam_init(cg_adam *o, double lr, double beta1, double beta2, double eps,
                  double weight_decay, int decoupled)
{
    *o = (cg_adam){.lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps,
                   .weight_decay = weight_decay, .decoupled = decoupled != 0};
}

static void adam_range(const optim_adam_coef *c, real *restrict w, const real *restrict g,
                       real *restrict m, real *restrict v, int64_t lo, int64_t hi)
{
    for (int64_t i = lo; i < hi; i++) {
        double wi = (double)w[i];
        double gi = (double)g[i] + c->l2 * wi;
        wi *= c->shrink;
        double mi = c->beta1 * (double)m[i] + (1 - c->beta1) * gi;
        double vi = c->beta2 * (double)v[i] + (1 - c->beta2) * gi * gi;
        double denom = sqrt(vi) / c->bc2_sqrt + c->eps;
        /* m == 0 moves nothing; with eps = 0 it would be 0/0 where v == 0 too
         * (the padding between tensors, which must stay 0) */
        if (mi != 0)
            wi -= c->step_size * mi / denom;
        w[i] = (real)wi;
        m[i] = (real)mi;
        v[i] = (real)vi;
    }
}

/* one range on the CPU or the GPU; arg the optim_adam_coef */
static cg_status adam_update(cg_params *p, int64_t lo, int64_t hi, void *arg)
{
    const optim_adam_coef *c = arg;
    if (p->dev == CG_CUDA)
        return cuda_adam_update(p->w, p->g, p->m, p->v, c, lo, hi);
    adam_range(c, p->w, p->g, p->m, p->v, lo, hi);
    return CG_OK;
}

cg_status cg_adam_step(cg_adam *o, cg_params *p)
{
    if (!o || !p)
        return CG_ERR_ARG;
    if (!p->allocated)
        return CG_ERR_STATE;
    if (!optim_finite_min(o->lr, 0) || !optim_unit_open(o->beta1) ||
        !optim_unit_open(o->beta2) || !optim_finite_min(o->eps, 0) ||
        !optim_finite_min(o->weight_decay, 0) || o->t < 0)
        return CG_ERR_ARG;
    int64_t t = o->t + 1;
    optim_adam_coef c = {
        .beta1 = o->beta1,
        .beta2 = o->beta2,
        .eps = o->eps,
        .l2 = o->decoupled ? 0 : o->weight_decay,
        .shrink = o->decoupled ? 1 - o->lr * o->weight_decay : 1,
        .step_size = o->lr / (1 - pow(o->beta1, (double)t)),
        .bc2_sqrt = sqrt(1 - pow(o->beta2, (double)t)),
    };
    cg_status st = optim_update(p, adam_update, &c);
    if (st == CG_OK)
        o->t = t;
    return st;
}
