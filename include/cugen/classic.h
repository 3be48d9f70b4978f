/*
 * classic.h: the classical models of the seed material: the MLP GAN of the
 * lecture notes, Gaussian mixtures by EM beside the article's box model
 * and the restricted Boltzmann machine. `cugen train` runs the MLP GAN, the
 * mixture and the RBM through their kinds (mlp_gan_train.c, gmm_train.c,
 * rbm_train.c).
 *
 * Not for: the first two toy models (models.h), DCGAN (dcgan.h), metrics
 * (metrics.h).
 */
#ifndef CUGEN_CLASSIC_H
#define CUGEN_CLASSIC_H

#include "cugen/layers.h"
#include "cugen/nn.h"
#include "cugen/optim.h"
#include "cugen/rng.h"
#include "cugen/train.h"
#include "cugen/trainer.h"

/* ---- MLP GAN ---------------------------------------------------------------
 * The lecture notes' first GAN (Raschka et al.'s):
 *   G: z (nz) -> Linear(nz, hidden) -> LeakyReLU(0.01) -> Linear(hidden, P) -> Tanh
 *   D: x (P)  -> Linear(P, hidden, no bias) -> LeakyReLU(0.01) -> Dropout(0.5)
 *             -> Linear(hidden, 1) -> logit (the sigmoid lives in BCE-with-logits)
 * with P the pixels of an image. Parameters in one flat buffer, G in group 0
 * as "G.fc_g0.weight", ..., D in group 1 as "D.fc_d0.weight", ...: the
 * state_dict names of the notes' nn.Sequential modules. Weights start as
 * PyTorch's nn.Linear does: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), biases too. */
#define CG_MLP_GAN_G 0
#define CG_MLP_GAN_D 1

typedef struct {
    int nz, hidden, npix;   /* 20, 100, 784 in the notes */
    int noise_normal;       /* z ~ N(0, I); 0: z ~ U[-1, 1] (the notes' default) */
    double leak, dropout;   /* 0.01 (nn.LeakyReLU's default), 0.5 */
} cg_mlp_gan_arch;

/* The layers, declared and initialised in this order; H = hidden, P = npix. */
typedef struct {
    cg_mlp_gan_arch a;
    cg_params p;
    cg_nn nn;
    cg_nn_linear fc_g0;   /* G.fc_g0: (H, nz) + (H) */
    cg_nn_linear fc_g1;   /* G.fc_g1: (P, H) + (P) */
    cg_nn_linear fc_d0;   /* D.fc_d0: (H, P), no bias */
    cg_nn_linear fc_d1;   /* D.fc_d1: (1, H) + (1) */
} cg_mlp_gan;

/* The notes' sizes: nz 20, hidden 100, uniform noise, leak 0.01, dropout 0.5. */
cg_mlp_gan_arch cg_mlp_gan_defaults(int npix);
cg_status cg_mlp_gan_build(cg_mlp_gan *m, const cg_mlp_gan_arch *a, char *err, size_t errlen);
void cg_mlp_gan_init(cg_mlp_gan *m, uint64_t seed, uint32_t stream);
void cg_mlp_gan_free(cg_mlp_gan *m);
/* z (N, nz) from r: U[-1, 1] or N(0, 1) as the arch says. */
void cg_mlp_gan_noise(const cg_mlp_gan *m, cg_rng *r, real *z, int64_t n);
/* G(z): (N, P) in [-1, 1]. */
cg_tensor *cg_mlp_gan_generate(cg_ctx *ctx, cg_mlp_gan *m, cg_tensor *z);
/* D's logits (N) for x (N, P) (or (N, C, H, W) with C H W = P); dropout from
 * rng when training. */
cg_tensor *cg_mlp_gan_discriminate(cg_ctx *ctx, cg_mlp_gan *m, cg_tensor *x, cg_rng *rng,
                                   int training);

typedef struct {
    double loss_d, loss_g;   /* d_loss_real + d_loss_fake; g_loss */
    double d_x, d_g_z;       /* mean sigmoid D(x), D(G(z)) of the D step */
} cg_mlp_gan_stats;

