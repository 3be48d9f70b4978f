/*
 * vae.h: the variational autoencoder of the seed article (Kingma & Welling
 * 2014), an MLP on flattened images:
 *
 *   encoder  x (D) -> fc1 (hidden) -> ReLU -> fc2_mu, fc2_logvar (latent)
 *   sample   h = mu + exp(logvar / 2) * eps,  eps ~ N(0, I) (Philox)
 *   decoder  h -> fc3 (hidden) -> ReLU -> fc4 (D) logits; sigmoid = pixel means
 *   loss     BCE(sigmoid(logits), x) summed + KL(N(mu, sigma^2) || N(0, I)),
 *            summed over the batch (the article's reduction = 'sum')
 *
 * with D = 784, hidden 400, latent 20 by default. The parameters are named
 * as the article's `VAE` module has them in its state_dict (fc1.weight, ...),
 * so vae.safetensors loads into it. Pixels are in [0, 1] (the loader's
 * [-1, 1] mapped by (x + 1) / 2): a Bernoulli likelihood of grey values, as
 * the article trains it. The BCE is computed from the logits (stable; the
 * same value as sigmoid then BCE where that is finite).
 *
 * The convolutional VAE (`--arch conv`) for 32x32 and 64x64 images,
 * width w, with L = log2(size) - 2 stride-2 convolutions to 4x4:
 *
 *   encoder  enc: [Conv(4, 2, 1) ReLU] x L, channels C -> w -> 2w -> ... -> w 2^(L-1);
 *            flatten; fc_mu, fc_logvar (latent)
 *   decoder  dec_fc (latent -> w 2^(L-1) 4 4) ReLU, reshape; dec: [ConvT(4, 2, 1)
 *            ReLU] x (L-1), ConvT(4, 2, 1) to C channels: logits or means
 *
 * named like PyTorch Sequentials `enc` and `dec` (enc.0.weight, enc.2.weight,
 * ...). Either architecture takes a Bernoulli likelihood (the decoder gives
 * logits) or a Gaussian one: the decoder gives the means and one learnt
 * log-variance shared by all pixels, `dec_logvar` (1); the loss is then
 * -log N(x; mean, exp(dec_logvar)) summed, with its 0.5 log 2 pi.
 *
 * Inputs and outputs are flat (N, C*H*W) whatever the architecture; the
 * convolutional one reshapes inside.
 *
 * Not for: the training run and its files (vae_train.c), pictures
 * (vae_pictures.c).
 */
#ifndef CUGEN_VAE_H
#define CUGEN_VAE_H

#include "cugen/data.h"
#include "cugen/layers.h"
#include "cugen/nn.h"
#include "cugen/optim.h"
#include "cugen/train.h"

typedef enum { CG_VAE_MLP = 0, CG_VAE_CONV = 1 } cg_vae_kind;
typedef enum { CG_VAE_BERNOULLI = 0, CG_VAE_GAUSSIAN = 1 } cg_vae_likelihood;

typedef struct {
    int x_dim, hidden, latent;   /* hidden: the MLP's width */
    cg_vae_kind kind;
    cg_vae_likelihood lik;
    int channels, size, width;   /* conv: image channels, side (32 or 64), first width */
} cg_vae_arch;

#define CG_VAE_MAX_CONV 4

/* The layers, declared in this order (so the initial weights are drawn in
 * it); D = x_dim, H = hidden, Z = latent; conv: T = w 2^(L-1) the top width. */
typedef struct {
    cg_vae_arch a;
    cg_params p;
    cg_nn nn;
    struct {
        cg_nn_linear fc1;          /* (H, D) */
        cg_nn_linear fc2_mu;       /* (Z, H) */
        cg_nn_linear fc2_logvar;   /* (Z, H) */
        cg_nn_linear fc3;          /* (H, Z) */
        cg_nn_linear fc4;          /* (D, H) */
    } mlp;
    int nconv;                     /* conv: L */
    struct {
        cg_nn_conv2d enc[CG_VAE_MAX_CONV];           /* enc.0, enc.2, ...: (w 2^i, cin, 4, 4) */
        cg_nn_linear fc_mu, fc_logvar;               /* (Z, T 16) */
        cg_nn_linear dec_fc;                         /* (T 16, Z) */
        cg_nn_conv_transpose2d dec[CG_VAE_MAX_CONV]; /* dec.0, dec.2, ...: (cin, cout, 4, 4) */
    } conv;
    cg_tensor *dec_logvar;         /* (1), gaussian, else NULL; declared last */
} cg_vae;

/* Check the architecture and allocate the parameters (zero). */
cg_status cg_vae_build(cg_vae *m, const cg_vae_arch *a, char *err, size_t errlen);
void cg_vae_free(cg_vae *m);
/* nn.Linear's default initialisation, from Philox stream `stream` of seed. */
void cg_vae_init(cg_vae *m, uint64_t seed, uint32_t stream);

/* x (N, D) in [0, 1] -> mu, logvar (N, latent). */
cg_status cg_vae_encode(cg_ctx *ctx, cg_vae *m, cg_tensor *x, cg_tensor **mu,
                        cg_tensor **logvar);
/* h (N, latent) -> logits (Bernoulli) or means (Gaussian), (N, D). */
cg_tensor *cg_vae_decode(cg_ctx *ctx, cg_vae *m, cg_tensor *h);

/* The loss of a batch x (N, D) with noise eps (N, latent): the scalar
 * reconstruction term (BCE, or the Gaussian NLL) + KL, sums over the batch,
 * recorded on the tape. rec and kl (may be NULL) receive the two sums. */
cg_tensor *cg_vae_loss(cg_ctx *ctx, cg_vae *m, cg_tensor *x, cg_tensor *eps, double *rec,
                       double *kl);

