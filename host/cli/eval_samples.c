/*
 * eval_samples.c: `cugen eval --metric mmd|fid|kid --real SRC --fake SRC`: how close two
 * sets of images are; `cugen eval --metric is --fake SRC`: how confidently and
 * how variously a classifier labels one set.
 *
 *   mmd  the lecture notes' compute_score on the pixels (both sets in
 *        [-1, 1]), with --sigma (default 1)
 *   fid  the Frechet distance between the features of a network (--net: the
 *        run directory or classifier.safetensors of `cugen train classifier`:
 *        FMNIST-FID; or the FID Inception-v3 weights converted by
 *        scripts/convert_fid_inception.py, told apart by its tensor names:
 *        Inception-FID on grey or RGB images of any size, grey repeated to
 *        three channels; --device cuda runs it on the GPU)
 *   kid  the Kernel Inception Distance of the same features (the unbiased
 *        squared MMD with the cubic kernel, cugen/metrics.h): --subsets
 *        (default 100) random subsets of --subset-size images of each set
 *        (default 1000, or all the images of the smaller set when it has
 *        fewer), mean and standard deviation
 *   is   the Inception Score of the --fake images with the classifier of
 *        --net (the Inception weights' 1008-way fc, or the FMNIST
 *        classifier's 10 classes; images of another size than the FMNIST
 *        net's are resized as below), in --splits parts (default 10)
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
    real *y = malloc(sizeof(real) * (size_t)(s->n * s->c * h * w));
    if (!y || cg_resize_images(s->x, s->n, s->c, s->h, s->w, y, h, w) != CG_OK) {
        free(y);
        snprintf(err, errlen, "out of memory resizing %lld images", (long long)s->n);
        return CG_ERR_NOMEM;
    }
    free(s->x);
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

/* The flags the command was given */
typedef struct {
    const char *metric, *real_src, *fake_src, *net, *device;
    int64_t n, seed, splits, subsets, subset_size;
    double sigma;
} compare_flags;

/* The rows of one set through net: features, or with logits the classifier's
 * logits; an any-size net is told the set's shape. *out malloc'ed. */
static cg_status set_rows(cg_feature_net *net, const image_set *s, int logits, real **out,
                          char *err, size_t errlen)
{
    int width = logits ? net->classes : net->dim;
    if (net->any_size) {
        net->channels = s->c;
        net->height = s->h;
        net->width = s->w;
    }
    if (!(*out = malloc(sizeof(real) * (size_t)s->n * width))) {
        snprintf(err, errlen, "out of memory for %lld x %d values", (long long)s->n, width);
        return CG_ERR_NOMEM;
    }
    return cg_feature_rows(net, s->x, s->n, logits, *out, err, errlen);
}

/* The feature statistics of one set */
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

static int exit_for(cg_status st)
{
    return st == CG_OK ? 0 : st == CG_ERR_ARG ? 2 : 1;
}

/* Where the numbers came from, after the value: "(real: ..., fake: ...; NET features,
 * D-d, from PATH)" */
static void print_sources(const image_set *rs, const image_set *fs, const cg_feature_net *net,
                          int logits, const char *path, cg_device dev)
{
    if (rs)
        printf("real: %s, %lld images; ", rs->what, (long long)rs->n);
    printf("%s: %s, %lld images; %s %s, %d%s, from %s%s)\n", rs ? "fake" : "images",
           fs->what, (long long)fs->n, net->name, logits ? "classifier" : "features",
           logits ? net->classes : net->dim, logits ? " classes" : "-d", path,
           dev == CG_CUDA ? ", on the GPU" : "");
}

static int run_fid(const compare_flags *f, cg_feature_net *net, const char *label,
                   cg_device dev, image_set *rs, image_set *fs)
{
    char err[2048];
    cg_feat_stats a = {0}, b = {0};
    double fd = 0;
    cg_status st = set_stats(net, rs, &a, err, sizeof err);
    if (st == CG_OK)
        st = set_stats(net, fs, &b, err, sizeof err);
    if (st == CG_OK && (st = cg_frechet_distance(&a, &b, &fd)) != CG_OK)
        snprintf(err, sizeof err, "Frechet distance: %s", cg_status_str(st));
    if (st == CG_OK) {
        printf("%s-FID %.4f  (", label, fd);
        print_sources(rs, fs, net, 0, f->net, dev);
    } else {
        fprintf(stderr, "cugen eval: %s\n", err);
    }
    cg_feat_stats_free(&a);
    cg_feat_stats_free(&b);
    return exit_for(st);
}

