/*
 * elementwise.cu: the CUDA twins of host/cpu/elementwise.c, one thread per
 * element. Each computes in double what its CPU reference computes, in the
 * same order, and stores `real` (the CPU's libm and CUDA's exp/log/tanh may
 * differ in the last bit of a double, which the float result rarely shows).
 */
#include "cuda_check.h"

/* cpu_sigmoid and cpu_softplus of cpu_elementwise.h */
static __device__ double dev_sigmoid(double x)
{
    if (x >= 0)
        return 1 / (1 + exp(-x));
    double e = exp(x);
    return e / (1 + e);
}

static __device__ double dev_softplus(double x)
{
    return (x > 0 ? x : 0) + log1p(exp(-fabs(x)));
}

extern "C" cg_status cuda_relu_fwd(real *y, const real *x, int64_t n)
{
    /* NaN stays NaN, as in PyTorch (cpu_relu_fwd) */
    return cu_map(n, [=] __device__(int64_t i) { y[i] = x[i] <= 0 ? 0 : x[i]; });
}

extern "C" cg_status cuda_relu_bwd(real *dx, const real *dy, const real *x, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { dx[i] = x[i] > 0 ? dy[i] : 0; });
}

extern "C" cg_status cuda_leaky_relu_fwd(real *y, const real *x, double slope, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) {
        y[i] = x[i] > 0 ? x[i] : (real)(slope * x[i]);
    });
}

extern "C" cg_status cuda_leaky_relu_bwd(real *dx, const real *dy, const real *x, double slope,
                                         int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) {
        dx[i] = x[i] > 0 ? dy[i] : (real)(slope * dy[i]);
    });
}

extern "C" cg_status cuda_tanh_fwd(real *y, const real *x, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { y[i] = (real)tanh((double)x[i]); });
}

extern "C" cg_status cuda_tanh_bwd(real *dx, const real *dy, const real *y, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) {
        dx[i] = (real)(dy[i] * (1 - (double)y[i] * y[i]));
    });
}

extern "C" cg_status cuda_sigmoid_fwd(real *y, const real *x, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { y[i] = (real)dev_sigmoid(x[i]); });
}

extern "C" cg_status cuda_sigmoid_bwd(real *dx, const real *dy, const real *y, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) {
        dx[i] = (real)(dy[i] * (double)y[i] * (1 - (double)y[i]));
    });
}

extern "C" cg_status cuda_clamp_fwd(real *y, const real *x, double lo, double hi, int64_t n)
{
    const real l = (real)lo, h = (real)hi;
    return cu_map(n, [=] __device__(int64_t i) {
        real v = x[i];
        y[i] = v < l ? l : v > h ? h : v;
    });
}

extern "C" cg_status cuda_clamp_bwd(real *dx, const real *dy, const real *x, double lo, double hi,
                                    int64_t n)
{
    const real l = (real)lo, h = (real)hi;
    return cu_map(n, [=] __device__(int64_t i) { dx[i] = x[i] >= l && x[i] <= h ? dy[i] : 0; });
}

extern "C" cg_status cuda_silu_fwd(real *y, const real *x, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { y[i] = (real)(x[i] * dev_sigmoid(x[i])); });
}

/* d/dx x s(x) = s + x s (1 - s) */
extern "C" cg_status cuda_silu_bwd(real *dx, const real *dy, const real *x, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) {
        double s = dev_sigmoid(x[i]);
        dx[i] = (real)(dy[i] * s * (1 + x[i] * (1 - s)));
    });
}

extern "C" cg_status cuda_softplus_fwd(real *y, const real *x, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { y[i] = (real)dev_softplus(x[i]); });
}

extern "C" cg_status cuda_softplus_bwd(real *dx, const real *dy, const real *x, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { dx[i] = (real)(dy[i] * dev_sigmoid(x[i])); });
}

extern "C" cg_status cuda_exp_fwd(real *y, const real *x, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { y[i] = (real)exp((double)x[i]); });
}

extern "C" cg_status cuda_exp_bwd(real *dx, const real *dy, const real *y, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { dx[i] = (real)((double)dy[i] * y[i]); });
}

extern "C" cg_status cuda_pow_fwd(real *y, const real *x, double p, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { y[i] = (real)pow((double)x[i], p); });
}

extern "C" cg_status cuda_pow_bwd(real *dx, const real *dy, const real *x, double p, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) {
        dx[i] = (real)((double)dy[i] * p * pow((double)x[i], p - 1));
    });
}

extern "C" cg_status cuda_log_fwd(real *y, const real *x, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { y[i] = (real)log((double)x[i]); });
}

extern "C" cg_status cuda_log_bwd(real *dx, const real *dy, const real *x, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { dx[i] = (real)((double)dy[i] / x[i]); });
}

extern "C" cg_status cuda_affine_fwd(real *y, const real *x, double s, double t, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { y[i] = (real)(s * x[i] + t); });
}

extern "C" cg_status cuda_affine_bwd(real *dx, const real *dy, double s, int64_t n)
{
    return cu_map(n, [=] __device__(int64_t i) { dx[i] = (real)(s * dy[i]); });
}
