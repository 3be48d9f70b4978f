/*
 * dcgan.h: the DCGAN of the PyTorch examples (Radford et al. 2015), exactly
 * as pytorch/examples' dcgan/main.py builds and trains it, at 32x32 or 64x64.
 *
 *   G: z (nz, 1, 1) -> ConvT(4, 1, 0) -> [BN, ReLU, ConvT(4, 2, 1)] x L-1 -> Tanh
 *   D: x (nc, S, S) -> Conv(4, 2, 1), LeakyReLU(0.2) -> [Conv(4, 2, 1), BN,
 *      LeakyReLU(0.2)] x L-2 -> Conv(4, 1, 0) -> logit (the sigmoid lives in
 *      the loss: BCE-with-logits)
 *
 * with L = log2(S) - 1 convolutions in each net (5 at 64x64, 4 at 32x32),
 * no biases, widths ngf * 2^k / ndf * 2^k. G and D live in one flat
 * parameter buffer, G in group 0 under "G.<state_dict name>", D in group 1
 * under "D.<state_dict name>", where the state_dict names are those of the
 * example's nn.Sequential `main` (main.0.weight, main.1.running_mean, ...):
 * G.safetensors and D.safetensors load into its Generator and Discriminator.
 *
 * Variants (each off by default, the example's networks unchanged then):
 *   spectral normalisation (sn): D's and / or G's convolutions as
 *     torch.nn.utils.spectral_norm(conv) (cugen/layers.h): their weights are
 *     "main.K.weight_orig", "main.K.weight_u", "main.K.weight_v";
 *   conditioning on a class label y in [0, num_classes): G reads
 *     cat(z, embed(y)) with embed = nn.Embedding(num_classes, embed_dim)
 *     ("G.embed.weight"); D is a projection discriminator (Miyato and Koyama
 *     2018): its output gains the inner product of embed(y), an
 *     nn.Embedding(num_classes, F) ("D.embed.weight"), with the F = 8 ndf 4 4
 *     (64x64; 4 ndf 4 4 at 32x32) features its last convolution reads;
 *   the hinge loss (SNGAN, BigGAN) instead of the example's BCE.
 * scripts/dcgan_torch.py has the same modules in PyTorch.
 *
 * Not for: the training loop's files and flags (dcgan_train.c), data loading.
 */
#ifndef CUGEN_DCGAN_H
#define CUGEN_DCGAN_H

#include "cugen/layers.h"
#include "cugen/nn.h"
#include "cugen/optim.h"
#include "cugen/train.h"
#include "cugen/wgan_gp.h"

#define CG_DCGAN_MAX_LAYERS 5
#define CG_DCGAN_G 0   /* parameter groups */
#define CG_DCGAN_D 1
#define CG_DCGAN_SN_D 1   /* cg_dcgan_arch.sn bits */
#define CG_DCGAN_SN_G 2
#define CG_DCGAN_MAX_CLASSES 1024

typedef struct {
    int nz, ngf, ndf, nc, image_size;
    int sn;             /* CG_DCGAN_SN_D | CG_DCGAN_SN_G, or 0 */
    int num_classes;    /* conditional on a label in [0, num_classes); 0: not */
    int embed_dim;      /* of G's label embedding (conditional) */
    int critic;         /* D is the WGAN-GP critic (cugen/wgan_gp.h): layer norm where the
                         * example has batch norm */
} cg_dcgan_arch;

/* The objective of the step */
typedef enum {
    CG_DCGAN_BCE = 0,  /* the example's: D log D(x) + log(1 - D(G(z))), G log D(G(z)) */
    CG_DCGAN_HINGE,    /* D: mean relu(1 - D(x)) + mean relu(1 + D(G(z))), G: -mean D(G(z)) */
    CG_DCGAN_WGAN_GP,  /* the critic's Wasserstein loss with its gradient penalty, G:
                        * -mean D(G(z)) (cg_dcgan_wgan_step; needs arch.critic) */
} cg_dcgan_loss;

