/*
 * fmnist_net.c: the small Fashion-MNIST classifier (layers in
 * cugen/metrics.h) and its use as the feature network of "FMNIST-FID": the
 * 128 activations before the last layer, as Inception's pool features are
 * for the usual FID.
 *
 * Not for: training it (models/classic/classifier.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/io.h"
#include "cugen/metrics.h"
#include "cugen/ops.h"

cg_status cg_fmnist_net_build(cg_fmnist_net *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cg_params *p = &m->p;
    cg_params_init(p);
    m->c1w = cg_param(p, "conv1.weight", CG_SHAPE(32, 1, 3, 3), 0);
    m->c1b = cg_param(p, "conv1.bias", CG_SHAPE(32), 0);
    m->c2w = cg_param(p, "conv2.weight", CG_SHAPE(64, 32, 3, 3), 0);
    m->c2b = cg_param(p, "conv2.bias", CG_SHAPE(64), 0);
    m->f1w = cg_param(p, "fc1.weight", CG_SHAPE(CG_FMNIST_NET_FEATURES, 64 * 7 * 7), 0);
    m->f1b = cg_param(p, "fc1.bias", CG_SHAPE(CG_FMNIST_NET_FEATURES), 0);
    m->f2w = cg_param(p, "fc2.weight", CG_SHAPE(10, CG_FMNIST_NET_FEATURES), 0);
    m->f2b = cg_param(p, "fc2.bias", CG_SHAPE(10), 0);
    cg_status st = m->c1w && m->c1b && m->c2w && m->c2b && m->f1w && m->f1b && m->f2w && m->f2b
                       ? cg_params_alloc(p)
                       : CG_ERR_NOMEM;
    if (st != CG_OK) {
        snprintf(err, errlen, "fmnist-net: out of memory");
        cg_params_free(p);
    }
    return st;
}

void cg_fmnist_net_free(cg_fmnist_net *m)
{
    cg_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

/* nn.Conv2d / nn.Linear reset_parameters: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
static void init_layer(cg_tensor *w, cg_tensor *b, cg_rng *r)
{
    int64_t fan_in = w->n / w->shape[0];
    double bound = 1 / sqrt((double)fan_in);
    cg_init_uniform(w, r, -bound, bound);
    cg_init_uniform(b, r, -bound, bound);
}

void cg_fmnist_net_init(cg_fmnist_net *m, uint64_t seed, uint32_t stream)
{
    cg_rng r;
    cg_rng_init(&r, seed, stream);
    init_layer(m->c1w, m->c1b, &r);
    init_layer(m->c2w, m->c2b, &r);
    init_layer(m->f1w, m->f1b, &r);
    init_layer(m->f2w, m->f2b, &r);
}

cg_tensor *cg_fmnist_net_forward(cg_ctx *ctx, cg_fmnist_net *m, cg_tensor *x,
                                 cg_tensor **features)
{
    if (!x)
        return NULL;
    if (x->ndim != 4 || x->shape[1] != 1 || x->shape[2] != 28 || x->shape[3] != 28) {
        cg_fail(ctx, CG_ERR_ARG, "fmnist-net: takes images (N, 1, 28, 28), got %s",
                cg_shape_str(x, (char[64]){0}, 64));
        return NULL;
    }
    int N = x->shape[0];
    cg_tensor *h = cg_avgpool2x(ctx, cg_relu(ctx, cg_conv2d(ctx, x, m->c1w, m->c1b, 1, 1)));
    h = cg_avgpool2x(ctx, cg_relu(ctx, cg_conv2d(ctx, h, m->c2w, m->c2b, 1, 1)));
    cg_tensor *f = cg_relu(ctx, cg_linear(ctx, cg_reshape(ctx, h, CG_SHAPE(N, 64 * 7 * 7)),
                                          m->f1w, m->f1b));
    if (features)
        *features = f;
    return cg_linear(ctx, f, m->f2w, m->f2b);
}

static cg_status net_features(cg_feature_net *net, cg_ctx *ctx, const real *x, int n, real *out)
{
    cg_tensor *f = NULL;
    cg_fmnist_net_forward(ctx, net->state, cg_wrap(ctx, (real *)x, CG_SHAPE(n, 1, 28, 28)), &f);
    if (!f)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    memcpy(out, f->data, sizeof(real) * (size_t)n * CG_FMNIST_NET_FEATURES);
    return CG_OK;
}

static void net_free(cg_feature_net *net)
{
    if (net->state) {
        cg_fmnist_net_free(net->state);
        free(net->state);
    }
    net->state = NULL;
}

cg_status cg_fmnist_feature_net(const char *path, cg_feature_net *net, char *err,
                                size_t errlen)
{
    memset(net, 0, sizeof *net);
    char file[4096];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(file, sizeof file, "%s/classifier.safetensors", path);
    else
        snprintf(file, sizeof file, "%s", path);
    cg_fmnist_net *m = malloc(sizeof *m);
    if (!m) {
        snprintf(err, errlen, "fmnist-net: out of memory");
        return CG_ERR_NOMEM;
    }
    cg_status st = cg_fmnist_net_build(m, err, errlen);
    if (st != CG_OK) {
        free(m);
        return st;
    }
    char why[1024];
    if ((st = cg_weights_load(file, &m->p, why, sizeof why)) != CG_OK) {
        snprintf(err, errlen, "%s (train one with: cugen train classifier --out DIR)", why);
        cg_fmnist_net_free(m);
        free(m);
        return st;
    }
    *net = (cg_feature_net){.name = "fmnist-net", .dim = CG_FMNIST_NET_FEATURES, .channels = 1,
                            .height = 28, .width = 28, .state = m, .features = net_features,
                            .free = net_free};
    return CG_OK;
}
