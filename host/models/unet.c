/*
 * unet.c: the DDPM UNet (architecture and names in cugen/ddpm.h): flags
 * parsed into an architecture, its layers (cugen/layers.h) declared under
 * the PyTorch port's state_dict names with DDPM's zero init where it
 * differs from PyTorch's default, and the forward on the layers' forwards.
 *
 * Not for: the diffusion (ddpm.c), the training run (ddpm_train.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/ddpm.h"
#include "cugen/ops.h"

#define GN_EPS 1e-6
#define MAX_PERIOD 10000.0

/* ---- flags -------------------------------------------------------------- */

/* Comma-separated positive integers into v[0..max-1]; the count, or -1. */
static int parse_ints(const char *s, int *v, int max, int hi)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        if (*p < '0' || *p > '9')
            return -1;
        long x = strtol(p, &end, 10);
        if (end == p || x < 1 || x > hi || n == max)
            return -1;
        v[n++] = (int)x;
        p = end;
        if (*p == ',') {
            if (!p[1])
                return -1;
            p++;
        } else if (*p) {
            return -1;
        }
    }
    return n;
}

cg_status cg_unet_parse_mult(const char *s, cg_unet_arch *a, char *err, size_t errlen)
{
    int v[CG_UNET_MAX_LEVELS];
    int n = s ? parse_ints(s, v, CG_UNET_MAX_LEVELS, 64) : -1;
    if (n < 1) {
        snprintf(err, errlen, "--ch-mult must be 1 to %d comma-separated integers in 1..64 "
                 "(e.g. 1,2,2,2), got '%s'", CG_UNET_MAX_LEVELS, s ? s : "");
        return CG_ERR_ARG;
    }
    a->nlevels = n;
    memcpy(a->ch_mult, v, sizeof(int) * (size_t)n);
    return CG_OK;
}

cg_status cg_unet_parse_attn(const char *s, cg_unet_arch *a, char *err, size_t errlen)
{
    a->attn = 0;
    if (s && strcmp(s, "none") == 0)
        return CG_OK;
    int v[8];
    int n = s ? parse_ints(s, v, 8, 1 << 14) : -1;
    for (int i = 0; i < n; i++) {
        if (v[i] & (v[i] - 1))
            n = -1;
        else
            a->attn |= (unsigned)v[i];
    }
    if (n < 1) {
        snprintf(err, errlen, "--attn must be 'none' or comma-separated powers of two (the "
                 "resolutions with self-attention, e.g. 16), got '%s'", s ? s : "");
        a->attn = 0;
        return CG_ERR_ARG;
    }
    return CG_OK;
}

/* ---- architecture -------------------------------------------------------- */

/* Attention at resolution res? (the mask holds powers of two only) */
static int attn_at(const cg_unet_arch *a, int res)
{
    return (res & (res - 1)) == 0 && (a->attn & (unsigned)res) != 0;
}

static cg_status check_arch(const cg_unet_arch *a, char *err, size_t errlen)
{
    if (a->in_ch != 1 && a->in_ch != 3) {
        snprintf(err, errlen, "ddpm: images must have 1 or 3 channels, got %d", a->in_ch);
        return CG_ERR_ARG;
    }
    if (a->ch < 1 || a->ch > 1024 || a->ch % 2) {
        snprintf(err, errlen, "ddpm: --ch must be even and in 2..1024 (the timestep embedding "
                 "has ch dims, half cosines and half sines), got %d", a->ch);
        return CG_ERR_ARG;
    }
    if (a->nlevels < 1 || a->nlevels > CG_UNET_MAX_LEVELS) {
        snprintf(err, errlen, "ddpm: 1 to %d levels of --ch-mult, got %d", CG_UNET_MAX_LEVELS,
                 a->nlevels);
        return CG_ERR_ARG;
    }
    for (int i = 0; i < a->nlevels; i++)
        if (a->ch_mult[i] < 1 || (int64_t)a->ch * a->ch_mult[i] > 4096) {
            snprintf(err, errlen, "ddpm: --ch-mult %d at level %d gives width %lld (1..4096)",
                     a->ch_mult[i], i, (long long)a->ch * a->ch_mult[i]);
            return CG_ERR_ARG;
        }
    if (a->num_res_blocks < 1 || a->num_res_blocks > CG_UNET_MAX_BLOCKS) {
        snprintf(err, errlen, "ddpm: --num-res-blocks must be in 1..%d, got %d",
                 CG_UNET_MAX_BLOCKS, a->num_res_blocks);
        return CG_ERR_ARG;
    }
    int S = a->image_size, k = a->nlevels - 1;
    if (S < 1 || S > 1024 || S % (1 << k)) {
        snprintf(err, errlen, "ddpm: image size %d cannot be halved %d times (%d levels of "
                 "--ch-mult)", S, k, a->nlevels);
        return CG_ERR_ARG;
    }
    unsigned used = 0;
    for (int i = 0; i < a->nlevels; i++)
        used |= attn_at(a, S >> i) ? (unsigned)(S >> i) : 0;
    if (a->attn != used) {
        snprintf(err, errlen, "ddpm: --attn names a resolution the UNet does not have: its "
                 "levels are at %d down to %d", S, S >> k);
        return CG_ERR_ARG;
    }
    if (a->groups < 0 || a->groups > 1024 || !(a->dropout >= 0 && a->dropout < 1)) {
        snprintf(err, errlen, "ddpm: need 0 <= groups <= 1024 and 0 <= dropout < 1, got %d "
                 "and %g", a->groups, a->dropout);
        return CG_ERR_ARG;
    }
    return CG_OK;
}

