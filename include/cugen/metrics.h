/*
 * metrics.h: how good a generator is, from samples: the lecture notes' MMD
 * score, the Frechet distance between feature statistics (FID with a
 * pluggable feature network), the Inception Score and KID, and the dense
 * linear algebra they need.
 *
 * Not for: training losses (ops.h: cg_mmd2_rbf is the differentiable MMD).
 */
#ifndef CUGEN_METRICS_H
#define CUGEN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "cugen/io.h"
#include "cugen/layers.h"
#include "cugen/nn.h"
#include "cugen/tensor.h"
#include "cugen/train.h"

/* ---- linear algebra (double, LAPACK through OpenBLAS) ---------------------- */
/* Eigen-decomposition of the symmetric n x n matrix a (row-major; only its
 * values matter, both triangles are read as one): eigenvalues ascending into
 * w (n), eigenvectors into the columns of a (a[i * n + k]: component i of
 * vector k). CG_ERR_NOMEM, or CG_ERR_NUMERIC if LAPACK does not converge. */
cg_status cg_sym_eig(int n, double *a, double *w);
/* The eigenvalues only (ascending into w); a is overwritten. Much cheaper. */
cg_status cg_sym_eigvals(int n, double *a, double *w);

/* ---- the lecture notes' MMD score ----------------------------------------------
 * compute_score(fake, real): with M_ab[i, j] = |a_i - b_j|^2 (pairwise
 * squared distances; computed as |a|^2 + |b|^2 - 2 a.b with a double GEMM
 * in blocks) and scale = mean of M_rr (real against real, diagonal
 * included), k(a, b) = exp(-M_ab / (2 scale sigma^2)) and
 *   mmd2 = mean k(real, real) + mean k(fake, fake) - 2 mean k(real, fake),
 *   mmd  = sqrt(max(mmd2, 0))   (what the notes print).
 * fake (n, d), real (m, d), rows of d values. CG_ERR_ARG for n or m < 1, d < 1
 * or sigma <= 0; CG_ERR_NUMERIC if the real rows are all equal (scale 0). */
cg_status cg_mmd_score(const real *fake, int n, const real *real_x, int m, int d, double sigma,
                       double *mmd2, double *mmd);
/* The same score on device dev: cg_mmd_score on the CPU; on the GPU the
 * squared MMD op (cg_mmd2_rbf, kernels/mmd.cu) with one kernel width, and the
 * scale from the closed form mean M_rr = 2 (mean |r|^2 - |mean r|^2) in
 * double. err gets a CUDA failure's detail. */
cg_status cg_mmd_score_on(cg_device dev, const real *fake, int n, const real *real_x, int m,
                          int d, double sigma, double *mmd2, double *mmd, char *err,
                          size_t errlen);

/* ---- Frechet distance between feature statistics --------------------------------
 * FD = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), computed in double
 * through symmetric eigendecompositions: S_a = V W V^T, and with L = the
 * columns of V diag(sqrt(W)) whose eigenvalue is above rounding (w > d eps
 * max w: the numerical rank r, r < d when there are fewer images than
 * features), S_a S_b has the nonzero eigenvalues of the symmetric r x r
 * L^T S_b L, so Tr((S_a S_b)^(1/2)) is the sum of the square roots of its
 * eigenvalues (negative ones from rounding taken as 0). */
typedef struct {
    int d;
    int64_t n;
    double *mean;   /* d */
    double *cov;    /* d x d, unbiased (n - 1), as numpy's np.cov */
} cg_feat_stats;

/* Statistics of n feature rows (n, d); n >= 2. */
cg_status cg_feat_stats_compute(const real *f, int64_t n, int d, cg_feat_stats *s);
void cg_feat_stats_free(cg_feat_stats *s);
cg_status cg_frechet_distance(const cg_feat_stats *a, const cg_feat_stats *b, double *fd);

/* A feature network, pluggable: it maps images (n, C, H, W) in [-1, 1] to
 * rows of `dim` features, and, a net with a classifier (classes > 0), to
 * rows of `classes` logits. A net with any_size takes any C (1 or 3) x H x W:
 * the caller sets channels, height and width to its images' before calling.
 * batch: images per features() call (0: 500); progress: show a progress
 * line on stderr while computing statistics. */
