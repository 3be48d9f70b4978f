/*
 * fmnist_net.c: the small Fashion-MNIST classifier, declared as layers
 * (cugen/layers.h; the network in cugen/metrics.h), and its use as the
 * feature network of "FMNIST-FID": the 128 activations before the last
 * layer, as Inception's pool features are for the usual FID.
 *
 * Not for: training it (models/classic/classifier.c).
 */
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
    cg_params_init(&m->p);
    cg_nn *nn = &m->nn;
    cg_nn_begin(nn, &m->p);
    cg_nn_conv2d_declare(nn, &m->conv1, "conv1", 1, 32, 3, 1, 1, 1);
    cg_nn_conv2d_declare(nn, &m->conv2, "conv2", 32, 64, 3, 1, 1, 1);
    cg_nn_linear_declare(nn, &m->fc1, "fc1", 64 * 7 * 7, CG_FMNIST_NET_FEATURES, 1);
    cg_nn_linear_declare(nn, &m->fc2, "fc2", CG_FMNIST_NET_FEATURES, 10, 1);
    return cg_nn_alloc_for(nn, "fmnist-net", err, errlen);
}

void cg_fmnist_net_free(cg_fmnist_net *m)
{
    cg_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

/* nn.Conv2d / nn.Linear's defaults, conv1 to fc2, weight then bias */
void cg_fmnist_net_init(cg_fmnist_net *m, uint64_t seed, uint32_t stream)
{
    cg_nn_init_seeded(&m->nn, seed, stream);
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
    cg_tensor *h = cg_avgpool2x(ctx, cg_relu(ctx, cg_nn_conv2d_fwd(ctx, &m->conv1, x)));
    h = cg_avgpool2x(ctx, cg_relu(ctx, cg_nn_conv2d_fwd(ctx, &m->conv2, h)));
    h = cg_reshape(ctx, h, CG_SHAPE(N, 64 * 7 * 7));
    cg_tensor *f = cg_relu(ctx, cg_nn_linear_fwd(ctx, &m->fc1, h));
    if (features)
        *features = f;
    return cg_nn_linear_fwd(ctx, &m->fc2, f);
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

static cg_status net_logits(cg_feature_net *net, cg_ctx *ctx, const real *x, int n, real *out)
{
    cg_tensor *y = cg_fmnist_net_forward(ctx, net->state,
                                         cg_wrap(ctx, (real *)x, CG_SHAPE(n, 1, 28, 28)), NULL);
    if (!y)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    memcpy(out, y->data, sizeof(real) * (size_t)y->n);
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
    cg_run_file(path, "classifier.safetensors", file, sizeof file);
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
                            .classes = 10, .logits = net_logits, .free = net_free};
    return CG_OK;
}