/* KID over subsets of --subset-size (default CG_KID_SUBSET_SIZE, or the
 * smaller set whole when it has fewer) */
static int run_kid(const compare_flags *f, cg_feature_net *net, const char *label,
                   cg_device dev, image_set *rs, image_set *fs)
{
    char err[2048];
    int64_t fewer = rs->n < fs->n ? rs->n : fs->n;
    int64_t size = f->subset_size ? f->subset_size
                   : fewer < CG_KID_SUBSET_SIZE ? fewer : CG_KID_SUBSET_SIZE;
    if (size > fewer || size < 2) {
        fprintf(stderr, "cugen eval: --metric kid: subsets of %lld images, but the sets have "
                "%lld and %lld (a subset holds 2 images or more, at most the smaller set)\n",
                (long long)size, (long long)rs->n, (long long)fs->n);
        return 2;
    }
    real *a = NULL, *b = NULL;
    double mean = 0, sd = 0;
    cg_status st = set_rows(net, rs, 0, &a, err, sizeof err);
    if (st == CG_OK)
        st = set_rows(net, fs, 0, &b, err, sizeof err);
    if (st == CG_OK &&
        (st = cg_kid(a, rs->n, b, fs->n, net->dim, (int)f->subsets, (int)size,
                     (uint64_t)f->seed, &mean, &sd)) != CG_OK)
        snprintf(err, sizeof err, "KID: %s", cg_status_str(st));
    if (st == CG_OK) {
        if (size == rs->n && size == fs->n)
            printf("%s-KID %.6f  (one subset: both sets whole; ", label, mean);
        else
            printf("%s-KID %.6f +- %.6f  (%lld subsets of %lld images; ", label, mean, sd,
                   (long long)f->subsets, (long long)size);
        print_sources(rs, fs, net, 0, f->net, dev);
    } else {
        fprintf(stderr, "cugen eval: %s\n", err);
    }
    free(a), free(b);
    return exit_for(st);
}

/* The Inception Score of the fake set with net's classifier; a fixed-size
 * net's images of its channels but another size are resized to it */
static int run_is(const compare_flags *f, cg_feature_net *net, const char *label,
                  cg_device dev, image_set *fs)
{
    char err[6000];
    if (!net->logits) {
        fprintf(stderr, "cugen eval: --metric is: %s has no classifier (fc.weight); convert "
                "the weights again with scripts/convert_fid_inception.py\n", f->net);
        return 2;
    }
    if (fs->n < f->splits) {
        fprintf(stderr, "cugen eval: --metric is: %lld images in %lld splits; give --n %lld "
                "or more\n", (long long)fs->n, (long long)f->splits, (long long)f->splits);
        return 2;
    }
    cg_status st = CG_OK;
    if (!net->any_size && fs->c == net->channels &&
        (fs->h != net->height || fs->w != net->width)) {
        int h0 = fs->h, w0 = fs->w;
        if ((st = resize_set(fs, net->height, net->width, err, sizeof err)) != CG_OK) {
            fprintf(stderr, "cugen eval: %s\n", err);
            return exit_for(st);
        }
        snprintf(fs->what + strlen(fs->what), sizeof fs->what - strlen(fs->what),
                 ", %dx%d resized to %dx%d", h0, w0, fs->h, fs->w);
    }
    real *l = NULL;
    double mean = 0, sd = 0;
    st = set_rows(net, fs, 1, &l, err, sizeof err);
    if (st == CG_OK && (st = cg_inception_score(l, fs->n, net->classes, (int)f->splits, &mean,
                                                &sd)) != CG_OK)
        snprintf(err, sizeof err, "Inception Score: %s", cg_status_str(st));
    if (st == CG_OK) {
        printf("%s-IS %.4f +- %.4f  (%lld splits; ", label, mean, sd, (long long)f->splits);
        print_sources(NULL, fs, net, 1, f->net, dev);
    } else {
        fprintf(stderr, "cugen eval: %s\n", err);
    }
    free(l);
    return exit_for(st);
}

