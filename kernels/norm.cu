/*
 * norm.cu: the CUDA twins of host/cpu/norm.c: batch norm (statistics, the
 * running-stat update, forward, backward) and group norm (layer norm is
 * group norm, see host/ops/norm.c), as hand-written kernels.
 *
 * Not cuDNN's batch norm: the front end keeps one node layout for both
 * devices (the batch mean and the rstd = 1 / sqrt(var + eps) it computed,
 * rounded to float), and the CPU computes in double. cuDNN sums in float,
 * saves its own inverse std, updates the running stats itself and refuses
 * eps below 1e-5. Kernels that do what the CPU does give the same numbers
 * to the last bit or so, through the same tape code.
 *
 * Work split: a statistic over a channel (batch norm: N x S values, strided
 * by C S) or a (sample, group) (group norm: Cg x S contiguous values) is one
 * block of CU_RED_THREADS threads summing in double with the fixed tree of
 * block_sum.cuh: no atomics, the same bits on every run. Two passes for the
 * variance (the mean first), as on the CPU. Elementwise parts (normalise,
 * dx) are one thread per element where they need no sum, else done by the
 * block that computed the sums.
 */
#include "block_sum.cuh"

/* ---- batch norm: x (N, C, S) -------------------------------------------------------- */
extern "C" cg_status cuda_batchnorm_stats(real *mean, real *var, const real *x, int N, int C,
                                          int S)
{
    int64_t cnt = (int64_t)N * S;
    return cu_per_block(C, [=] __device__(int64_t c) {
        auto at = [=](int64_t j) { return (double)x[(j / S * C + c) * S + j % S]; };
        double m = cu_block_sum(cnt, at) / (double)cnt;
        double v = cu_block_sum(cnt, [=](int64_t j) {
            double d = at(j) - m;
            return d * d;
        });
        if (threadIdx.x == 0) {
            mean[c] = (real)m;
            var[c] = (real)(v / (double)cnt);
        }
    });
}

/* a batch split among processes: this part's sums over the total count (cpu_norm.h) */
extern "C" cg_status cuda_batchnorm_mean_part(real *mean, const real *x, int N, int C, int S,
                                              double total)
{
    int64_t cnt = (int64_t)N * S;
    return cu_per_block(C, [=] __device__(int64_t c) {
        double s = cu_block_sum(cnt, [=](int64_t j) {
            return (double)x[(j / S * C + c) * S + j % S];
        });
        if (threadIdx.x == 0)
            mean[c] = (real)(s / total);
    });
}

extern "C" cg_status cuda_batchnorm_var_part(real *var, const real *x, const real *mean, int N,
                                             int C, int S, double total)
{
    int64_t cnt = (int64_t)N * S;
    return cu_per_block(C, [=] __device__(int64_t c) {
        double m = mean[c];
        double v = cu_block_sum(cnt, [=](int64_t j) {
            double d = x[(j / S * C + c) * S + j % S] - m;
            return d * d;
        });
        if (threadIdx.x == 0)
            var[c] = (real)(v / total);
    });
}

extern "C" cg_status cuda_batchnorm_update_running(real *run_mean, real *run_var,
                                                   const real *mean, const real *var, int C,
                                                   int64_t count, double momentum)
{
    double unbias = (double)count / (double)(count - 1);
    return cu_map(C, [=] __device__(int64_t c) {
        run_mean[c] = (real)((1 - momentum) * run_mean[c] + momentum * mean[c]);
        run_var[c] = (real)((1 - momentum) * run_var[c] + momentum * (var[c] * unbias));
    });
}

extern "C" cg_status cuda_batchnorm_fwd(real *y, real *rstd, const real *x, const real *mean,
                                        const real *var, const real *gamma, const real *beta,
                                        int N, int C, int S, double eps)
{
    cg_status st = cu_map(C, [=] __device__(int64_t c) {
        rstd[c] = (real)(1.0 / sqrt((double)var[c] + eps));
    });
    if (st != CG_OK)
        return st;
    return cu_map((int64_t)N * C * S, [=] __device__(int64_t i) {
        int64_t c = i / S % C;
        double r = 1.0 / sqrt((double)var[c] + eps);
        double m = mean[c], b = beta ? beta[c] : 0.0;
        double scale = (gamma ? gamma[c] : 1.0) * r;
        y[i] = (real)((x[i] - m) * scale + b);
    });
}

/* Channel c's sums over the block, of dy (*sdy) and of dy xhat (*sdyx);
 * thread 0 adds them to dgamma and dbeta (either NULL: not wanted) */
static __device__ void bn_dy_sums(int64_t c, const real *dy, const real *x, double m, double r,
                                  int N, int C, int S, real *dgamma, real *dbeta, double *sdy,
                                  double *sdyx)
{
    int64_t cnt = (int64_t)N * S;
    auto idx = [=](int64_t j) { return (j / S * C + c) * S + j % S; };
    *sdy = cu_block_sum(cnt, [=](int64_t j) { return (double)dy[idx(j)]; });
    *sdyx = cu_block_sum(cnt, [=](int64_t j) {
        int64_t k = idx(j);
        return dy[k] * ((x[k] - m) * r);
    });
    if (threadIdx.x == 0) {
        if (dgamma)
            dgamma[c] += (real)*sdyx;
        if (dbeta)
            dbeta[c] += (real)*sdy;
    }
}

