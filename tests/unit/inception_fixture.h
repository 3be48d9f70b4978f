/*
 * inception_fixture.h: deterministic pseudo-random weights for the FID
 * Inception network, the same values scripts/make_inception_ref.py puts
 * into torchvision's model, so a test can regenerate the 24M weights
 * instead of committing them.
 *
 * The hash (documented here and in the script): for a tensor named NAME
 * with n elements, element i (0-based, C order) is u_i in [0, 1):
 *   h   = FNV-1a 64 of NAME's bytes
 *   z   = h + (i + 1) * 0x9E3779B97F4A7C15          (mod 2^64)
 *   z  ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27;
 *   z  *= 0x94D049BB133111EB; z ^= z >> 31           (splitmix64's finaliser)
 *   u_i = (z >> 11) 2^-53
 * and the value, computed in double and rounded to float32, is by the
 * name's ending:
 *   conv.weight       (2 u - 1) sqrt(6 / fan_in), fan_in = Cin kh kw
 *                     (variance 2 / fan_in: activations stay O(1) under ReLU)
 *   bn.weight         0.5 + u
 *   bn.bias           0.2 (2 u - 1)
 *   bn.running_mean   0.1 (2 u - 1)
 *   bn.running_var    0.5 + u          (positive)
 *   fc.weight         8 (2 u - 1) sqrt(6 / 2048)   (the 1008-way classifier: logits
 *                     of std ~30, so that the similar features of the test's images
 *                     still give different predictions)
 *   fc.bias           4 (2 u - 1)      (the Inception Score leaves it out: a score
 *                     that used it would differ)
 */
#ifndef CUGEN_TEST_INCEPTION_FIXTURE_H
#define CUGEN_TEST_INCEPTION_FIXTURE_H

#include "cugen/io.h"

#define INCFIX_CLASSES 1008
/* The first `limit` tensors of the network in layer order (names, shapes,
 * F32 data): the 470 of the layers, then fc.weight and fc.bias (all 472
 * when limit is larger); incfix_free releases them. NULL on out of memory. */
cg_st_tensor *incfix_tensors(int limit, int *count);
void incfix_free(cg_st_tensor *t, int count);
/* Writes all of them as a safetensors file (about 103 MB). */
cg_status incfix_write(const char *path, char *err, size_t errlen);

#endif
