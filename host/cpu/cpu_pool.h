/*
 * cpu_pool.h: reference max pooling, average pooling (k x k windows, any
 * stride and zero padding) and bilinear resizing of NCHW images, forward
 * and backward. Backward writes dx (=). The per-element arithmetic is in
 * pool_impl.h, shared with the CUDA twins.
 *
 * Output sizes (PyTorch's, ceil_mode off): Ho = (H + 2 pad - k) / stride + 1.
 *
 * Not for: the fixed 2x resamplers of cpu_resample.h, shape checks
 * (host/ops/pool.c).
 */
#ifndef CUGEN_CPU_POOL_H
#define CUGEN_CPU_POOL_H

#include <stdint.h>

#include "core/op_geom.h"
#include "cugen/tensor.h"

/* Geometry: cg_pool_geom and cg_resize_geom (core/op_geom.h). */

/* y = the largest element of each window (padding never wins) */
void cpu_maxpool2d_fwd(real *y, const real *x, const cg_pool_geom *d);
/* dx = dy routed to the first largest element of each window */
void cpu_maxpool2d_bwd(real *dx, const real *dy, const real *x, const cg_pool_geom *d);
/* y = the mean of each window */
void cpu_avgpool2d_fwd(real *y, const real *x, const cg_pool_geom *d);
void cpu_avgpool2d_bwd(real *dx, const real *dy, const cg_pool_geom *d);
/* Bilinear resize, align_corners = False (torch.nn.functional.interpolate's
 * mode 'bilinear' without antialiasing). */
void cpu_bilinear_fwd(real *y, const real *x, const cg_resize_geom *d);
void cpu_bilinear_bwd(real *dx, const real *dy, const cg_resize_geom *d);

#endif
