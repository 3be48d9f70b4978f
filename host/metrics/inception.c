/*
 * inception.c: the Inception-v3 network of the standard FID (pytorch-fid's
 * FID variant of torchvision's inception_v3), in inference mode, as a
 * feature network: images -> the 2048 global-average-pooled features
 * ("pool3").
 *
 * Layout (torchvision's names; every conv is a BasicConv2d: conv without
 * bias, BatchNorm with eps 1e-3, ReLU):
 *
 *   resize to 299x299 (bilinear, align_corners off), scale [0, 1] -> [-1, 1]
 *   Conv2d_1a_3x3 3->32 k3 s2, Conv2d_2a_3x3 32->32 k3, Conv2d_2b_3x3
 *   32->64 k3 p1, max pool k3 s2, Conv2d_3b_1x1 64->80, Conv2d_4a_3x3
 *   80->192 k3, max pool k3 s2                               -> 192 x 35 x 35
 *   Mixed_5b, 5c, 5d: block A (pool features 32, 64, 64)    -> 288 x 35 x 35
 *   Mixed_6a: block B                                        -> 768 x 17 x 17
 *   Mixed_6b..6e: block C (7x7 widths 128, 160, 160, 192)    -> 768 x 17 x 17
 *   Mixed_7a: block D                                        -> 1280 x 8 x 8
 *   Mixed_7b, 7c: block E                                    -> 2048 x 8 x 8
 *   mean over the 8x8 pixels                                 -> 2048
 *
 * The FID differences from torchvision's classifier: the average pools of
 * the A, C and E branches do not count the padding, and Mixed_7c's pool
 * branch is a max pool (k3 s1 p1).
 *
 * Batch norm is folded into its conv when the weights are loaded: with
 * s = gamma / sqrt(running_var + eps) (in double), w' = w s per output
 * channel and b' = beta - running_mean s, so a layer is conv2d_hw + bias +
 * ReLU. The folded weights live in one flat buffer (cg_params buffers),
 * which moves to the GPU as a whole, with the classifier's fc.weight when
 * the file has it (the Inception Score's logits; its bias is not read, see
 * cugen/metrics.h).
 *
 * Not for: the Frechet distance (frechet.c), the data sets (host/cli).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/io.h"
#include "cugen/metrics.h"
#include "cugen/ops.h"

#define BN_EPS 1e-3
#define MAX_LAYERS 96

typedef struct {
    char name[48];                   /* e.g. "Mixed_6b.branch7x7_2" */
    int cin, cout, kh, kw, stride, ph, pw;
    cg_tensor *w, *b;                /* folded: (cout, cin, kh, kw), (cout) */
} inc_layer;

struct cg_inception {
    cg_params p;
    inc_layer l[MAX_LAYERS];
    int nl;
    cg_tensor *fc;                   /* the classifier (classes, 2048), or NULL */
    int classes;
};

/* ---- the layer list ---------------------------------------------------------------
 * Declared in the order the forward pass uses them, which walks the list
 * with a cursor. */

static void add(cg_inception *m, const char *blk, const char *br, int cin, int cout, int kh,
                int kw, int stride, int ph, int pw)
{
    if (m->nl >= MAX_LAYERS)
        return;
    inc_layer *l = &m->l[m->nl++];
    *l = (inc_layer){.cin = cin, .cout = cout, .kh = kh, .kw = kw, .stride = stride, .ph = ph,
                     .pw = pw};
    if (br)
        snprintf(l->name, sizeof l->name, "%s.%s", blk, br);
    else
        snprintf(l->name, sizeof l->name, "%s", blk);
}

