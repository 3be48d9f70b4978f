/*
 * eval_samples.c: `cugen eval --metric mmd|fid --real SRC --fake SRC`: how close two
 * sets of images are.
 *
 *   mmd  the lecture notes' compute_score on the pixels (both sets in
 *        [-1, 1]), with --sigma (default 1)
 *   fid  the Frechet distance between the features of a network (--net: the
 *        run directory or classifier.safetensors of `cugen train classifier`:
 *        FMNIST-FID; or the FID Inception-v3 weights converted by
 *        scripts/convert_fid_inception.py, told apart by its tensor names:
 *        Inception-FID on grey or RGB images of any size, grey repeated to
 *        three channels; --device cuda runs it on the GPU)
 *
 * A source SRC is
 *   fashion-mnist[:train|test]    Debian's Fashion-MNIST
 *   DIR[:train|test]              a folder of MNIST-format IDX files
 *   RUN                           an mlp-gan or dcgan run directory (its
 *                                 G.safetensors): --n images generated from
 *                                 seed --seed (dcgan: batch statistics in
 *                                 batches of 64, as the example samples);
 *                                 or a VAE, DDPM or image RealNVP run or
 *                                 checkpoint (eval_generate.c)
 *   FILE                          a packed file (cugen prepare)
 * Of a data set larger than --n (default 10000), --n images drawn at random
 * (seed --seed) are used. --device: the MMD runs on the GPU (auto: when there
 * is one); the FID's Inception network only with --device cuda. Fake images of another size than the real ones
 * (a 32 x 32 DCGAN against 28 x 28 Fashion-MNIST) are quantised to 8 bits
 * and resized to the real size with cg_resize_u8 (antialiased, as PIL),
 * except for the Inception network, which resizes every image to 299 x 299
 * itself.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cugen/classic.h"
#include "cugen/data.h"
#include "cugen/dcgan.h"
#include "cugen/metrics.h"
#include "cugen/tape.h"
#include "cugen/train.h"

#define EVAL_STREAM_GEN 0x4556414cu   /* "EVAL" */
#define EVAL_STREAM_PICK 0x5049434bu  /* "PICK" */

typedef eval_images image_set;

static int has_file(const char *dir, const char *name)
{
    char p[8192];
    struct stat sb;
    snprintf(p, sizeof p, "%.4000s/%.100s", dir, name);
    return stat(p, &sb) == 0;
}

/* up to n images of d (a random subset when it has more), as floats */
static cg_status from_dataset(const cg_dataset *d, int64_t n, uint64_t seed, image_set *s,
                              char *err, size_t errlen)
{
    int64_t P = (int64_t)d->channels * d->height * d->width;
    int64_t k = d->count < n ? d->count : n;
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)d->count);
    s->x = malloc(sizeof(real) * (size_t)(k * P));
    if (!idx || !s->x) {
        free(idx);
        snprintf(err, errlen, "out of memory for %lld images", (long long)k);
        return CG_ERR_NOMEM;
    }
    for (int64_t i = 0; i < d->count; i++)
        idx[i] = (int32_t)i;
    if (k < d->count) {
        cg_rng r;
        cg_rng_init(&r, seed, EVAL_STREAM_PICK);
        cg_rng_shuffle(&r, idx, d->count);
    }
    for (int64_t i = 0; i < k; i++)
        for (int64_t p = 0; p < P; p++)
            s->x[i * P + p] = (real)(d->pixels[(int64_t)idx[i] * P + p] / 127.5 - 1);
    free(idx);
    s->n = k;
    s->c = d->channels;
    s->h = d->height;
    s->w = d->width;
    return CG_OK;
}