/* Each net is the example's nn.Sequential `main`; at 64x64 (L = 5; 32x32 has
 * one block of the widest width less):
 *   G.main  0 ConvTranspose2d(nz, 8 ngf, 4, 1, 0)      1 BatchNorm2d   2 ReLU
 *           3 ConvTranspose2d(8 ngf, 4 ngf, 4, 2, 1)   4 BatchNorm2d   5 ReLU
 *           ...                                       10 BatchNorm2d  11 ReLU
 *          12 ConvTranspose2d(ngf, nc, 4, 2, 1)       13 Tanh
 *   D.main  0 Conv2d(nc, ndf, 4, 2, 1)                 1 LeakyReLU(0.2)
 *           2 Conv2d(ndf, 2 ndf, 4, 2, 1)              3 BatchNorm2d   4 LeakyReLU(0.2)
 *           ...                                        9 BatchNorm2d  10 LeakyReLU(0.2)
 *          11 Conv2d(8 ndf, 1, 4, 1, 0)               (12 Sigmoid: in the loss)
 * all without bias. */
typedef struct {
    cg_dcgan_arch a;
    int layers;                                   /* convolutions per net, L */
    cg_params p;
    cg_nn nn;
    cg_nn_conv_transpose2d g_conv[CG_DCGAN_MAX_LAYERS];  /* G.main.3i: (cin, cout, 4, 4) */
    cg_nn_batchnorm2d g_bn[CG_DCGAN_MAX_LAYERS];         /* G.main.3i+1, i < L-1 */
    cg_nn_conv2d d_conv[CG_DCGAN_MAX_LAYERS];  /* D.main.0, D.main.3i-1: (cout, cin, 4, 4) */
    cg_nn_batchnorm2d d_bn[CG_DCGAN_MAX_LAYERS];         /* D.main.3i, 0 < i < L-1 */
    cg_nn_embedding g_embed;   /* G.embed: (num_classes, embed_dim), conditional */
    cg_nn_embedding d_embed;   /* D.embed: (num_classes, F), conditional */
    cg_wgan_critic critic;     /* D.main, arch.critic: instead of d_conv and d_bn */
    cg_dcgan_loss loss;        /* of cg_dcgan_step; BCE after build */
} cg_dcgan;

/* Check the architecture ("image size must be 32 or 64", ...) and allocate
 * the parameters (zero). */
cg_status cg_dcgan_build(cg_dcgan *m, const cg_dcgan_arch *a, char *err, size_t errlen);
void cg_dcgan_free(cg_dcgan *m);
/* Move the parameters to the GPU (CG_CUDA) or back; err says why not. */
cg_status cg_dcgan_to_device(cg_dcgan *m, cg_device dev, char *err, size_t errlen);
/* The example's weights_init: conv weights N(0, 0.02), batchnorm weights
 * N(1, 0.02), biases 0, from Philox stream `stream` of seed; G's label
 * embedding N(0, 1) (nn.Embedding's, the scale of z), D's N(0, 0.02) (it is
 * a per-class twin of the last convolution, whose weights are drawn so);
 * spectral normalisation's u and v as spectral_norm draws them. */
void cg_dcgan_init(cg_dcgan *m, uint64_t seed, uint32_t stream);

/* G(z, y) for z (N, nz, 1, 1) or (N, nz) and, conditional, y: N host labels
 * (NULL otherwise): images (N, nc, S, S) in [-1, 1].
 * bn_running 0: batch statistics (train mode; running statistics updated
 * when update_running); 1: the running statistics (eval mode). Spectral
 * normalisation: a power iteration when update_running (the training
 * forward), else the stored vectors. */
cg_tensor *cg_dcgan_generate(cg_ctx *ctx, cg_dcgan *m, cg_tensor *z, const int32_t *y,
                             int bn_running, int update_running);
