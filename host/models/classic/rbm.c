/*
 * rbm.c: the restricted Boltzmann machine of the lecture notes (energy,
 * conditionals and names in cugen/classic.h): contrastive divergence,
 * persistent CD, exact log Z for tiny models, annealed importance sampling.
 *
 * The notes write the log-likelihood gradient as a positive phase (the
 * gradient of log f at the data) minus a negative phase (its expectation
 * under the model); for the RBM
 *   d log p(v) / dW = E[h v^T | v] - E_model[h v^T],
 * likewise b with v and c with h. CD-k estimates the model expectation from
 * a k-step Gibbs chain started at the data, PCD from chains that persist
 * across updates.
 *
 * Not for: the run, its data, printing and pictures (rbm_train.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

cg_status cg_rbm_build(cg_rbm *m, int nv, int nh, int nchains, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cg_params_init(&m->p);
    if (nv < 1 || nh < 1 || nv > (1 << 20) || nh > 65536 || nchains < 0 || nchains > 65536) {
        snprintf(err, errlen, "rbm: need 1 <= visible <= 2^20 and 1 <= hidden <= 65536, got "
                 "%d and %d", nv, nh);
        return CG_ERR_ARG;
    }
    m->nv = nv;
    m->nh = nh;
    m->W = cg_param(&m->p, "W", CG_SHAPE(nh, nv), 0);
    m->vb = cg_param(&m->p, "v_bias", CG_SHAPE(nv), 0);
    m->hb = cg_param(&m->p, "h_bias", CG_SHAPE(nh), 0);
    if (nchains > 0)
        m->chains = cg_buffer(&m->p, "pcd_chains", CG_SHAPE(nchains, nv));
    cg_status st = m->W && m->vb && m->hb && (nchains == 0 || m->chains)
                       ? cg_params_alloc(&m->p)
                       : CG_ERR_NOMEM;
    if (st != CG_OK) {
        snprintf(err, errlen, "rbm: out of memory for %d x %d weights", nh, nv);
        cg_params_free(&m->p);
    }
    return st;
}

void cg_rbm_init(cg_rbm *m, uint64_t seed, uint32_t stream)
{
    cg_rng r;
    cg_rng_init(&r, seed, stream);
    cg_init_normal(m->W, &r, 0.0, 0.01);
    cg_init_const(m->vb, 0.0);
    cg_init_const(m->hb, 0.0);
}

void cg_rbm_free(cg_rbm *m)
{
    cg_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

cg_tensor *cg_rbm_hidden_probs(cg_ctx *ctx, cg_rbm *m, cg_tensor *v, double beta)
{
    cg_tensor *a = cg_linear(ctx, v, m->W, m->hb);
    return cg_sigmoid(ctx, beta == 1 ? a : cg_scale(ctx, a, beta));
}

cg_tensor *cg_rbm_visible_probs(cg_ctx *ctx, cg_rbm *m, cg_tensor *h, double beta,
                                const real *base)
{
    if (!h)
        return NULL;
    int N = h->shape[0];
    /* h (1, N, H) times W (1, H, V) */
    cg_tensor *hw = cg_bmm(ctx, cg_reshape(ctx, h, CG_SHAPE(1, N, m->nh)),
                           cg_reshape(ctx, m->W, CG_SHAPE(1, m->nh, m->nv)), 0, 0);
    cg_tensor *a = cg_add(ctx, cg_reshape(ctx, hw, CG_SHAPE(N, m->nv)), m->vb);
    if (!base) {
        if (beta != 1) {
            cg_fail(ctx, CG_ERR_ARG, "rbm: visible probabilities at beta %g need a base model",
                    beta);
            return NULL;
        }
        return cg_sigmoid(ctx, a);
    }
    cg_tensor *bt = cg_new(ctx, CG_SHAPE(m->nv));
    if (!bt)
        return NULL;
    for (int i = 0; i < m->nv; i++)
        bt->data[i] = (real)((1 - beta) * base[i]);
    return cg_sigmoid(ctx, cg_add(ctx, cg_scale(ctx, a, beta), bt));
}

