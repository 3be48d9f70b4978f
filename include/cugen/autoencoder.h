/*
 * autoencoder.h: the seed article's plain autoencoder, an MLP on flattened
 * images, no noise and no prior:
 *
 *   encoder  Flatten, Linear(D, H1) ReLU, Linear(H1, H2) ReLU, Linear(H2, Z)
 *   decoder  Linear(Z, H2) ReLU, Linear(H2, H1) ReLU, Linear(H1, D) Tanh
 *   loss     MSE(decoder(encoder(x)), x), the mean over every value (nn.MSELoss)
 *
 * with D = 784 (Fashion-MNIST), H1 = 256, H2 = 128 and Z = 2 by default. The
 * parameters are named as the article's `Autoencoder` module has them in its
 * state_dict: its two nn.Sequential, `encoder` (Flatten at index 0, so the
 * Linears are encoder.1, encoder.3, encoder.5) and `decoder` (decoder.0,
 * decoder.2, decoder.4), so autoencoder.safetensors loads into it. Pixels are
 * the loader's [-1, 1], Tanh's range, as the article normalises them.
 *
 * Inputs are flat (N, D) on the parameters' device; every function runs on
 * the CPU or the GPU, wherever the parameters are.
 *
 * Not for: the training run and its files (autoencoder_train.c), the
 * pictures (autoencoder_pictures.c), `cugen sample` (autoencoder_sample.c).
 */
#ifndef CUGEN_AUTOENCODER_H
#define CUGEN_AUTOENCODER_H

#include "cugen/data.h"
#include "cugen/layers.h"
#include "cugen/nn.h"
#include "cugen/optim.h"

typedef struct {
    int x_dim, h1, h2, latent;   /* D, H1, H2, Z */
} cg_ae_arch;

/* The layers, declared in this order (the order of the initial draws) */
typedef struct {
    cg_ae_arch a;
    cg_params p;
    cg_nn nn;
    cg_nn_linear enc1;   /* encoder.1: (H1, D) + (H1) */
    cg_nn_linear enc3;   /* encoder.3: (H2, H1) + (H2) */
    cg_nn_linear enc5;   /* encoder.5: (Z, H2) + (Z) */
    cg_nn_linear dec0;   /* decoder.0: (H2, Z) + (H2) */
    cg_nn_linear dec2;   /* decoder.2: (H1, H2) + (H1) */
    cg_nn_linear dec4;   /* decoder.4: (D, H1) + (D) */
} cg_ae;

/* Checks the sizes (each 1..65536, D up to 2^20) and allocates the
 * parameters (zero); a message in err otherwise. */
cg_status cg_ae_build(cg_ae *m, const cg_ae_arch *a, char *err, size_t errlen);
/* nn.Linear's default initialisation from Philox stream `stream` of seed */
void cg_ae_init(cg_ae *m, uint64_t seed, uint32_t stream);
void cg_ae_free(cg_ae *m);
/* The parameters (and Adam's moments) to dev, or back to the host */
cg_status cg_ae_to_device(cg_ae *m, cg_device dev, char *err, size_t errlen);

/* x (N, D) -> codes (N, Z) */
cg_tensor *cg_ae_encode(cg_ctx *ctx, cg_ae *m, cg_tensor *x);
/* codes (N, Z) -> images (N, D) in (-1, 1) */
cg_tensor *cg_ae_decode(cg_ctx *ctx, cg_ae *m, cg_tensor *z);
/* The mean squared error of the reconstruction of x (N, D), a (1) tensor on
 * the tape; *recon (may be NULL) receives the reconstruction. */
cg_tensor *cg_ae_loss(cg_ctx *ctx, cg_ae *m, cg_tensor *x, cg_tensor **recon);
/* One optimizer step on the loss of x (N, D), on the parameters' device:
 * forward, backward, Adam, gradients zeroed, the loss read back into *loss
 * (the step's one wait on the GPU) and the step arena reset. */
