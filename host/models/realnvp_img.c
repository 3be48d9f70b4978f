/*
 * realnvp_img.c: the RealNVP flow on images (architecture and names in
 * cugen/flow.h): checkerboard and channel couplings with small ResNet s/t
 * nets, act-norm or batchnorm, squeeze and factor-out at every scale; the
 * likelihood of dequantised, logit-transformed pixels; sampling by inversion.
 *
 * The s/t nets are Conv2d layers (cugen/layers.h); the rest is built from
 * existing ops plus squeeze2x. The normalisations keep their own parameters
 * (they are not nn.BatchNorm2d). The checkerboard mask is a constant
 * (1, C, H, W) tensor that multiplies by broadcasting, made once per scale
 * when the flow is built and kept on the parameters' device. The
 * batchnorm's per-channel moments are two batched matmuls with vectors of
 * ones (cg_batchnorm normalises but does not hand out the batch variance,
 * which the log-det needs with its gradient).
 *
 * Not for: the training run, evaluation files (realnvp_img_train.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/flow.h"
#include "cugen/ops.h"
#include "cugen/tape.h"

#define ALPHA 0.05
#define LN2 0.69314718055994530942

const char *cg_flowimg_norm_name(int norm)
{
    return norm == CG_FLOWIMG_BATCHNORM ? "batchnorm" : "actnorm";
}

/* "<coupling>.<part>" ("a.0" "net.in") into buf */
static const char *key(char buf[static 64], const char *coupling, const char *part)
{
    snprintf(buf, 64, "%s.%s", coupling, part);
    return buf;
}

/* Coupling `name` ("a.0"): its s/t net (cin -> F -> F -> F -> 2 cout channels),
 * then its normalisation's parameters and buffers; 0 when one of the latter
 * could not be declared (the net's errors are the cg_nn's). */
static int declare_coupling(cg_flowimg *m, cg_flowimg_coupling *l, const char *name, int cin,
                            int cout)
{
    int F = m->a.width, ch = l->ch;
    char s[64];
    cg_nn_conv2d_declare(&m->nn, &l->in, key(s, name, "net.in"), cin, F, 3, 1, 1, 1);
    cg_nn_conv2d_declare(&m->nn, &l->res1, key(s, name, "net.res1"), F, F, 3, 1, 1, 1);
    cg_nn_conv2d_declare(&m->nn, &l->res2, key(s, name, "net.res2"), F, F, 3, 1, 1, 1);
    cg_nn_conv2d_declare(&m->nn, &l->out, key(s, name, "net.out"), F, 2 * cout, 3, 1, 1, 1);
    l->out.hdr.init = cg_nn_init_zeros;
    l->logs = cg_param(&m->p, key(s, name, "norm.logs"), CG_SHAPE(1, ch, 1, 1), 0);
    l->bias = cg_param(&m->p, key(s, name, "norm.bias"), CG_SHAPE(1, ch, 1, 1), 0);
    if (m->a.norm == CG_FLOWIMG_BATCHNORM) {
        l->run_mean = cg_buffer(&m->p, key(s, name, "norm.running_mean"), CG_SHAPE(1, ch, 1, 1));
        l->run_var = cg_buffer(&m->p, key(s, name, "norm.running_var"), CG_SHAPE(1, ch, 1, 1));
        return l->logs && l->bias && l->run_mean && l->run_var;
    }
    l->inited = cg_buffer(&m->p, key(s, name, "norm.inited"), CG_SHAPE(1));
    return l->logs && l->bias && l->inited;
}

