/*
 * ddpm.h: denoising diffusion (Ho et al. 2020): the UNet that predicts the
 * noise, the noise schedule, the training loss, ancestral and DDIM sampling,
 * and the training run behind `cugen train ddpm`.
 *
 * The UNet is the DDPM one, with the state_dict names of its PyTorch port
 * (the `Model` of pesser/pytorch_diffusion and of the DDIM code):
 *
 *   temb.dense.0, temb.dense.1   Linear(ch, 4ch), SiLU, Linear(4ch, 4ch) on the
 *                                sinusoidal embedding of t (dim ch)
 *   conv_in                      Conv3x3(in_ch, ch)
 *   down.i.block.j, down.i.attn.j  ResBlocks (+ attention at the chosen
 *                                resolutions) at level i, width ch * ch_mult[i]
 *   down.i.downsample.conv       Conv3x3 stride 2 pad 1 (not on the last level)
 *   mid.block_1, mid.attn_1, mid.block_2
 *   up.i.block.j, up.i.attn.j    num_res_blocks + 1 ResBlocks per level, each
 *                                taking the channel concatenation of h and
 *                                the matching skip of the down path
 *   up.i.upsample.conv           nearest 2x, Conv3x3 (not on level 0)
 *   norm_out, conv_out           GroupNorm, SiLU, Conv3x3(ch, in_ch)
 *
 * ResBlock(x, temb): h = conv1(silu(norm1(x))) + temb_proj(silu(temb))[:, :, None, None];
 * h = conv2(dropout(silu(norm2(h)))); out = (nin_shortcut(x) if the width
 * changes, else x) + h, nin_shortcut a 1x1 conv.
 * Attention(x): h = norm(x); q, k, v 1x1 convs; w = softmax(q^T k / sqrt(C))
 * over the HW keys; out = x + proj_out(v w^T) (bmm + softmax + bmm).
 *
 * GroupNorm (eps 1e-6, as DDPM) uses `groups` groups (32 by default), or, when
 * the width C is smaller or not a multiple of it, the largest divisor of C
 * below it: min(groups, C), lowered until it divides C (16 channels: 16
 * groups of 1; 48 channels: 24 groups of 2).
 *
 * Not for: flags and files (ddpm_train.c, cli/train.c), the ops themselves.
 */
#ifndef CUGEN_DDPM_H
#define CUGEN_DDPM_H

#include "cugen/io.h"
#include "cugen/layers.h"
#include "cugen/nn.h"
#include "cugen/optim.h"
#include "cugen/train.h"

#define CG_UNET_MAX_LEVELS 6
#define CG_UNET_MAX_BLOCKS 4   /* num_res_blocks */
#define CG_DDPM_MAX_T 100000

typedef struct {
    int in_ch, image_size;
    int ch;                              /* base width */
    int nlevels;
    int ch_mult[CG_UNET_MAX_LEVELS];
    int num_res_blocks;
    unsigned attn;                       /* bit k: attention at resolution 2^k */
    int groups;                          /* GroupNorm groups at most (0: 32) */
    double dropout;
} cg_unet_arch;

/* ResnetBlock(cin, cout): the layers under down.i.block.j and the like */
typedef struct {
    cg_nn_groupnorm norm1;              /* (cin) x 2 */
    cg_nn_conv2d conv1;                 /* 3x3: (cout, cin, 3, 3) + (cout) */
    cg_nn_linear temb_proj;             /* (cout, 4ch) + (cout) */
    cg_nn_groupnorm norm2;              /* (cout) x 2 */
    cg_nn_conv2d conv2;                 /* 3x3: (cout, cout, 3, 3) + (cout), zero at init */
    cg_nn_conv2d nin_shortcut;          /* 1x1: (cout, cin, 1, 1) + (cout) when cin != cout,
                                           else not declared (weight NULL) */
} cg_unet_res;

/* AttnBlock(C) */
typedef struct {
    cg_nn_groupnorm norm;               /* (C) x 2 */
    cg_nn_conv2d q, k, v;               /* 1x1: (C, C, 1, 1) + (C) */
    cg_nn_conv2d proj_out;              /* 1x1: (C, C, 1, 1) + (C), zero at init */
} cg_unet_attn;

