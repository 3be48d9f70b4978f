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
 * `cugen train linear-game` (cg_kind_linear_game, linear_game.c): data
 * x = A z + b (A, b fixed random, z ~ N(0, I) in 2-D, 1000 points); a linear
 * generator x = W z + v learns to match it by minimising MMD^2 with Gaussian
 * kernels between a generated batch and a data batch. W W^T should approach
 * the data covariance and v its mean. Its steps' scalars: mmd2, cov_rel_err
 * (|W W^T - cov|_F / |cov|_F), mean_err (|v - mean|), lr; its final ones:
 * final_mmd2 (1000 generated points against the whole data set), W_00,
 * W_01, W_10, W_11, v_0, v_1. */
extern const cg_model_kind cg_kind_linear_game;

#endif