cg_status cg_flowimg_build(cg_flowimg *m, const cg_flowimg_arch *arch, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cg_params_init(&m->p);
    cg_flowimg_arch a = *arch;
    if (a.scales == 0)
        a.scales = 2;
    if (a.last == 0)
        a.last = a.layers + 1;
    if ((a.channels != 1 && a.channels != 3) || a.layers < 1 || a.layers > CG_FLOWIMG_MAX_L ||
        a.last < 1 || a.last > CG_FLOWIMG_MAX_L + 1 || a.width < 1 || a.width > 1024 ||
        (a.norm != CG_FLOWIMG_ACTNORM && a.norm != CG_FLOWIMG_BATCHNORM)) {
        snprintf(err, errlen, "realnvp: images need 1 or 3 channels, 1 to %d couplings per "
                 "stage, a width of 1 to 1024; got %d channels, %d (last %d) couplings, "
                 "width %d", CG_FLOWIMG_MAX_L, a.channels, a.layers, a.last, a.width);
        return CG_ERR_ARG;
    }
    int div = 1 << (a.scales < 1 ? 0 : a.scales - 1);
    if (a.scales < 1 || a.scales > CG_FLOWIMG_MAX_SCALES || a.size < 2 || a.size > 1024 ||
        a.size % div || a.size / div < 2) {
        snprintf(err, errlen, "realnvp: %d scales need an image side that is a multiple of "
                 "%d with at least 2 left at the last scale (1 to %d scales), got %dx%d",
                 a.scales, div, CG_FLOWIMG_MAX_SCALES, a.size, a.size);
        return CG_ERR_ARG;
    }
    m->a = a;
    m->stages = 2 * a.scales - 1;
    cg_nn_begin(&m->nn, &m->p);
    int ok = 1, C = a.channels;
    for (int j = 0; j < m->stages && ok; j++) {
        int checker = j % 2 == 0, scale = j / 2;
        int n = j == m->stages - 1 ? a.last : a.layers;
        int ch = checker ? C << scale : 4 * (C << scale);
        m->first[j] = m->count;
        for (int i = 0; i < n && ok; i++) {
            cg_flowimg_coupling *l = &m->l[m->count++];
            char name[32];
            snprintf(name, sizeof name, "%c.%d", 'a' + j, i);
            l->parity = i % 2;
            l->checker = checker;
            l->ch = ch;
            int cin = checker ? ch : ch / 2;
            ok = declare_coupling(m, l, name, cin, cin);
        }
    }
    m->first[m->stages] = m->count;
    ok = ok && (m->size_buf = cg_buffer(&m->p, "image_size", CG_SHAPE(1))) != NULL;
    cg_params_init(&m->masks);
    for (int k = 0; k < a.scales && ok; k++)
        for (int q = 0; q < 4 && ok; q++) {
            char name[32];
            int S = a.size >> k;
            snprintf(name, sizeof name, "mask.%d.%d.%d", k, q / 2, q % 2);
            ok = (m->mask[k][q / 2][q % 2] = cg_buffer(&m->masks, name,
                                                       CG_SHAPE(1, C << k, S, S))) != NULL;
        }
    char why[256] = "out of memory for the parameters";
    cg_status st = ok ? cg_nn_alloc(&m->nn, why, sizeof why) : CG_ERR_NOMEM;
    if (st == CG_OK && (st = cg_params_alloc(&m->masks)) != CG_OK)
        snprintf(why, sizeof why, "out of memory for the checkerboard masks");
    if (st != CG_OK) {
        snprintf(err, errlen, "realnvp: %s", why);
        cg_params_free(&m->p);
        cg_params_free(&m->masks);
        return st;
    }
    for (int k = 0; k < a.scales; k++)
        for (int q = 0; q < 4; q++) {
            cg_tensor *b = m->mask[k][q / 2][q % 2];
            int64_t plane = (int64_t)b->shape[2] * b->shape[3];
            for (int64_t e = 0; e < b->n; e++) {
                int i = (int)(e % plane / b->shape[3]), jj = (int)(e % b->shape[3]);
                b->data[e] = (real)(((i + jj) % 2 == q / 2) != q % 2);
            }
        }
    m->size_buf->data[0] = (real)a.size;
    return CG_OK;
}

void cg_flowimg_free(cg_flowimg *m)
{
    cg_params_free(&m->p);
    cg_params_free(&m->masks);
    memset(m, 0, sizeof *m);
}

/* PyTorch's Conv2d default (cg_nn_init) for the first three convolutions;
 * the last is zero so that every coupling starts as the identity. The
 * normalisation starts as the identity too; batchnorm's running statistics
 * at mean 0, variance 1, as PyTorch's. */
