/*
 * pixelcnn.c: the PixelCNN network (cugen/pixelcnn.h): its layers and
 * masks, the forward to logits, the exact NLL, one Adam step, the test-set
 * likelihood and loading a trained one.
 *
 * Not for: drawing samples (pixelcnn_sample.c), the training run
 * (pixelcnn_train.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/pixelcnn.h"
#include "cugen/tape.h"

#define EVAL_BATCH 100

/* mask (k, k): 1 above the centre row, and left of the centre in its row;
 * the centre itself for mask B */
static void mask_fill(real *mask, int k, int type_b)
{
    int c = k / 2;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            mask[i * k + j] = (real)(i < c || (i == c && (j < c || (type_b && j == c))));
}

cg_status cg_pixelcnn_build(cg_pixelcnn *m, const cg_pixelcnn_arch *a, char *err,
                            size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (a->hidden < 1 || a->blocks < 0 || a->blocks > CG_PIXELCNN_MAX_BLOCKS ||
        (a->levels != 2 && a->levels != 256)) {
        snprintf(err, errlen, "pixelcnn: hidden %d (>= 1), blocks %d (0..%d), levels %d (2 or "
                 "256)", a->hidden, a->blocks, CG_PIXELCNN_MAX_BLOCKS, a->levels);
        return CG_ERR_ARG;
    }
    m->a = *a;
    int h = a->hidden, h2 = 2 * a->hidden;
    cg_params_init(&m->p);
    cg_params_init(&m->masks);
    cg_nn_begin(&m->nn, &m->p);
    cg_nn_conv2d_declare(&m->nn, &m->conv_in, "conv_in", 1, h2, 7, 1, 3, 1);
    for (int b = 0; b < a->blocks; b++) {
        char name[64];
        snprintf(name, sizeof name, "blocks.%d.conv1", b);
        cg_nn_conv2d_declare(&m->nn, &m->block[b].conv1, name, h2, h, 1, 1, 0, 1);
        snprintf(name, sizeof name, "blocks.%d.conv2", b);
        cg_nn_conv2d_declare(&m->nn, &m->block[b].conv2, name, h, h, 3, 1, 1, 1);
        snprintf(name, sizeof name, "blocks.%d.conv3", b);
        cg_nn_conv2d_declare(&m->nn, &m->block[b].conv3, name, h, h2, 1, 1, 0, 1);
    }
    cg_nn_conv2d_declare(&m->nn, &m->out1, "out1", h2, h2, 1, 1, 0, 1);
    cg_nn_conv2d_declare(&m->nn, &m->out2, "out2", h2, a->levels == 2 ? 1 : 256, 1, 1, 0, 1);
    cg_status st = cg_nn_alloc(&m->nn, err, errlen);
    if (st == CG_OK) {
        m->mask_a = cg_buffer(&m->masks, "mask_a", CG_SHAPE(7, 7));
        m->mask_b = cg_buffer(&m->masks, "mask_b", CG_SHAPE(3, 3));
        if (!m->mask_a || !m->mask_b || (st = cg_params_alloc(&m->masks)) != CG_OK) {
            snprintf(err, errlen, "pixelcnn: out of memory for the masks");
            st = CG_ERR_NOMEM;
        }
    }
    if (st != CG_OK) {
        cg_params_free(&m->masks);
        cg_params_free(&m->p);
        return st;
    }
    mask_fill(m->mask_a->data, 7, 0);
    mask_fill(m->mask_b->data, 3, 1);
    return CG_OK;
}

void cg_pixelcnn_free(cg_pixelcnn *m)
{
    cg_params_free(&m->p);
    cg_params_free(&m->masks);
    memset(m, 0, sizeof *m);
}

cg_status cg_pixelcnn_init(cg_pixelcnn *m, uint64_t seed, uint32_t stream)
{
    return cg_nn_init_seeded(&m->nn, seed, stream);
}

cg_status cg_pixelcnn_to_device(cg_pixelcnn *m, cg_device dev, char *err, size_t errlen)
{
    cg_status st = dev == CG_CUDA ? cg_params_to_device(&m->p, err, errlen)
                                  : cg_params_to_host(&m->p, err, errlen);
    if (st == CG_OK)
        st = dev == CG_CUDA ? cg_params_to_device(&m->masks, err, errlen)
                            : cg_params_to_host(&m->masks, err, errlen);
    return st;
}

int cg_pixelcnn_reach(const cg_pixelcnn *m)
{
    return 3 + m->a.blocks;
}

