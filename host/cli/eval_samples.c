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
 *   RUN                           a run directory or checkpoint of a model
 *                                 whose sampler generates images
 *                                 (cugen/sampler.h: dcgan, ddpm, vae,
 *                                 realnvp, mlp-gan): --n images from seed
 *                                 --seed, with the source flags of the
 *                                 samplers (--ddim-steps)
 *   FILE                          a packed file (cugen prepare)
 * Of a data set larger than --n (default 10000), --n images drawn at random
 * (seed --seed) are used. --device: the MMD runs on the GPU (auto: when there
 * is one), and a model that generates there; the FID's Inception network
 * only with --device cuda. Fake images of another size than the real ones
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
#include "cli/samplers.h"
#include "cli/train_kinds.h"
#include "cugen/data.h"
#include "cugen/metrics.h"
#include "cugen/train.h"

#define EVAL_STREAM_PICK 0x5049434bu  /* "PICK" */
#define MAX_KINDS 32
#define MAX_OPTS 48

/* A set of images: (n, c, h, w) in [-1, 1]; what names its source. */
typedef struct {
    real *x;
    int64_t n;
    int c, h, w;
    char what[160];
} image_set;

/* The source flags of every sampler that generates, each kind's into its
 * own settings; a flag two kinds share is given once and copied to the
 * second (mirror: its field there, the option that holds the value). */
typedef struct {
    const cg_model_kind *kind[MAX_KINDS];
    void *settings[MAX_KINDS];
    int n;
    struct {
        void *dst;
        int opt;
        cg_flag_kind kind;
    } mirror[MAX_KINDS];
    int nmirror;
} sources;

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

/* n images of k's model at path, generated on dev where it can be */
static cg_status from_model(const cg_model_kind *k, const sources *src, const char *path,
                            int64_t n, uint64_t seed, cg_device dev, image_set *s, char *err,
                            size_t errlen)
{
    const cg_sampler *g = k->sampler;
    if (!g->generate) {
        snprintf(err, errlen, "%.1000s is %s, which draws no images to compare", path, g->a);
        return CG_ERR_ARG;
    }
    const void *settings = NULL;
    for (int i = 0; i < src->n; i++)
        if (src->kind[i] == k)
            settings = src->settings[i];
    cli_model m;
    cg_status st = cli_model_load(&m, k, path, g->gpu ? dev : CG_CPU, err, errlen);
    if (st != CG_OK)
        return st;
    cg_image_set im = {0};
    st = g->generate(m.self, settings, n, seed, &im, err, errlen);
    cli_model_free(&m);
    if (st != CG_OK) {
        free(im.x);
        return st;
    }
    s->x = im.x, s->n = im.n, s->c = im.c, s->h = im.h, s->w = im.w;
    snprintf(s->what, sizeof s->what, "%.100s (%s, generated, seed %llu)", path, k->name,
             (unsigned long long)seed);
    return CG_OK;
}

