/*
 * wgan_gp.h: the WGAN-GP critic and its training step (Gulrajani et al.
 * 2017, "Improved Training of Wasserstein GANs", Algorithm 1), for the DCGAN
 * kind's --loss wgan-gp.
 *
 * The critic is DCGAN's D without batch norm: batch norm makes each sample's
 * score depend on the batch, which the per-sample gradient penalty must not
 * see. The paper replaces it by layer normalisation over (C, H, W), with an
 * elementwise affine as torch.nn.LayerNorm([C, H, W]); layernorm = 0 drops it.
 * At 64x64 (L = 5 convolutions; 32x32 has one block less):
 *   D.main  0 Conv2d(nc, ndf, 4, 2, 1)            1 LeakyReLU(0.2)
 *           2 Conv2d(ndf, 2 ndf, 4, 2, 1)         3 LayerNorm([2 ndf, S/4, S/4])  4 LeakyReLU(0.2)
 *           ...                                   9 LayerNorm([8 ndf, 4, 4])     10 LeakyReLU(0.2)
 *          11 Conv2d(8 ndf, 1, 4, 1, 0)
 * all convolutions without bias, the layer norms where DCGAN has its batch
 * norms, so that the state_dict names are the DCGAN D's (without the
 * running statistics). No sigmoid: the critic's output is a score.
 *
 * One critic step (the paper's inner loop body):
 *   x^ = eps x + (1 - eps) x~,  eps ~ U[0, 1) per sample, x~ = G(z) detached
 *   L = mean D(x~) - mean D(x) + lambda mean_i (||grad_x^ D(x^)_i||_2 - 1)^2
 * backward into the critic's weights, through the penalty (a second
 * derivative: cg_grad, the tape's create-graph mode), then Adam. The paper's
 * defaults: lambda = 10, Adam lr 1e-4, betas (0, 0.9), and n_critic = 5
 * critic steps per generator step (CG_WGAN_GP_N_CRITIC); the generator's
 * step minimises -mean D(G(z)).
 *
 * Not for: the generator (dcgan.h), the training loop's flags and files.
 */
#ifndef CUGEN_WGAN_GP_H
#define CUGEN_WGAN_GP_H

#include "cugen/layers.h"
#include "cugen/optim.h"
#include "cugen/rng.h"

#define CG_WGAN_GP_MAX_LAYERS 5
#define CG_WGAN_GP_LAMBDA 10.0
#define CG_WGAN_GP_N_CRITIC 5     /* critic steps per generator step */
#define CG_WGAN_GP_LR 1e-4
#define CG_WGAN_GP_BETA1 0.0
#define CG_WGAN_GP_BETA2 0.9

typedef struct {
    int nc, ndf, image_size, layers, layernorm;
    cg_nn_conv2d conv[CG_WGAN_GP_MAX_LAYERS];     /* <prefix>main.0, main.3i-1 */
    cg_nn_layernorm ln[CG_WGAN_GP_MAX_LAYERS];    /* <prefix>main.3i, 0 < i < L-1 */
} cg_wgan_critic;

/* Declare the critic's layers into nn (its current group) under prefix
 * ("D." gives "D.main.0.weight", ...). image_size 32 or 64; a bad size is a
 * declaration error of nn. */
void cg_wgan_critic_declare(cg_nn *nn, cg_wgan_critic *c, const char *prefix, int nc, int ndf,
                            int image_size, int layernorm);
/* DCGAN's weights_init for the convolutions (N(0, 0.02) from r, in layer
 * order); layer norms weight 1, bias 0 (PyTorch's default, no draws). */
cg_status cg_wgan_critic_init(cg_wgan_critic *c, cg_rng *r);
/* Scores (N) of images (N, nc, S, S). */
cg_tensor *cg_wgan_critic_fwd(cg_ctx *ctx, cg_wgan_critic *c, cg_tensor *x);

/* lambda mean_i (||grad D(x^)_i|| - 1)^2 on x^ = eps x + (1 - eps) fake, a
 * scalar (1) on the tape whose backward reaches the critic's weights.
 * eps (N) on the images' device; fake must not require grad (detached). */
cg_tensor *cg_wgan_gp_penalty(cg_ctx *ctx, cg_wgan_critic *c, cg_tensor *real_x,
                              cg_tensor *fake, cg_tensor *eps, double lambda);

typedef struct {
    double loss;          /* mean D(fake) - mean D(real) + penalty */
    double wasserstein;   /* mean D(real) - mean D(fake), the critic's estimate */
    double penalty;
} cg_wgan_gp_stats;

/* One critic step: the loss above, its gradient into the critic's weights
 * (the parameters of group `group`; the other groups are frozen for the
 * step), Adam, gradients zeroed. eps (N) as for the penalty (draw it with
 * cg_wgan_gp_draw_eps). Leaves the step arena as it is (the caller ends
 * the step). */
cg_status cg_wgan_gp_critic_step(cg_ctx *ctx, cg_wgan_critic *c, cg_params *p, int group,
                                 cg_adam *opt, cg_tensor *real_x, cg_tensor *fake,
                                 cg_tensor *eps, double lambda, cg_wgan_gp_stats *out);

/* The same penalty and step for any critic: score(ctx, critic, x) gives the
 * scores (N) of images x (N, C, H, W) as ops with create-graph backwards (a
 * conditional DCGAN's projection critic, for the labels of the batch). */
typedef cg_tensor *(*cg_wgan_score)(cg_ctx *ctx, void *critic, cg_tensor *x);
cg_tensor *cg_wgan_gp_penalty_of(cg_ctx *ctx, cg_wgan_score score, void *critic,
                                 cg_tensor *real_x, cg_tensor *fake, cg_tensor *eps,
                                 double lambda);
cg_status cg_wgan_gp_critic_step_of(cg_ctx *ctx, cg_wgan_score score, void *critic,
                                    cg_params *p, int group, cg_adam *opt, cg_tensor *real_x,
                                    cg_tensor *fake, cg_tensor *eps, double lambda,
                                    cg_wgan_gp_stats *out);

/* n values of U[0, 1) from r, as a tensor (n) on dev. */
cg_tensor *cg_wgan_gp_draw_eps(cg_ctx *ctx, cg_rng *r, int n, cg_device dev);

#endif