typedef struct cg_feature_net {
    const char *name;
    int dim, channels, height, width;
    int any_size, batch, progress;
    int classes;        /* 0: no classifier (logits NULL) */
    void *state;
    cg_status (*features)(struct cg_feature_net *net, cg_ctx *ctx, const real *x, int n,
                          real *out);
    cg_status (*logits)(struct cg_feature_net *net, cg_ctx *ctx, const real *x, int n,
                        real *out);
    void (*free)(struct cg_feature_net *net);
} cg_feature_net;

/* The rows of n images x through net, in batches, into out: features (n,
 * dim), or with logits set the classifier's logits (n, classes). */
cg_status cg_feature_rows(cg_feature_net *net, const real *x, int64_t n, int logits, real *out,
                          char *err, size_t errlen);
/* Feature statistics of n images x through net, in batches. */
cg_status cg_feature_stats(cg_feature_net *net, const real *x, int64_t n, cg_feat_stats *s,
                           char *err, size_t errlen);

/* ---- Inception Score (Salimans et al. 2016) -----------------------------------------
 * logits (n, k) of a classifier, p(y|x) their softmax (log-softmax in
 * double); the n rows cut into `splits` consecutive parts (part i: rows
 * [i n / splits, (i + 1) n / splits), as the authors' code), each scored
 * exp(mean_x KL(p(y|x) || p(y))) with p(y) the part's mean of p(y|x) (a
 * term with p(y|x) = 0 counts 0); *mean and *std the mean and the
 * population (ddof 0, numpy's np.std) standard deviation of the scores.
 * CG_ERR_ARG unless 1 <= splits <= n and k >= 2; CG_ERR_NOMEM. */
cg_status cg_inception_score(const real *logits, int64_t n, int k, int splits, double *mean,
                             double *std);

/* ---- Kernel Inception Distance (Binkowski et al. 2018) ------------------------------
 * The unbiased estimate of the squared MMD between feature rows x (n, d) and
 * y (m, d) with the cubic polynomial kernel k(a, b) = (a.b / d + 1)^3:
 *   sum_{i != j} k(x_i, x_j) / (n (n - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
 *   - 2 sum_{i, j} k(x_i, y_j) / (n m)
 * in double (dot products by a double GEMM in blocks of rows). It can be
 * negative when the two distributions are close. CG_ERR_ARG for n or m < 2
 * or d < 1. */
cg_status cg_kid_mmd2(const real *x, int64_t n, const real *y, int64_t m, int d, double *mmd2);
/* KID: cg_kid_mmd2 over `subsets` pairs of random subsets of `size` rows of
 * x and of y, drawn without replacement; *mean and *std (ddof 0) over the
 * subsets. The draw: idx_x = 0..n-1 and idx_y = 0..m-1 once, then for each
 * subset cg_rng_shuffle(idx_x) and cg_rng_shuffle(idx_y) (one stream of
 * seed, CG_KID_STREAM; the arrays carried from one subset to the next) and
 * the first `size` of each. size == n == m: every subset is the whole of
 * both sets, so one is computed (std 0). CG_ERR_ARG unless 2 <= size <=
 * min(n, m) and subsets >= 1. */
#define CG_KID_STREAM 0x4b494433u   /* "KID3" */
#define CG_KID_SUBSETS 100
#define CG_KID_SUBSET_SIZE 1000
cg_status cg_kid(const real *x, int64_t n, const real *y, int64_t m, int d, int subsets,
                 int size, uint64_t seed, double *mean, double *std);

/* ---- the Fashion-MNIST classifier whose features give "FMNIST-FID" -------------
 *   conv1 Conv2d(1, 32, 3, padding 1), ReLU, AvgPool 2   -> 32 x 14 x 14
 *   conv2 Conv2d(32, 64, 3, padding 1), ReLU, AvgPool 2  -> 64 x 7 x 7
 *   fc1 Linear(3136, 128), ReLU                           -> the 128 features
 *   fc2 Linear(128, 10)                                   -> logits
 * Parameters "conv1.weight", ..., "fc2.bias"; nn.Conv2d / nn.Linear's
 * default initialisation. */
#define CG_FMNIST_NET_FEATURES 128
typedef struct {
    cg_params p;
    cg_nn nn;
    cg_nn_conv2d conv1;   /* (32, 1, 3, 3) + (32) */
    cg_nn_conv2d conv2;   /* (64, 32, 3, 3) + (64) */
    cg_nn_linear fc1;     /* (128, 3136) + (128) */
    cg_nn_linear fc2;     /* (10, 128) + (10) */
} cg_fmnist_net;

