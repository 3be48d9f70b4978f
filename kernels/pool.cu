/*
 * pool.cu: the CUDA twins of host/cpu/pool.c, max / average pooling and
 * bilinear resizing, forward and backward. One thread per output element
 * (forward) or per input element (backward, a gather over the outputs that
 * read it: no atomics), each calling the per-element function of
 * host/cpu/pool_impl.h that the CPU calls, so the results are its bits.
 * The geometry is copied by value into the lambdas.
 */
#include "cuda_check.h"
#include "cpu/pool_impl.h"

extern "C" cg_status cuda_maxpool2d_fwd(real *y, const real *x, const cg_pool_geom *dp)
{
    const cg_pool_geom d = *dp;
    const int64_t so = (int64_t)d.Ho * d.Wo, si = (int64_t)d.H * d.W;
    return cu_map(d.NC * so, [=] __device__(int64_t e) {
        int64_t c = e / so;
        int o = (int)(e % so);
        y[e] = maxpool_fwd_at(x + c * si, &d, o / d.Wo, o % d.Wo);
    });
}

extern "C" cg_status cuda_maxpool2d_bwd(real *dx, const real *dy, const real *x,
                                        const cg_pool_geom *dp)
{
    const cg_pool_geom d = *dp;
    const int64_t so = (int64_t)d.Ho * d.Wo, si = (int64_t)d.H * d.W;
    return cu_map(d.NC * si, [=] __device__(int64_t e) {
        int64_t c = e / si;
        int i = (int)(e % si);
        dx[e] = maxpool_bwd_at(dy + c * so, x + c * si, &d, i / d.W, i % d.W);
    });
}

extern "C" cg_status cuda_avgpool2d_fwd(real *y, const real *x, const cg_pool_geom *dp)
{
    const cg_pool_geom d = *dp;
    const int64_t so = (int64_t)d.Ho * d.Wo, si = (int64_t)d.H * d.W;
    return cu_map(d.NC * so, [=] __device__(int64_t e) {
        int64_t c = e / so;
        int o = (int)(e % so);
        y[e] = avgpool_fwd_at(x + c * si, &d, o / d.Wo, o % d.Wo);
    });
}

extern "C" cg_status cuda_avgpool2d_bwd(real *dx, const real *dy, const cg_pool_geom *dp)
{
    const cg_pool_geom d = *dp;
    const int64_t so = (int64_t)d.Ho * d.Wo, si = (int64_t)d.H * d.W;
    return cu_map(d.NC * si, [=] __device__(int64_t e) {
        int64_t c = e / si;
        int i = (int)(e % si);
        dx[e] = avgpool_bwd_at(dy + c * so, &d, i / d.W, i % d.W);
    });
}

extern "C" cg_status cuda_bilinear_fwd(real *y, const real *x, const cg_resize_geom *dp)
{
    const cg_resize_geom d = *dp;
    const int64_t so = (int64_t)d.Ho * d.Wo, si = (int64_t)d.H * d.W;
    return cu_map(d.NC * so, [=] __device__(int64_t e) {
        int64_t c = e / so;
        int o = (int)(e % so);
        y[e] = bilinear_fwd_at(x + c * si, &d, o / d.Wo, o % d.Wo);
    });
}

extern "C" cg_status cuda_bilinear_bwd(real *dx, const real *dy, const cg_resize_geom *dp)
{
    const cg_resize_geom d = *dp;
    const int64_t so = (int64_t)d.Ho * d.Wo, si = (int64_t)d.H * d.W;
    return cu_map(d.NC * si, [=] __device__(int64_t e) {
        int64_t c = e / si;
        int i = (int)(e % si);
        dx[e] = bilinear_bwd_at(dy + c * so, &d, i / d.W, i % d.W);
    });
}
