/*
 * ebm.h: energy-based models. An energy E(x) is a network with one output
 * per input; p(x) is proportional to exp(-E(x)): LOW energy is data.
 *
 * Two energy networks:
 *   mlp  the seed article's EBM: net = Sequential(Linear(D, H), ReLU,
 *        Linear(H, H), ReLU, Linear(H, 1)), D = C H W (784) or 2 for the toy
 *        sets, H = 500 by the article. Names net.{0,2,4}.{weight,bias}.
 *   cnn  the small conv energy of Lippe's UvA deep-learning tutorial 8
 *        (CNNModel, Swish = x sigmoid(x) after every layer but the last):
 *        cnn_layers.0 Conv2d(C, h/2, 5, 2, p) -> 16x16, .2 Conv2d(h/2, h, 3, 2, 1)
 *        -> 8x8, .4 Conv2d(h, 2h, 3, 2, 1) -> 4x4, .6 Conv2d(2h, 2h, 3, 2, 1)
 *        -> 2x2, flatten, .9 Linear(8h, 2h), .11 Linear(2h, 1); h = 32, and
 *        p = (36 - S) / 2 so that any even side S in [8, 36] gives 16x16
 *        (p = 4 for 28x28, the tutorial's).
 * The network's output is E itself (the tutorial's CNNModel outputs -E);
 * every parameter sits under "E." in the model's cg_params, so the weights
 * file (the part "E.") loads into either PyTorch class.
 *
 * Two objectives (cg_ebm_nce_step, cg_ebm_cd_step):
 *   noise     the article's: real data against Gaussian noise N(0, I), a
 *             logistic loss with -E as the logit (label 1 data, 0 noise):
 *             p(data | x) = sigmoid(-E(x)). The article feeds E itself as the
 *             logit with label 1 for data, which trains data to HIGH energy;
 *             cugen keeps the sign that makes low energy data, the
 *             convention of every EBM paper and of Langevin sampling here.
 *   langevin  maximum likelihood by contrastive divergence (Du & Mordatch
 *             2019): loss = mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 +
 *             mean E(x-)^2), x- from short-run Langevin dynamics (SGLD)
 *             started from a replay buffer of earlier samples, 5% of the
 *             chains from uniform noise.
 *
 * Langevin (cg_ebm_langevin), as the tutorial's Sampler.generate_samples:
 * for each of `steps` iterations
 *     x = clamp(x + N(0, noise^2), lo, hi)
 *     g = clamp(dE/dx, -clip, clip)          (per element)
 *     x = clamp(x - step_size g, lo, hi)
 * dE/dx comes from the tape with the energy's parameters frozen
 * (cg_params_freeze): no weight gradient is computed while sampling.
 * [lo, hi] is the data's range: [-1, 1] for images, [-3, 3] for the toy sets
 * (the article's plotting box).
 *
 * The replay buffer is a buffer of the model's cg_params, "replay.x" (cap,
 * C, H, W), so a checkpoint holds it; which of its slots are filled
 * (count) and where the next batch goes (head) are the caller's, kept with
 * the run. A batch of chains occupies the slots [head, head + n) from the
 * start of its sampling to the end, so that its last state is what the
 * buffer keeps.
 *
 * Not for: the run (ebm_train.c), sampling from a file (ebm_sample.c).
 */
#ifndef CUGEN_EBM_H
#define CUGEN_EBM_H

#include "cugen/layers.h"
#include "cugen/optim.h"

typedef enum { CG_EBM_MLP = 0, CG_EBM_CNN = 1 } cg_ebm_net;

typedef struct {
    cg_ebm_net net;
    int channels, height, width;  /* one input: (C, H, W); the toy sets (2, 1, 1) */
    int hidden;                   /* mlp: H (500); cnn: h (32) */
    int buffer;                   /* replay slots (0: no buffer) */
} cg_ebm_arch;

