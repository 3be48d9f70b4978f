/*
 * models.h: the first toy models, as kinds of the trainer (trainer.h).
 */
#ifndef CUGEN_MODELS_H
#define CUGEN_MODELS_H

#include "cugen/train.h"
#include "cugen/trainer.h"

/* ---- Gaussian MLE --------------------------------------------------------
 * `cugen train gaussian` (cg_kind_gaussian, gaussian.c): N(mean, Sigma) fitted
 * to the seed notebook's six points by Adam on the negative log-likelihood,
 * with Sigma = L L^T, L = [[e^a1, 0], [c, e^a2]] (Cholesky, positive diagonal
 * by construction), beside the closed-form MLE. Its final scalars: final_nll
 * and mle_nll (total NLL over the points, nats), mean_x, mean_y, cov_xx,
 * cov_xy, cov_yy of the fit and the same with mle_ of the closed form. */

/* The six points of the seed notebook, (x, y) pairs. */
extern const double cg_gaussian_notebook_points[12];

/* The closed-form MLE of n points (x, y): the sample mean, the biased sample
 * covariance (row-major) and the total NLL there. CG_ERR_ARG under 3 points. */
cg_status cg_gaussian_closed_form(const double *xy, int n, double mean[2], double cov[4],
                                  double *nll, char *err, size_t errlen);

extern const cg_model_kind cg_kind_gaussian;

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