/* n images of the DCGAN generator in dir, z ~ N(0, I) */
static cg_status from_dcgan(const char *dir, int64_t n, uint64_t seed, image_set *s, char *err,
                            size_t errlen)
{
    enum { CH = 64 };
    cg_dcgan m;
    cg_dcgan_arch a;
    cg_status st = cg_dcgan_load_generator(dir, &m, &a, err, errlen);
    if (st != CG_OK)
        return st;
    int64_t P = (int64_t)a.nc * a.image_size * a.image_size;
    s->x = malloc(sizeof(real) * (size_t)(n * P));
    cg_ctx ctx;
    if (!s->x || cg_ctx_init(&ctx) != CG_OK) {
        cg_dcgan_free(&m);
        snprintf(err, errlen, "out of memory for %lld images", (long long)n);
        return CG_ERR_NOMEM;
    }
    cg_rng r;
    cg_rng_init(&r, seed, EVAL_STREAM_GEN);
    cg_set_grad(&ctx, 0);
    for (int64_t at = 0; at < n && st == CG_OK; at += CH) {
        int k = (int)(n - at < CH ? n - at : CH);
        cg_tensor *z = cg_new(&ctx, CG_SHAPE(k, a.nz));
        if (z)
            cg_rng_normal(&r, z->data, z->n, 0.0, 1.0);
        cg_tensor *x = cg_dcgan_generate(&ctx, &m, z, 0, 0);
        if (!x) {
            snprintf(err, errlen, "%s", ctx.errmsg);
            st = ctx.err;
        } else {
            memcpy(s->x + at * P, x->data, sizeof(real) * (size_t)(k * P));
        }
        cg_ctx_step_end(&ctx);
    }
    cg_ctx_free(&ctx);
    cg_dcgan_free(&m);
    s->n = n;
    s->c = a.nc;
    s->h = s->w = a.image_size;
    return st;
}

/* s's images quantised to 8 bits and resized to h x w */
static cg_status resize_set(image_set *s, int h, int w, char *err, size_t errlen)
{
    int64_t P = (int64_t)s->c * s->h * s->w, Q = (int64_t)s->c * h * w;
    real *y = malloc(sizeof(real) * (size_t)(s->n * Q));
    uint8_t *a = malloc((size_t)P), *b = malloc((size_t)Q);
    if (!y || !a || !b) {
        free(y), free(a), free(b);
        snprintf(err, errlen, "out of memory resizing %lld images", (long long)s->n);
        return CG_ERR_NOMEM;
    }
    for (int64_t i = 0; i < s->n; i++) {
        for (int64_t p = 0; p < P; p++) {
            double v = s->x[i * P + p];
            v = v < -1 ? -1 : v > 1 ? 1 : v;
            a[p] = (uint8_t)floor((v + 1) * 127.5 + 0.5);
        }
        cg_resize_u8(a, s->c, s->h, s->w, b, h, w);
        for (int64_t q = 0; q < Q; q++)
            y[i * Q + q] = (real)(b[q] / 127.5 - 1);
    }
    free(a), free(b), free(s->x);
    s->x = y;
    s->h = h;
    s->w = w;
    return CG_OK;
}

static cg_status from_generator(const char *dir, int64_t n, uint64_t seed, image_set *s,
                                char *err, size_t errlen)
{
    cg_mlp_gan m;
    cg_status st = cg_mlp_gan_load_generator(dir, &m, err, errlen);
    if (st == CG_ERR_ARG && strstr(err, "not an mlp-gan generator"))
        return from_dcgan(dir, n, seed, s, err, errlen);
    if (st != CG_OK)
        return st;
    int P = m.a.npix;
    s->x = malloc(sizeof(real) * (size_t)(n * P));
    cg_ctx ctx;
    if (!s->x || cg_ctx_init(&ctx) != CG_OK) {
        cg_mlp_gan_free(&m);
        snprintf(err, errlen, "out of memory for %lld images", (long long)n);
        return CG_ERR_NOMEM;
    }
    cg_rng r;
    cg_rng_init(&r, seed, EVAL_STREAM_GEN);
    cg_set_grad(&ctx, 0);
    for (int64_t at = 0; at < n && st == CG_OK; at += 1000) {
        int k = (int)(n - at < 1000 ? n - at : 1000);
        cg_tensor *z = cg_new(&ctx, CG_SHAPE(k, m.a.nz));
        if (z)
            cg_mlp_gan_noise(&m, &r, z->data, z->n);
        cg_tensor *x = cg_mlp_gan_generate(&ctx, &m, z);
        if (!x) {
            snprintf(err, errlen, "%s", ctx.errmsg);
            st = ctx.err;
        } else {
            memcpy(s->x + at * P, x->data, sizeof(real) * (size_t)k * P);
        }
        cg_ctx_step_end(&ctx);
    }
    cg_ctx_free(&ctx);
    cg_mlp_gan_free(&m);
    s->n = n;
    /* the notes' generators make 28 x 28 gray images */
    s->c = 1;
    s->h = P == 784 ? 28 : 1;
    s->w = P == 784 ? 28 : P;
    return st;
}