typedef struct {
    cg_ebm_arch a;
    cg_params p;
    cg_nn nn;
    cg_nn_linear net0, net2, net4;            /* E.net.{0,2,4}: (H, D), (H, H), (1, H) */
    cg_nn_conv2d c0, c2, c4, c6;              /* E.cnn_layers.{0,2,4,6} */
    cg_nn_linear f9, f11;                     /* E.cnn_layers.{9,11}: (2h, 8h), (1, 2h) */
    int pad0;                                 /* cnn_layers.0's padding */
    cg_tensor *replay;                        /* replay.x (buffer, C, H, W), or NULL */
} cg_ebm;

/* Declares, allocates and initialises (PyTorch's defaults from seed's
 * stream) the model of a on the host. A bad arch: CG_ERR_ARG with err. */
cg_status cg_ebm_build(cg_ebm *m, const cg_ebm_arch *a, uint64_t seed, uint32_t stream,
                       char *err, size_t errlen);
void cg_ebm_free(cg_ebm *m);
/* The values of one input */
int64_t cg_ebm_dim(const cg_ebm_arch *a);

/* x (N, C, H, W) or (N, D) -> E (N, 1) */
cg_tensor *cg_ebm_energy(cg_ctx *ctx, cg_ebm *m, cg_tensor *x);
/* dE/dx of every row of x (the gradient of sum E) into a new tensor of x's
 * shape on x's device, the parameters frozen meanwhile: their gradients are
 * neither computed nor touched. x itself is not changed. */
cg_tensor *cg_ebm_input_grad(cg_ctx *ctx, cg_ebm *m, cg_tensor *x);

typedef struct {
    int steps;
    double step_size, noise, clip;
    double lo, hi;
} cg_langevin;

/* The chains x (N, ...), memory that outlives ctx's steps (a slot range of
 * the replay buffer), moved in place by l->steps Langevin iterations. ctx
 * is a context of the sampler's own: it is reset after every iteration.
 * The noise of iteration k is N(0, l->noise^2) drawn from rng on x's device,
 * or, when fixed is not NULL, the host values fixed[k x->n, (k + 1) x->n)
 * (a reference's noise, for the tests). */
cg_status cg_ebm_langevin(cg_ctx *ctx, cg_ebm *m, cg_tensor *x, const cg_langevin *l,
                          cg_rng *rng, const real *fixed);

/* The replay buffer's slots [head, head + n) as the start of n chains: each
 * from a uniformly chosen filled slot (of count), or, with probability
 * reinit (always while count is 0), uniform noise on [lo, hi]. Choices
 * from pick (host), noise from noise (on the buffer's device). Returns the
 * slots as an (n, C, H, W) tensor header of ctx pointing into the buffer. */
cg_tensor *cg_ebm_replay_start(cg_ctx *ctx, cg_ebm *m, int n, int64_t head, int64_t count,
                               double reinit, double lo, double hi, cg_rng *pick,
                               cg_rng *noise);

typedef struct {
    double loss, e_data, e_other;   /* e_other: noise's (noise) or the samples' (langevin) */
    double cd, reg;                 /* langevin: mean E+ - mean E-, alpha (E+^2 + E-^2) */
} cg_ebm_stats;

/* One Adam step of the article's objective on data x (N, ...) and noise
 * (x's shape): BCE-with-logits of -E, label 1 on x, 0 on noise, the mean
 * over the 2N. */
cg_status cg_ebm_nce_step(cg_ctx *ctx, cg_ebm *m, cg_adam *adam, cg_tensor *x,
                          cg_tensor *noise, cg_ebm_stats *s);
/* One Adam step of contrastive divergence: data x jittered as the
 * tutorial's, clamp(x + jitter, lo, hi), against samples (no gradient
 * flows into them). */
cg_status cg_ebm_cd_step(cg_ctx *ctx, cg_ebm *m, cg_adam *adam, cg_tensor *x,
                         cg_tensor *jitter, cg_tensor *samples, double alpha, double lo,
                         double hi, cg_ebm_stats *s);

#endif