/* fid, kid, is: the network of --net, its input checked, then the metric */
static int run_net(const compare_flags *f, int inception, cg_device dev, image_set *rs,
                   image_set *fs)
{
    cg_feature_net net;
    char err[2048];
    cg_status st = inception ? cg_inception_feature_net(f->net, dev, &net, err, sizeof err)
                             : cg_fmnist_feature_net(f->net, &net, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen eval: --net: %s\n", err);
        return st == CG_ERR_NOMEM || st == CG_ERR_CUDA ? 1 : 2;
    }
    net.progress = inception;
    int is = strcmp(f->metric, "is") == 0;
    image_set *sets[2] = {rs, fs};
    for (int i = is; i < 2; i++)
        if (net.any_size && sets[i]->c != 1 && sets[i]->c != 3) {
            fprintf(stderr, "cugen eval: %s takes grey or RGB images; %s has %d channels\n",
                    net.name, sets[i]->what, sets[i]->c);
            net.free(&net);
            return 2;
        } else if (!net.any_size && (sets[i]->c != net.channels ||
                                     (!is && (sets[i]->h != net.height ||
                                              sets[i]->w != net.width)))) {
            fprintf(stderr, "cugen eval: %s takes %dx%dx%d images; %s has %dx%dx%d\n",
                    net.name, net.channels, net.height, net.width, sets[i]->what, sets[i]->c,
                    sets[i]->h, sets[i]->w);
            net.free(&net);
            return 2;
        }
    const char *label = inception ? "Inception" : "FMNIST";
    int code = is                             ? run_is(f, &net, label, dev, fs)
               : strcmp(f->metric, "kid") == 0 ? run_kid(f, &net, label, dev, rs, fs)
                                               : run_fid(f, &net, label, dev, rs, fs);
    net.free(&net);
    return code;
}

/* The flags that go together, before any image is read: 0 or 2 after the message */
static int check_flags(const char *cmd, const compare_flags *f, const arg_opt *opts, int nopts)
{
    if (!f->metric) {
        fprintf(stderr, "%s: needs --metric (see %s --help)\n", cmd, cmd);
        return 2;
    }
    int is = strcmp(f->metric, "is") == 0, kid = strcmp(f->metric, "kid") == 0;
    int net = is || kid || strcmp(f->metric, "fid") == 0;
    if (is && f->real_src) {
        fprintf(stderr, "%s: --metric is rates one set of images, --fake SRC; --real is for "
                "mmd, fid and kid\n", cmd);
        return 2;
    }
    if (!f->fake_src || (!is && !f->real_src)) {
        if (is)
            fprintf(stderr, "%s: --metric is needs --fake SRC (see %s --help)\n", cmd, cmd);
        else
            fprintf(stderr, "%s: needs --metric, --real and --fake (see %s --help)\n", cmd, cmd);
        return 2;
    }
    if (net && !f->net) {
        fprintf(stderr, "%s: --metric %s needs --net PATH (the output of cugen train "
                "classifier, or the FID Inception weights)\n", cmd, f->metric);
        return 2;
    }
    if (!net && f->net) {
        fprintf(stderr, "%s: --net is for --metric fid, kid and is\n", cmd);
        return 2;
    }
    /* a metric's own flags, given with another metric */
    static const struct {
        const char *flag, *metric;
    } own[] = {{"sigma", "mmd"}, {"splits", "is"}, {"subsets", "kid"}, {"subset-size", "kid"}};
    for (size_t j = 0; j < sizeof own / sizeof own[0]; j++)
        for (int i = 0; i < nopts; i++)
            if (opts[i].seen && strcmp(opts[i].name, own[j].flag) == 0 &&
                strcmp(f->metric, own[j].metric) != 0) {
                fprintf(stderr, "%s: --%s is for --metric %s\n", cmd, own[j].flag,
                        own[j].metric);
                return 2;
            }
    return 0;
}