void cg_flowimg_init(cg_flowimg *m, uint64_t seed, uint32_t stream)
{
    cg_nn_init_seeded(&m->nn, seed, stream);
    for (int i = 0; i < m->count; i++) {
        cg_flowimg_coupling *l = &m->l[i];
        cg_init_const(l->logs, 0.0);
        cg_init_const(l->bias, 0.0);
        if (l->inited)
            cg_init_const(l->inited, 0.0);
        if (l->run_mean) {
            cg_init_const(l->run_mean, 0.0);
            cg_init_const(l->run_var, 1.0);
        }
    }
    m->size_buf->data[0] = (real)m->a.size;
}

/* ---- pieces ----------------------------------------------------------------- */

/* the s/t ResNet: (N, cin, H, W) -> (N, 2 cout, H, W) */
static cg_tensor *st_net(cg_ctx *ctx, cg_flowimg_coupling *l, cg_tensor *x)
{
    cg_tensor *h = cg_relu(ctx, cg_nn_conv2d_fwd(ctx, &l->in, x));
    cg_tensor *r = cg_relu(ctx, cg_nn_conv2d_fwd(ctx, &l->res1, h));
    r = cg_nn_conv2d_fwd(ctx, &l->res2, r);
    h = cg_relu(ctx, cg_add(ctx, h, r));
    return cg_nn_conv2d_fwd(ctx, &l->out, h);
}

/* (1, C, H, W) on dev: 1 where (i + j) % 2 == parity (kept), else 0; or its
 * complement. The flow's own (m->mask) when it has one of that shape on dev;
 * else made on the host and, on the GPU, uploaded through the pinned buffer
 * (asynchronous). */
