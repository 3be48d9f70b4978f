/*
 * cpu_resample.h: reference 2x nearest upsampling and 2x2 average pooling
 * of NCHW images. Backward writes dx (=).
 *
 * Not for: strided or learned resampling (cpu_conv.h).
 */
#ifndef CUGEN_CPU_RESAMPLE_H
#define CUGEN_CPU_RESAMPLE_H

#include <stdint.h>

#include "cugen/tensor.h"

/* x (NC, H, W) -> y (NC, 2H, 2W), every pixel copied into a 2x2 block */
void cpu_upsample2x_fwd(real *y, const real *x, int64_t NC, int H, int W);
/* dx (NC, H, W) = sum of dy (NC, 2H, 2W) over each 2x2 block */
void cpu_upsample2x_bwd(real *dx, const real *dy, int64_t NC, int H, int W);
/* x (NC, H, W) -> y (NC, H/2, W/2), the mean of each 2x2 block; H, W even */
void cpu_avgpool2x_fwd(real *y, const real *x, int64_t NC, int H, int W);
/* dx (NC, H, W) = dy / 4 spread over each 2x2 block */
void cpu_avgpool2x_bwd(real *dx, const real *dy, int64_t NC, int H, int W);

#endif