void cg_rbm_bernoulli(cg_rng *r, const real *p, real *out, int64_t n)
{
    enum { CHUNK = 4096 };
    real u[CHUNK];
    /* one draw of n (under mpirun: this rank's rows of one), in chunks */
    uint64_t off = cg_rng_take(r, n);
    for (int64_t at = 0; at < n; at += CHUNK) {
        int64_t k = n - at < CHUNK ? n - at : CHUNK;
        cg_philox_uniform(r->seed, r->stream, off + (uint64_t)at, u, k);
        for (int64_t i = 0; i < k; i++)
            out[at + i] = u[i] < p[at + i] ? 1 : 0;
    }
}

/* g -= scale * sum_n a[n, :]^T b[n, :] for a (N, A), b (N, B): g (A, B) */
static cg_status outer_acc(cg_ctx *ctx, real *g, cg_tensor *a, cg_tensor *b, double scale)
{
    int N = a->shape[0], A = a->shape[1], B = b->shape[1];
    cg_tensor *ab = cg_bmm(ctx, cg_reshape(ctx, a, CG_SHAPE(1, N, A)),
                           cg_reshape(ctx, b, CG_SHAPE(1, N, B)), 1, 0);
    if (!ab)
        return ctx->err;
    for (int64_t i = 0; i < (int64_t)A * B; i++)
        g[i] -= (real)(scale * ab->data[i]);
    return CG_OK;
}

static void col_acc(real *g, const cg_tensor *a, double scale)
{
    int N = a->shape[0], A = a->shape[1];
    for (int j = 0; j < A; j++) {
        double s = 0;
        for (int n = 0; n < N; n++)
            s += a->data[(int64_t)n * A + j];
        g[j] -= (real)(scale * s);
    }
}

cg_status cg_rbm_cd_step(cg_ctx *ctx, cg_rbm *m, cg_sgd *opt, cg_tensor *v, int k,
                         real *chains, cg_rng *r, double *recon)
{
    if (k < 1)
        return cg_fail(ctx, CG_ERR_ARG, "rbm: CD-k needs k >= 1, got %d", k);
    int prev = cg_set_grad(ctx, 0);
    int N = v ? v->shape[0] : 0;
    /* positive phase: E[h | v] at the data */
    cg_tensor *ph0 = cg_rbm_hidden_probs(ctx, m, v, 1);
    cg_tensor *h = ph0 ? cg_new_like(ctx, ph0) : NULL;
    if (h)
        cg_rbm_bernoulli(r, ph0->data, h->data, h->n);
    /* reconstruction error: v against p(v | h_0) */
    cg_tensor *pv = cg_rbm_visible_probs(ctx, m, h, 1, NULL);
    if (!cg_ok(ctx)) {
        cg_set_grad(ctx, prev);
        return ctx->err;
    }
    double se = 0;
    for (int64_t i = 0; i < v->n; i++)
        se += ((double)v->data[i] - pv->data[i]) * ((double)v->data[i] - pv->data[i]);
    *recon = se;
    /* negative phase: k Gibbs steps from the data (CD) or the chains (PCD) */
    cg_tensor *vk = cg_new_like(ctx, v), *phk = NULL;
    if (chains && vk) {
        cg_tensor *c = cg_wrap(ctx, chains, CG_SHAPE(N, m->nv));
        cg_tensor *pc = cg_rbm_hidden_probs(ctx, m, c, 1);
        if (pc)
            cg_rbm_bernoulli(r, pc->data, h->data, h->n);
    }
    for (int s = 0; s < k && cg_ok(ctx); s++) {
        if (s > 0 || chains)
            pv = cg_rbm_visible_probs(ctx, m, h, 1, NULL);
        if (!pv)
            break;
        cg_rbm_bernoulli(r, pv->data, vk->data, vk->n);
        phk = cg_rbm_hidden_probs(ctx, m, vk, 1);
        if (phk && s + 1 < k)
            cg_rbm_bernoulli(r, phk->data, h->data, h->n);
    }
    cg_status st = ctx->err;
    if (st == CG_OK) {
        if (chains)
            memcpy(chains, vk->data, sizeof(real) * (size_t)vk->n);
        /* gradient of the negative log-likelihood estimate, mean over the batch */
        double inv = 1.0 / N;
        cg_params_zero_grad(&m->p);
        st = outer_acc(ctx, m->W->grad, ph0, v, inv);
        if (st == CG_OK)
            st = outer_acc(ctx, m->W->grad, phk, vk, -inv);
        if (st == CG_OK) {
            col_acc(m->vb->grad, v, inv);
            col_acc(m->vb->grad, vk, -inv);
            col_acc(m->hb->grad, ph0, inv);
            col_acc(m->hb->grad, phk, -inv);
            st = cg_sgd_step(opt, &m->p);
            if (st != CG_OK)
                cg_fail(ctx, st, "rbm: SGD step failed: %s", cg_status_str(st));
        }
    }
    cg_set_grad(ctx, prev);
    cg_params_zero_grad(&m->p);
    cg_ctx_step_end(ctx);
    return st;
}