/* down.i: num_res_blocks blocks (each followed by attention when has_attn) */
typedef struct {
    cg_unet_res block[CG_UNET_MAX_BLOCKS];
    cg_unet_attn attn[CG_UNET_MAX_BLOCKS];
    int has_attn;
    cg_nn_conv2d downsample;            /* downsample.conv: 3x3 stride 2 pad 1; not declared
                                           on the last level */
} cg_unet_down;

/* up.i: num_res_blocks + 1 blocks, each on the concatenation with a skip */
typedef struct {
    cg_unet_res block[CG_UNET_MAX_BLOCKS + 1];
    cg_unet_attn attn[CG_UNET_MAX_BLOCKS + 1];
    int has_attn;
    cg_nn_conv2d upsample;              /* upsample.conv: 3x3 after nearest 2x; not declared
                                           on level 0 */
} cg_unet_up;

/* The layers declare into nn, which keeps pointers to them: a built cg_unet
 * stays where it is (never copied by value). */
typedef struct {
    cg_unet_arch a;
    cg_params p;
    cg_nn nn;
    cg_nn_linear temb_dense[2];         /* temb.dense.0 (4ch, ch), temb.dense.1 (4ch, 4ch) */
    cg_nn_conv2d conv_in;               /* 3x3: (ch, in_ch, 3, 3) */
    cg_unet_down down[CG_UNET_MAX_LEVELS];
    cg_unet_res mid1;                   /* mid.block_1 */
    cg_unet_attn mid_attn;              /* mid.attn_1 */
    cg_unet_res mid2;                   /* mid.block_2 */
    cg_unet_up up[CG_UNET_MAX_LEVELS];
    cg_nn_groupnorm norm_out;           /* (ch ch_mult[0]) x 2 */
    cg_nn_conv2d conv_out;              /* 3x3: (in_ch, ch ch_mult[0], 3, 3), zero at init */
} cg_unet;

/* "1,2,2,2" -> ch_mult and nlevels; "16" or "16,8" (or "none") -> the attn
 * mask. One-line reasons in err. */
cg_status cg_unet_parse_mult(const char *s, cg_unet_arch *a, char *err, size_t errlen);
cg_status cg_unet_parse_attn(const char *s, cg_unet_arch *a, char *err, size_t errlen);
/* Check the architecture, declare its layers and allocate its parameters (zero). */
cg_status cg_unet_build(cg_unet *m, const cg_unet_arch *a, char *err, size_t errlen);
void cg_unet_free(cg_unet *m);
/* PyTorch's default initialisation of every Conv2d / Linear (weights and
 * biases uniform in +-1/sqrt(fan_in)), GroupNorm weight 1 and bias 0, and
 * DDPM's zero for the last layer of every residual branch (conv2,
 * proj_out) and for conv_out, so that the net starts as identity blocks.
 * Draws in declaration order (cg_nn_init) from the stream; the zeroed
 * layers draw nothing. */
cg_status cg_unet_init(cg_unet *m, uint64_t seed, uint32_t stream);
/* eps(x, t): x (N, in_ch, S, S), t (N) timesteps (as reals) -> (N, in_ch, S, S).
 * Dropout masks from `drop` when training (may be NULL when not). */
cg_tensor *cg_unet_forward(cg_ctx *ctx, cg_unet *m, cg_tensor *x, cg_tensor *t, cg_rng *drop,
                           int training);

/* ---- the diffusion --------------------------------------------------------- */
typedef enum { CG_SCHED_LINEAR = 0, CG_SCHED_COSINE = 1 } cg_sched_kind;

typedef struct {
    int T;
    cg_sched_kind kind;
    double *beta, *alpha_bar;            /* T values each, double */
} cg_ddpm_sched;

/* linear: beta_t from 1e-4 to 0.02 in T steps (Ho et al.); cosine: Nichol and
 * Dhariwal's alpha_bar(t) = cos^2(((t / T) + s) / (1 + s) pi / 2), s = 0.008,
 * beta clipped at 0.999. */