static void decl_a(cg_inception *m, const char *b, int cin, int pool)
{
    add(m, b, "branch1x1", cin, 64, 1, 1, 1, 0, 0);
    add(m, b, "branch5x5_1", cin, 48, 1, 1, 1, 0, 0);
    add(m, b, "branch5x5_2", 48, 64, 5, 5, 1, 2, 2);
    add(m, b, "branch3x3dbl_1", cin, 64, 1, 1, 1, 0, 0);
    add(m, b, "branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1);
    add(m, b, "branch3x3dbl_3", 96, 96, 3, 3, 1, 1, 1);
    add(m, b, "branch_pool", cin, pool, 1, 1, 1, 0, 0);
}

static void decl_b(cg_inception *m, const char *b, int cin)
{
    add(m, b, "branch3x3", cin, 384, 3, 3, 2, 0, 0);
    add(m, b, "branch3x3dbl_1", cin, 64, 1, 1, 1, 0, 0);
    add(m, b, "branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1);
    add(m, b, "branch3x3dbl_3", 96, 96, 3, 3, 2, 0, 0);
}

static void decl_c(cg_inception *m, const char *b, int cin, int c7)
{
    add(m, b, "branch1x1", cin, 192, 1, 1, 1, 0, 0);
    add(m, b, "branch7x7_1", cin, c7, 1, 1, 1, 0, 0);
    add(m, b, "branch7x7_2", c7, c7, 1, 7, 1, 0, 3);
    add(m, b, "branch7x7_3", c7, 192, 7, 1, 1, 3, 0);
    add(m, b, "branch7x7dbl_1", cin, c7, 1, 1, 1, 0, 0);
    add(m, b, "branch7x7dbl_2", c7, c7, 7, 1, 1, 3, 0);
    add(m, b, "branch7x7dbl_3", c7, c7, 1, 7, 1, 0, 3);
    add(m, b, "branch7x7dbl_4", c7, c7, 7, 1, 1, 3, 0);
    add(m, b, "branch7x7dbl_5", c7, 192, 1, 7, 1, 0, 3);
    add(m, b, "branch_pool", cin, 192, 1, 1, 1, 0, 0);
}

static void decl_d(cg_inception *m, const char *b, int cin)
{
    add(m, b, "branch3x3_1", cin, 192, 1, 1, 1, 0, 0);
    add(m, b, "branch3x3_2", 192, 320, 3, 3, 2, 0, 0);
    add(m, b, "branch7x7x3_1", cin, 192, 1, 1, 1, 0, 0);
    add(m, b, "branch7x7x3_2", 192, 192, 1, 7, 1, 0, 3);
    add(m, b, "branch7x7x3_3", 192, 192, 7, 1, 1, 3, 0);
    add(m, b, "branch7x7x3_4", 192, 192, 3, 3, 2, 0, 0);
}

static void decl_e(cg_inception *m, const char *b, int cin)
{
    add(m, b, "branch1x1", cin, 320, 1, 1, 1, 0, 0);
    add(m, b, "branch3x3_1", cin, 384, 1, 1, 1, 0, 0);
    add(m, b, "branch3x3_2a", 384, 384, 1, 3, 1, 0, 1);
    add(m, b, "branch3x3_2b", 384, 384, 3, 1, 1, 1, 0);
    add(m, b, "branch3x3dbl_1", cin, 448, 1, 1, 1, 0, 0);
    add(m, b, "branch3x3dbl_2", 448, 384, 3, 3, 1, 1, 1);
    add(m, b, "branch3x3dbl_3a", 384, 384, 1, 3, 1, 0, 1);
    add(m, b, "branch3x3dbl_3b", 384, 384, 3, 1, 1, 1, 0);
    add(m, b, "branch_pool", cin, 192, 1, 1, 1, 0, 0);
}

static void declare(cg_inception *m)
{
    m->nl = 0;
    add(m, "Conv2d_1a_3x3", NULL, 3, 32, 3, 3, 2, 0, 0);
    add(m, "Conv2d_2a_3x3", NULL, 32, 32, 3, 3, 1, 0, 0);
    add(m, "Conv2d_2b_3x3", NULL, 32, 64, 3, 3, 1, 1, 1);
    add(m, "Conv2d_3b_1x1", NULL, 64, 80, 1, 1, 1, 0, 0);
    add(m, "Conv2d_4a_3x3", NULL, 80, 192, 3, 3, 1, 0, 0);
    decl_a(m, "Mixed_5b", 192, 32);
    decl_a(m, "Mixed_5c", 256, 64);
    decl_a(m, "Mixed_5d", 288, 64);
    decl_b(m, "Mixed_6a", 288);
    decl_c(m, "Mixed_6b", 768, 128);
    decl_c(m, "Mixed_6c", 768, 160);
    decl_c(m, "Mixed_6d", 768, 160);
    decl_c(m, "Mixed_6e", 768, 192);
    decl_d(m, "Mixed_7a", 768);
    decl_e(m, "Mixed_7b", 1280);
    decl_e(m, "Mixed_7c", 2048);
}

/* The five state_dict entries of each BasicConv2d. */
static const char *const PART[5] = {"conv.weight", "bn.weight", "bn.bias", "bn.running_mean",
                                    "bn.running_var"};

int cg_inception_layout(cg_inception_entry *e, int max)
{
    cg_inception m;
    declare(&m);
    int n = 0;
    for (int i = 0; i < m.nl; i++) {
        const inc_layer *l = &m.l[i];
        for (int k = 0; k < 5; k++, n++) {
            if (n >= max)
                continue;
            snprintf(e[n].name, sizeof e[n].name, "%s.%s", l->name, PART[k]);
            if (k == 0) {
                e[n].ndim = 4;
                e[n].shape[0] = l->cout;
                e[n].shape[1] = l->cin;
                e[n].shape[2] = l->kh;
                e[n].shape[3] = l->kw;
            } else {
                e[n].ndim = 1;
                e[n].shape[0] = l->cout;
            }
        }
    }
    return n;
}

/* ---- loading ------------------------------------------------------------------------ */

static const cg_st_tensor *find(const cg_st_tensor *t, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

/* The entry `name` of shape (d0[, d1, d2, d3]) in F32; NULL with err set. */
static const float *entry(const cg_st_tensor *t, int count, const char *name, int ndim,
                          const int *shape, char *err, size_t errlen)
{
    const cg_st_tensor *e = find(t, count, name);
    if (!e) {
        snprintf(err, errlen, "tensor '%s' is missing", name);
        return NULL;
    }
    if (e->dtype != CG_ST_F32) {
        snprintf(err, errlen, "tensor '%s' is %s, expected F32 (convert the weights with "
                 "scripts/convert_fid_inception.py)", name, cg_st_dtype_name(e->dtype));
        return NULL;
    }
    int ok = e->ndim == ndim;
    for (int k = 0; ok && k < ndim; k++)
        ok = e->shape[k] == shape[k];
    if (!ok) {
        char got[96] = "", want[96] = "";
        for (int k = 0; k < e->ndim && k < 8; k++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", k ? ", " : "",
                     (long long)e->shape[k]);
        for (int k = 0; k < ndim; k++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", k ? ", " : "",
                     shape[k]);
        snprintf(err, errlen, "tensor '%s' has shape (%s), expected (%s)", name, got, want);
        return NULL;
    }
    return e->data;
}

/* A little-endian F32 value at p (maybe unaligned). */
static double f32_at(const float *p, int64_t i)
{
    float v;
    memcpy(&v, (const char *)p + 4 * i, 4);
    return v;
}

static cg_status fold(inc_layer *l, const cg_st_tensor *t, int count, char *err, size_t errlen)
{
    const float *src[5];
    for (int k = 0; k < 5; k++) {
        char name[96];
        snprintf(name, sizeof name, "%s.%s", l->name, PART[k]);
        int shape[4] = {l->cout, l->cin, l->kh, l->kw};
        if (!(src[k] = entry(t, count, name, k == 0 ? 4 : 1, shape, err, errlen)))
            return CG_ERR_ARG;
    }
    int64_t per = (int64_t)l->cin * l->kh * l->kw;
    for (int c = 0; c < l->cout; c++) {
        double var = f32_at(src[4], c);
        if (!(var >= 0) || !isfinite(var)) {
            snprintf(err, errlen, "tensor '%s.bn.running_var' has %g at %d; a variance is >= 0",
                     l->name, var, c);
            return CG_ERR_ARG;
        }
        double s = f32_at(src[1], c) / sqrt(var + BN_EPS);
        for (int64_t i = 0; i < per; i++)
            l->w->data[c * per + i] = (real)(f32_at(src[0], c * per + i) * s);
        l->b->data[c] = (real)(f32_at(src[2], c) - f32_at(src[3], c) * s);
    }
    return CG_OK;
}

cg_status cg_inception_from_tensors(const cg_st_tensor *t, int count, cg_inception **out,
                                    char *err, size_t errlen)
{
    *out = NULL;
    cg_inception *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "inception: out of memory");
        return CG_ERR_NOMEM;
    }
    declare(m);
    cg_params_init(&m->p);
    const cg_st_tensor *fc = find(t, count, "fc.weight");
    if (fc && (fc->dtype != CG_ST_F32 || fc->ndim != 2 || fc->shape[0] < 2 ||
               fc->shape[1] != CG_INCEPTION_FEATURES)) {
        snprintf(err, errlen, "inception weights: tensor 'fc.weight' (the classifier) must be "
                 "F32 of shape (classes >= 2, %d)", CG_INCEPTION_FEATURES);
        cg_inception_free(m);
        return CG_ERR_ARG;
    }
    int ok = 1;
    if (fc) {
        m->classes = (int)fc->shape[0];
        ok = (m->fc = cg_buffer(&m->p, "fc.w", CG_SHAPE(m->classes, CG_INCEPTION_FEATURES))) !=
             NULL;
    }
    for (int i = 0; i < m->nl && ok; i++) {
        inc_layer *l = &m->l[i];
        char name[64];
        snprintf(name, sizeof name, "%s.w", l->name);
        l->w = cg_buffer(&m->p, name, CG_SHAPE(l->cout, l->cin, l->kh, l->kw));
        snprintf(name, sizeof name, "%s.b", l->name);
        l->b = cg_buffer(&m->p, name, CG_SHAPE(l->cout));
        ok = l->w && l->b;
    }
    cg_status st = ok ? cg_params_alloc(&m->p) : CG_ERR_NOMEM;
    if (st != CG_OK)
        snprintf(err, errlen, "inception: out of memory for the weights");
    for (int i = 0; i < m->nl && st == CG_OK; i++) {
        char why[512];
        if ((st = fold(&m->l[i], t, count, why, sizeof why)) != CG_OK)
            snprintf(err, errlen, "inception weights: %s", why);
    }
    for (int64_t i = 0; st == CG_OK && m->fc && i < m->fc->n; i++)
        m->fc->data[i] = (real)f32_at(fc->data, i);
    if (st != CG_OK) {
        cg_inception_free(m);
        return st;
    }
    *out = m;
    return CG_OK;
}

cg_status cg_inception_load(const char *path, cg_inception **out, char *err, size_t errlen)
{
    cg_st_file f;
    *out = NULL;
    cg_status st = cg_st_load(&f, path, err, errlen);
    if (st != CG_OK)
        return st;
    char why[1024];
    st = cg_inception_from_tensors(f.t, f.count, out, why, sizeof why);
    if (st != CG_OK)
        snprintf(err, errlen, "%.2000s: %s", path, why);
    cg_st_free(&f);
    return st;
}

cg_status cg_inception_to_device(cg_inception *m, char *err, size_t errlen)
{
    return cg_params_to_device(&m->p, err, errlen);
}

int cg_inception_device(const cg_inception *m)
{
    return m->p.dev;
}

int cg_inception_classes(const cg_inception *m)
{
    return m->classes;
}

void cg_inception_free(cg_inception *m)
{
    if (!m)
        return;
    cg_params_free(&m->p);
    free(m);
}

int cg_inception_weights_file(const char *path)
{
    /* the header alone: 8 bytes of length, then JSON naming every tensor */
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    unsigned char len8[8];
    int found = 0;
    if (fread(len8, 1, 8, fp) == 8) {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--)
            n = n << 8 | len8[i];
        char *h = n > 0 && n <= CG_ST_MAX_HEADER ? malloc(n + 1) : NULL;
        if (h && fread(h, 1, n, fp) == n) {
            h[n] = '\0';
            found = strstr(h, "\"Conv2d_1a_3x3.conv.weight\"") != NULL;
        }
        free(h);
    }
    fclose(fp);
    return found;
}

