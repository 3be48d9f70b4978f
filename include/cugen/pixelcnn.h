/*
 * pixelcnn.h: the PixelCNN of van den Oord et al. 2016 ("Pixel Recurrent
 * Neural Networks", section 3.5 and the PixelCNN of its table 4), an exact
 * autoregressive likelihood p(x) = prod_i p(x_i | x_<i) over the pixels in
 * raster order, for one-channel images (Fashion-MNIST, MNIST).
 *
 *   conv_in             7x7 mask A, 1 -> 2h channels                   (N, 2h, H, W)
 *   blocks.i (x B)      the paper's residual block (its figure 5):
 *                       y = x + conv3(ReLU(conv2(ReLU(conv1(ReLU(x))))))
 *                       conv1 1x1 2h -> h, conv2 3x3 mask B h -> h, conv3 1x1 h -> 2h
 *   out1, out2          ReLU, 1x1 2h -> 2h, ReLU, 1x1 2h -> L
 *
 * L = 1 logit per pixel for binary images (levels 2: -log p is the binary
 * cross-entropy with logits) or 256 logits (levels 256: softmax
 * cross-entropy over the pixel's 256 values).
 *
 * Masks (k x k, centre c = k / 2): mask A lets the centre pixel see the
 * rows above and the pixels left of it in its row; mask B also itself.
 * They are weight masks applied in the forward, conv2d(x, w * mask): the
 * gradient of w is masked too, so a masked weight stays as initialised and
 * never matters. With one colour channel a 1x1 mask B is all ones, so the
 * 1x1 layers are plain convolutions. The masks are fixed buffers (masks,
 * not saved). A pixel's output reaches 3 + B rows up (R, the vertical
 * reach): 3 from mask A, 1 from each mask B.
 *
 * Parameters are named as a PyTorch module with these attributes
 * (conv_in, blocks.0.conv1, ..., out1, out2: nn.Conv2d each, weights
 * (Cout, Cin, k, k)), so pixelcnn.safetensors loads into it as a
 * state_dict; the reference is scripts/make_refs.py.
 *
 * Pixels. levels 2: the image binarized at 0.5 (a grey value v / 255 > 0.5
 * is 1; a fixed threshold, so the test set and its likelihood are the same
 * every time), the network's input the 0/1 values. levels 256: the 8-bit
 * value v is the label, v / 255 the input.
 *
 * Not for: the training run (pixelcnn_train.c), cugen sample and eval
 * (pixelcnn_sample.c).
 */
#ifndef CUGEN_PIXELCNN_H
#define CUGEN_PIXELCNN_H

#include "cugen/data.h"
#include "cugen/layers.h"
#include "cugen/nn.h"
#include "cugen/optim.h"

#define CG_PIXELCNN_MAX_BLOCKS 32

typedef struct {
    int hidden;     /* h: the residual stream has 2h channels */
    int blocks;     /* residual blocks */
    int levels;     /* 2 (binary) or 256 */
} cg_pixelcnn_arch;

typedef struct {
    cg_pixelcnn_arch a;
    cg_params p;                   /* the weights, in declaration order */
    cg_params masks;               /* mask_a (7, 7), mask_b (3, 3): fixed, not saved */
    cg_nn nn;
    cg_nn_conv2d conv_in;          /* (2h, 1, 7, 7), mask A, padding 3 */
    struct {
        cg_nn_conv2d conv1;        /* (h, 2h, 1, 1) */
        cg_nn_conv2d conv2;        /* (h, h, 3, 3), mask B, padding 1 */
        cg_nn_conv2d conv3;        /* (2h, h, 1, 1) */
    } block[CG_PIXELCNN_MAX_BLOCKS];
    cg_nn_conv2d out1;             /* (2h, 2h, 1, 1) */
    cg_nn_conv2d out2;             /* (L, 2h, 1, 1) */
    cg_tensor *mask_a, *mask_b;
} cg_pixelcnn;

/* Check the architecture, declare and allocate (weights zero, masks set). */
cg_status cg_pixelcnn_build(cg_pixelcnn *m, const cg_pixelcnn_arch *a, char *err,
                            size_t errlen);
void cg_pixelcnn_free(cg_pixelcnn *m);
/* nn.Conv2d's default initialisation of every layer, from Philox stream
 * `stream` of seed (the whole weight, masked entries too, as PyTorch's). */
cg_status cg_pixelcnn_init(cg_pixelcnn *m, uint64_t seed, uint32_t stream);
/* Weights (with Adam's moments) and masks to dev, or back to the host. */
cg_status cg_pixelcnn_to_device(cg_pixelcnn *m, cg_device dev, char *err, size_t errlen);
/* 3 + blocks: the rows above a pixel its output depends on */
int cg_pixelcnn_reach(const cg_pixelcnn *m);

/* Images (n values in [-1, 1], the loader's) -> the network's input x and
 * the pixels' labels (0/1 for levels 2, 0..255 for levels 256). A pixel that
 * is not finite gives a NaN input (label 0), so the loss says so. */
void cg_pixelcnn_pixels(int levels, const real *images, int64_t n, real *x, int32_t *labels);

/* x (N, 1, H, W) -> logits: (N, 1, H, W) for levels 2, (N, H W, 256) for
 * levels 256 (each pixel's 256 logits contiguous). */
cg_tensor *cg_pixelcnn_logits(cg_ctx *ctx, cg_pixelcnn *m, cg_tensor *x);
/* -log p(x), nats, summed over the batch: (1). labels: N H W host int32. */
cg_tensor *cg_pixelcnn_nll(cg_ctx *ctx, cg_pixelcnn *m, cg_tensor *x, const int32_t *labels);

/* One Adam step on the mean NLL per image of x (N, 1, H, W) with its
 * labels, x on the parameters' device; nll: nats per image before the
 * step. Leaves gradients zeroed and the step arena reset. */
cg_status cg_pixelcnn_step(cg_ctx *ctx, cg_pixelcnn *m, cg_adam *opt, cg_tensor *x,
                           const int32_t *labels, double *nll);

/* The exact -log p(x) of every image of ds (the first `limit` when limit >
 * 0), mean nats per image, on the model's device. */
cg_status cg_pixelcnn_evaluate(cg_pixelcnn *m, const cg_dataset *ds, int64_t limit,
                               double *nats, int64_t *count, char *err, size_t errlen);
/* nats per image -> bits per dimension of dims pixels */
double cg_pixelcnn_bpd(double nats, int64_t dims);

/* n images of side S drawn pixel by pixel in raster order, S * S forward
 * passes on the model's device, each over the rows a pixel's output reaches
 * (cg_pixelcnn_reach) of all n images; uniforms from Philox stream `stream`
 * of seed on the host. out: (n, 1, S, S) in [-1, 1]. */
cg_status cg_pixelcnn_sample(cg_pixelcnn *m, int n, int S, uint64_t seed, uint32_t stream,
                             real *out, char *err, size_t errlen);

/* A PixelCNN from a run directory (its pixelcnn.safetensors), a checkpoint
 * or a weights file; the architecture from the names and shapes. */
cg_status cg_pixelcnn_load(const char *path, cg_pixelcnn *m, char *err, size_t errlen);

#endif