static cg_status load_source(const char *src, int64_t n, uint64_t seed, int ddim_steps,
                             cg_device dev, image_set *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    char path[4096];
    snprintf(path, sizeof path, "%s", src);
    const char *split = NULL;
    char *colon = strrchr(path, ':');
    if (colon && (strcmp(colon + 1, "train") == 0 || strcmp(colon + 1, "test") == 0)) {
        split = colon + 1;
        *colon = '\0';
    }
    cg_data_spec spec = {.split = split};
    struct stat sb;
    int packed = 0;
    if (strcmp(path, "fashion-mnist") == 0) {
        spec.name = "fashion-mnist";
    } else if (stat(path, &sb) != 0) {
        snprintf(err, errlen, "'%.1000s' is not fashion-mnist[:split], and no such file or "
                 "folder", path);
        return CG_ERR_ARG;
    } else {
        int generated = 0;
        cg_status st = split ? CG_OK : eval_generate(path, n, seed, ddim_steps, dev, s,
                                                     &generated, err, errlen);
        if (generated)
            return st;
        if (S_ISDIR(sb.st_mode) && has_file(path, "G.safetensors")) {
            if (split) {
                snprintf(err, errlen, "%.1000s: a generator has no :%s split", path, split);
                return CG_ERR_ARG;
            }
            snprintf(s->what, sizeof s->what, "%.100s (generated, seed %llu)", path,
                     (unsigned long long)seed);
            return from_generator(path, n, seed, s, err, errlen);
        }
        if (S_ISDIR(sb.st_mode)) {
            spec.name = "mnist";
            spec.dir = path;
        } else {
            packed = 1;
        }
    }
    cg_dataset d;
    char why[1024];
    cg_status st = packed ? cg_packed_open(path, &d, why, sizeof why)
                          : cg_dataset_open(&spec, &d, why, sizeof why);
    if (st != CG_OK) {
        snprintf(err, errlen, "%.1500s", why);
        return st;
    }
    st = from_dataset(&d, n, seed, s, err, errlen);
    snprintf(s->what, sizeof s->what, "%.120s%s%s", path, split ? ":" : "", split ? split : "");
    cg_dataset_free(&d);
    return st;
}

/* The feature statistics of one set: an any-size net is told the set's shape. */
static cg_status set_stats(cg_feature_net *net, const image_set *s, cg_feat_stats *st, char *err,
                           size_t errlen)
{
    if (net->any_size) {
        net->channels = s->c;
        net->height = s->h;
        net->width = s->w;
    }
    return cg_feature_stats(net, s->x, s->n, st, err, errlen);
}