static cg_tensor *checker_mask(cg_ctx *ctx, const cg_flowimg *m, cg_device dev, int C, int H,
                               int W, int parity, int complement)
{
    for (int k = 0; k < m->a.scales; k++) {
        cg_tensor *own = m->mask[k][parity][complement];
        if (own && own->dev == dev && own->shape[1] == C && own->shape[2] == H &&
            own->shape[3] == W)
            return own;
    }
    cg_tensor *b = cg_new(ctx, CG_SHAPE(1, C, H, W));
    for (int c = 0; b && c < C; c++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                b->data[((int64_t)c * H + i) * W + j] =
                    (real)(((i + j) % 2 == parity) != complement);
    return b && dev != CG_CPU ? cg_to_device(ctx, b, dev) : b;
}

/* s (bounded) and t for coupling l of the kept part `keep`; masked to the
 * changed positions for a checkerboard */
static void scale_shift(cg_ctx *ctx, const cg_flowimg *m, cg_flowimg_coupling *l,
                        cg_tensor *keep, cg_tensor **s, cg_tensor **t)
{
    cg_tensor *st = st_net(ctx, l, keep), *parts[2] = {NULL, NULL};
    if (st)
        cg_split(ctx, st, (const int[]){st->shape[1] / 2, st->shape[1] / 2}, 2, parts);
    *s = cg_tanh(ctx, parts[0]);
    *t = parts[1];
    if (l->checker && keep) {
        cg_tensor *inv = checker_mask(ctx, m, keep->dev, keep->shape[1], keep->shape[2],
                                      keep->shape[3], l->parity, 1);
        *s = cg_mul(ctx, *s, inv);
        *t = cg_mul(ctx, *t, inv);
    }
}

/* act-norm's first use: zero mean, unit variance per channel of this batch
 * (on the GPU: y read back once, logs and bias uploaded) */
static void actnorm_init(cg_ctx *ctx, cg_flowimg_coupling *l, const cg_tensor *y)
{
    int N = y->shape[0], C = y->shape[1];
    int64_t HW = y->n / ((int64_t)N * C);
    real *x = y->data, *host = NULL;
    real *vals = malloc(sizeof(real) * (2 * (size_t)C + 1));
    if (y->dev != CG_CPU && (host = malloc(sizeof(real) * (size_t)y->n)) != NULL &&
        cg_copy_to_host(ctx, host, y) != CG_OK) {
        free(host);
        host = NULL;
    }
    if (!vals || (y->dev != CG_CPU && !host)) {
        cg_fail(ctx, CG_ERR_NOMEM, "realnvp: act-norm initialisation: out of memory or a "
                "failed read-back");
        free(vals);
        free(host);
        return;
    }
    x = host ? host : x;
    for (int c = 0; c < C; c++) {
        double s = 0, ss = 0;
        for (int n = 0; n < N; n++)
            for (int64_t k = 0; k < HW; k++) {
                double v = x[((int64_t)n * C + c) * HW + k];
                s += v;
                ss += v * v;
            }
        double mean = s / ((double)N * HW), var = ss / ((double)N * HW) - mean * mean;
        double sd = sqrt(var > 0 ? var : 0) + 1e-6;
        vals[c] = (real)-log(sd);
        vals[C + c] = (real)(-mean / sd);
    }
    vals[2 * C] = 1;
    if (l->logs->dev == CG_CPU) {
        memcpy(l->logs->data, vals, sizeof(real) * (size_t)C);
        memcpy(l->bias->data, vals + C, sizeof(real) * (size_t)C);
        l->inited->data[0] = 1;
    } else {
        cg_copy_from_host(ctx, l->logs, vals);
        cg_copy_from_host(ctx, l->bias, vals + C);
        cg_copy_from_host(ctx, l->inited, vals + 2 * C);
    }
    l->ready = 1;
    free(vals);
    free(host);
}

static int actnorm_ready(const cg_flowimg_coupling *l)
{
    return l->inited->dev == CG_CPU ? l->inited->data[0] != 0 : l->ready;
}

/* x (N, C, H, W) -> its mean over (N, H, W) per channel, (1, C, 1, 1), on the
 * tape: (1, 1, N) ones x (1, N, C HW) sums over the batch, then
 * (1, C, HW) x (1, HW, 1) ones over the positions */
static cg_tensor *channel_mean(cg_ctx *ctx, cg_tensor *x)
{
    if (!x)
        return NULL;
    int N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
    cg_tensor *on = cg_affine(ctx, cg_new_zeros_on(ctx, x->dev, CG_SHAPE(1, 1, N)), 0, 1);
    cg_tensor *ohw = cg_affine(ctx, cg_new_zeros_on(ctx, x->dev, CG_SHAPE(1, HW, 1)), 0, 1);
    cg_tensor *s = cg_bmm(ctx, on, cg_reshape(ctx, x, CG_SHAPE(1, N, C * HW)), 0, 0);
    s = cg_bmm(ctx, cg_reshape(ctx, s, CG_SHAPE(1, C, HW)), ohw, 0, 0);
    return cg_scale(ctx, cg_reshape(ctx, s, CG_SHAPE(1, C, 1, 1)), 1.0 / ((double)N * HW));
}

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

/* r = (1 - momentum) r + momentum * stat, in place, off the tape, on r's
 * device */
static void running_update(cg_ctx *ctx, cg_tensor *r, cg_tensor *stat)
{
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *v = cg_add(ctx, cg_scale(ctx, r, 1 - BN_MOMENTUM), cg_scale(ctx, stat, BN_MOMENTUM));
    cg_set_grad(ctx, prev);
    if (!v)
        return;
    if (r->dev == CG_CPU)
        memcpy(r->data, v->data, sizeof(real) * (size_t)r->n);
    else if (cg_cuda_copy_d2d(r->data, v->data, sizeof(real) * (size_t)r->n) != CG_OK)
        cg_fail(ctx, CG_ERR_CUDA, "realnvp: running statistics: %s", cg_cuda_last_error());
}

/* y -> the layer's normalisation; *ld += its log-det summed over the batch */
static cg_tensor *norm_fwd(cg_ctx *ctx, cg_flowimg *m, cg_flowimg_coupling *l, cg_tensor *y,
                           cg_tensor **ld)
{
    int64_t per_channel = y->n / y->shape[1];  /* N H W */
    cg_tensor *lscale = l->logs;               /* log of the per-channel factor */
    if (m->a.norm == CG_FLOWIMG_BATCHNORM) {
        cg_tensor *mean, *var;
        if (m->training) {
            mean = channel_mean(ctx, y);
            cg_tensor *c = cg_sub(ctx, y, mean);
            var = channel_mean(ctx, cg_mul(ctx, c, c));
            if (mean && var) {
                running_update(ctx, l->run_mean, mean);
                running_update(ctx, l->run_var, var);
            }
        } else {
            mean = l->run_mean;
            var = l->run_var;
        }
        /* log(1 / sqrt(var + eps)) + logs */
        lscale = cg_add(ctx, cg_scale(ctx, cg_log(ctx, cg_affine(ctx, var, 1, BN_EPS)), -0.5),
                        l->logs);
        y = cg_sub(ctx, y, mean);
    } else if (!actnorm_ready(l)) {
        actnorm_init(ctx, l, y);
    }
    *ld = cg_add(ctx, *ld, cg_scale(ctx, cg_sum(ctx, lscale), (double)per_channel));
    return cg_add(ctx, cg_mul(ctx, y, cg_exp(ctx, lscale)), l->bias);
}

/* the normalisation's inverse (batchnorm: with the running statistics) */
static cg_tensor *norm_inv(cg_ctx *ctx, cg_flowimg *m, cg_flowimg_coupling *l, cg_tensor *y)
{
    cg_tensor *x = cg_mul(ctx, cg_sub(ctx, y, l->bias), cg_exp(ctx, cg_scale(ctx, l->logs, -1)));
    if (m->a.norm != CG_FLOWIMG_BATCHNORM)
        return x;
    cg_tensor *sd = cg_exp(ctx, cg_scale(ctx, cg_log(ctx, cg_affine(ctx, l->run_var, 1, BN_EPS)),
                                         0.5));
    return cg_add(ctx, cg_mul(ctx, x, sd), l->run_mean);
}

/* x -> coupling -> normalisation; *ld += their log-dets (summed over the batch) */
static cg_tensor *layer_fwd(cg_ctx *ctx, cg_flowimg *m, cg_flowimg_coupling *l, cg_tensor *x,
                            cg_tensor **ld)
{
    if (!x)
        return NULL;
    cg_tensor *y, *s, *t;
    if (l->checker) {
        cg_tensor *b = checker_mask(ctx, m, x->dev, x->shape[1], x->shape[2], x->shape[3],
                                    l->parity, 0);
        scale_shift(ctx, m, l, cg_mul(ctx, x, b), &s, &t);
        y = cg_add(ctx, cg_mul(ctx, x, cg_exp(ctx, s)), t);
    } else {
        int h = x->shape[1] / 2;
        cg_tensor *p[2] = {NULL, NULL};
        cg_split(ctx, x, (const int[]){h, h}, 2, p);
        cg_tensor *keep = p[l->parity], *change = p[1 - l->parity];
        scale_shift(ctx, m, l, keep, &s, &t);
        cg_tensor *moved = cg_add(ctx, cg_mul(ctx, change, cg_exp(ctx, s)), t);
        cg_tensor *q[2] = {l->parity == 0 ? keep : moved, l->parity == 0 ? moved : keep};
        y = q[0] && q[1] ? cg_concat(ctx, q, 2) : NULL;
    }
    cg_tensor *sum_s = cg_sum(ctx, s);
    *ld = *ld ? cg_add(ctx, *ld, sum_s) : sum_s;
    return y ? norm_fwd(ctx, m, l, y, ld) : NULL;
}

static cg_tensor *layer_inv(cg_ctx *ctx, cg_flowimg *m, cg_flowimg_coupling *l, cg_tensor *y)
{
    if (!y)
        return NULL;
    cg_tensor *x = norm_inv(ctx, m, l, y);
    cg_tensor *s, *t;
    if (!x)
        return NULL;
    if (l->checker) {
        cg_tensor *b = checker_mask(ctx, m, x->dev, x->shape[1], x->shape[2], x->shape[3],
                                    l->parity, 0);
        scale_shift(ctx, m, l, cg_mul(ctx, x, b), &s, &t);
        return cg_mul(ctx, cg_sub(ctx, x, t), cg_exp(ctx, cg_scale(ctx, s, -1)));
    }
    int h = x->shape[1] / 2;
    cg_tensor *p[2] = {NULL, NULL};
    cg_split(ctx, x, (const int[]){h, h}, 2, p);
    cg_tensor *keep = p[l->parity], *moved = p[1 - l->parity];
    scale_shift(ctx, m, l, keep, &s, &t);
    cg_tensor *change = cg_mul(ctx, cg_sub(ctx, moved, t), cg_exp(ctx, cg_scale(ctx, s, -1)));
    cg_tensor *q[2] = {l->parity == 0 ? keep : change, l->parity == 0 ? change : keep};
    return q[0] && q[1] ? cg_concat(ctx, q, 2) : NULL;
}

/* -log N(z; 0, I) summed over everything */
static cg_tensor *base_nll(cg_ctx *ctx, cg_tensor *z)
{
    if (!z)
        return NULL;
    cg_tensor *zero = cg_new_zeros_on(ctx, z->dev, z->shape, z->ndim);
    cg_tensor *lv = cg_new_zeros_on(ctx, z->dev, CG_SHAPE(1));
    return cg_gaussian_nll(ctx, z, zero, lv, CG_REDUCE_SUM);
}

static cg_tensor *stage_fwd(cg_ctx *ctx, cg_flowimg *m, int j, cg_tensor *h, cg_tensor **ld)
{
    for (int i = m->first[j]; i < m->first[j + 1]; i++)
        h = layer_fwd(ctx, m, &m->l[i], h, ld);
    return h;
}

static cg_tensor *stage_inv(cg_ctx *ctx, cg_flowimg *m, int j, cg_tensor *h)
{
    for (int i = m->first[j + 1] - 1; i >= m->first[j]; i--)
        h = layer_inv(ctx, m, &m->l[i], h);
    return h;
}

cg_tensor *cg_flowimg_forward(cg_ctx *ctx, cg_flowimg *m, cg_tensor *y, cg_tensor **logdet)
{
    int C = m->a.channels, S = m->a.size, K = m->a.scales;
    *logdet = NULL;
    if (!y)
        return NULL;
    if (y->ndim != 4 || y->shape[1] != C || y->shape[2] != S || y->shape[3] != S) {
        cg_fail(ctx, CG_ERR_ARG, "realnvp: the flow takes images (N, %d, %d, %d), got %s", C,
                S, S, CG_SHAPE_STR(y));
        return NULL;
    }
    int N = y->shape[0];
    cg_tensor *ld = NULL, *h = y, *zs[CG_FLOWIMG_MAX_SCALES];
    for (int k = 0; k < K - 1; k++) {
        int ck = C << k;   /* (N, ck, S_k, S_k) */
        h = cg_squeeze2x(ctx, stage_fwd(ctx, m, 2 * k, h, &ld));
        h = stage_fwd(ctx, m, 2 * k + 1, h, &ld);
        cg_tensor *p[2] = {NULL, NULL};
        if (h)
            cg_split(ctx, h, (const int[]){2 * ck, 2 * ck}, 2, p);
        zs[k] = p[0] ? cg_reshape(ctx, p[0], CG_SHAPE(N, (int)(p[0]->n / N))) : NULL;
        h = p[1];
    }
    h = stage_fwd(ctx, m, 2 * K - 2, h, &ld);
    zs[K - 1] = h ? cg_reshape(ctx, h, CG_SHAPE(N, (int)(h->n / N))) : NULL;
    *logdet = ld;
    for (int k = 0; k < K; k++)
        if (!zs[k])
            return NULL;
    return K == 1 ? zs[0] : cg_concat(ctx, zs, K);
}

cg_tensor *cg_flowimg_nll(cg_ctx *ctx, cg_flowimg *m, cg_tensor *y)
{
    cg_tensor *ld, *z = cg_flowimg_forward(ctx, m, y, &ld);
    if (!z)
        return NULL;
    return cg_scale(ctx, cg_sub(ctx, base_nll(ctx, z), ld), 1.0 / z->shape[0]);
}

cg_tensor *cg_flowimg_inverse(cg_ctx *ctx, cg_flowimg *m, cg_tensor *z)
{
    int C = m->a.channels, S = m->a.size, K = m->a.scales;
    int64_t D = (int64_t)C * S * S;
    if (!z)
        return NULL;
    if (z->ndim != 2 || z->shape[1] != D) {
        cg_fail(ctx, CG_ERR_ARG, "realnvp: inverse takes z (N, %lld), got %s", (long long)D,
                CG_SHAPE_STR(z));
        return NULL;
    }
    int N = z->shape[0], sizes[CG_FLOWIMG_MAX_SCALES];
    cg_tensor *zs[CG_FLOWIMG_MAX_SCALES] = {NULL};
    for (int k = 0; k < K; k++)   /* z_k: D / 2^(k+1), the last D / 2^(K-1) */
        sizes[k] = (int)(k < K - 1 ? D >> (k + 1) : D >> (K - 1));
    if (K == 1)
        zs[0] = z;
    else
        cg_split(ctx, z, sizes, K, zs);
    /* the last scale: (N, C 2^(K-1), S / 2^(K-1), ...) */
    int sk = S >> (K - 1);
    cg_tensor *h = zs[K - 1] ? cg_reshape(ctx, zs[K - 1], CG_SHAPE(N, C << (K - 1), sk, sk))
                             : NULL;
    h = stage_inv(ctx, m, 2 * K - 2, h);
    for (int k = K - 2; k >= 0; k--) {
        int ck = C << k, half = (S >> k) / 2;   /* z_k (N, 2 ck, half, half) */
        cg_tensor *q[2] = {zs[k] ? cg_reshape(ctx, zs[k], CG_SHAPE(N, 2 * ck, half, half))
                                 : NULL, h};
        h = q[0] && q[1] ? cg_concat(ctx, q, 2) : NULL;
        h = cg_unsqueeze2x(ctx, stage_inv(ctx, m, 2 * k + 1, h));
        h = stage_inv(ctx, m, 2 * k, h);
    }
    return h;
}

/* ---- data transforms ----------------------------------------------------------- */

cg_tensor *cg_flowimg_preprocess(cg_ctx *ctx, const real *images, int n, int C, int S,
                                 cg_rng *r, double *logdet_sum)
{
    cg_tensor *y = cg_new(ctx, CG_SHAPE(n, C, S, S));
    double ld = 0;
    if (y) {
        cg_rng_uniform(r, y->data, y->n);
        for (int64_t i = 0; i < y->n; i++) {
            double pixel = floor(((double)images[i] + 1.0) * 127.5 + 0.5);
            double x = (pixel + (double)y->data[i]) / 256.0;
            double s = ALPHA + (1 - 2 * ALPHA) * x;
            y->data[i] = (real)(log(s) - log1p(-s));
            ld += log(1 - 2 * ALPHA) - log(s) - log1p(-s) - log(256.0);
        }
        /* log(256) per pixel: the density of x = (pixel + u) / 256 counts in
         * units of pixel values, so that -log p is a bound on the discrete
         * likelihood of the 8-bit pixels */
    }
    *logdet_sum = ld;
    return y;
}

void cg_flowimg_to_pixels(real *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double s = 1.0 / (1.0 + exp(-(double)x[i]));
        double v = (s - ALPHA) / (1 - 2 * ALPHA);
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        x[i] = (real)(2 * v - 1);
    }
}