/* ---- forward --------------------------------------------------------------------------- */

typedef struct {
    cg_ctx *ctx;
    cg_inception *m;
    int at;          /* the next layer */
} walk;

/* The next BasicConv2d on x: conv (folded BN) + bias, ReLU. */
static cg_tensor *bc(walk *w, cg_tensor *x)
{
    if (!x)
        return NULL;
    if (w->at >= w->m->nl) {
        cg_fail(w->ctx, CG_ERR_STATE, "inception: ran past the last layer");
        return NULL;
    }
    const inc_layer *l = &w->m->l[w->at++];
    return cg_relu(w->ctx, cg_conv2d_hw(w->ctx, x, l->w, l->b, l->stride, l->ph, l->pw));
}

static cg_tensor *cat(cg_ctx *ctx, cg_tensor *a, cg_tensor *b, cg_tensor *c, cg_tensor *d)
{
    cg_tensor *xs[4] = {a, b, c, d};
    return cg_concat(ctx, xs, d ? 4 : 3);
}

static cg_tensor *block_a(walk *w, cg_tensor *x)
{
    cg_tensor *b1 = bc(w, x);
    cg_tensor *b5 = bc(w, bc(w, x));
    cg_tensor *b3 = bc(w, bc(w, bc(w, x)));
    cg_tensor *bp = bc(w, cg_avgpool2d(w->ctx, x, 3, 1, 1, 0));
    return cat(w->ctx, b1, b5, b3, bp);
}

