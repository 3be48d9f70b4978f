/*
 * score_bound.h: how far an Inception Score can move when its logits move,
 * for the tests that compare a score computed from cugen's logits with one
 * from reference logits.
 *
 * With e the largest |logit - reference logit|, every log-probability and
 * each split's log p(y) moves by at most 2 e (log-softmax, and the log of a
 * mean of terms each scaled by e^{+-2e}), and each weight p by a factor
 * e^{+-2e}, so a split's KL moves by at most dkl = 4 e + (e^{2e} - 1) A,
 * A = max over its rows of sum_c p |log p - log p(y)|, and its score s_i by
 * s_i (e^dkl - 1). The largest of those, b, bounds the move of the mean
 * score and of the population std (|std(s') - std(s)| <= ||s' - s||_2 /
 * sqrt(splits) <= b).
 */
#ifndef CUGEN_TEST_SCORE_BOUND_H
#define CUGEN_TEST_SCORE_BOUND_H

#include <stdint.h>

#include "cugen/tensor.h"

/* exp(mean KL) of rows [lo, hi) of logits (., k) straight from the
 * definition (softmax, then p log(p / p(y)) term by term), in double */
double score_direct_split(const real *logits, int64_t lo, int64_t hi, int k);
/* b for logits got against ref, both (n, k), in `splits` splits as
 * cg_inception_score cuts them; *e the largest logit difference */
double score_bound(const real *got, const real *ref, int64_t n, int k, int splits, double *e);

#endif