cg_status cg_ae_step(cg_ctx *ctx, cg_ae *m, cg_adam *opt, cg_tensor *x, double *loss);

/* The codes of the first n images of ds (all when n <= 0 or more than it
 * has) into codes (n, Z) (host memory; may be NULL), and their mean squared
 * reconstruction error into *mse (may be NULL), run on the model's device in
 * chunks with no tape. Images taken as the loader gives them (x / 127.5 - 1). */
cg_status cg_ae_encode_set(cg_ae *m, const cg_dataset *ds, int64_t n, real *codes,
                           double *mse, char *err, size_t errlen);

/* Decodes codes z (n, Z) (host memory) into images (n, D) in (-1, 1) (host
 * memory), on the model's device with no tape; uses and resets ctx's step
 * arena. */
cg_status cg_ae_decode_host(cg_ctx *ctx, cg_ae *m, const real *z, int n, real *out);

/* ---- the codes a run leaves (codes.safetensors) ----------------------------
 * The mean and covariance (ddof 0) of the training set's codes, and the
 * range of the test set's (the span of manifold.png): what `cugen sample`
 * draws from. Tensors "mean" (Z), "cov" (Z, Z), "lo" (Z), "hi" (Z), F32. */
typedef struct {
    int latent;
    double *mean, *cov, *lo, *hi;   /* malloc'ed */
} cg_ae_codes;

/* mean and cov of codes (n, Z), and lo and hi of range (nr, Z) */
cg_status cg_ae_codes_fit(cg_ae_codes *c, int latent, const real *codes, int64_t n,
                          const real *range, int64_t nr, char *err, size_t errlen);
cg_status cg_ae_codes_save(const cg_ae_codes *c, const char *path, char *err, size_t errlen);
/* codes.safetensors of latent Z at path: a clear message when missing or not such a file */
cg_status cg_ae_codes_load(cg_ae_codes *c, int latent, const char *path, char *err,
                           size_t errlen);
void cg_ae_codes_free(cg_ae_codes *c);
/* n codes z (n, Z) drawn from N(mean, cov) with normals from r: z = mean +
 * V sqrt(max(w, 0)) eps, cov = V diag(w) V^T (a semi-definite cov allowed) */
cg_status cg_ae_codes_draw(const cg_ae_codes *c, cg_rng *r, real *z, int n, char *err,
                           size_t errlen);
/* A k x k grid (k >= 2) of 2-D codes over [lo, hi]: rows from the top of the
 * second coordinate (hi) down, columns from lo to hi of the first, into z
 * (k k, 2). */
void cg_ae_grid_codes(const cg_ae_codes *c, int k, real *z);

/* ---- files -------------------------------------------------------------- */
/* An autoencoder from a run directory (its autoencoder.safetensors), a
 * checkpoint or an autoencoder.safetensors (also one PyTorch wrote from the
 * article's module): the sizes come from the shapes. */
cg_status cg_ae_load(const char *path, cg_ae *m, char *err, size_t errlen);
/* 1 when path holds one: a run directory with autoencoder.safetensors, or a
 * safetensors file with encoder.1.weight and decoder.4.weight */
int cg_ae_is_checkpoint(const char *path);

/* ---- pictures (autoencoder_pictures.c), into dir ------------------------
 *   recon.png     32 test images, each followed by its reconstruction
 *   samples.png   64 decodings of codes drawn from codes' Gaussian
 *   with a 2-D code:
 *   codes.png     the scatter of the codes of `test`, coloured by class
 *                 (test_codes (test->count, 2), labels from test)
 *   manifold.png  a 15 x 15 grid of decodings over codes' range (cg_ae_grid_codes)
 * test: the images (C*H*W == D). */
cg_status cg_ae_pictures(cg_ae *m, const cg_dataset *test, const real *test_codes,
                         const cg_ae_codes *codes, const char *dir, uint64_t seed, char *err,
                         size_t errlen);

#endif