typedef struct {
    double loss, rec, kl;   /* per image (batch sums / N); rec: -log p(x | h) */
} cg_vae_stats;

/* One Adam step on the loss of x with noise eps, x, eps and the parameters
 * on one device. Leaves gradients zeroed and the step arena reset. On the
 * GPU the step's only wait is reading the three sums back at its end. */
cg_status cg_vae_step(cg_ctx *ctx, cg_vae *m, cg_adam *opt, cg_tensor *x, cg_tensor *eps,
                      cg_vae_stats *out);

/* One training step on a batch of loader images (n, C, H, W) in [-1, 1]
 * (host memory): x = (images + 1) / 2 and eps ~ N(0, I) from `noise` made on
 * the model's device (the same values on both: Philox), then cg_vae_step.
 * The training loop, its benchmark and the GPU tests share it. */
cg_status cg_vae_train_step(cg_ctx *ctx, cg_vae *m, cg_adam *opt, const real *images, int n,
                            cg_rng *noise, cg_vae_stats *out);

/* Move the parameters (and Adam's moments) to dev, or back to the host. */
cg_status cg_vae_to_device(cg_vae *m, cg_device dev, char *err, size_t errlen);

/* The decoder's output as pixel means: sigmoid(logits) (Bernoulli), or the
 * means clamped to [0, 1] (Gaussian); a new host tensor whatever out's
 * device (read back from the GPU), no tape. */
cg_tensor *cg_vae_means(cg_ctx *ctx, cg_vae *m, cg_tensor *out);

/* Images (N, C, H, W) in [-1, 1] (the loader's) -> x (N, C*H*W) in [0, 1],
 * in the step arena. */
cg_tensor *cg_vae_input(cg_ctx *ctx, const real *images, int n, int x_dim);
/* The same on device dev (uploaded through the pinned buffer). */
cg_tensor *cg_vae_input_on(cg_ctx *ctx, cg_device dev, const real *images, int n, int x_dim);

/* ---- evaluation on a dataset --------------------------------------------
 * Every image of ds (or the first `limit`, when limit > 0), in [0, 1].
 * elbo: the mean over images of -(rec + KL) with one eps per image, nats.
 * nll: the importance-weighted estimate of -log p(x) with k samples of
 * q(h | x) (Burda et al. 2016):
 *   log p(x) ~ logsumexp_j [log p(x | h_j) + log p(h_j) - log q(h_j | x)] - log k
 * averaged over images, nats. Noise from Philox stream `stream` of seed.
 * Runs on the model's device (the same noise on both); only one value per
 * importance sample comes back from the GPU. */
typedef struct {
    double elbo, rec, kl;   /* per image */
    double nll;             /* per image; 0 unless asked for */
    int64_t images;
    int k;
} cg_vae_eval;

cg_status cg_vae_evaluate(cg_vae *m, const cg_dataset *ds, int64_t limit, int k_iw,
                          uint64_t seed, cg_vae_eval *out, char *err, size_t errlen);

/* A VAE from a file: a run directory (its vae.safetensors), a
 * checkpoint.safetensors or a vae.safetensors (also one written by PyTorch
 * from the article's module). The architecture comes from the names and
 * shapes: enc.0.weight means conv, dec_logvar Gaussian. */
cg_status cg_vae_load(const char *path, cg_vae *m, char *err, size_t errlen);

/* 1 when path is a VAE: a run directory holding vae.safetensors, or a
 * safetensors file with the MLP's or the conv VAE's encoder (the names
 * cg_vae_load looks for). A file that cannot be read is no VAE. */
int cg_vae_is_checkpoint(const char *path);

/* ---- pictures (PNG grids into dir) --------------------------------------
 *   samples.png    64 decodings of h ~ N(0, I) (pixel means, cg_vae_means)
 *   recon.png      8 rows of 8 (input, reconstruction) pairs from ds
 *   traversal.png  one row per latent dimension (at most 16): that dimension
 *                  swept over [-3, 3] in 11 steps, the others 0
 *   interp.png     8 rows: 10 steps on the line between the means of two
 *                  encoded images
 *   manifold.png   latent 2 only: a 20 x 20 grid of decodings over [-3, 3]^2
 * C, H, W: the image shape (C*H*W == x_dim). */
cg_status cg_vae_pictures(cg_vae *m, const cg_dataset *ds, const char *dir, uint64_t seed,
                          char *err, size_t errlen);

/* The pixel means of the decodings of h (n, latent), mapped to [-1, 1] for
 * the grid writer, into out (n, x_dim). h and out are host memory; the model
 * may be on either device. Uses and resets ctx's step arena. */
cg_status cg_vae_decode_images(cg_ctx *ctx, cg_vae *m, const real *h, int n, real *out);
/* Latent traversals into h (rows * steps, latent): row d sweeps dimension d
 * over [-3, 3] in `steps` evenly spaced points (steps >= 2), every other
 * dimension at base[] (latent values), or 0 when base is NULL. rows <= latent. */
void cg_vae_traversal_latents(real *h, int rows, int steps, int latent, const real *base);

/* ---- the training run behind `cugen train vae` --------------------------- */
typedef struct {
    int hidden, latent;
    cg_vae_kind kind;
    cg_vae_likelihood lik;
    int width;               /* conv */
} cg_vae_opts;

typedef struct {
    int64_t steps, epochs_done;
    cg_vae_stats last;
    double test_elbo;        /* after the last epoch completed, or at the end */
    double img_per_s;
    int interrupted;
} cg_vae_result;

cg_status cg_vae_train(const cg_train_opts *o, const cg_vae_opts *v, cg_vae_result *res,
                       char *err, size_t errlen);

#endif