/* D's logits (N) for images (N, nc, S, S) (and labels y, conditional);
 * batch statistics, running statistics and spectral normalisation's vectors
 * updated (D is only ever used in train mode). */
cg_tensor *cg_dcgan_discriminate(cg_ctx *ctx, cg_dcgan *m, cg_tensor *x, const int32_t *y);

/* One iteration of the recipe: the D step on the real batch (label 1) and on
 * G(z) detached (label 0), Adam on D; then the G step, D(G(z)) against label
 * 1 with D's weight gradients not computed, Adam on G (m->loss: those terms
 * in the hinge form instead). Conditional: x's labels y, and G draws for
 * the same labels. Leaves gradients zeroed and the step arena reset. */
typedef struct {
    double loss_d, loss_g;   /* errD_real + errD_fake, errG */
    double d_x;              /* mean sigmoid D(x); hinge: mean D(x) */
    double d_g_z1, d_g_z2;   /* the same of D(G(z)) before / after the D step */
    real *outputs;           /* in: NULL, or room for 3 N values: sigmoid D(x), D(G(z))
                              * before and after the D step, per sample (hinge: D's) */
    const int32_t *y;        /* in: the batch's labels (conditional), host memory */
} cg_dcgan_stats;
cg_status cg_dcgan_step(cg_ctx *ctx, cg_dcgan *m, cg_adam *opt_d, cg_adam *opt_g,
                        cg_tensor *real_x, cg_tensor *z, cg_dcgan_stats *out);

/* One iteration of WGAN-GP (Gulrajani et al. 2017, Algorithm 1) on a DCGAN
 * whose D is the critic (arch.critic): n_critic critic steps, step i on its
 * own real batch real[i] (labels y[i], conditional), fakes G(z[i], y[i])
 * drawn without a tape and interpolation weights eps[i] (the loss and
 * penalty of cg_wgan_gp_critic_step, Adam on D); then the G step, -mean D(G(z[n_critic]),
 * y[n_critic - 1]) (a conditional G draws for the last real batch's labels)
 * with D's weight gradients not computed, Adam on G. G runs in train mode
 * throughout (batch statistics, running ones updated at each of its n_critic
 * + 1 forwards, as in PyTorch). Leaves gradients zeroed and the arena reset. */
typedef struct {
    int n_critic;
    double lambda;
    cg_tensor *const *real;     /* n_critic batches (B, nc, S, S) */
    const int32_t *const *y;    /* n_critic host label arrays (conditional), else NULL */
    cg_tensor *const *z;        /* n_critic + 1 latents (B, nz): the critic steps', G's */
    cg_tensor *const *eps;      /* n_critic (B) in [0, 1) */
} cg_dcgan_wgan_batch;
typedef struct {
    double loss_d;        /* the critic's loss, mean over its n_critic steps */
    double wasserstein;   /* mean D(real) - mean D(fake), mean over the steps */
    double gp;            /* the penalty (lambda included), mean over the steps */
    double loss_g;        /* -mean D(G(z)) of the G step */
    real *each;           /* in: NULL, or room for 3 n_critic values: the loss, the
                           * wasserstein estimate and the penalty of each critic step */
} cg_dcgan_wgan_stats;
cg_status cg_dcgan_wgan_step(cg_ctx *ctx, cg_dcgan *m, cg_adam *opt_d, cg_adam *opt_g,
                             const cg_dcgan_wgan_batch *in, cg_dcgan_wgan_stats *out);

/* Architecture of a G (or checkpoint / run) file from its tensor shapes.
 * path: a G.safetensors, a checkpoint.safetensors (the "G." part), or a run
 * directory (its G.safetensors). Fills a and, when m is not NULL, builds m
 * and loads G's weights (D stays zero). */
cg_status cg_dcgan_load_generator(const char *path, cg_dcgan *m, cg_dcgan_arch *a, char *err,
                                  size_t errlen);

#endif