/* ---- declaration ---------------------------------------------------------- */

/* GroupNorm groups for width c: min(max, c), lowered until it divides c */
static int groups_for(int c, int max)
{
    int g = c < max ? c : max;
    while (c % g)
        g--;
    return g;
}

/* "<prefix>.<name>" in buf (CG_NN_NAME_MAX); a longer name is refused by the layer */
static const char *at(char *buf, const char *prefix, const char *name)
{
    snprintf(buf, CG_NN_NAME_MAX, "%s.%s", prefix, name);
    return buf;
}

/* nn.GroupNorm(groups_for(C), C, eps=1e-6) */
static void norm_declare(cg_unet *m, cg_nn_groupnorm *n, const char *name, int C)
{
    cg_nn_groupnorm_declare(&m->nn, n, name, groups_for(C, m->a.groups), C);
    n->eps = GN_EPS;
}

static void res_declare(cg_unet *m, cg_unet_res *r, const char *prefix, int cin, int cout)
{
    cg_nn *nn = &m->nn;
    char n[CG_NN_NAME_MAX];
    norm_declare(m, &r->norm1, at(n, prefix, "norm1"), cin);
    cg_nn_conv2d_declare(nn, &r->conv1, at(n, prefix, "conv1"), cin, cout, 3, 1, 1, 1);
    cg_nn_linear_declare(nn, &r->temb_proj, at(n, prefix, "temb_proj"), 4 * m->a.ch, cout, 1);
    norm_declare(m, &r->norm2, at(n, prefix, "norm2"), cout);
    cg_nn_conv2d_declare(nn, &r->conv2, at(n, prefix, "conv2"), cout, cout, 3, 1, 1, 1);
    r->conv2.hdr.init = cg_nn_init_zeros;
    if (cin != cout)
        cg_nn_conv2d_declare(nn, &r->nin_shortcut, at(n, prefix, "nin_shortcut"), cin, cout, 1,
                             1, 0, 1);
}

static void attn_declare(cg_unet *m, cg_unet_attn *a, const char *prefix, int C)
{
    cg_nn *nn = &m->nn;
    char n[CG_NN_NAME_MAX];
    norm_declare(m, &a->norm, at(n, prefix, "norm"), C);
    cg_nn_conv2d_declare(nn, &a->q, at(n, prefix, "q"), C, C, 1, 1, 0, 1);
    cg_nn_conv2d_declare(nn, &a->k, at(n, prefix, "k"), C, C, 1, 1, 0, 1);
    cg_nn_conv2d_declare(nn, &a->v, at(n, prefix, "v"), C, C, 1, 1, 0, 1);
    cg_nn_conv2d_declare(nn, &a->proj_out, at(n, prefix, "proj_out"), C, C, 1, 1, 0, 1);
    a->proj_out.hdr.init = cg_nn_init_zeros;
}

/* The layers in the PyTorch port's __init__ order, which is the order of
 * the flat buffer and of cg_nn_init's draws. */
