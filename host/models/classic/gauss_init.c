/*
 * gauss_init.c: the "useless trick" notebook: a tanh MLP generator whose
 * initial output is approximately N(mu, diag(sigma^2)) (the construction is
 * in cugen/classic.h), the Xavier baseline beside it, and a GAN trained from
 * that start on a toy 2-D set.
 *
 * Not for: the run (gauss_init_train.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/metrics.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

cg_status cg_gauss_gen_build(cg_gauss_gen *g, int nin, int nh, int nout, char *err,
                             size_t errlen)
{
    memset(g, 0, sizeof *g);
    cg_params_init(&g->p);
    if (nin < 1 || nh < 1 || nout < 1 || nin > 4096 || nh > 65536 || nout > nin) {
        snprintf(err, errlen, "gauss-init-gan: need 1 <= outputs <= inputs <= 4096 and 1 <= "
                 "hidden <= 65536; got %d inputs, %d hidden, %d outputs", nin, nh, nout);
        return CG_ERR_ARG;
    }
    g->nin = nin;
    g->nh = nh;
    g->nout = nout;
    cg_nn_begin(&g->nn, &g->p);
    cg_nn_linear_declare(&g->nn, &g->fc1, "fc1", nin, nh, 1);
    cg_nn_linear_declare(&g->nn, &g->fc2, "fc2", nh, nh, 1);
    cg_nn_linear_declare(&g->nn, &g->fc3, "fc3", nh, nout, 1);
    char why[256];
    cg_status st = cg_nn_alloc(&g->nn, why, sizeof why);
    if (st != CG_OK) {
        snprintf(err, errlen, "gauss-init-gan: %s", why);
        cg_params_free(&g->p);
    }
    return st;
}

void cg_gauss_gen_free(cg_gauss_gen *g)
{
    cg_params_free(&g->p);
    memset(g, 0, sizeof *g);
}

cg_tensor *cg_gauss_gen_hidden(cg_ctx *ctx, cg_gauss_gen *g, cg_tensor *z)
{
    cg_tensor *h = cg_tanh(ctx, cg_nn_linear_fwd(ctx, &g->fc1, z));
    return cg_tanh(ctx, cg_nn_linear_fwd(ctx, &g->fc2, h));
}

cg_tensor *cg_gauss_gen_forward(cg_ctx *ctx, cg_gauss_gen *g, cg_tensor *z)
{
    return cg_nn_linear_fwd(ctx, &g->fc3, cg_gauss_gen_hidden(ctx, g, z));
}

cg_status cg_gauss_gen_jacobian(cg_ctx *ctx, cg_gauss_gen *g, double *J)
{
    int nh = g->nh, nin = g->nin;
    int prev = cg_set_grad(ctx, 1);
    /* row j of J is the input gradient of hidden unit j: nh copies of z = 0,
     * copy j seeded with the j-th unit vector, all in one pass */
    cg_tensor *z = cg_new_zeros(ctx, CG_SHAPE(nh, nin));
    if (z)
        z->requires_grad = 1;
    cg_tensor *h = cg_gauss_gen_hidden(ctx, g, z);
    real *eye = h ? cg_arena_alloc(&ctx->arena, sizeof(real) * (size_t)nh * nh) : NULL;
    if (h && !eye)
        cg_fail(ctx, CG_ERR_NOMEM, "gauss-init-gan: out of memory");
    if (eye) {
        memset(eye, 0, sizeof(real) * (size_t)nh * nh);
        for (int j = 0; j < nh; j++)
            eye[(size_t)j * nh + j] = 1;
        cg_backward_from(ctx, h, eye);
    }
    cg_status st = ctx->err;
    if (st == CG_OK)
        for (int64_t i = 0; i < (int64_t)nh * nin; i++)
            J[i] = z->grad[i];
    cg_params_zero_grad(&g->p);  /* the pass also reached the weights */
    cg_set_grad(ctx, prev);
    cg_ctx_step_end(ctx);
    return st;
}