static double softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

cg_status cg_rbm_log_pstar(cg_ctx *ctx, cg_rbm *m, const real *v, int n, double *out)
{
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *a = cg_linear(ctx, cg_wrap(ctx, (real *)v, CG_SHAPE(n, m->nv)), m->W, m->hb);
    cg_set_grad(ctx, prev);
    if (!a)
        return ctx->err;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < m->nv; k++)
            s += (double)m->vb->data[k] * v[(int64_t)i * m->nv + k];
        for (int j = 0; j < m->nh; j++)
            s += softplus(a->data[(int64_t)i * m->nh + j]);
        out[i] = s;
    }
    cg_ctx_step_end(ctx);
    return CG_OK;
}

cg_status cg_rbm_log_z_exact(const cg_rbm *m, double *logz, char *err, size_t errlen)
{
    int over_h = m->nh <= m->nv;  /* enumerate the smaller layer */
    int n = over_h ? m->nh : m->nv, other = over_h ? m->nv : m->nh;
    if (n > 24) {
        snprintf(err, errlen, "rbm: exact log Z enumerates 2^%d states; at most 2^24", n);
        return CG_ERR_ARG;
    }
    const real *W = m->W->data, *own = over_h ? m->hb->data : m->vb->data,
               *far = over_h ? m->vb->data : m->hb->data;
    double mx = -INFINITY, sum = 0;
    /* log sum_s exp(own.s + sum_t softplus(far_t + (W-side) s)), as a running logsumexp */
    for (int64_t s = 0; s < ((int64_t)1 << n); s++) {
        double e = 0;
        for (int a = 0; a < n; a++)
            if (s >> a & 1)
                e += own[a];
        for (int t = 0; t < other; t++) {
            double x = far[t];
            for (int a = 0; a < n; a++)
                if (s >> a & 1)
                    x += over_h ? W[(int64_t)a * m->nv + t] : W[(int64_t)t * m->nv + a];
            e += softplus(x);
        }
        if (e > mx) {
            sum = sum * exp(mx - e) + 1;
            mx = e;
        } else {
            sum += exp(e - mx);
        }
    }
    *logz = mx + log(sum);
    return CG_OK;
}

/* beta_0 = 0 < ... < beta_K = 1 in the proportions of Salakhutdinov & Murray:
 * 500 steps over [0, 0.5], 4000 over [0.5, 0.9], 10000 over [0.9, 1]. */
static void ais_betas(double *beta, int K)
{
    int k1 = (int)lround(K * 500.0 / 14500), k2 = (int)lround(K * 4500.0 / 14500);
    if (k1 < 1)
        k1 = 1;
    if (k2 <= k1)
        k2 = k1 + 1;
    if (k2 >= K)
        k2 = K - 1;
    for (int k = 0; k <= K; k++) {
        if (k <= k1)
            beta[k] = 0.5 * k / k1;
        else if (k <= k2)
            beta[k] = 0.5 + 0.4 * (k - k1) / (k2 - k1);
        else
            beta[k] = 0.9 + 0.1 * (k - k2) / (K - k2);
    }
}

/* log p*_beta(v_r) for each run r from a = v W^T + c (runs, H) */
static void log_pstar_beta(const cg_rbm *m, const real *base, const real *v, const real *a,
                           int runs, double beta, double *out)
{
    for (int r = 0; r < runs; r++) {
        double s = 0;
        const real *vr = v + (int64_t)r * m->nv;
        for (int i = 0; i < m->nv; i++)
            if (vr[i] != 0)
                s += (1 - beta) * base[i] + beta * m->vb->data[i];
        const real *ar = a + (int64_t)r * m->nh;
        for (int j = 0; j < m->nh; j++)
            s += softplus(beta * ar[j]);
        out[r] = s;
    }
}

