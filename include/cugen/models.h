/*
 * models.h: the models cugen trains, each as a fit function the CLI calls.
 */
#ifndef CUGEN_MODELS_H
#define CUGEN_MODELS_H

#include "cugen/train.h"

/* ---- Gaussian MLE --------------------------------------------------------
 * Fit N(mean, Sigma) to points by Adam on the negative log-likelihood, with
 * Sigma = L L^T, L = [[e^a1, 0], [c, e^a2]] (Cholesky, positive diagonal by
 * construction). The closed-form MLE (sample mean, biased sample covariance)
 * is computed beside it. */
typedef struct {
    double nll, nll_mle;             /* total NLL over the points, nats */
    double mean[2], cov[4];          /* fitted, cov row-major */
    double mean_mle[2], cov_mle[4];  /* closed form */
    int64_t steps;
} cg_gaussian_result;

/* The six points of the seed notebook, (x, y) pairs. */
extern const double cg_gaussian_notebook_points[12];

cg_status cg_gaussian_fit(const cg_train_opts *o, const double *xy, int n,
                          cg_gaussian_result *res, char *err, size_t errlen);

/* ---- the generative modeling game -----------------------------------------
 * Data x = A z + b (A, b fixed random, z ~ N(0, I) in 2-D); a linear
 * generator x = W z + v learns to match it by minimising MMD^2 with Gaussian
 * kernels between a generated batch and a data batch. W W^T should approach
 * the data covariance and v its mean. */
typedef struct {
    double A[4], b[2];               /* the true model */
    double data_mean[2], data_cov[4];/* of the drawn data set */
    double W[4], v[2], WWt[4];       /* learnt */
    double mmd2;                     /* last full-data MMD^2 estimate */
    double cov_rel_err, mean_err;    /* ||WW^T - cov||_F / ||cov||_F, |v - mean| */
    int64_t steps;
} cg_linear_game_result;

cg_status cg_linear_game_fit(const cg_train_opts *o, int n_data, cg_linear_game_result *res,
                             char *err, size_t errlen);

#endif