static int run_fid(const char *net_path, int inception, cg_device dev, image_set *real_set,
                   image_set *fake)
{
    cg_feature_net net;
    char err[2048];
    cg_status st = inception ? cg_inception_feature_net(net_path, dev, &net, err, sizeof err)
                             : cg_fmnist_feature_net(net_path, &net, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen eval: --net: %s\n", err);
        return st == CG_ERR_NOMEM || st == CG_ERR_CUDA ? 1 : 2;
    }
    net.progress = inception;
    image_set *sets[2] = {real_set, fake};
    for (int i = 0; i < 2; i++)
        if (net.any_size && sets[i]->c != 1 && sets[i]->c != 3) {
            fprintf(stderr, "cugen eval: %s takes grey or RGB images; %s has %d channels\n",
                    net.name, sets[i]->what, sets[i]->c);
            net.free(&net);
            return 2;
        } else if (!net.any_size && (sets[i]->c != net.channels || sets[i]->h != net.height ||
                                     sets[i]->w != net.width)) {
            fprintf(stderr, "cugen eval: %s takes %dx%dx%d images; %s has %dx%dx%d\n",
                    net.name, net.channels, net.height, net.width, sets[i]->what, sets[i]->c,
                    sets[i]->h, sets[i]->w);
            net.free(&net);
            return 2;
        }
    cg_feat_stats a = {0}, b = {0};
    double fd = 0;
    st = set_stats(&net, real_set, &a, err, sizeof err);
    if (st == CG_OK)
        st = set_stats(&net, fake, &b, err, sizeof err);
    if (st == CG_OK && (st = cg_frechet_distance(&a, &b, &fd)) != CG_OK)
        snprintf(err, sizeof err, "Frechet distance: %s", cg_status_str(st));
    if (st == CG_OK)
        printf("%s %.4f  (real: %s, %lld images; fake: %s, %lld images; %s features, "
               "%d-d, from %s%s)\n", inception ? "Inception-FID" : "FMNIST-FID", fd,
               real_set->what, (long long)real_set->n, fake->what, (long long)fake->n,
               net.name, net.dim, net_path, dev == CG_CUDA ? ", on the GPU" : "");
    else
        fprintf(stderr, "cugen eval: %s\n", err);
    cg_feat_stats_free(&a);
    cg_feat_stats_free(&b);
    net.free(&net);
    return st == CG_OK ? 0 : st == CG_ERR_ARG ? 2 : 1;
}

