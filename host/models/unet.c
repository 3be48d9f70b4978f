/*
 * unet.c: the DDPM UNet (architecture and names in cugen/ddpm.h): flags
 * parsed into an architecture, the parameters declared in one flat buffer
 * under the PyTorch port's state_dict names, the initialisation, and the
 * forward pass, written only with ops so that the tape differentiates it.
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

/* ---- declaration ---------------------------------------------------------- */

typedef struct {
    cg_params *p;
    int bad;      /* a declaration failed */
    int groups;
} decl;

static cg_tensor *param(decl *d, const char *prefix, const char *name, const int *shape,
                        int ndim)
{
    char full[128];
    snprintf(full, sizeof full, "%.96s.%.16s", prefix, name);
    cg_tensor *t = cg_param(d->p, full, shape, ndim, 0);
    if (!t)
        d->bad = 1;
    return t;
}

static void conv(decl *d, cg_unet_lin *l, const char *prefix, int cin, int cout, int k)
{
    l->w = param(d, prefix, "weight", CG_SHAPE(cout, cin, k, k));
    l->b = param(d, prefix, "bias", CG_SHAPE(cout));
}

static void linear(decl *d, cg_unet_lin *l, const char *prefix, int in, int out)
{
    l->w = param(d, prefix, "weight", CG_SHAPE(out, in));
    l->b = param(d, prefix, "bias", CG_SHAPE(out));
}

static int groups_for(int c, int max)
{
    int g = c < max ? c : max;
    while (c % g)
        g--;
    return g;
}

static void norm(decl *d, cg_unet_norm *n, const char *prefix, int c)
{
    n->g = param(d, prefix, "weight", CG_SHAPE(c));
    n->b = param(d, prefix, "bias", CG_SHAPE(c));
    n->groups = groups_for(c, d->groups);
}

/* prefix.name; prefixes are short ("up.3.block.4.norm1") */
static void sub(char *out, size_t len, const char *prefix, const char *name)
{
    snprintf(out, len, "%.60s.%.30s", prefix, name);
}

static void res_block(decl *d, cg_unet_res *r, const char *prefix, int cin, int cout, int tdim)
{
    char n[128];
    r->cin = cin;
    r->cout = cout;
    sub(n, sizeof n, prefix, "norm1");
    norm(d, &r->norm1, n, cin);
    sub(n, sizeof n, prefix, "conv1");
    conv(d, &r->conv1, n, cin, cout, 3);
    sub(n, sizeof n, prefix, "temb_proj");
    linear(d, &r->temb_proj, n, tdim, cout);
    sub(n, sizeof n, prefix, "norm2");
    norm(d, &r->norm2, n, cout);
    sub(n, sizeof n, prefix, "conv2");
    conv(d, &r->conv2, n, cout, cout, 3);
    if (cin != cout) {
        sub(n, sizeof n, prefix, "nin_shortcut");
        conv(d, &r->nin, n, cin, cout, 1);
    }
}

static void attn_block(decl *d, cg_unet_attn *a, const char *prefix, int c)
{
    char n[128];
    a->c = c;
    sub(n, sizeof n, prefix, "norm");
    norm(d, &a->norm, n, c);
    cg_unet_lin *l[4] = {&a->q, &a->k, &a->v, &a->proj_out};
    const char *names[4] = {"q", "k", "v", "proj_out"};
    for (int i = 0; i < 4; i++) {
        sub(n, sizeof n, prefix, names[i]);
        conv(d, l[i], n, c, c, 1);
    }
}

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
    decl D = {.p = &m->p, .groups = m->a.groups}, *d = &D;
    int ch = a->ch, tdim = 4 * ch, L = a->nlevels, nrb = a->num_res_blocks;
    linear(d, &m->temb0, "temb.dense.0", ch, tdim);
    linear(d, &m->temb1, "temb.dense.1", tdim, tdim);
    conv(d, &m->conv_in, "conv_in", a->in_ch, ch, 3);
    /* widths of the skips the down path pushes, in order */
    int skip[CG_UNET_MAX_LEVELS * (CG_UNET_MAX_BLOCKS + 1) + 1], ns = 0;
    skip[ns++] = ch;
    int cur = ch;
    char n[128];
    for (int i = 0; i < L; i++) {
        int res = a->image_size >> i, out = ch * a->ch_mult[i];
        cg_unet_level *lv = &m->down[i];
        lv->has_attn = attn_at(a, res);
        for (int j = 0; j < nrb; j++) {
            snprintf(n, sizeof n, "down.%d.block.%d", i, j);
            res_block(d, &lv->block[j], n, cur, out, tdim);
            cur = out;
            if (lv->has_attn) {
                snprintf(n, sizeof n, "down.%d.attn.%d", i, j);
                attn_block(d, &lv->attn[j], n, cur);
            }
            skip[ns++] = cur;
        }
        if (i < L - 1) {
            snprintf(n, sizeof n, "down.%d.downsample.conv", i);
            conv(d, &lv->resample, n, cur, cur, 3);
            skip[ns++] = cur;
        }
    }
    res_block(d, &m->mid1, "mid.block_1", cur, cur, tdim);
    attn_block(d, &m->mid_attn, "mid.attn_1", cur);
    res_block(d, &m->mid2, "mid.block_2", cur, cur, tdim);
    /* PyTorch's port declares the up levels from the top (up.L-1 first
     * into an insert(0) list); declaration order does not change names */
    for (int i = L - 1; i >= 0; i--) {
        int res = a->image_size >> i, out = ch * a->ch_mult[i];
        cg_unet_level *lv = &m->up[i];
        lv->has_attn = attn_at(a, res);
        for (int j = 0; j < nrb + 1; j++) {
            snprintf(n, sizeof n, "up.%d.block.%d", i, j);
            res_block(d, &lv->block[j], n, cur + skip[--ns], out, tdim);
            cur = out;
            if (lv->has_attn) {
                snprintf(n, sizeof n, "up.%d.attn.%d", i, j);
                attn_block(d, &lv->attn[j], n, cur);
            }
        }
        if (i > 0) {
            snprintf(n, sizeof n, "up.%d.upsample.conv", i);
            conv(d, &lv->resample, n, cur, cur, 3);
        }
    }
    norm(d, &m->norm_out, "norm_out", cur);
    conv(d, &m->conv_out, "conv_out", cur, a->in_ch, 3);
    if (d->bad) {
        snprintf(err, errlen, "ddpm: out of memory declaring the parameters");
        cg_params_free(&m->p);
        return CG_ERR_NOMEM;
    }
    if ((st = cg_params_alloc(&m->p)) != CG_OK) {
        snprintf(err, errlen, "ddpm: out of memory for %lld parameters",
                 (long long)cg_params_count(&m->p));
        cg_params_free(&m->p);
    }
    return st;
}

