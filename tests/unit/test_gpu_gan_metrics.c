/*
 * test_gpu_gan_metrics.c: the Inception Score's logits on the GPU, and FID
 * during a DCGAN's training on the GPU. Skipped without a GPU (the emulated
 * device runs them in make test).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/metrics.h"
#include "cugen/tape.h"
#include "gpu_check.h"
#include "inception_fixture.h"
#include "ref.h"
#include "score_bound.h"

/* test_inception.c's bound for the whole network; the logits are fixed
 * 2048-term sums of its features */
#define NET_TOL 1e-4
#define IMAGES 10   /* of the reference's 20: the network is costly on the emulated device */
#define SPLITS 5

/* The Inception network as cugen eval --metric is runs it with --device
 * cuda (a feature net on the GPU, its logits hook) on the first 10 images
 * of tests/ref/inception_is.ref: the logits against torchvision's (relative
 * L2, NET_TOL), and the score in 5 splits against the score of torch's
 * logits within the bound of score_bound.h */
TEST(gpu_inception_score_matches_torchvision)
{
    GPU_OR_SKIP();
    ref_file rf;
    if (!REF_OPEN(&rf, "inception_is"))
        return;
    char *dir = th_tmpdir(), err[512];
    REQUIRE(dir);
    char *w = th_path(dir, "inception.safetensors");
    REQUIRE(incfix_write(w, err, sizeof err) == CG_OK, "%s", err);
    cg_feature_net net;
    REQUIRE(cg_inception_feature_net(w, CG_CUDA, &net, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(net.classes == INCFIX_CLASSES && net.logits, "%d classes", net.classes);
    const ref_tensor *x = REF_GET(&rf, "x"), *rl = REF_GET(&rf, "logits");
    REQUIRE(x && rl);
    int P = x->shape[1] * x->shape[2] * x->shape[3], k = rl->shape[1];
    real *in = th_alloc(sizeof(real) * IMAGES * P), *l = th_alloc(sizeof(real) * IMAGES * k);
    for (int i = 0; i < IMAGES * P; i++)
        in[i] = 2 * x->data[i] - 1;  /* the net takes [-1, 1] */
    net.channels = x->shape[1], net.height = x->shape[2], net.width = x->shape[3];
    REQUIRE(cg_feature_rows(&net, in, IMAGES, 1, l, err, sizeof err) == CG_OK, "%s", err);
    net.free(&net);
    gpu_compare("inception logits", l, rl->data, IMAGES * k, NET_TOL);

    double mean, sd, want, want_sd, e;
    REQUIRE(cg_inception_score(l, IMAGES, k, SPLITS, &mean, &sd) == CG_OK);
    REQUIRE(cg_inception_score(rl->data, IMAGES, k, SPLITS, &want, &want_sd) == CG_OK);
    double bound = score_bound(l, rl->data, IMAGES, k, SPLITS, &e);
    printf("    IS on the GPU %.7f +- %.7f, of torch's logits %.7f +- %.7f; largest logit error "
           "%.3g, bound %.3g\n", mean, sd, want, want_sd, e, bound);
    CHECK(fabs(mean - want) <= bound && fabs(sd - want_sd) <= bound, "IS %.7f +- %.7f vs %.7f "
          "+- %.7f", mean, sd, want, want_sd);
    CHECK(fabs(want - 1) > 0.01, "a score that tells: %g", want);
    th_rmtree(dir);
    ref_free(&rf);
}

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    unsigned char *x = th_read_file(a, &la), *y = th_read_file(b, &lb);
    return x && y && la == lb && memcmp(x, y, la) == 0;
}

/* An untrained FMNIST classifier (FID only needs fixed features) */
static char *classifier_file(const char *dir)
{
    cg_fmnist_net m;
    char err[512], *path = th_path(dir, "classifier.safetensors");
    if (cg_fmnist_net_build(&m, err, sizeof err) != CG_OK)
        return NULL;
    cg_fmnist_net_init(&m, 3, 1);
    cg_status st = cg_weights_save(path, &m.p, err, sizeof err);
    cg_fmnist_net_free(&m);
    return st == CG_OK ? path : NULL;
}

#define ARCH "--data", "mnist", "--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4", \
             "--batch", "8", "--quiet", "--device", "cuda", "--deterministic", "--steps", "4"

/* On the GPU, G generates on the device for FID: the weights after 4 steps
 * are byte for byte those of the run without FID, and FID is logged at
 * steps 2 and 4 */
TEST(gpu_train_fid_every_leaves_training_unchanged)
{
    GPU_OR_SKIP();
    th_run_result r;
    char *fx = th_mnist_fixture(48, 0, th_draw_bar, NULL), *a = th_tmpdir(), *b = th_tmpdir();
    REQUIRE(fx && a && b);
    char *clf = classifier_file(b);
    REQUIRE(clf);
    NEED_BIN(&r, "train", "dcgan", ARCH, "--data-dir", fx, "--fid-every", "2", "--fid-n", "16",
             "--fid-net", clf, "--out", a);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    char *c = th_tmpdir();
    NEED_BIN(&r, "train", "dcgan", ARCH, "--data-dir", fx, "--out", c);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(same_file(th_path(a, "G.safetensors"), th_path(c, "G.safetensors")) &&
              same_file(th_path(a, "D.safetensors"), th_path(c, "D.safetensors")),
          "the weights differ with FID");
    size_t len;
    char *log = (char *)th_read_file(th_path(a, "metrics.jsonl"), &len);
    CHECK(log && strstr(log, "{\"step\": 2, \"epoch\": 1, \"fid\": ") &&
              strstr(log, "{\"step\": 4, \"epoch\": 1, \"fid\": "), "%s", log);
    th_rmtree(fx);
    th_rmtree(a);
    th_rmtree(b);
    th_rmtree(c);
}