void cg_pixelcnn_pixels(int levels, const real *images, int64_t n, real *x, int32_t *labels)
{
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(images[i])) {   /* carried to the loss: a broken batch is not a 0 */
            labels[i] = 0, x[i] = NAN;
            continue;
        }
        long v = lround(((double)images[i] + 1.0) * 127.5);   /* the 8-bit value back */
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        if (levels == 2)
            labels[i] = v >= 128, x[i] = (real)labels[i];   /* v / 255 > 0.5 */
        else
            labels[i] = (int32_t)v, x[i] = (real)(v / 255.0);
    }
}

/* conv2d(x, w * mask) with the layer's bias and geometry */
static cg_tensor *masked_conv(cg_ctx *ctx, cg_nn_conv2d *l, cg_tensor *mask, cg_tensor *x)
{
    cg_tensor *w = cg_mul(ctx, l->weight, mask);
    return cg_conv2d(ctx, x, w, l->bias, l->stride, l->pad);
}

/* out2 for 256 levels as a batched matmul, so that each pixel's 256 logits
 * come out contiguous, (N, H W, 256), for the softmax over them:
 * logits[n, p, :] = W h[n, :, p] + b, the same sums as the 1x1 convolution */
static cg_tensor *head_256(cg_ctx *ctx, cg_pixelcnn *m, cg_tensor *h)
{
    if (!h)
        return NULL;
    int N = h->shape[0], C = h->shape[1], P = h->shape[2] * h->shape[3];
    cg_tensor *w = cg_reshape(ctx, m->out2.weight, CG_SHAPE(256, C));
    cg_tensor *wb = cg_add(ctx, cg_new_zeros_on(ctx, (cg_device)h->dev, CG_SHAPE(N, 256, C)), w);
    cg_tensor *z = cg_bmm(ctx, cg_reshape(ctx, h, CG_SHAPE(N, C, P)), wb, 1, 1);
    return cg_add(ctx, z, m->out2.bias);
}

cg_tensor *cg_pixelcnn_logits(cg_ctx *ctx, cg_pixelcnn *m, cg_tensor *x)
{
    if (x && (x->ndim != 4 || x->shape[1] != 1)) {
        char s[64];
        cg_fail(ctx, CG_ERR_ARG, "pixelcnn: x must be (N, 1, H, W), got %s",
                cg_shape_str(x, s, sizeof s));
        return NULL;
    }
    cg_tensor *h = masked_conv(ctx, &m->conv_in, m->mask_a, x);
    for (int b = 0; b < m->a.blocks; b++) {
        cg_tensor *r = cg_nn_conv2d_fwd(ctx, &m->block[b].conv1, cg_relu(ctx, h));
        r = masked_conv(ctx, &m->block[b].conv2, m->mask_b, cg_relu(ctx, r));
        r = cg_nn_conv2d_fwd(ctx, &m->block[b].conv3, cg_relu(ctx, r));
        h = cg_add(ctx, h, r);
    }
    h = cg_relu(ctx, cg_nn_conv2d_fwd(ctx, &m->out1, cg_relu(ctx, h)));
    return m->a.levels == 2 ? cg_nn_conv2d_fwd(ctx, &m->out2, h) : head_256(ctx, m, h);
}

cg_tensor *cg_pixelcnn_nll(cg_ctx *ctx, cg_pixelcnn *m, cg_tensor *x, const int32_t *labels)
{
    cg_tensor *z = cg_pixelcnn_logits(ctx, m, x);
    if (!z)
        return NULL;
    if (m->a.levels == 2)   /* the 0/1 input is its own target */
        return cg_bce_with_logits(ctx, z, x, CG_REDUCE_SUM);
    return cg_softmax_xent(ctx, cg_reshape(ctx, z, CG_SHAPE(z->shape[0] * z->shape[1], 256)),
                           labels, CG_REDUCE_SUM);
}

cg_status cg_pixelcnn_step(cg_ctx *ctx, cg_pixelcnn *m, cg_adam *opt, cg_tensor *x,
                           const int32_t *labels, double *nll)
{
    *nll = NAN;
    if (ctx->err)
        return ctx->err;
    if (x && x->dev != m->p.dev)
        return cg_fail(ctx, CG_ERR_ARG, "pixelcnn: the batch and the parameters must be on "
                       "one device");
    cg_tensor *sum = cg_pixelcnn_nll(ctx, m, x, labels);
    cg_tensor *loss = sum ? cg_scale(ctx, sum, 1.0 / x->shape[0]) : NULL;
    if (!loss || cg_backward(ctx, loss) != CG_OK)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    cg_status st = cg_adam_step(opt, &m->p);
    if (st != CG_OK)
        return cg_fail(ctx, st, "pixelcnn: Adam step failed: %s", cg_cuda_last_error());
    if (cg_params_zero_grad(&m->p) != CG_OK)
        return cg_fail(ctx, CG_ERR_CUDA, "pixelcnn: zeroing gradients: %s",
                       cg_cuda_last_error());
    real v;   /* the step's one wait on the GPU, after the update is queued */
    if (cg_copy_to_host(ctx, &v, loss) != CG_OK)
        return ctx->err ? ctx->err : CG_ERR_CUDA;
    *nll = v;
    cg_ctx_step_end(ctx);
    return CG_OK;
}

