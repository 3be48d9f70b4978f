/*
 * test_celeba_attrs_cli.c: CelebA's attributes end to end on a fixture
 * folder made here (img_align_celeba of 16 small JPEGs beside a
 * list_attr_celeba.txt): `cugen prepare celeba` packs them, `cugen train
 * dcgan --conditional --attrs Smiling,Male` trains on their bit patterns
 * (CPU, and the emulated GPU), `cugen sample --attrs Smiling=1,Male=0`
 * draws those classes; the errors of every flag (one line each), and a
 * resume that refuses other --attrs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/io.h"
#include "gpu_check.h"
#include "harness.h"
#include "img_fixtures.h"

#define NIMG 16
#define SMALL "--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4", "--batch", "8", \
              "--quiet"

static const char *const names[4] = {"Smiling", "Male", "Young", "Eyeglasses"};

/* root/img_align_celeba/0000NN.jpg, 20 x 24 solid colours, and
 * root/list_attr_celeba.txt giving image i the bits of i (bit j: names[j]) */
static int make_celeba(char *root, size_t n)
{
    char src[200], cmd[300], path[256];
    if (!fx_tmpdir(root, n))
        return 0;
    fx_path(src, sizeof src, root, "img_align_celeba");
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", src);
    if (system(cmd) != 0)
        return 0;
    char *text = malloc(4096);
    int at = snprintf(text, 4096, "%d\n%s %s %s %s\n", NIMG, names[0], names[1], names[2],
                      names[3]);
    int ok = 1;
    for (int i = 0; i < NIMG && ok; i++) {
        char file[16];
        snprintf(file, sizeof file, "%06d.jpg", i + 1);
        uint8_t *img = fx_solid(3, 24, 20, 16 * i, 255 - 16 * i, 40 + 8 * i);
        ok = img && fx_jpeg(src, file, img, 3, 24, 20);
        free(img);
        at += snprintf(text + at, 4096 - (size_t)at, "%s", file);
        for (int j = 0; j < 4; j++)
            at += snprintf(text + at, 4096 - (size_t)at, " %s", (i >> j) & 1 ? " 1" : "-1");
        at += snprintf(text + at, 4096 - (size_t)at, "\n");
    }
    ok = ok && th_write_file(fx_path(path, sizeof path, root, "list_attr_celeba.txt"), text,
                             (size_t)at);
    free(text);
    return ok;
}

/* root/faces.cgpk by cugen prepare celeba */
static const char *prepare(const char *root, th_run_result *r)
{
    const char *src = th_path(root, "img_align_celeba"), *out = th_path(root, "faces.cgpk");
    if (!th_run_cugen(r, (const char *const[]){"prepare", "celeba", "--src", src, "--out", out,
                                               "--size", "32", "--quiet", NULL}))
        return NULL;
    return out;
}

static void check_refused(const th_run_result *r, const char *want, const char *what)
{
    CHECK(r->code != 0 && th_count_lines(r->err) == 1 && strstr(r->err, want),
          "%s: exit %d, stderr: %s", what, r->code, r->err);
    printf("    %s: %s", what, r->err);
}

/* The rows of the label embedding in a G.safetensors: the classes */
static int64_t embedding_rows(const char *file)
{
    cg_st_file f;
    char err[256];
    if (cg_st_load(&f, file, err, sizeof err) != CG_OK)
        return -1;
    const cg_st_tensor *t = cg_st_find(&f, "embed.weight");
    int64_t rows = t && t->ndim == 2 ? t->shape[0] : -1;
    cg_st_free(&f);
    return rows;
}

/* prepare, train 2 steps on 2 attributes, sample by attribute values; a
 * resume with other --attrs is refused */
