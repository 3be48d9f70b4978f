/*
 * optim.cu: fused optimizer updates and the weight EMA over the flat
 * parameter buffer, the CUDA twins of host/optim/adam.c, sgd.c and ema.c:
 * one thread per element of a range [lo, hi) that the host picked (frozen
 * groups skipped), the coefficients computed on the host in double, the
 * per-element arithmetic the CPU's, in double, in the same order.
 */
#include "cuda_check.h"
#include "optim/optim_cuda.h"

extern "C" cg_status cuda_adam_update(real *w, const real *g, real *m, real *v,
                                      const optim_adam_coef *cp, int64_t lo, int64_t hi)
{
    const optim_adam_coef c = *cp;
    real *w0 = w + lo, *m0 = m + lo, *v0 = v + lo;
    const real *g0 = g + lo;
    return cu_map(hi - lo, [=] __device__(int64_t i) {
        double wi = (double)w0[i];
        double gi = (double)g0[i] + c.l2 * wi;
        wi *= c.shrink;
        double mi = c.beta1 * (double)m0[i] + (1 - c.beta1) * gi;
        double vi = c.beta2 * (double)v0[i] + (1 - c.beta2) * gi * gi;
        double denom = sqrt(vi) / c.bc2_sqrt + c.eps;
        if (mi != 0)  /* adam.c: keeps the zero padding at 0 with eps = 0 */
            wi -= c.step_size * mi / denom;
        w0[i] = (real)wi;
        m0[i] = (real)mi;
        v0[i] = (real)vi;
    });
}

extern "C" cg_status cuda_sgd_update(real *w, const real *g, real *buf, const optim_sgd_coef *cp,
                                     int64_t lo, int64_t hi)
{
    const optim_sgd_coef c = *cp;
    real *w0 = w + lo, *b0 = buf + lo;
    const real *g0 = g + lo;
    return cu_map(hi - lo, [=] __device__(int64_t i) {
        const double mom = c.momentum;
        double wi = (double)w0[i];
        double gi = (double)g0[i] + c.weight_decay * wi;
        double d = gi;
        if (mom != 0) {
            double b = c.first ? gi : mom * (double)b0[i] + c.keep * gi;
            b0[i] = (real)b;
            d = c.nesterov ? gi + mom * b : b;
        }
        w0[i] = (real)(wi - c.lr * d);
    });
}

extern "C" cg_status cuda_ema_update(real *shadow, const real *w, double decay, int64_t n)
{
    const double keep = 1 - decay;
    return cu_map(n, [=] __device__(int64_t i) {
        shadow[i] = (real)(decay * (double)shadow[i] + keep * (double)w[i]);
    });
}

extern "C" cg_status cuda_ema_swap(real *a, real *b, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) {
        real t = a[i];
        a[i] = b[i];
        b[i] = t;
    });
}