/* One iteration of the notes' loop: d_train(x) with z1 (D's Adam), then
 * g_train with a fresh z2 through D (dropout on, D's weight gradients not
 * computed; G's Adam). Leaves gradients zeroed and the arena reset. */
cg_status cg_mlp_gan_step(cg_ctx *ctx, cg_mlp_gan *m, cg_adam *opt_d, cg_adam *opt_g,
                          cg_tensor *x, cg_tensor *z1, cg_tensor *z2, cg_rng *drop,
                          cg_mlp_gan_stats *out);

/* G from a run directory (its G.safetensors, and the noise kind from its
 * checkpoint when there: uniform otherwise) or a G.safetensors: sizes from
 * the tensor shapes; D stays zero. */
cg_status cg_mlp_gan_load_generator(const char *path, cg_mlp_gan *m, char *err, size_t errlen);

/* ---- Gaussian mixtures by EM, and the box model -----------------------------
 * The article's toy problem: 2-D points drawn uniformly in a disc of radius
 * 10 (radius 10 sqrt(u), angle 2 pi u') plus N(0, 1) noise on each coordinate.
 * A mixture of k full-covariance Gaussians is fitted by expectation-
 * maximisation, whose log-likelihood never decreases; the box model is the
 * article's baseline: uniform on the bounding box of the data. */
#define CG_GMM_MAX_K 64

typedef struct {
    int k;
    double w[CG_GMM_MAX_K];          /* mixing weights, sum 1 */
    double mu[CG_GMM_MAX_K][2];
    double cov[CG_GMM_MAX_K][4];     /* row-major 2 x 2, symmetric positive definite */
} cg_gmm;

/* n points of the noisy disc into xy (n, 2), from r. */
void cg_noisy_disc(cg_rng *r, double *xy, int n);
/* k-means++ seeding of the means from the data (r picks the seeds); every
 * covariance the data's, weights 1 / k. CG_ERR_ARG if k is not in [1, min(n,
 * CG_GMM_MAX_K)]. */
cg_status cg_gmm_init(cg_gmm *g, int k, const double *xy, int n, cg_rng *r, char *err,
                      size_t errlen);
/* Total log-likelihood of n points (natural log). */
double cg_gmm_loglik(const cg_gmm *g, const double *xy, int n);
/* log p(x) at one point. */
double cg_gmm_logpdf(const cg_gmm *g, const double *x);
/* One EM iteration (E step at the current parameters, then the M step).
 * *ll_before gets the log-likelihood at the parameters it started from.
 * CG_ERR_NUMERIC when a component collapses (weight ~ 0 or a singular
 * covariance): the parameters are then left as they were. */
cg_status cg_gmm_em_step(cg_gmm *g, const double *xy, int n, double *ll_before, char *err,
                         size_t errlen);
/* n samples into xy (n, 2). */
void cg_gmm_sample(const cg_gmm *g, cg_rng *r, double *xy, int n);

typedef struct {
    double lo[2], hi[2];
} cg_box;

void cg_box_fit(cg_box *b, const double *xy, int n);
/* Total log-likelihood: -n log(area) when every point is inside, -inf
 * otherwise; *outside (may be NULL) counts the points outside. */
double cg_box_loglik(const cg_box *b, const double *xy, int n, int *outside);
void cg_box_sample(const cg_box *b, cg_rng *r, double *xy, int n);

/* `cugen train gmm` (gmm_train.c): 500 training and 500 test points, EM for
 * --steps iterations at most (it stops when an iteration gains under 1e-10
 * nats per point), a line per iteration on stdout unless o->quiet, the
 * mixture printed at the end, pictures (gmm.png, box.png) in o->out_dir.
 * Final scalars: k, iterations, converged, loglik_train, loglik_test,
 * box_loglik_train, box_loglik_test (mean per point, nats; -inf with a point
 * outside the box), box_test_outside, box_x_lo, box_x_hi, box_y_lo, box_y_hi.
 * Settings: a struct of one int64_t, k. */
extern const cg_model_kind cg_kind_gmm;