cg_status cg_ddpm_sched_init(cg_ddpm_sched *s, cg_sched_kind kind, int T);
void cg_ddpm_sched_free(cg_ddpm_sched *s);

/* x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps, per sample; x0,
 * eps, xt (N, D) flat; t[N]. */
void cg_ddpm_q_sample(const cg_ddpm_sched *s, real *xt, const real *x0, const real *eps,
                      const int32_t *t, int N, int64_t D);
/* One step of the forward process: x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) z. */
void cg_ddpm_q_step(const cg_ddpm_sched *s, real *x, const real *z, int t, int64_t n);

/* The DDPM loss on given t and eps: mse(eps(x_t, t), eps), mean over all
 * elements; recorded on the tape. *pred, when not NULL, gets the prediction. */
cg_tensor *cg_ddpm_loss(cg_ctx *ctx, cg_unet *m, const cg_ddpm_sched *s, cg_tensor *x0,
                        const int32_t *t, cg_tensor *eps, cg_rng *drop, cg_tensor **pred);
/* One training step: t uniform in [0, T) and eps ~ N(0, I) from `noise`
 * (Philox), the loss, backward, Adam, the EMA update (ema may be NULL).
 * Leaves gradients zeroed and the arena reset. */
cg_status cg_ddpm_step(cg_ctx *ctx, cg_unet *m, const cg_ddpm_sched *s, cg_adam *opt,
                       cg_ema *ema, cg_tensor *x0, cg_rng *noise, cg_rng *drop, double *loss);

/* Sampling, with the current weights (swap an EMA in first). x (N, C, S, S)
 * in: x_T ~ N(0, I) (the caller draws it), out: x_0. steps 0: ancestral DDPM
 * over all T steps (sigma_t^2 = beta_t), noise from `noise`; steps > 0: DDIM
 * with eta 0 on the timesteps 0, T/steps, 2T/steps, ... (deterministic).
 * clip: each step's prediction of x_0 is clipped to [-1, 1] (the data's
 * range), as DDPM's sampler does (clip_denoised); 0: the plain formulas.
 * frames, when not NULL, gets nframes snapshots (N, C, S, S) each, evenly
 * spaced along the chain from x_T (frame 0) to x_0 (the last). */
cg_status cg_ddpm_sample(cg_ctx *ctx, cg_unet *m, const cg_ddpm_sched *s, real *x, int N,
                         int steps, int clip, cg_rng *noise, real *frames, int nframes,
                         char *err, size_t errlen);

/* ---- checkpoints --------------------------------------------------------- */
/* The integers a checkpoint keeps beside the weights (train.extra.<name>):
 * the training state, then the architecture (run.*) that a sampler needs. */
enum {
    CG_DX_NOISE, CG_DX_DROP, CG_DX_LOADER_EPOCH, CG_DX_LOADER_INDEX, CG_DX_LOADER_RNG,
    CG_DX_CH, CG_DX_MULT, CG_DX_LEVELS, CG_DX_NRB, CG_DX_ATTN, CG_DX_GROUPS, CG_DX_SIZE,
    CG_DX_CHANNELS, CG_DX_T, CG_DX_SCHEDULE, CG_DX_DROPOUT, CG_DX_BATCH, CG_DX_COUNT
};
#define CG_DX_FIRST_RUN CG_DX_CH
/* Names into x[], values from the architecture, schedule and batch. */
void cg_ddpm_extras(cg_ckpt_int *x, const cg_unet_arch *a, const cg_ddpm_sched *s, int batch);

/* A checkpoint (or the latest in a run directory) -> its architecture and
 * schedule; with m, builds m and loads the weights, the EMA ones when
 * use_ema (the checkpoint's "ema." tensors). CG_ERR_ARG with a message when
 * the file is not a DDPM checkpoint. */
cg_status cg_ddpm_load(const char *path, cg_unet *m, cg_ddpm_sched *s, int use_ema, char *err,
                       size_t errlen);
/* Is this safetensors file (or run directory) a DDPM checkpoint? */
int cg_ddpm_is_checkpoint(const char *path);

#endif