extern "C" cg_status cuda_batchnorm_bwd(real *dx, real *dgamma, real *dbeta, const real *dy,
                                        const real *x, const real *mean, const real *rstd,
                                        const real *gamma, int N, int C, int S, int training)
{
    int64_t cnt = (int64_t)N * S;
    return cu_per_block(C, [=] __device__(int64_t c) {
        double m = mean[c], r = rstd[c], sdy, sdyx;
        auto idx = [=](int64_t j) { return (j / S * C + c) * S + j % S; };
        bn_dy_sums(c, dy, x, m, r, N, C, S, dgamma, dbeta, &sdy, &sdyx);
        if (!dx)
            return;
        double gr = (gamma ? gamma[c] : 1.0) * r;
        double mdy = training ? sdy / (double)cnt : 0, mdyx = training ? sdyx / (double)cnt : 0;
        for (int64_t j = threadIdx.x; j < cnt; j += CU_RED_THREADS) {
            int64_t k = idx(j);
            double xh = (x[k] - m) * r;
            dx[k] = (real)(gr * (dy[k] - mdy - xh * mdyx));
        }
    });
}

extern "C" cg_status cuda_batchnorm_bwd_sums(real *sums, real *dgamma, real *dbeta,
                                             const real *dy, const real *x, const real *mean,
                                             const real *rstd, int N, int C, int S)
{
    return cu_per_block(C, [=] __device__(int64_t c) {
        double sdy, sdyx;
        bn_dy_sums(c, dy, x, mean[c], rstd[c], N, C, S, dgamma, dbeta, &sdy, &sdyx);
        if (threadIdx.x == 0) {
            sums[c] = (real)sdy;
            sums[C + c] = (real)sdyx;
        }
    });
}

extern "C" cg_status cuda_batchnorm_bwd_dx(real *dx, const real *dy, const real *x,
                                           const real *mean, const real *rstd,
                                           const real *gamma, const real *sums, double total,
                                           int N, int C, int S)
{
    return cu_map((int64_t)N * C * S, [=] __device__(int64_t i) {
        int64_t c = i / S % C;
        double r = rstd[c], xh = (x[i] - mean[c]) * r;
        double gr = (gamma ? gamma[c] : 1.0) * r;
        dx[i] = (real)(gr * (dy[i] - sums[c] / total - xh * (sums[C + c] / total)));
    });
}

/* ---- group norm: x (N, C, S), G groups of Cg = C / G channels ------------------------ */
extern "C" cg_status cuda_groupnorm_fwd(real *y, real *mean, real *rstd, const real *x,
                                        const real *gamma, const real *beta, int N, int C,
                                        int S, int G, double eps)
{
    int Cg = C / G;
    int64_t L = (int64_t)Cg * S;  /* elements of one (sample, group), contiguous */
    return cu_per_block((int64_t)N * G, [=] __device__(int64_t ng) {
        int64_t o = ng * L;  /* = (n C + g Cg) S */
        int g = (int)(ng % G);
        double m = cu_block_sum(L, [=](int64_t i) { return (double)x[o + i]; }) / (double)L;
        double v = cu_block_sum(L, [=](int64_t i) {
            double d = x[o + i] - m;
            return d * d;
        });
        double r = 1.0 / sqrt(v / (double)L + eps);
        if (threadIdx.x == 0) {
            mean[ng] = (real)m;
            rstd[ng] = (real)r;
        }
        for (int64_t i = threadIdx.x; i < L; i += CU_RED_THREADS) {
            int c = g * Cg + (int)(i / S);
            double gm = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
            y[o + i] = (real)((x[o + i] - m) * r * gm + b);
        }
    });
}

extern "C" cg_status cuda_groupnorm_bwd(real *dx, real *dgamma, real *dbeta, const real *dy,
                                        const real *x, const real *mean, const real *rstd,
                                        const real *gamma, int N, int C, int S, int G)
{
    int Cg = C / G;
    int64_t L = (int64_t)Cg * S;
    cg_status st = CG_OK;
    /* dgamma[c] += sum over (n, s) of dy xhat, dbeta[c] += sum of dy: a block per channel */
    if (dgamma || dbeta)
        st = cu_per_block(C, [=] __device__(int64_t c) {
            int64_t cnt = (int64_t)N * S;
            auto idx = [=](int64_t j) { return (j / S * C + c) * S + j % S; };
            double sg = cu_block_sum(cnt, [=](int64_t j) {
                int64_t k = idx(j), ng = j / S * G + c / Cg;
                return dy[k] * ((x[k] - (double)mean[ng]) * rstd[ng]);
            });
            double sb = cu_block_sum(cnt, [=](int64_t j) { return (double)dy[idx(j)]; });
            if (threadIdx.x == 0) {
                if (dgamma)
                    dgamma[c] += (real)sg;
                if (dbeta)
                    dbeta[c] += (real)sb;
            }
        });
    if (st != CG_OK || !dx)
        return st;
    /* per (n, g), with dxhat = dy gamma:
     * dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) */
    return cu_per_block((int64_t)N * G, [=] __device__(int64_t ng) {
        int64_t o = ng * L;
        int g = (int)(ng % G);
        double m = mean[ng], r = rstd[ng];
        auto gm = [=](int64_t i) { return gamma ? (double)gamma[g * Cg + i / S] : 1.0; };
        double sd = cu_block_sum(L, [=](int64_t i) { return dy[o + i] * gm(i); });
        double sdx = cu_block_sum(L, [=](int64_t i) {
            return dy[o + i] * gm(i) * ((x[o + i] - m) * r);
        });
        double md = sd / (double)L, mdx = sdx / (double)L;
        for (int64_t i = threadIdx.x; i < L; i += CU_RED_THREADS) {
            double xh = (x[o + i] - m) * r;
            dx[o + i] = (real)(r * (dy[o + i] * gm(i) - md - xh * mdx));
        }
    });
}