static cg_tensor *block_b(walk *w, cg_tensor *x)
{
    cg_tensor *b3 = bc(w, x);
    cg_tensor *bd = bc(w, bc(w, bc(w, x)));
    cg_tensor *bp = cg_maxpool2d(w->ctx, x, 3, 2, 0);
    return cat(w->ctx, b3, bd, bp, NULL);
}

static cg_tensor *block_c(walk *w, cg_tensor *x)
{
    cg_tensor *b1 = bc(w, x);
    cg_tensor *b7 = bc(w, bc(w, bc(w, x)));
    cg_tensor *bd = bc(w, bc(w, bc(w, bc(w, bc(w, x)))));
    cg_tensor *bp = bc(w, cg_avgpool2d(w->ctx, x, 3, 1, 1, 0));
    return cat(w->ctx, b1, b7, bd, bp);
}

static cg_tensor *block_d(walk *w, cg_tensor *x)
{
    cg_tensor *b3 = bc(w, bc(w, x));
    cg_tensor *b7 = bc(w, bc(w, bc(w, bc(w, x))));
    cg_tensor *bp = cg_maxpool2d(w->ctx, x, 3, 2, 0);
    return cat(w->ctx, b3, b7, bp, NULL);
}

/* max_pool: the pool branch of Mixed_7c (FID); Mixed_7b's averages */
static cg_tensor *block_e(walk *w, cg_tensor *x, int max_pool)
{
    cg_ctx *ctx = w->ctx;
    cg_tensor *b1 = bc(w, x);
    cg_tensor *t = bc(w, x);
    cg_tensor *a = bc(w, t);
    cg_tensor *b = bc(w, t);
    cg_tensor *ab[2] = {a, b};
    cg_tensor *b3 = cg_concat(ctx, ab, 2);
    t = bc(w, bc(w, x));
    a = bc(w, t);
    b = bc(w, t);
    cg_tensor *cd[2] = {a, b};
    cg_tensor *bd = cg_concat(ctx, cd, 2);
    cg_tensor *p = max_pool ? cg_maxpool2d(ctx, x, 3, 1, 1) : cg_avgpool2d(ctx, x, 3, 1, 1, 0);
    cg_tensor *bp = bc(w, p);
    return cat(ctx, b1, b3, bd, bp);
}