/* ---- restricted Boltzmann machine -----------------------------------------------
 * Binary visible v (V) and hidden h (H) units, energy
 *   E(v, h) = -b.v - c.h - h^T W v,   p(v, h) = exp(-E) / Z,
 * so p(h_j = 1 | v) = sigmoid(c_j + W_j v), p(v_i = 1 | h) = sigmoid(b_i + W_:i . h) and
 * log p*(v) = b.v + sum_j softplus(c_j + W_j v) (minus the free energy).
 * Parameters "W" (H, V), "v_bias" (V), "h_bias" (H) in one flat buffer, and
 * for PCD the persistent chains as the buffer "pcd_chains" (chains, V). The
 * Gibbs passes run through the engine's ops (linear, bmm, sigmoid) with the
 * tape off; the CD gradient is written into the parameters' gradients and an
 * optimizer steps them. */
typedef struct {
    int nv, nh;
    cg_params p;
    cg_tensor *W, *vb, *hb;
    cg_tensor *chains;   /* (nchains, V) or NULL */
} cg_rbm;

/* nchains > 0: room for that many persistent chains (checkpointed with the
 * weights); 0: none. */
cg_status cg_rbm_build(cg_rbm *m, int nv, int nh, int nchains, char *err, size_t errlen);
/* W ~ N(0, 0.01^2) (Hinton's guide), biases 0. */
void cg_rbm_init(cg_rbm *m, uint64_t seed, uint32_t stream);
void cg_rbm_free(cg_rbm *m);

/* p(h = 1 | v) at inverse temperature beta: sigmoid(beta (v W^T + c)); v (N, V). */
cg_tensor *cg_rbm_hidden_probs(cg_ctx *ctx, cg_rbm *m, cg_tensor *v, double beta);
/* p(v = 1 | h) = sigmoid(beta (h W + b) + (1 - beta) base), base (V) or NULL
 * (then beta must be 1): the visible step of AIS's intermediate models. */
cg_tensor *cg_rbm_visible_probs(cg_ctx *ctx, cg_rbm *m, cg_tensor *h, double beta,
                                const real *base);
/* out[i] = 1 if u_i < p[i] else 0, u uniform from r; out may be p. */
void cg_rbm_bernoulli(cg_rng *r, const real *p, real *out, int64_t n);

/* One CD-k update from the binary batch v (N, V): positive phase
 * <v h>_data with h's probabilities given v; negative phase from k Gibbs
 * steps started at the data (or, with chains != NULL, at the persistent
 * chains (N, V), which are advanced in place: PCD). The gradient of the
 * log-likelihood estimate, negated, goes into the parameters' gradients and
 * opt steps. *recon gets the squared error sum_i (v_i - p(v_i | h_0))^2
 * summed over the batch, h_0 sampled from the data's hidden probabilities. */
cg_status cg_rbm_cd_step(cg_ctx *ctx, cg_rbm *m, cg_sgd *opt, cg_tensor *v, int k,
                         real *chains, cg_rng *r, double *recon);

/* log p*(v) for each of the n rows of v (n, V), into out (double). */
cg_status cg_rbm_log_pstar(cg_ctx *ctx, cg_rbm *m, const real *v, int n, double *out);
/* log Z by enumerating the 2^min(V, H) states of the smaller layer;
 * CG_ERR_ARG when that is above 2^24. */
cg_status cg_rbm_log_z_exact(const cg_rbm *m, double *logz, char *err, size_t errlen);

/* Annealed importance sampling (Salakhutdinov & Murray 2008) from the base
 * model p_A(v) = prod_i sigmoid(base_i)^v_i (1 - ...)^(1 - v_i) (no hidden
 * units, log Z_A = sum_i softplus(base_i)) through the geometric path
 * p*_beta(v) = exp((1 - beta) base.v + beta b.v) prod_j (1 + exp(beta (c_j + W_j v)))
 * at nbetas inverse temperatures spaced as in the paper (3% of them in
 * [0, 0.5], 28% in [0.5, 0.9], the rest in [0.9, 1]), with `runs` independent
 * chains. *logz: the estimate log Z_A + H log 2 + log mean_r w_r (p*_0 is the
 * base model times 2^H); *logz_lo, *logz_hi (may be NULL): the
 * estimate at log(mean w -/+ 3 standard errors of the mean). */