cg_status cg_gauss_gen_init(cg_ctx *ctx, cg_gauss_gen *g, cg_rng *r, double alpha,
                            const double *mu, const double *sigma, char *err, size_t errlen)
{
    const double conf = 1.96;  /* 95% of a normal within 1.96 standard deviations */
    int nin = g->nin, nh = g->nh, nout = g->nout;
    cg_init_normal(g->fc1.weight, r, 0.0, alpha / (conf * sqrt((double)nin)));
    cg_init_const(g->fc1.bias, 0.0);
    /* fc1's outputs have variances |w1_j|^2; fc2's input variance sum is |W1|_F^2 */
    double var1 = 0;
    for (int64_t i = 0; i < g->fc1.weight->n; i++)
        var1 += (double)g->fc1.weight->data[i] * g->fc1.weight->data[i];
    cg_init_normal(g->fc2.weight, r, 0.0, alpha / (conf * sqrt(var1)));
    cg_init_const(g->fc2.bias, 0.0);

    double *J = malloc(sizeof(double) * (size_t)nh * nin);
    double *JtJ = malloc(sizeof(double) * (size_t)nin * nin), *s2 = malloc(sizeof(double) * nin);
    cg_status st = J && JtJ && s2 ? CG_OK : CG_ERR_NOMEM;
    if (st == CG_OK && (st = cg_gauss_gen_jacobian(ctx, g, J)) != CG_OK)
        snprintf(err, errlen, "gauss-init-gan: Jacobian: %s", ctx->errmsg);
    /* thin SVD J = Q S V^T from J^T J = V S^2 V^T: Q's column k is J v_k / s_k */
    if (st == CG_OK) {
        for (int a = 0; a < nin; a++)
            for (int b = 0; b < nin; b++) {
                double s = 0;
                for (int j = 0; j < nh; j++)
                    s += J[(size_t)j * nin + a] * J[(size_t)j * nin + b];
                JtJ[a * nin + b] = s;
            }
        if ((st = cg_sym_eig(nin, JtJ, s2)) != CG_OK)
            snprintf(err, errlen, "gauss-init-gan: eigendecomposition of J^T J failed");
    }
    for (int o = 0; st == CG_OK && o < nout; o++) {
        int k = nin - 1 - o;  /* eigenvalues ascend: the o-th largest */
        double s = sqrt(fmax(s2[k], 0));
        if (!(s > 1e-12)) {
            snprintf(err, errlen, "gauss-init-gan: the hidden map's Jacobian has rank < %d "
                     "(singular value %g)", nout, s);
            st = CG_ERR_NUMERIC;
            break;
        }
        /* W row o = sigma_o / s * q_k^T,  q_k = J v_k / s */
        for (int j = 0; j < nh; j++) {
            double q = 0;
            for (int a = 0; a < nin; a++)
                q += J[(size_t)j * nin + a] * JtJ[a * nin + k];
            g->fc3.weight->data[(size_t)o * nh + j] = (real)(sigma[o] * q / (s * s));
        }
        g->fc3.bias->data[o] = (real)mu[o];
    }
    free(J), free(JtJ), free(s2);
    if (st == CG_ERR_NOMEM)
        snprintf(err, errlen, "gauss-init-gan: out of memory");
    return st;
}

/* xavier_normal_: std = gain sqrt(2 / (fan_in + fan_out)) */
static void xavier(cg_tensor *w, cg_rng *r, double gain)
{
    cg_init_normal(w, r, 0.0, gain * sqrt(2.0 / (w->shape[0] + w->shape[1])));
}

void cg_gauss_gen_init_xavier(cg_gauss_gen *g, cg_rng *r, const double *mu)
{
    const double tanh_gain = 5.0 / 3.0;  /* nn.init.calculate_gain('tanh') */
    xavier(g->fc1.weight, r, tanh_gain);
    cg_init_const(g->fc1.bias, 0.0);
    xavier(g->fc2.weight, r, tanh_gain);
    cg_init_const(g->fc2.bias, 0.0);
    xavier(g->fc3.weight, r, tanh_gain);
    for (int o = 0; o < g->nout; o++)
        g->fc3.bias->data[o] = (real)mu[o];
}