double cg_pixelcnn_bpd(double nats, int64_t dims)
{
    return nats / ((double)dims * log(2.0));
}

cg_status cg_pixelcnn_evaluate(cg_pixelcnn *m, const cg_dataset *ds, int64_t limit,
                               double *nats, int64_t *count, char *err, size_t errlen)
{
    if (ds->channels != 1) {
        snprintf(err, errlen, "pixelcnn: takes one-channel images, %s has %d channels",
                 ds->name, ds->channels);
        return CG_ERR_ARG;
    }
    int H = ds->height, W = ds->width;
    int64_t D = (int64_t)H * W, n_all = limit > 0 && limit < ds->count ? limit : ds->count;
    real *img = malloc(sizeof(real) * EVAL_BATCH * (size_t)D);
    real *x = malloc(sizeof(real) * EVAL_BATCH * (size_t)D);
    int32_t *lab = malloc(sizeof(int32_t) * EVAL_BATCH * (size_t)D);
    cg_ctx ctx;
    if (!img || !x || !lab || cg_ctx_init(&ctx) != CG_OK) {
        free(img), free(x), free(lab);
        snprintf(err, errlen, "pixelcnn: out of memory");
        return CG_ERR_NOMEM;
    }
    cg_set_grad(&ctx, 0);
    double sum = 0;
    cg_status st = CG_OK;
    for (int64_t i0 = 0; i0 < n_all; i0 += EVAL_BATCH) {
        int n = (int)(n_all - i0 < EVAL_BATCH ? n_all - i0 : EVAL_BATCH);
        for (int64_t k = 0; k < n * D; k++)
            img[k] = (real)(ds->pixels[i0 * D + k] / 127.5 - 1.0);
        cg_pixelcnn_pixels(m->a.levels, img, n * D, x, lab);
        cg_tensor *t = cg_new_on(&ctx, (cg_device)m->p.dev, CG_SHAPE(n, 1, H, W));
        if (t && cg_copy_from_host(&ctx, t, x) != CG_OK)
            t = NULL;
        cg_tensor *l = cg_pixelcnn_nll(&ctx, m, t, lab);
        real v;
        if (!l || cg_copy_to_host(&ctx, &v, l) != CG_OK) {
            snprintf(err, errlen, "pixelcnn: evaluation: %s", ctx.errmsg);
            st = ctx.err ? ctx.err : CG_ERR_CUDA;
            break;
        }
        sum += v;
        cg_ctx_step_end(&ctx);
    }
    *nats = sum / (double)n_all;
    *count = n_all;
    cg_ctx_free(&ctx);
    free(img), free(x), free(lab);
    return st;
}

/* the architecture from a weights file's names and shapes: 1, or 0 */
static int arch_of(const cg_st_file *f, cg_pixelcnn_arch *a)
{
    const cg_st_tensor *in = cg_st_find(f, "conv_in.weight"), *out = cg_st_find(f, "out2.weight");
    if (!in || !out || in->ndim != 4 || out->ndim != 4 || in->shape[0] % 2 != 0)
        return 0;
    a->hidden = (int)(in->shape[0] / 2);
    a->levels = out->shape[0] == 1 ? 2 : 256;
    a->blocks = 0;
    char name[64];
    for (;;) {
        snprintf(name, sizeof name, "blocks.%d.conv1.weight", a->blocks);
        if (!cg_st_find(f, name) || a->blocks == CG_PIXELCNN_MAX_BLOCKS)
            break;
        a->blocks++;
    }
    return 1;
}

cg_status cg_pixelcnn_load(const char *path, cg_pixelcnn *m, char *err, size_t errlen)
{
    char file[4096], why[1024];
    cg_st_file f;
    cg_status st = cg_st_load_run(&f, path, "pixelcnn.safetensors", file, sizeof file, err,
                                  errlen);
    if (st != CG_OK)
        return st;
    cg_pixelcnn_arch a = {0};
    int ok = arch_of(&f, &a);
    cg_st_free(&f);
    if (!ok) {
        snprintf(err, errlen, "%s: not a PixelCNN (no 4-D conv_in.weight and out2.weight)",
                 file);
        return CG_ERR_ARG;
    }
    if ((st = cg_pixelcnn_build(m, &a, why, sizeof why)) != CG_OK) {
        snprintf(err, errlen, "%s: %s", file, why);
        return st;
    }
    if ((st = cg_weights_load(file, &m->p, err, errlen)) != CG_OK)
        cg_pixelcnn_free(m);
    return st;
}