static cg_status load_source(const char *src, const sources *gen, int64_t n, uint64_t seed,
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
        const cg_model_kind *k;
        char msg[4400];
        int found = cli_kind_of(path, &k, msg, sizeof msg);
        if (found == CLI_KIND_CANNOT) {
            snprintf(err, errlen, "%.1500s", msg);
            return CG_ERR_ARG;
        }
        if (found == CLI_KIND_FOUND && split) {
            snprintf(err, errlen, "%.1000s: a generated set has no :%s split", path, split);
            return CG_ERR_ARG;
        }
        if (found == CLI_KIND_FOUND)
            return from_model(k, gen, path, n, seed, dev, s, err, errlen);
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

/* The source flags of the samplers that generate, after the n in opts
 * (their settings allocated into g): the count of all, or -1 (no memory).
 * A source flag is named unlike the command's own. */
static int source_flags(sources *g, arg_opt *opts, int n)
{
    const int first = n;
    const cg_model_kind *k[MAX_KINDS];
    int nk = cli_sampling_kinds(k, MAX_KINDS);
    memset(g, 0, sizeof *g);
    for (int i = 0; i < nk; i++) {
        const cg_sampler *s = k[i]->sampler;
        if (!s->generate)
            continue;
        void *settings = calloc(1, s->settings_size ? s->settings_size : 1);
        if (!settings)
            return -1;
        g->kind[g->n] = k[i];
        g->settings[g->n++] = settings;
        for (int j = 0; j < s->nsource_flags; j++) {
            const cg_flag *f = &s->source_flags[j];
            int have = -1;
            for (int o = first; o < n && have < 0; o++)
                if (strcmp(opts[o].name, f->name) == 0)
                    have = o;
            if (have < 0 && n < MAX_OPTS) {
                static char help[MAX_OPTS][512];   /* with the default, for --help */
                n = cli_table_flags(f, 1, opts, n, MAX_OPTS, settings);
                opts[n - 1].help = cli_flag_help(f, help[n - 1], sizeof help[n - 1]);
            } else if (have >= 0 && g->nmirror < MAX_KINDS) {
                g->mirror[g->nmirror].dst = (char *)settings + f->offset;
                g->mirror[g->nmirror].opt = have;
                g->mirror[g->nmirror++].kind = f->kind;
            }
        }
    }
    return n;
}

/* After parsing: the values of the flags kinds share, into each kind's settings */
static void source_mirror(sources *g, const arg_opt *opts)
{
    static const size_t size[] = {[CG_FLAG_INT] = sizeof(int64_t),
                                  [CG_FLAG_REAL] = sizeof(double),
                                  [CG_FLAG_CHOICE] = sizeof(const char *),
                                  [CG_FLAG_STR] = sizeof(const char *),
                                  [CG_FLAG_BOOL] = sizeof(int)};
    for (int i = 0; i < g->nmirror; i++)
        memcpy(g->mirror[i].dst, opts[g->mirror[i].opt].dst, size[g->mirror[i].kind]);
}

static void sources_free(sources *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->settings[i]);
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

/* The flags the command was given */
typedef struct {
    const char *metric, *real_src, *fake_src, *net, *device;
    int64_t n, seed;
    double sigma;
} compare_flags;

/* The two sets, compared: 0 or an exit code after the message */
static int compare(const char *cmd, const compare_flags *f, const sources *g)
{
    if (!f->metric || !f->real_src || !f->fake_src) {
        fprintf(stderr, "%s: needs --metric, --real and --fake (see %s --help)\n", cmd, cmd);
        return 2;
    }
    int fid = strcmp(f->metric, "fid") == 0;
    if (fid && !f->net) {
        fprintf(stderr, "%s: --metric fid needs --net PATH (the output of cugen train "
                "classifier)\n", cmd);
        return 2;
    }
    if (!fid && f->net) {
        fprintf(stderr, "%s: --net is for --metric fid\n", cmd);
        return 2;
    }
    int inception = fid && cg_inception_weights_file(f->net);
    cg_device dev = CG_CPU;
    char note[320] = "";
    if (fid && !inception && strcmp(f->device, "cuda") == 0) {
        fprintf(stderr, "%s: --device cuda is for the Inception network (--net: FID "
                "Inception weights)\n", cmd);
        return 2;
    }
    /* mmd: auto takes the GPU when there is one; fid: only when asked */
    if ((!fid || strcmp(f->device, "cuda") == 0) &&
        cg_device_resolve(f->device, &dev, note, sizeof note) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, note);
        return 2;
    }
    image_set rs = {0}, fs = {0};
    char err[6000];
    uint64_t seed = (uint64_t)f->seed;
    cg_status st = load_source(f->real_src, g, f->n, seed, dev, &rs, err, sizeof err);
    if (st != CG_OK)
        fprintf(stderr, "%s: --real %s: %s\n", cmd, f->real_src, err);
    else if ((st = load_source(f->fake_src, g, f->n, seed + 1, dev, &fs, err, sizeof err)) !=
             CG_OK)
        fprintf(stderr, "%s: --fake %s: %s\n", cmd, f->fake_src, err);
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
        code = run_fid(f->net, inception, dev, &rs, &fs);
    } else if (st == CG_OK) {
        int64_t pr = (int64_t)rs.c * rs.h * rs.w, pf = (int64_t)fs.c * fs.h * fs.w;
        double mmd2 = 0, mmd = 0;
        if (pr != pf) {
            fprintf(stderr, "%s: the real images have %lld values, the fake ones %lld\n", cmd,
                    (long long)pr, (long long)pf);
            code = 2;
        } else if ((st = cg_mmd_score_on(dev, fs.x, (int)fs.n, rs.x, (int)rs.n, (int)pr,
                                         f->sigma, &mmd2, &mmd, err, sizeof err)) != CG_OK) {
            fprintf(stderr, "%s: MMD: %s\n", cmd,
                    st == CG_ERR_NUMERIC ? "the real images are all the same" : err);
            code = 1;
        } else {
            printf("%s\n", note);
            printf("MMD %.6f  (MMD^2 %.6f, the notes' compute_score with sigma %g; real: %s, "
                   "%lld images; fake: %s, %lld images)\n", mmd, mmd2, f->sigma, rs.what,
                   (long long)rs.n, fs.what, (long long)fs.n);
        }
    }
    free(rs.x);
    free(fs.x);
    return code;
}