cg_tensor *cg_inception_forward(cg_ctx *ctx, cg_inception *m, cg_tensor *x)
{
    if (!x)
        return NULL;
    if (x->ndim != 4 || x->shape[1] != 3) {
        char s[64];
        cg_fail(ctx, CG_ERR_ARG, "inception: takes images (N, 3, H, W), got %s",
                cg_shape_str(x, s, sizeof s));
        return NULL;
    }
    walk w = {ctx, m, 0};
    int N = x->shape[0];
    cg_tensor *h = cg_resize_bilinear(ctx, x, 299, 299);
    h = cg_affine(ctx, h, 2, -1);
    h = bc(&w, bc(&w, bc(&w, h)));                 /* 1a, 2a, 2b: 64 x 147 x 147 */
    h = cg_maxpool2d(ctx, h, 3, 2, 0);             /* 73 x 73 */
    h = bc(&w, bc(&w, h));                         /* 3b, 4a: 192 x 71 x 71 */
    h = cg_maxpool2d(ctx, h, 3, 2, 0);             /* 35 x 35 */
    for (int i = 0; i < 3; i++)
        h = block_a(&w, h);                        /* 288 x 35 x 35 */
    h = block_b(&w, h);                            /* 768 x 17 x 17 */
    for (int i = 0; i < 4; i++)
        h = block_c(&w, h);
    h = block_d(&w, h);                            /* 1280 x 8 x 8 */
    h = block_e(&w, h, 0);
    h = block_e(&w, h, 1);                         /* 2048 x 8 x 8 */
    if (h && (h->shape[2] != 8 || h->shape[3] != 8 || w.at != m->nl)) {
        cg_fail(ctx, CG_ERR_STATE, "inception: ended at %dx%d after %d of %d layers",
                h->shape[2], h->shape[3], w.at, m->nl);
        return NULL;
    }
    h = cg_avgpool2d(ctx, h, 8, 1, 0, 0);
    return cg_reshape(ctx, h, CG_SHAPE(N, CG_INCEPTION_FEATURES));
}