void cg_unet_free(cg_unet *m)
{
    cg_params_free(&m->p);
    memset(m, 0, sizeof *m);
}

/* ---- initialisation ------------------------------------------------------ */

static void init_lin(cg_unet_lin *l, cg_rng *r, int zero)
{
    if (!l->w)
        return;
    int64_t fan_in = l->w->n / l->w->shape[0];
    double bound = 1.0 / sqrt((double)fan_in);
    if (zero) {
        cg_init_const(l->w, 0.0);
        cg_init_const(l->b, 0.0);
        return;
    }
    cg_init_uniform(l->w, r, -bound, bound);
    cg_init_uniform(l->b, r, -bound, bound);
}

static void init_norm(cg_unet_norm *n)
{
    cg_init_const(n->g, 1.0);
    cg_init_const(n->b, 0.0);
}

static void init_res(cg_unet_res *b, cg_rng *r)
{
    init_norm(&b->norm1);
    init_norm(&b->norm2);
    init_lin(&b->conv1, r, 0);
    init_lin(&b->temb_proj, r, 0);
    init_lin(&b->conv2, r, 1);
    init_lin(&b->nin, r, 0);
}

static void init_attn(cg_unet_attn *a, cg_rng *r)
{
    init_norm(&a->norm);
    init_lin(&a->q, r, 0);
    init_lin(&a->k, r, 0);
    init_lin(&a->v, r, 0);
    init_lin(&a->proj_out, r, 1);
}

static void init_level(cg_unet_level *lv, int nblocks, cg_rng *r)
{
    for (int j = 0; j < nblocks; j++) {
        init_res(&lv->block[j], r);
        if (lv->has_attn)
            init_attn(&lv->attn[j], r);
    }
    init_lin(&lv->resample, r, 0);
}

void cg_unet_init(cg_unet *m, uint64_t seed, uint32_t stream)
{
    cg_rng r;
    cg_rng_init(&r, seed, stream);
    init_lin(&m->temb0, &r, 0);
    init_lin(&m->temb1, &r, 0);
    init_lin(&m->conv_in, &r, 0);
    for (int i = 0; i < m->a.nlevels; i++)
        init_level(&m->down[i], m->a.num_res_blocks, &r);
    init_res(&m->mid1, &r);
    init_attn(&m->mid_attn, &r);
    init_res(&m->mid2, &r);
    for (int i = m->a.nlevels - 1; i >= 0; i--)
        init_level(&m->up[i], m->a.num_res_blocks + 1, &r);
    init_norm(&m->norm_out);
    init_lin(&m->conv_out, &r, 1);
}

/* ---- forward ----------------------------------------------------------------- */

typedef struct {
    cg_ctx *ctx;
    cg_tensor *temb;     /* silu(temb) (N, 4ch), what every block projects */
    cg_rng *drop;
    int training;
    double p;
} fwd;

static cg_tensor *gn_silu(fwd *f, cg_unet_norm *n, cg_tensor *x)
{
    return cg_silu(f->ctx, cg_groupnorm(f->ctx, x, n->g, n->b, n->groups, GN_EPS));
}