int cli_eval_samples(int argc, char **argv)
{
    const char *cmd = "cugen eval", *metric = NULL, *real_src = NULL, *fake_src = NULL,
               *net = NULL, *device = "auto";
    int64_t n = 10000, seed = 0, ddim_steps = 50;
    double sigma = 1;
    arg_opt opts[] = {
        {"metric", ARG_CHOICE, &metric, "mmd|fid",
         "the notes' MMD score on the pixels, or FMNIST-FID", 1, 0, 0},
        {"real", ARG_STR, &real_src, "SRC",
         "fashion-mnist[:train|test], an MNIST-format folder[:split], a packed file", 1, 0, 0},
        {"fake", ARG_STR, &fake_src, "SRC",
         "the same kinds, or a run directory or checkpoint of mlp-gan, dcgan, vae, ddpm or "
         "realnvp (images generated)", 1, 0, 0},
        {"net", ARG_STR, &net, "PATH",
         "fid: the feature network (cugen train classifier --out PATH, or the FID "
         "Inception weights from scripts/convert_fid_inception.py)", 1, 0, 0},
        {"n", ARG_INT, &n, "N", "images of each set (default 10000)", 2, 1e7, 0},
        {"seed", ARG_INT, &seed, "N", "which images (and generated z) (default 0)", 0,
         9.007199254740992e15, 0},
        {"sigma", ARG_DOUBLE, &sigma, "S", "mmd: kernel width in units of the mean real "
         "distance (default 1)", 1e-6, 1e6, 0},
        {"ddim-steps", ARG_INT, &ddim_steps, "N", "a DDPM source: DDIM steps per image "
         "(default 50)", 1, 1e6, 0},
        {"device", ARG_CHOICE, &device, "auto|cpu|cuda",
         "mmd: where to compute (default auto: the GPU if there is one); fid: where the "
         "Inception network runs (auto: the CPU)", 1, 0, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int r = args_parse(cmd, opts, nopts, argc, argv, 1, NULL, 0, NULL);
    if (r == ARGS_HELP) {
        args_usage(cmd, "--metric mmd|fid --real SRC --fake SRC [flags]", opts, nopts);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    if (!metric || !real_src || !fake_src) {
        fprintf(stderr, "%s: needs --metric, --real and --fake (see %s --help)\n", cmd, cmd);
        return 2;
    }
    int fid = strcmp(metric, "fid") == 0;
    if (fid && !net) {
        fprintf(stderr, "%s: --metric fid needs --net PATH (the output of cugen train "
                "classifier)\n", cmd);
        return 2;
    }
    if (!fid && net) {
        fprintf(stderr, "%s: --net is for --metric fid\n", cmd);
        return 2;
    }
    int inception = fid && cg_inception_weights_file(net);
    cg_device dev = CG_CPU;
    char note[320] = "";
    if (fid && !inception && strcmp(device, "cuda") == 0) {
        fprintf(stderr, "%s: --device cuda is for the Inception network (--net: FID "
                "Inception weights)\n", cmd);
        return 2;
    }
    /* mmd: auto takes the GPU when there is one; fid: only when asked */
    if ((!fid || strcmp(device, "cuda") == 0) &&
        cg_device_resolve(device, &dev, note, sizeof note) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, note);
        return 2;
    }
    image_set rs = {0}, fs = {0};
    char err[2048];
    cg_status st = load_source(real_src, n, (uint64_t)seed, (int)ddim_steps, dev, &rs, err,
                               sizeof err);
    if (st != CG_OK)
        fprintf(stderr, "%s: --real %s: %s\n", cmd, real_src, err);
    else if ((st = load_source(fake_src, n, (uint64_t)seed + 1, (int)ddim_steps, dev, &fs,
                              err, sizeof err)) != CG_OK)
        fprintf(stderr, "%s: --fake %s: %s\n", cmd, fake_src, err);
    if (st == CG_OK && !inception && fs.c == rs.c && (fs.h != rs.h || fs.w != rs.w)) {
        int h0 = fs.h, w0 = fs.w;
        if ((st = resize_set(&fs, rs.h, rs.w, err, sizeof err)) != CG_OK)
            fprintf(stderr, "%s: %s\n", cmd, err);
        else
            snprintf(fs.what + strlen(fs.what), sizeof fs.what - strlen(fs.what),
                     ", %dx%d resized to %dx%d", h0, w0, rs.h, rs.w);
    }
    int code = st == CG_OK ? 0 : st == CG_ERR_NOMEM ? 1 : 2;
    if (st == CG_OK && fid) {
        code = run_fid(net, inception, dev, &rs, &fs);
    } else if (st == CG_OK) {
        int64_t pr = (int64_t)rs.c * rs.h * rs.w, pf = (int64_t)fs.c * fs.h * fs.w;
        double mmd2 = 0, mmd = 0;
        if (pr != pf) {
            fprintf(stderr, "%s: the real images have %lld values, the fake ones %lld\n", cmd,
                    (long long)pr, (long long)pf);
            code = 2;
        } else if ((st = cg_mmd_score_on(dev, fs.x, (int)fs.n, rs.x, (int)rs.n, (int)pr, sigma,
                                         &mmd2, &mmd, err, sizeof err)) != CG_OK) {
            fprintf(stderr, "%s: MMD: %s\n", cmd,
                    st == CG_ERR_NUMERIC ? "the real images are all the same" : err);
            code = 1;
        } else {
            printf("%s\n", note);
            printf("MMD %.6f  (MMD^2 %.6f, the notes' compute_score with sigma %g; real: %s, "
                   "%lld images; fake: %s, %lld images)\n", mmd, mmd2, sigma, rs.what,
                   (long long)rs.n, fs.what, (long long)fs.n);
        }
    }
    free(rs.x);
    free(fs.x);
    return code;
}