cg_tensor *cg_inception_logits(cg_ctx *ctx, cg_inception *m, cg_tensor *features)
{
    if (!features)
        return NULL;
    if (!m->fc) {
        cg_fail(ctx, CG_ERR_ARG, "inception: the weights have no classifier (fc.weight); "
                "convert them again with scripts/convert_fid_inception.py");
        return NULL;
    }
    return cg_linear(ctx, features, m->fc, NULL);  /* no bias: see cugen/metrics.h */
}

/* ---- as a feature network ------------------------------------------------------------------ */

typedef struct {
    cg_inception *m;
    int batch;
} inc_state;

/* x (n, C, H, W) in [-1, 1], C = 1 (repeated to 3, as pytorch-fid does for
 * grey images) or 3: the network wants [0, 1]. Features, or with logits the
 * classifier's logits. */
static cg_status net_rows(cg_feature_net *net, cg_ctx *ctx, const real *x, int n, int logits,
                          real *out)
{
    inc_state *s = net->state;
    int C = net->channels, H = net->height, W = net->width;
    int64_t P = (int64_t)C * H * W;
    int dev = cg_inception_device(s->m);
    int width = logits ? s->m->classes : CG_INCEPTION_FEATURES;
    for (int at = 0; at < n; at += s->batch) {
        int k = n - at < s->batch ? n - at : s->batch;
        cg_tensor *h = cg_wrap(ctx, (real *)x + at * P, CG_SHAPE(k, C, H, W));
        if (h && dev == CG_CUDA)
            h = cg_to_device(ctx, h, CG_CUDA);
        h = cg_affine(ctx, h, 0.5, 0.5);
        if (h && C == 1) {
            cg_tensor *rgb[3] = {h, h, h};
            h = cg_concat(ctx, rgb, 3);
        }
        cg_tensor *f = cg_inception_forward(ctx, s->m, h);
        if (logits)
            f = cg_inception_logits(ctx, s->m, f);
        if (!f)
            return ctx->err ? ctx->err : CG_ERR_STATE;
        cg_status st = cg_copy_to_host(ctx, out + (int64_t)at * width, f);
        if (st != CG_OK)
            return st;
        cg_ctx_step_end(ctx);
    }
    return CG_OK;
}

static cg_status net_features(cg_feature_net *net, cg_ctx *ctx, const real *x, int n, real *out)
{
    return net_rows(net, ctx, x, n, 0, out);
}

static cg_status net_logits(cg_feature_net *net, cg_ctx *ctx, const real *x, int n, real *out)
{
    return net_rows(net, ctx, x, n, 1, out);
}

static void net_free(cg_feature_net *net)
{
    inc_state *s = net->state;
    if (s) {
        cg_inception_free(s->m);
        free(s);
    }
    net->state = NULL;
}

cg_status cg_inception_feature_net(const char *path, int dev, cg_feature_net *net, char *err,
                                   size_t errlen)
{
    memset(net, 0, sizeof *net);
    inc_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "inception: out of memory");
        return CG_ERR_NOMEM;
    }
    cg_status st = cg_inception_load(path, &s->m, err, errlen);
    if (st == CG_OK && dev == CG_CUDA)
        st = cg_inception_to_device(s->m, err, errlen);
    if (st != CG_OK) {
        cg_inception_free(s->m);
        free(s);
        return st;
    }
    /* images per forward pass: the CPU's activations and im2col scratch take
     * about 60 MB an image at 299x299 */
    s->batch = dev == CG_CUDA ? 50 : 10;
    *net = (cg_feature_net){.name = "inception-v3", .dim = CG_INCEPTION_FEATURES,
                            .channels = 3, .height = 299, .width = 299, .any_size = 1,
                            .batch = s->batch, .state = s, .features = net_features,
                            .classes = s->m->classes,
                            .logits = s->m->classes ? net_logits : NULL, .free = net_free};
    return CG_OK;
}