static void unet_declare(cg_unet *m)
{
    const cg_unet_arch *a = &m->a;
    cg_nn *nn = &m->nn;
    int ch = a->ch, L = a->nlevels, nrb = a->num_res_blocks;
    char n[CG_NN_NAME_MAX];
    cg_nn_linear_declare(nn, &m->temb_dense[0], "temb.dense.0", ch, 4 * ch, 1);
    cg_nn_linear_declare(nn, &m->temb_dense[1], "temb.dense.1", 4 * ch, 4 * ch, 1);
    cg_nn_conv2d_declare(nn, &m->conv_in, "conv_in", a->in_ch, ch, 3, 1, 1, 1);
    /* widths of the skips the down path pushes, in order */
    int skip[CG_UNET_MAX_LEVELS * (CG_UNET_MAX_BLOCKS + 1) + 1], ns = 0;
    int cur = skip[ns++] = ch;
    for (int i = 0; i < L; i++) {
        cg_unet_down *lv = &m->down[i];
        int out = ch * a->ch_mult[i];
        lv->has_attn = attn_at(a, a->image_size >> i);
        for (int j = 0; j < nrb; j++) {
            snprintf(n, sizeof n, "down.%d.block.%d", i, j);
            res_declare(m, &lv->block[j], n, cur, out);
            cur = out;
            if (lv->has_attn) {
                snprintf(n, sizeof n, "down.%d.attn.%d", i, j);
                attn_declare(m, &lv->attn[j], n, cur);
            }
            skip[ns++] = cur;
        }
        if (i < L - 1) {
            snprintf(n, sizeof n, "down.%d.downsample.conv", i);
            cg_nn_conv2d_declare(nn, &lv->downsample, n, cur, cur, 3, 2, 1, 1);
            skip[ns++] = cur;
        }
    }
    res_declare(m, &m->mid1, "mid.block_1", cur, cur);
    attn_declare(m, &m->mid_attn, "mid.attn_1", cur);
    res_declare(m, &m->mid2, "mid.block_2", cur, cur);
    /* the port builds the up levels from the top (up.L-1 first, into an
     * insert(0) list): that is the declaration order, the names keep i */
    for (int i = L - 1; i >= 0; i--) {
        cg_unet_up *lv = &m->up[i];
        int out = ch * a->ch_mult[i];
        lv->has_attn = attn_at(a, a->image_size >> i);
        for (int j = 0; j < nrb + 1; j++) {
            snprintf(n, sizeof n, "up.%d.block.%d", i, j);
            res_declare(m, &lv->block[j], n, cur + skip[--ns], out);
            cur = out;
            if (lv->has_attn) {
                snprintf(n, sizeof n, "up.%d.attn.%d", i, j);
                attn_declare(m, &lv->attn[j], n, cur);
            }
        }
        if (i > 0) {
            snprintf(n, sizeof n, "up.%d.upsample.conv", i);
            cg_nn_conv2d_declare(nn, &lv->upsample, n, cur, cur, 3, 1, 1, 1);
        }
    }
    norm_declare(m, &m->norm_out, "norm_out", cur);
    cg_nn_conv2d_declare(nn, &m->conv_out, "conv_out", cur, a->in_ch, 3, 1, 1, 1);
    m->conv_out.hdr.init = cg_nn_init_zeros;
}

cg_status cg_unet_build(cg_unet *m, const cg_unet_arch *a, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cg_params_init(&m->p);
    cg_status st = check_arch(a, err, errlen);
    if (st != CG_OK)
        return st;
    m->a = *a;
    if (!m->a.groups)
        m->a.groups = 32;
    cg_nn_begin(&m->nn, &m->p);
    unet_declare(m);
    return cg_nn_alloc_for(&m->nn, "ddpm", err, errlen);
}