static cg_tensor *res_fwd(fwd *f, cg_unet_res *r, cg_tensor *x)
{
    cg_ctx *ctx = f->ctx;
    cg_tensor *h = cg_conv2d(ctx, gn_silu(f, &r->norm1, x), r->conv1.w, r->conv1.b, 1, 1);
    cg_tensor *tp = cg_linear(ctx, f->temb, r->temb_proj.w, r->temb_proj.b);
    if (tp)
        tp = cg_reshape(ctx, tp, CG_SHAPE(tp->shape[0], r->cout, 1, 1));
    h = cg_add(ctx, h, tp);
    h = cg_dropout(ctx, gn_silu(f, &r->norm2, h), f->p, f->drop, f->training);
    h = cg_conv2d(ctx, h, r->conv2.w, r->conv2.b, 1, 1);
    cg_tensor *s = r->nin.w ? cg_conv2d(ctx, x, r->nin.w, r->nin.b, 1, 0) : x;
    return cg_add(ctx, s, h);
}

/* x (N, C, H, W): q, k, v as (N, C, HW); scores (N, HW, HW) = q^T k / sqrt(C),
 * softmax over the keys (last dim); out (N, C, HW) = v w^T. */
static cg_tensor *attn_fwd(fwd *f, cg_unet_attn *a, cg_tensor *x)
{
    cg_ctx *ctx = f->ctx;
    if (!x)
        return NULL;
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    cg_tensor *h = cg_groupnorm(ctx, x, a->norm.g, a->norm.b, a->norm.groups, GN_EPS);
    cg_tensor *q = cg_conv2d(ctx, h, a->q.w, a->q.b, 1, 0);
    cg_tensor *k = cg_conv2d(ctx, h, a->k.w, a->k.b, 1, 0);
    cg_tensor *v = cg_conv2d(ctx, h, a->v.w, a->v.b, 1, 0);
    q = cg_reshape(ctx, q, CG_SHAPE(N, C, H * W));
    k = cg_reshape(ctx, k, CG_SHAPE(N, C, H * W));
    v = cg_reshape(ctx, v, CG_SHAPE(N, C, H * W));
    cg_tensor *w = cg_scale(ctx, cg_bmm(ctx, q, k, 1, 0), 1.0 / sqrt((double)C));
    w = cg_softmax(ctx, w);
    cg_tensor *o = cg_reshape(ctx, cg_bmm(ctx, v, w, 0, 1), CG_SHAPE(N, C, H, W));
    o = cg_conv2d(ctx, o, a->proj_out.w, a->proj_out.b, 1, 0);
    return cg_add(ctx, x, o);
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
    cg_tensor *e = cg_timestep_embedding(ctx, t, a->ch, MAX_PERIOD);
    e = cg_linear(ctx, e, m->temb0.w, m->temb0.b);
    e = cg_linear(ctx, cg_silu(ctx, e), m->temb1.w, m->temb1.b);
    fwd F = {.ctx = ctx, .temb = cg_silu(ctx, e), .drop = drop, .training = training,
             .p = a->dropout}, *f = &F;
    cg_tensor *hs[CG_UNET_MAX_LEVELS * (CG_UNET_MAX_BLOCKS + 1) + 1];
    int ns = 0;
    cg_tensor *h = hs[ns++] = cg_conv2d(ctx, x, m->conv_in.w, m->conv_in.b, 1, 1);
    for (int i = 0; i < a->nlevels; i++) {
        cg_unet_level *lv = &m->down[i];
        for (int j = 0; j < a->num_res_blocks; j++) {
            h = res_fwd(f, &lv->block[j], h);
            if (lv->has_attn)
                h = attn_fwd(f, &lv->attn[j], h);
            hs[ns++] = h;
        }
        if (lv->resample.w)
            h = hs[ns++] = cg_conv2d(ctx, h, lv->resample.w, lv->resample.b, 2, 1);
    }
    h = res_fwd(f, &m->mid2, attn_fwd(f, &m->mid_attn, res_fwd(f, &m->mid1, h)));
    for (int i = a->nlevels - 1; i >= 0; i--) {
        cg_unet_level *lv = &m->up[i];
        for (int j = 0; j < a->num_res_blocks + 1; j++) {
            cg_tensor *cat[2] = {h, hs[--ns]};
            h = res_fwd(f, &lv->block[j], cg_concat(ctx, cat, 2));
            if (lv->has_attn)
                h = attn_fwd(f, &lv->attn[j], h);
        }
        if (lv->resample.w)
            h = cg_conv2d(ctx, cg_upsample2x(ctx, h), lv->resample.w, lv->resample.b, 1, 1);
    }
    h = gn_silu(f, &m->norm_out, h);
    return cg_conv2d(ctx, h, m->conv_out.w, m->conv_out.b, 1, 1);
}
