/*
 * toy.c: the 2-D distributions small models train on (8 Gaussians, two
 * moons, swiss roll, checkerboard, a linearly transformed Gaussian, the six
 * points of the Gaussian MLE notebook), sampled from a Philox stream so a
 * seed gives the same points on every machine.
 *
 * Points are made in chunks: per chunk one fill of uniforms / uint32s and
 * one of normals, so the stream advances by a fixed amount per chunk.
 *
 * Not for: image datasets.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/data.h"
#include "cugen/models.h"

const double cg_toy_gaussian_A[4] = {1.0, 0.0, 0.75, 0.5};
const double cg_toy_gaussian_b[2] = {1.0, -0.5};

static const char *const toy_names[CG_TOY_COUNT] = {
    "8gaussians", "moons", "swissroll", "checkerboard", "gaussian", "notebook",
};

const char *cg_toy_name(cg_toy t)
{
    return (unsigned)t < CG_TOY_COUNT ? toy_names[t] : "?";
}

const char *cg_toy_choices(void)
{
    return "8gaussians|moons|swissroll|checkerboard|gaussian|notebook";
}

cg_status cg_toy_parse(const char *name, cg_toy *out, char *err, size_t errlen)
{
    for (int t = 0; t < CG_TOY_COUNT; t++)
        if (name && strcmp(name, toy_names[t]) == 0) {
            *out = (cg_toy)t;
            return CG_OK;
        }
    snprintf(err, errlen, "unknown toy dataset '%s' (expected %s)", name ? name : "",
             cg_toy_choices());
    return CG_ERR_ARG;
}

/* Integer in [0, k) from a uint32 by multiply-shift: exact for k a power of
 * two, bias below k / 2^32 otherwise (only the 6-point set). */
static int pick(uint32_t u, int k)
{
    return (int)(((uint64_t)u * (uint64_t)k) >> 32);
}

#define CHUNK 256

void cg_toy_sample(cg_toy t, cg_rng *r, real *xy, int64_t n)
{
    uint32_t u32[CHUNK];
    real u[CHUNK], z[2 * CHUNK];
    for (int64_t c0 = 0; c0 < n; c0 += CHUNK) {
        int m = n - c0 < CHUNK ? (int)(n - c0) : CHUNK;
        real *o = xy + 2 * c0;
        switch (t) {
        case CG_TOY_8GAUSSIANS:
            cg_rng_u32(r, u32, m);
            cg_rng_normal(r, z, 2 * m, 0.0, 1.0);
            for (int i = 0; i < m; i++) {
                double a = pick(u32[i], 8) * (M_PI / 4);
                o[2 * i] = (real)(2.0 * cos(a) + 0.1 * z[2 * i]);
                o[2 * i + 1] = (real)(2.0 * sin(a) + 0.1 * z[2 * i + 1]);
            }
            break;
        case CG_TOY_MOONS:
            /* upper moon (cos s, sin s), lower moon (1 - cos s, 0.5 - sin s),
             * s uniform on [0, pi]; the moon from the top bit of u32 */
            cg_rng_u32(r, u32, m);
            cg_rng_uniform(r, u, m);
            cg_rng_normal(r, z, 2 * m, 0.0, 1.0);
            for (int i = 0; i < m; i++) {
                double s = M_PI * u[i], x = cos(s), y = sin(s);
                if (u32[i] >> 31) {
                    x = 1 - x;
                    y = 0.5 - y;
                }
                o[2 * i] = (real)(x + 0.05 * z[2 * i]);
                o[2 * i + 1] = (real)(y + 0.05 * z[2 * i + 1]);
            }
            break;
        case CG_TOY_SWISSROLL:
            cg_rng_uniform(r, u, m);
            cg_rng_normal(r, z, 2 * m, 0.0, 1.0);
            for (int i = 0; i < m; i++) {
                double s = 1.5 * M_PI * (1 + 2 * (double)u[i]);
                o[2 * i] = (real)(s * cos(s) / 5 + 0.05 * z[2 * i]);
                o[2 * i + 1] = (real)(s * sin(s) / 5 + 0.05 * z[2 * i + 1]);
            }
            break;
        case CG_TOY_CHECKERBOARD:
            /* square (col, row) in 0..3 with col + row even: 8 squares; the
             * position inside it from two uniforms (z holds them here) */
            cg_rng_u32(r, u32, m);
            cg_rng_uniform(r, z, 2 * m);
            for (int i = 0; i < m; i++) {
                int k = pick(u32[i], 8), row = k / 2, col = 2 * (k % 2) + (row % 2);
                o[2 * i] = (real)(col - 2 + (double)z[2 * i]);
                o[2 * i + 1] = (real)(row - 2 + (double)z[2 * i + 1]);
            }
            break;
        case CG_TOY_GAUSSIAN: {
            const double *A = cg_toy_gaussian_A, *b = cg_toy_gaussian_b;
            cg_rng_normal(r, z, 2 * m, 0.0, 1.0);
            for (int i = 0; i < m; i++) {
                double z0 = z[2 * i], z1 = z[2 * i + 1];
                o[2 * i] = (real)(A[0] * z0 + A[1] * z1 + b[0]);
                o[2 * i + 1] = (real)(A[2] * z0 + A[3] * z1 + b[1]);
            }
            break;
        }
        case CG_TOY_NOTEBOOK:
            cg_rng_u32(r, u32, m);
            for (int i = 0; i < m; i++) {
                int k = pick(u32[i], 6);
                o[2 * i] = (real)cg_gaussian_notebook_points[2 * k];
                o[2 * i + 1] = (real)cg_gaussian_notebook_points[2 * k + 1];
            }
            break;
        default:
            memset(o, 0, sizeof *o * 2 * (size_t)m);
            break;
        }
    }
}