int cli_eval_samples(int argc, char **argv)
{
    const char *cmd = "cugen eval";
    compare_flags f = {.n = 10000, .sigma = 1, .device = "auto"};
    arg_opt opts[MAX_OPTS] = {
        {"metric", ARG_CHOICE, &f.metric, "mmd|fid",
         "the notes' MMD score on the pixels, or FMNIST-FID", 1, 0, 0},
        {"real", ARG_STR, &f.real_src, "SRC",
         "fashion-mnist[:train|test], an MNIST-format folder[:split], a packed file", 1, 0, 0},
        {"fake", ARG_STR, &f.fake_src, "SRC",
         "the same kinds, or a run directory or checkpoint of a model that generates images "
         "(dcgan, ddpm, vae, realnvp on images, mlp-gan)", 1, 0, 0},
        {"net", ARG_STR, &f.net, "PATH",
         "fid: the feature network (cugen train classifier --out PATH, or the FID "
         "Inception weights from scripts/convert_fid_inception.py)", 1, 0, 0},
        {"n", ARG_INT, &f.n, "N", "images of each set (default 10000)", 2, 1e7, 0},
        {"seed", ARG_INT, &f.seed, "N", "which images (and generated z) (default 0)", 0,
         9.007199254740992e15, 0},
        {"sigma", ARG_DOUBLE, &f.sigma, "S", "mmd: kernel width in units of the mean real "
         "distance (default 1)", 1e-6, 1e6, 0},
        {"device", ARG_CHOICE, &f.device, "auto|cpu|cuda",
         "mmd: where to compute, and a model generates when it can (default auto: the GPU if "
         "there is one); fid: where the Inception network runs (auto: the CPU)", 1, 0, 0},
    };
    const int nshared = 8;
    sources g;
    int nopts = source_flags(&g, opts, nshared);
    int code = nopts < 0 ? 1 : 0;
    if (code == 0) {
        int r = args_parse(cmd, opts, nopts, argc, argv, 1, NULL, 0, NULL);
        if (r == ARGS_HELP)
            args_usage(cmd, "--metric mmd|fid --real SRC --fake SRC [flags]", opts, nopts);
        if (r == ARGS_OK)
            source_mirror(&g, opts);
        code = r == ARGS_OK ? compare(cmd, &f, &g) : r == ARGS_HELP ? 0 : 2;
    }
    sources_free(&g);
    return code;
}