void cg_unet_free(cg_unet *m)
{
    cg_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

cg_status cg_unet_init(cg_unet *m, uint64_t seed, uint32_t stream)
{
    return cg_nn_init_seeded(&m->nn, seed, stream);
}

/* ---- forward ----------------------------------------------------------------- */

typedef struct {
    cg_ctx *ctx;
    cg_tensor *temb;     /* silu(temb) (N, 4ch), what every block projects */
    cg_rng *drop;
    int training;
    double p;
} fwd;

static cg_tensor *gn_silu(cg_ctx *ctx, cg_nn_groupnorm *n, cg_tensor *x)
{
    return cg_silu(ctx, cg_nn_groupnorm_fwd(ctx, n, x));
}

static cg_tensor *res_fwd(fwd *f, cg_unet_res *r, cg_tensor *x)
{
    cg_ctx *ctx = f->ctx;
    cg_tensor *h = cg_nn_conv2d_fwd(ctx, &r->conv1, gn_silu(ctx, &r->norm1, x));
    /* temb_proj(silu(temb))[:, :, None, None] */
    cg_tensor *tp = cg_nn_linear_fwd(ctx, &r->temb_proj, f->temb);
    if (tp)
        tp = cg_reshape(ctx, tp, CG_SHAPE(tp->shape[0], tp->shape[1], 1, 1));
    h = cg_add(ctx, h, tp);
    h = cg_dropout(ctx, gn_silu(ctx, &r->norm2, h), f->p, f->drop, f->training);
    h = cg_nn_conv2d_fwd(ctx, &r->conv2, h);
    cg_tensor *s = r->nin_shortcut.weight ? cg_nn_conv2d_fwd(ctx, &r->nin_shortcut, x) : x;
    return cg_add(ctx, s, h);
}

/* x (N, C, H, W): q, k, v as (N, C, HW); scores (N, HW, HW) = q^T k / sqrt(C),
 * softmax over the keys (last dim); out (N, C, HW) = v w^T. */
static cg_tensor *attn_fwd(cg_ctx *ctx, cg_unet_attn *a, cg_tensor *x)
{
    if (!x)
        return NULL;
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    cg_tensor *h = cg_nn_groupnorm_fwd(ctx, &a->norm, x);
    cg_tensor *q = cg_nn_conv2d_fwd(ctx, &a->q, h);
    cg_tensor *k = cg_nn_conv2d_fwd(ctx, &a->k, h);
    cg_tensor *v = cg_nn_conv2d_fwd(ctx, &a->v, h);
    q = cg_reshape(ctx, q, CG_SHAPE(N, C, H * W));
    k = cg_reshape(ctx, k, CG_SHAPE(N, C, H * W));
    v = cg_reshape(ctx, v, CG_SHAPE(N, C, H * W));
    cg_tensor *w = cg_scale(ctx, cg_bmm(ctx, q, k, 1, 0), 1.0 / sqrt((double)C));
    w = cg_softmax(ctx, w);
    cg_tensor *o = cg_reshape(ctx, cg_bmm(ctx, v, w, 0, 1), CG_SHAPE(N, C, H, W));
    return cg_add(ctx, x, cg_nn_conv2d_fwd(ctx, &a->proj_out, o));
}

cg_tensor *cg_unet_forward(cg_ctx *ctx, cg_unet *m, cg_tensor *x, cg_tensor *t, cg_rng *drop,
                           int training)
{
    if (!x || !t)
        return NULL;
    const cg_unet_arch *a = &m->a;
    int S = a->image_size;
    if (x->ndim != 4 || x->shape[1] != a->in_ch || x->shape[2] != S || x->shape[3] != S) {
        cg_fail(ctx, CG_ERR_ARG, "ddpm: the UNet takes images (N, %d, %d, %d), got %s",
                a->in_ch, S, S, CG_SHAPE_STR(x));
        return NULL;
    }
    if (t->n != x->shape[0]) {
        cg_fail(ctx, CG_ERR_ARG, "ddpm: %d images but %lld timesteps", x->shape[0],
                (long long)t->n);
        return NULL;
    }
    /* temb = dense.1(silu(dense.0(timestep_embedding(t, ch)))) */
    cg_tensor *e = cg_timestep_embedding(ctx, t, a->ch, MAX_PERIOD);
    e = cg_nn_linear_fwd(ctx, &m->temb_dense[0], e);
    e = cg_nn_linear_fwd(ctx, &m->temb_dense[1], cg_silu(ctx, e));
    fwd F = {.ctx = ctx, .temb = cg_silu(ctx, e), .drop = drop, .training = training,
             .p = a->dropout}, *f = &F;
    int L = a->nlevels, nrb = a->num_res_blocks;
    cg_tensor *hs[CG_UNET_MAX_LEVELS * (CG_UNET_MAX_BLOCKS + 1) + 1];
    int ns = 0;
    cg_tensor *h = hs[ns++] = cg_nn_conv2d_fwd(ctx, &m->conv_in, x);
    for (int i = 0; i < L; i++) {
        cg_unet_down *lv = &m->down[i];
        for (int j = 0; j < nrb; j++) {
            h = res_fwd(f, &lv->block[j], h);
            if (lv->has_attn)
                h = attn_fwd(ctx, &lv->attn[j], h);
            hs[ns++] = h;
        }
        if (i < L - 1)
            h = hs[ns++] = cg_nn_conv2d_fwd(ctx, &lv->downsample, h);
    }
    h = res_fwd(f, &m->mid1, h);
    h = attn_fwd(ctx, &m->mid_attn, h);
    h = res_fwd(f, &m->mid2, h);
    for (int i = L - 1; i >= 0; i--) {
        cg_unet_up *lv = &m->up[i];
        for (int j = 0; j < nrb + 1; j++) {
            cg_tensor *cat[2] = {h, hs[--ns]};
            h = res_fwd(f, &lv->block[j], cg_concat(ctx, cat, 2));
            if (lv->has_attn)
                h = attn_fwd(ctx, &lv->attn[j], h);
        }
        if (i > 0)
            h = cg_nn_conv2d_fwd(ctx, &lv->upsample, cg_upsample2x(ctx, h));
    }
    h = gn_silu(ctx, &m->norm_out, h);
    return cg_nn_conv2d_fwd(ctx, &m->conv_out, h);
}
