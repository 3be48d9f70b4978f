/*
 * grad_unet.c: the whole DDPM UNet differentiated by the tape against
 * central differences, with respect to its input image: the skip
 * concatenations, the timestep projection broadcast into every block, the
 * attention (bmm, softmax, bmm) and the resampling all composed. No new op
 * is involved (each has its own gradcheck); this checks the composition.
 */
#include "cugen/ddpm.h"
#include "harness.h"

typedef struct {
    cg_unet *m;
    cg_tensor *t;
} unet_arg;

static cg_tensor *f_unet(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    unet_arg *a = arg;
    return cg_unet_forward(ctx, a->m, in[0], a->t, NULL, 0);
}

/* 1 x 8 x 8 images, ch 4, levels at 8 and 4 (widths 4, 8), attention at 4,
 * at most 2 groups (2 and 4 channels per group); every weight random (the
 * zero-initialised last layers too, or no gradient would reach x through
 * the residual branches) */
TEST(gradcheck_unet_input)
{
    cg_unet_arch a = {.in_ch = 1, .image_size = 8, .ch = 4, .nlevels = 2, .ch_mult = {1, 2},
                      .num_res_blocks = 1, .attn = 4, .groups = 2};
    cg_unet m;
    char err[256];
    REQUIRE(cg_unet_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    cg_rng r;
    cg_rng_init(&r, 77, 0);
    for (int i = 0; i < m.p.count; i++)
        cg_init_uniform(m.p.t[i], &r, -0.5, 0.5);
    cg_tensor *t = th_const(CG_SHAPE(2), 78, 3, 700, 0);
    unet_arg arg = {&m, t};
    cg_tensor *in[1] = {TH_LEAF(79, 2, 1, 8, 8)};
    GRADCHECK("unet 1x8x8, ch 4, 1,2, attn 4", f_unet, &arg, in, 1);
    cg_unet_free(&m);
}
