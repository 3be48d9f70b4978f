/*
 * cudnn_internal.h: what the two halves of the emulated cuDNN share:
 * cudnn.cc (the API: descriptors, heuristics, the calls that check and
 * queue) and cudnn_conv.cc (the arithmetic the queued work runs). The
 * convolution's geometry, the job a call queues, and the three runs.
 *
 * Not for: kernels/ or tests (they see include/cudnn.h), or the rest of
 * the emulator (emu.h).
 */
#ifndef CUGEN_EMU_CUDNN_INTERNAL_H
#define CUGEN_EMU_CUDNN_INTERNAL_H

#include "cudnn.h"

namespace emu_cudnn {

/* The convolution in its forward sense: x (N, C, H, W) * w (K, C, R, S) -> y (N, K, Ho, Wo). */
struct geom {
    int N, C, H, W, K, R, S, Ho, Wo, ph, pw, sh, sw, dh, dw;
    bool flip;  /* CUDNN_CONVOLUTION: filter tap (r, s) meets input tap (R-1-r, S-1-s) */
    cudnnMathType_t math;
    long crs() const { return (long)C * R * S; }
    long pix() const { return (long)Ho * Wo; }
};

/* Which convolution: forward, backward data, backward filter. */
enum { DIR_FWD, DIR_BWD_DATA, DIR_BWD_FILTER };

/* One call's work, as queued: inputs rounded to `bits` mantissa bits;
 * shuffle: a non-deterministic algorithm, its summation order drawn from
 * seed. */
struct conv_job {
    geom g;
    int bits;
    bool shuffle;
    unsigned long long seed;
    float alpha, beta;
    const float *x, *w, *y;  /* conv input, filter, output (the written one is out) */
    float *out;
};

/* Inside queued work (device memory open): out = alpha conv(...) + beta out. */
void run_fwd(const conv_job &j);
void run_bwd_data(const conv_job &j);
void run_bwd_filter(const conv_job &j);

}  // namespace emu_cudnn

#endif