double cg_flowimg_bpd(double nll_y, double logit_logdet, int64_t dims)
{
    return (nll_y - logit_logdet) / ((double)dims * LN2);
}

cg_tensor *cg_flowimg_dequantize(cg_ctx *ctx, cg_tensor *x, cg_rng *r, cg_tensor **logdet)
{
    *logdet = NULL;
    if (!x)
        return NULL;
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *u = cg_new_like(ctx, x);
    if (u && cg_rng_fill_uniform(r, u, 0.0, 1.0) != CG_OK)
        cg_fail(ctx, CG_ERR_CUDA, "realnvp: dequantisation noise: %s", cg_cuda_last_error());
    /* pixel = (x + 1) 127.5; (pixel + u) / 256 */
    cg_tensor *xd = cg_add(ctx, cg_affine(ctx, x, 127.5 / 256, 127.5 / 256),
                           cg_scale(ctx, u, 1.0 / 256));
    cg_tensor *s = cg_affine(ctx, xd, 1 - 2 * ALPHA, ALPHA);
    cg_tensor *ls = cg_log(ctx, s), *l1s = cg_log(ctx, cg_affine(ctx, s, -1, 1));
    cg_tensor *y = cg_sub(ctx, ls, l1s);
    /* log|dy/dx| = log(1 - 2a) - log s - log(1 - s) - log 256 per dimension */
    *logdet = cg_affine(ctx, cg_sum(ctx, cg_add(ctx, ls, l1s)), -1,
                        (double)x->n * (log(1 - 2 * ALPHA) - log(256.0)));
    cg_set_grad(ctx, prev);
    return y;
}