/* The sets, compared (or, for is, rated): 0 or an exit code after the message */
static int compare(const char *cmd, const compare_flags *f, const sources *g)
{
    int is = strcmp(f->metric, "is") == 0;
    int with_net = is || strcmp(f->metric, "kid") == 0 || strcmp(f->metric, "fid") == 0;
    int inception = with_net && cg_inception_weights_file(f->net);
    cg_device dev = CG_CPU;
    char note[320] = "";
    if (with_net && !inception && strcmp(f->device, "cuda") == 0) {
        fprintf(stderr, "%s: --device cuda is for the Inception network (--net: FID "
                "Inception weights)\n", cmd);
        return 2;
    }
    /* mmd: auto takes the GPU when there is one; fid, kid, is: only when asked */
    if ((!with_net || strcmp(f->device, "cuda") == 0) &&
        cg_device_resolve(f->device, &dev, note, sizeof note) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, note);
        return 2;
    }
    image_set rs = {0}, fs = {0};
    char err[6000];
    uint64_t seed = (uint64_t)f->seed;
    cg_status st = CG_OK;
    if (!is && (st = load_source(f->real_src, g, f->n, seed, dev, &rs, err, sizeof err)) !=
                   CG_OK)
        fprintf(stderr, "%s: --real %s: %s\n", cmd, f->real_src, err);
    else if ((st = load_source(f->fake_src, g, f->n, seed + 1, dev, &fs, err, sizeof err)) !=
             CG_OK)
        fprintf(stderr, "%s: --fake %s: %s\n", cmd, f->fake_src, err);
    if (st == CG_OK && !is && !inception && fs.c == rs.c && (fs.h != rs.h || fs.w != rs.w)) {
        int h0 = fs.h, w0 = fs.w;
        if ((st = resize_set(&fs, rs.h, rs.w, err, sizeof err)) != CG_OK)
            fprintf(stderr, "%s: %s\n", cmd, err);
        else
            snprintf(fs.what + strlen(fs.what), sizeof fs.what - strlen(fs.what),
                     ", %dx%d resized to %dx%d", h0, w0, rs.h, rs.w);
    }
    int code = st == CG_OK ? 0 : st == CG_ERR_NOMEM ? 1 : 2;
    if (st == CG_OK && with_net) {
        code = run_net(f, inception, dev, &rs, &fs);
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
    compare_flags f = {.n = 10000, .sigma = 1, .device = "auto", .splits = 10,
                       .subsets = CG_KID_SUBSETS};
    arg_opt opts[MAX_OPTS] = {
        {"metric", ARG_CHOICE, &f.metric, "mmd|fid|kid|is",
         "the notes' MMD score on the pixels, FID, KID, or the Inception Score", 1, 0, 0},
        {"real", ARG_STR, &f.real_src, "SRC",
         "fashion-mnist[:train|test], an MNIST-format folder[:split], a packed file", 1, 0, 0},
        {"fake", ARG_STR, &f.fake_src, "SRC",
         "the same kinds, or a run directory or checkpoint of a model that generates images "
         "(dcgan, ddpm, vae, realnvp on images, mlp-gan)", 1, 0, 0},
        {"net", ARG_STR, &f.net, "PATH",
         "fid, kid, is: the network (cugen train classifier --out PATH, or the FID "
         "Inception weights from scripts/convert_fid_inception.py)", 1, 0, 0},
        {"n", ARG_INT, &f.n, "N", "images of each set (default 10000)", 2, 1e7, 0},
        {"seed", ARG_INT, &f.seed, "N", "which images (and generated z), and kid's subsets "
         "(default 0)", 0, 9.007199254740992e15, 0},
        {"sigma", ARG_DOUBLE, &f.sigma, "S", "mmd: kernel width in units of the mean real "
         "distance (default 1)", 1e-6, 1e6, 0},
        {"splits", ARG_INT, &f.splits, "N", "is: parts the score is taken over (default 10)", 1,
         1e6, 0},
        {"subsets", ARG_INT, &f.subsets, "N", "kid: random subsets averaged (default 100)", 1,
         1e6, 0},
        {"subset-size", ARG_INT, &f.subset_size, "N",
         "kid: images of each set in a subset (default 1000, or the smaller set whole)", 2, 1e7,
         0},
        {"device", ARG_CHOICE, &f.device, "auto|cpu|cuda",
         "mmd: where to compute, and a model generates when it can (default auto: the GPU if "
         "there is one); fid, kid, is: where the Inception network runs (auto: the CPU)", 1, 0,
         0},
    };
    const int nshared = 11;
    sources g;
    int nopts = source_flags(&g, opts, nshared);
    int code = nopts < 0 ? 1 : 0;
    if (code == 0) {
        int r = args_parse(cmd, opts, nopts, argc, argv, 1, NULL, 0, NULL);
        if (r == ARGS_HELP)
            args_usage(cmd, "--metric mmd|fid|kid --real SRC --fake SRC [flags]\n"
                       "       cugen eval --metric is --fake SRC --net PATH [flags]", opts,
                       nopts);
        if (r == ARGS_OK)
            source_mirror(&g, opts);
        if (r == ARGS_OK)
            r = check_flags(cmd, &f, opts, nopts) ? ARGS_ERROR : ARGS_OK;
        code = r == ARGS_OK ? compare(cmd, &f, &g) : r == ARGS_HELP ? 0 : 2;
    }
    sources_free(&g);
    return code;
}