typedef struct {
    int nbetas, runs;
    const real *base;      /* (V): the base model's visible biases */
} cg_rbm_ais_opts;
cg_status cg_rbm_ais(cg_ctx *ctx, cg_rbm *m, const cg_rbm_ais_opts *ao, cg_rng *r,
                     double *logz, double *logz_lo, double *logz_hi, char *err,
                     size_t errlen);

/* ---- a GAN generator initialised to be Gaussian ----------------------------------
 * The "useless trick" notebook: a tanh MLP z (nin) -> fc1 -> tanh -> fc2 ->
 * tanh -> fc3 -> x (nout), z ~ N(0, I). fc1 and fc2 are drawn so that 95% of
 * their pre-activations fall in [-alpha, alpha], where tanh is nearly the
 * identity: std1 = alpha / (1.96 sqrt(nin)), std2 = alpha / (1.96 sqrt(sum of
 * the variances of fc1's outputs)) = alpha / (1.96 |W1|_F), biases 0. The
 * hidden map phi is then nearly linear, phi(z) ~ J z with J its Jacobian at
 * 0 (computed by the engine's backward pass); with J = Q S V^T (thin SVD),
 * fc3's weight W = diag(sigma) U S^-1 Q^T, U the first nout rows of the
 * identity (the largest singular values: the smallest |W|), and bias mu, so
 * that W J J^T W^T = diag(sigma^2) and x ~ N(mu, diag(sigma^2)) approximately.
 * Parameters "fc1.weight", ... in group 0 (a discriminator may use group 1). */
typedef struct {
    int nin, nh, nout;
    cg_params p;
    cg_nn nn;
    cg_nn_linear fc1;   /* fc1: (nh, nin) + (nh) */
    cg_nn_linear fc2;   /* fc2: (nh, nh) + (nh) */
    cg_nn_linear fc3;   /* fc3: (nout, nh) + (nout) */
} cg_gauss_gen;

cg_status cg_gauss_gen_build(cg_gauss_gen *g, int nin, int nh, int nout, char *err,
                             size_t errlen);
void cg_gauss_gen_free(cg_gauss_gen *g);
cg_tensor *cg_gauss_gen_hidden(cg_ctx *ctx, cg_gauss_gen *g, cg_tensor *z);   /* (N, nh) */
cg_tensor *cg_gauss_gen_forward(cg_ctx *ctx, cg_gauss_gen *g, cg_tensor *z);  /* (N, nout) */
/* J (nh x nin, row-major) of the hidden map at z = 0, by one backward pass
 * from nh copies of the input with the identity as output gradient. */
cg_status cg_gauss_gen_jacobian(cg_ctx *ctx, cg_gauss_gen *g, double *J);
/* The notebook's initialisation (alpha 0.25 there); needs nout <= nin. */
cg_status cg_gauss_gen_init(cg_ctx *ctx, cg_gauss_gen *g, cg_rng *r, double alpha,
                            const double *mu, const double *sigma, char *err, size_t errlen);
/* The notebook's baseline: xavier_normal with tanh's gain 5/3 on every
 * weight, hidden biases 0, fc3's bias mu. */
void cg_gauss_gen_init_xavier(cg_gauss_gen *g, cg_rng *r, const double *mu);

#define CG_GAUSS_INIT_SAMPLES 100000

/* `cugen train gauss-init-gan`: its flags, and its kind for the trainer
 * (gauss_init_train.c): the comparison of the two initialisations at
 * build, then a GAN from the Gaussian start on --toy; its final scalars
 * include init_mean_x, ..., xavier_cov_yy, mmd2_start, mmd2_end. */
typedef struct {
    int64_t z_size, hidden;
    const char *mu, *sigma, *toy;   /* "a,b", "a,b", a toy set's name */
} cg_gauss_init_flags;

#include "cugen/trainer.h"
extern const cg_model_kind cg_kind_gauss_init;

#endif
