/*
 * elementwise.c: reference pointwise ops (activations, exp/log, affine maps).
 * Every loop is independent per element; the CUDA twins mirror them one
 * thread per element. Broadcasting binary ops live in broadcast.c.
 */
#include "cpu/cpu_elementwise.h"
#include "cpu/cpu_fastexp.h"
#include "cpu/cpu_parallel.h"

/* A NaN stays NaN, as in PyTorch: a diverged activation must not turn
 * into a finite loss */
void cpu_relu_fwd(real *y, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] <= 0 ? 0 : x[i];
}

void cpu_relu_bwd(real *dx, const real *dy, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = x[i] > 0 ? dy[i] : 0;
}

/* The slope in `real`, multiplied in `real`, as PyTorch does; written as a
 * select of two computed values so the loop has no branch (signs of
 * activations are random: a branch mispredicts half the time) and vectorises. */
void cpu_leaky_relu_fwd(real *y, const real *x, double slope, int64_t n)
{
    const real s = (real)slope;
    for (int64_t i = 0; i < n; i++) {
        real v = x[i], sv = s * v;
        y[i] = v > 0 ? v : sv;
    }
}

void cpu_leaky_relu_bwd(real *dx, const real *dy, const real *x, double slope, int64_t n)
{
    const real s = (real)slope;
    for (int64_t i = 0; i < n; i++) {
        real g = dy[i], sg = s * g;
        dx[i] = x[i] > 0 ? g : sg;
    }
}

/* The bounds rounded to `real` once, as torch.clamp rounds its Python
 * floats to the tensor's dtype; comparisons with NaN are false, so NaN
 * passes through the forward and gets no gradient. */
void cpu_clamp_fwd(real *y, const real *x, double lo, double hi, int64_t n)
{
    const real l = (real)lo, h = (real)hi;
    for (int64_t i = 0; i < n; i++) {
        real v = x[i];
        y[i] = v < l ? l : v > h ? h : v;
    }
}

void cpu_clamp_bwd(real *dx, const real *dy, const real *x, double lo, double hi, int64_t n)
{
    const real l = (real)lo, h = (real)hi;
    for (int64_t i = 0; i < n; i++)
        dx[i] = x[i] >= l && x[i] <= h ? dy[i] : 0;
}

void cpu_tanh_fwd(real *y, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (real)tanh(x[i]);
}

void cpu_tanh_bwd(real *dx, const real *dy, const real *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = (real)(dy[i] * (1 - (double)y[i] * y[i]));
}

void cpu_sigmoid_fwd(real *y, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (real)cpu_sigmoid(x[i]);
}

void cpu_sigmoid_bwd(real *dx, const real *dy, const real *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = (real)(dy[i] * (double)y[i] * (1 - (double)y[i]));
}

#ifdef CUGEN_DOUBLE
void cpu_silu_fwd(real *y, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (real)(x[i] * cpu_sigmoid(x[i]));
}

/* d/dx x s(x) = s + x s (1 - s) */
void cpu_silu_bwd(real *dx, const real *dy, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double s = cpu_sigmoid(x[i]);
        dx[i] = (real)(dy[i] * s * (1 + x[i] * (1 - s)));
    }
}
#else
/* The float build: the same formulas in float around cpu_expf, in loops the
 * compiler vectorises. With e = e^-|x| (never overflows) and p = 1 / (1 + e),
 * s = p and 1 - s = e p for x >= 0, s = e p and 1 - s = p below: both
 * without cancellation. About 3 float ulps from the double forms. Large
 * tensors are split over the thread pool (each element on its own, so the
 * split does not change a bit). */
static void silu_fwd_range(real *y, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i], e = cpu_expf(-fabsf(v)), p = 1.0f / (1.0f + e);
        y[i] = v * (v >= 0 ? p : e * p);
    }
}

static void silu_bwd_range(real *dx, const real *dy, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i], e = cpu_expf(-fabsf(v)), p = 1.0f / (1.0f + e);
        float s = v >= 0 ? p : e * p, q = v >= 0 ? e * p : p;
        dx[i] = dy[i] * s * (1.0f + v * q);
    }
}

typedef struct {
    real *out;
    const real *a, *b;   /* silu_fwd: x, NULL; silu_bwd: dy, x */
} silu_job;

static void silu_fwd_part(void *arg, int64_t lo, int64_t hi)
{
    const silu_job *j = arg;
    silu_fwd_range(j->out + lo, j->a + lo, hi - lo);
}

static void silu_bwd_part(void *arg, int64_t lo, int64_t hi)
{
    const silu_job *j = arg;
    silu_bwd_range(j->out + lo, j->a + lo, j->b + lo, hi - lo);
}

void cpu_silu_fwd(real *y, const real *x, int64_t n)
{
    silu_job j = {y, x, NULL};
    cpu_parallel_range(n, silu_fwd_part, &j);
}

void cpu_silu_bwd(real *dx, const real *dy, const real *x, int64_t n)
{
    silu_job j = {dx, dy, x};
    cpu_parallel_range(n, silu_bwd_part, &j);
}
#endif

void cpu_softplus_fwd(real *y, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (real)cpu_softplus(x[i]);
}

void cpu_softplus_bwd(real *dx, const real *dy, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = (real)(dy[i] * cpu_sigmoid(x[i]));
}

void cpu_exp_fwd(real *y, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (real)exp(x[i]);
}

void cpu_exp_bwd(real *dx, const real *dy, const real *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = (real)((double)dy[i] * y[i]);
}

void cpu_log_fwd(real *y, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (real)log(x[i]);
}

void cpu_log_bwd(real *dx, const real *dy, const real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = (real)((double)dy[i] / x[i]);
}

void cpu_pow_fwd(real *y, const real *x, double p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (real)pow((double)x[i], p);
}

void cpu_pow_bwd(real *dx, const real *dy, const real *x, double p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = (real)((double)dy[i] * p * pow((double)x[i], p - 1));
}

void cpu_affine_fwd(real *y, const real *x, double s, double t, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (real)(s * x[i] + t);
}

void cpu_affine_bwd(real *dx, const real *dy, double s, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = (real)(s * dy[i]);
}