cg_status cg_rbm_ais(cg_ctx *ctx, cg_rbm *m, const cg_rbm_ais_opts *ao, cg_rng *r,
                     double *logz, double *logz_lo, double *logz_hi, char *err,
                     size_t errlen)
{
    int K = ao->nbetas, R = ao->runs;
    if (K < 3 || R < 2) {
        snprintf(err, errlen, "rbm: AIS needs at least 3 temperatures and 2 runs, got %d and %d",
                 K, R);
        return CG_ERR_ARG;
    }
    double *beta = malloc(sizeof(double) * (size_t)(K + 1));
    double *logw = calloc((size_t)R, sizeof(double)), *lp = malloc(sizeof(double) * (size_t)R);
    real *v = malloc(sizeof(real) * (size_t)R * m->nv), *p0 = malloc(sizeof(real) * m->nv);
    if (!beta || !logw || !lp || !v || !p0) {
        free(beta), free(logw), free(lp), free(v), free(p0);
        snprintf(err, errlen, "rbm: out of memory");
        return CG_ERR_NOMEM;
    }
    ais_betas(beta, K);
    /* p*_0(v) = exp(base.v) prod_j (1 + e^0): the base model times 2^H */
    double logza = m->nh * log(2.0);
    for (int i = 0; i < m->nv; i++) {
        logza += softplus(ao->base[i]);
        p0[i] = (real)(1 / (1 + exp(-(double)ao->base[i])));
    }
    for (int rr = 0; rr < R; rr++)  /* v_1 ~ p_A */
        cg_rbm_bernoulli(r, p0, v + (int64_t)rr * m->nv, m->nv);
    int prev = cg_set_grad(ctx, 0);
    cg_status st = CG_OK;
    for (int k = 1; k <= K && st == CG_OK; k++) {
        /* w *= p*_k(v_k) / p*_{k-1}(v_k), both from one product v W^T + c */
        cg_tensor *a = cg_linear(ctx, cg_wrap(ctx, v, CG_SHAPE(R, m->nv)), m->W, m->hb);
        if (!a) {
            st = ctx->err;
            break;
        }
        log_pstar_beta(m, ao->base, v, a->data, R, beta[k], lp);
        for (int rr = 0; rr < R; rr++)
            logw[rr] += lp[rr];
        log_pstar_beta(m, ao->base, v, a->data, R, beta[k - 1], lp);
        for (int rr = 0; rr < R; rr++)
            logw[rr] -= lp[rr];
        if (k == K)
            break;
        /* v_{k+1} ~ T_k(v_k): a Gibbs sweep at beta_k */
        cg_tensor *ph = cg_sigmoid(ctx, cg_scale(ctx, a, beta[k]));
        cg_tensor *h = ph ? cg_new_like(ctx, ph) : NULL;
        if (h)
            cg_rbm_bernoulli(r, ph->data, h->data, h->n);
        cg_tensor *pv = cg_rbm_visible_probs(ctx, m, h, beta[k], ao->base);
        if (!pv) {
            st = ctx->err;
            break;
        }
        cg_rbm_bernoulli(r, pv->data, v, pv->n);
        cg_ctx_step_end(ctx);
    }
    cg_set_grad(ctx, prev);
    cg_ctx_step_end(ctx);
    if (st != CG_OK) {
        snprintf(err, errlen, "rbm: AIS: %s", ctx->errmsg);
    } else {
        /* log mean w and its spread, relative to the largest weight */
        double mx = logw[0];
        for (int rr = 1; rr < R; rr++)
            mx = fmax(mx, logw[rr]);
        double mean = 0, sq = 0;
        for (int rr = 0; rr < R; rr++) {
            double w = exp(logw[rr] - mx);
            mean += w / R;
            sq += w * w / R;
        }
        double se = sqrt(fmax(sq - mean * mean, 0) / (R - 1));
        *logz = logza + mx + log(mean);
        if (logz_lo)
            *logz_lo = mean > 3 * se ? logza + mx + log(mean - 3 * se) : -INFINITY;
        if (logz_hi)
            *logz_hi = logza + mx + log(mean + 3 * se);
    }
    free(beta), free(logw), free(lp), free(v), free(p0);
    return st;
}