TEST(cli_dcgan_conditional_on_celeba_attributes)
{
    th_run_result r;
    char root[64];
    REQUIRE(make_celeba(root, sizeof root));
    const char *pack = prepare(root, &r);
    if (!pack)
        SKIP("CUGEN_BIN not set (run through make test)");
    REQUIRE(r.code == 0, "prepare: exit %d: %s", r.code, r.err);
    CHECK(strstr(r.out, "16 images") && strstr(r.out, "4 attributes of "), "%s", r.out);

    const char *run = th_path(root, "run");
    NEED_BIN(&r, "train", "dcgan", "--data", "celeba", "--data-dir", pack, SMALL, "--device",
             "cpu", "--steps", "2", "--conditional", "--attrs", "Smiling,Male", "--out", run);
    REQUIRE(r.code == 0, "train: exit %d: %s", r.code, r.err);
    CHECK(embedding_rows(th_path(run, "G.safetensors")) == 4, "G does not draw 4 classes");
    size_t len;
    char *settings = (char *)th_read_file(th_path(run, "settings.json"), &len);
    CHECK(settings && strstr(settings, "\"attrs\": \"Smiling,Male\""), "%s", settings);

    /* the default grid: a row of 8 per combination */
    const char *png = th_path(root, "s.png");
    NEED_BIN(&r, "sample", run, "--out", png);
    CHECK(r.code == 0 && strstr(r.out, "32 samples") && strstr(r.out, "Smiling,Male"),
          "exit %d: %s %s", r.code, r.out, r.err);
    NEED_BIN(&r, "sample", run, "--attrs", "Smiling=1,Male=0", "--out", png);
    CHECK(r.code == 0 && strstr(r.out, "8 samples") && strstr(r.out, "1 class"),
          "exit %d: %s %s", r.code, r.out, r.err);
    NEED_BIN(&r, "sample", run, "--attrs", "Male=1", "--out", png);
    CHECK(r.code == 0 && strstr(r.out, "16 samples") && strstr(r.out, "2 classes"),
          "exit %d: %s %s", r.code, r.out, r.err);
    /* the same classes as --class: Smiling=1,Male=0 is class 1 (bit 0 Smiling) */
    const char *by_attrs = th_path(root, "a.png"), *by_class = th_path(root, "c.png");
    NEED_BIN(&r, "sample", run, "--attrs", "Male=0,Smiling=1", "--n", "8", "--out", by_attrs);
    REQUIRE(r.code == 0, "%s", r.err);
    NEED_BIN(&r, "sample", run, "--class", "1", "--n", "8", "--out", by_class);
    REQUIRE(r.code == 0, "%s", r.err);
    size_t la, lc;
    unsigned char *a = th_read_file(by_attrs, &la), *c = th_read_file(by_class, &lc);
    CHECK(a && c && la == lc && memcmp(a, c, la) == 0, "--attrs and --class draw differently");

    NEED_BIN(&r, "sample", run, "--attrs", "Young=1", "--out", png);
    check_refused(&r, "'Young' is not one of the attributes the model was trained on "
                  "(Smiling,Male)", "sample --attrs, another attribute");
    NEED_BIN(&r, "sample", run, "--attrs", "Smiling=yes", "--out", png);
    check_refused(&r, "'Smiling=yes' is not NAME=0 or NAME=1", "sample --attrs, a bad value");
    NEED_BIN(&r, "sample", run, "--attrs", "Smiling=1", "--class", "1", "--out", png);
    check_refused(&r, "give one", "sample --attrs and --class");

    NEED_BIN(&r, "train", "dcgan", "--data", "celeba", "--data-dir", pack, SMALL, "--device",
             "cpu", "--steps", "3", "--conditional", "--attrs", "Male,Smiling", "--out", run,
             "--resume");
    check_refused(&r, "--attrs Smiling,Male, this command Male,Smiling", "resume, other --attrs");
    NEED_BIN(&r, "train", "dcgan", "--data", "celeba", "--data-dir", pack, SMALL, "--device",
             "cpu", "--steps", "3", "--conditional", "--attrs", "Smiling,Male", "--out", run,
             "--resume");
    CHECK(r.code == 0, "resume with the same --attrs: exit %d: %s", r.code, r.err);
    th_rmtree(root);
}

TEST(cli_dcgan_attrs_errors)
{
    th_run_result r;
    char root[64];
    REQUIRE(make_celeba(root, sizeof root));
    const char *pack = prepare(root, &r);
    if (!pack)
        SKIP("CUGEN_BIN not set (run through make test)");
    REQUIRE(r.code == 0, "prepare: exit %d: %s", r.code, r.err);
    const char *run = th_path(root, "run");
#define TRAIN "train", "dcgan", "--data", "celeba", SMALL, "--device", "cpu", "--steps", "1", \
              "--out", run
    NEED_BIN(&r, TRAIN, "--data-dir", pack, "--conditional", "--attrs", "Smiling,Bald");
    check_refused(&r, "has no attribute 'Bald' (names are case-sensitive: Smiling, Male, Young, "
                  "Eyeglasses)", "an unknown attribute");
    NEED_BIN(&r, TRAIN, "--data-dir", pack, "--attrs", "Smiling");
    check_refused(&r, "--attrs applies with --conditional 1 only", "--attrs alone");
    NEED_BIN(&r, TRAIN, "--data-dir", pack, "--conditional", "--attrs", "A,B,C,D,E,F,G");
    check_refused(&r, "more than 6 attributes", "seven attributes");
    NEED_BIN(&r, TRAIN, "--data-dir", pack, "--conditional", "--attrs", "Male,Male");
    check_refused(&r, "'Male' is named twice", "an attribute twice");
    NEED_BIN(&r, TRAIN, "--data-dir", pack, "--conditional");
    check_refused(&r, "celeba with --attrs NAME,...", "--conditional on CelebA without --attrs");

    /* packed without list_attr_celeba.txt: no attributes */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm '%s/list_attr_celeba.txt'", root);
    REQUIRE(system(cmd) == 0);
    REQUIRE(prepare(root, &r) && r.code == 0, "%s", r.err);
    CHECK(strstr(r.out, "no attributes"), "%s", r.out);
    NEED_BIN(&r, TRAIN, "--data-dir", pack, "--conditional", "--attrs", "Smiling");
    check_refused(&r, "has no attributes; run cugen prepare celeba again with "
                  "list_attr_celeba.txt", "--attrs on a file without attributes");
#undef TRAIN
    th_rmtree(root);
}

/* The same on the GPU: 2 steps on 2 attributes, and a sample by values */
TEST(gpu_dcgan_conditional_on_celeba_attributes)
{
    GPU_OR_SKIP();
    th_run_result r;
    char root[64];
    REQUIRE(make_celeba(root, sizeof root));
    const char *pack = prepare(root, &r);
    if (!pack)
        SKIP("CUGEN_BIN not set (run through make test)");
    REQUIRE(r.code == 0, "prepare: exit %d: %s", r.code, r.err);
    const char *run = th_path(root, "run");
    NEED_BIN(&r, "train", "dcgan", "--data", "celeba", "--data-dir", pack, SMALL, "--device",
             "cuda", "--steps", "2", "--conditional", "--attrs", "Smiling,Male", "--out", run);
    REQUIRE(r.code == 0, "train: exit %d: %s", r.code, r.err);
    CHECK(embedding_rows(th_path(run, "G.safetensors")) == 4, "G does not draw 4 classes");
    NEED_BIN(&r, "sample", run, "--attrs", "Smiling=1,Male=0", "--out", th_path(root, "s.png"));
    CHECK(r.code == 0 && strstr(r.out, "8 samples"), "exit %d: %s %s", r.code, r.out, r.err);
    th_rmtree(root);
}