/* Declares and allocates (zero) in place: m must not move afterwards. */
cg_status cg_fmnist_net_build(cg_fmnist_net *m, char *err, size_t errlen);
void cg_fmnist_net_init(cg_fmnist_net *m, uint64_t seed, uint32_t stream);
void cg_fmnist_net_free(cg_fmnist_net *m);
/* x (N, 1, 28, 28) in [-1, 1]: logits (N, 10); *features (may be NULL) the
 * (N, 128) activations of fc1 after ReLU. */
cg_tensor *cg_fmnist_net_forward(cg_ctx *ctx, cg_fmnist_net *m, cg_tensor *x,
                                 cg_tensor **features);
/* Load classifier.safetensors (a file, or the run directory holding it)
 * into a feature net (its own copy of the weights; net->free releases it);
 * its logits are fc2's (10 classes). */
cg_status cg_fmnist_feature_net(const char *path, cg_feature_net *net, char *err,
                                size_t errlen);

/* ---- the Inception-v3 network of the standard FID ("Inception-FID") -------------------
 * pytorch-fid's FID Inception: torchvision's inception_v3 in inference mode
 * (BasicConv2d = conv without bias, BatchNorm eps 1e-3, ReLU) with the FID
 * changes (average pools that do not count the padding, a max pool in
 * Mixed_7c's pool branch); the features are the 2048 global-average-pooled
 * activations. Layout and BN folding in host/metrics/inception.c.
 * Weights: a safetensors file whose names are the PyTorch state_dict's
 * ("Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch1x1.bn.running_var", ...),
 * F32 (scripts/convert_fid_inception.py makes it from pytorch-fid's .pth),
 * and optionally the classifier "fc.weight" (cg_inception_logits); other
 * tensors in the file are ignored. */
#define CG_INCEPTION_FEATURES 2048
typedef struct cg_inception cg_inception;

/* The tensors the network reads, in layer order: name and shape. */
typedef struct {
    char name[80];
    int ndim, shape[4];
} cg_inception_entry;
/* Fills up to max entries; returns how many there are (470). */
int cg_inception_layout(cg_inception_entry *e, int max);

/* A missing tensor, a wrong shape or dtype, or a negative running variance:
 * CG_ERR_ARG and a message naming the tensor. */
cg_status cg_inception_load(const char *path, cg_inception **m, char *err, size_t errlen);
cg_status cg_inception_from_tensors(const cg_st_tensor *t, int count, cg_inception **m,
                                    char *err, size_t errlen);
cg_status cg_inception_to_device(cg_inception *m, char *err, size_t errlen);
int cg_inception_device(const cg_inception *m);
void cg_inception_free(cg_inception *m);
/* 1 when the safetensors file at path names Conv2d_1a_3x3.conv.weight (reads
 * the header only). */
int cg_inception_weights_file(const char *path);
/* x (N, 3, H, W) in [0, 1], on the weights' device -> features (N, 2048):
 * resized to 299x299 inside (bilinear), scaled to [-1, 1]. */
cg_tensor *cg_inception_forward(cg_ctx *ctx, cg_inception *m, cg_tensor *x);
/* The classifier the weights file holds (fc.weight (K, 2048), F32; its
 * fc.bias is not read): K classes, 0 when the file has none (one converted
 * before the classifier was kept). pytorch-fid's file has TF's 1008-way
 * one. The logits of features f (N, 2048) are f fc.weight^T, without the
 * bias, as the Inception Score of Salimans et al. takes them (their code
 * multiplies the pool features by the weights of the "softmax/logits/MatMul"
 * op), so cugen's score is the published one. NULL and CG_ERR_ARG without a
 * classifier. */
int cg_inception_classes(const cg_inception *m);
cg_tensor *cg_inception_logits(cg_ctx *ctx, cg_inception *m, cg_tensor *features);
/* The weights at path as a feature net (any_size; grey images repeated to
 * three channels) on dev (CG_CPU or CG_CUDA); classes: its classifier's. */
cg_status cg_inception_feature_net(const char *path, int dev, cg_feature_net *net, char *err,
                                   size_t errlen);

/* The mean and covariance (row-major 2 x 2) of n 2-D points xy (x, y
 * pairs): sums in double, the covariance divided by n - ddof (0: the
 * maximum-likelihood one, 1: the unbiased one). */
void cg_moments2(const real *xy, int64_t n, int ddof, double mean[2], double cov[4]);
void cg_moments2_f64(const double *xy, int64_t n, int ddof, double mean[2], double cov[4]);

#endif
