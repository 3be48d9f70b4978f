/*
 * pixelcnn_train.c: `cugen train pixelcnn` as the trainer runs it: Adam
 * (lr 1e-3, batches of 64) on the exact NLL per image of binarized (or
 * 256-level) Fashion-MNIST.
 *
 *   DIR/checkpoint.safetensors  weights, Adam's moments, loader position: all
 *                               --resume needs (and .prev)
 *   DIR/pixelcnn.safetensors    the weights alone, PyTorch state_dict names
 *   DIR/metrics.jsonl           per step nll (nats per image) and bpd; per
 *                               epoch test_nll, test_bpd on the first --test-n
 *                               images of the test split (cugen eval: all)
 *   DIR/samples.png             --grid samples drawn pixel by pixel at the end
 *
 * Random streams of the seed: 1 the initial weights, 2 the samples of
 * samples.png; the loader has its own. The step draws no noise.
 *
 * With --device cuda the step, the test likelihood and the samples run on
 * the GPU; checkpoints go through host copies, so a run resumes on either.
 *
 * Not for: the network (pixelcnn.c), sampling (pixelcnn_sample.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/pixelcnn.h"
#include "cugen/sampler.h"
#include "cugen/trainer.h"

#define STREAM_INIT 1
#define STREAM_GRID 2

typedef struct {
    int64_t hidden, blocks, levels, grid, test_n;
} pcnn_flags;

typedef struct {
    cg_pixelcnn m;
    cg_adam adam;
    real *x;          /* a batch's network input (batch, H, W), host */
    int32_t *labels;  /* its pixel labels */
} pcnn_run;

static cg_status build(cg_trainer *t, void *self)
{
    pcnn_run *r = self;
    const pcnn_flags *f = t->settings;
    char why[1024];
    if (t->ds.channels != 1)
        return cg_trainer_fail(t, CG_ERR_ARG, "takes one-channel images; %s has %d channels",
                               t->ds.name, t->ds.channels);
    cg_pixelcnn_arch a = {.hidden = (int)f->hidden, .blocks = (int)f->blocks,
                          .levels = (int)f->levels};
    cg_status st = cg_pixelcnn_build(&r->m, &a, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail_model(t, st, why);
    size_t px = (size_t)t->o->batch * (size_t)(t->ds.height * t->ds.width);
    r->x = malloc(sizeof(real) * px);
    r->labels = malloc(sizeof(int32_t) * px);
    if (!r->x || !r->labels)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory for a batch");
    if ((st = cg_pixelcnn_init(&r->m, t->o->seed, STREAM_INIT)) != CG_OK ||
        (t->o->device == CG_CUDA &&
         (st = cg_pixelcnn_to_device(&r->m, CG_CUDA, why, sizeof why)) != CG_OK))
        return cg_trainer_fail(t, st, "parameters to the GPU: %s", why);
    cg_adam_init(&r->adam, t->o->lr, 0.9, 0.999, 1e-8, 0.0, 0);  /* torch.optim.Adam defaults */
    cg_trainer_params(t, &r->m.p, &r->adam.t, NULL);
    cg_trainer_setting(t, "run.hidden", a.hidden, "--hidden");
    cg_trainer_setting(t, "run.blocks", a.blocks, "--blocks");
    cg_trainer_setting(t, "run.levels", a.levels, "--levels");
    cg_trainer_setting(t, "run.pixels", (int64_t)t->ds.height * t->ds.width,
                       "pixels per image (--data, --image-size)");
    return CG_OK;
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    const cg_pixelcnn_arch *a = &((pcnn_run *)self)->m.a;
    snprintf(buf, len, "7x7 mask A, %d residual blocks (h %d), %s, %dx%d", a->blocks,
             a->hidden, a->levels == 2 ? "binary pixels (threshold 0.5)" : "256 levels",
             t->ds.height, t->ds.width);
}

static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    pcnn_run *r = self;
    cg_ctx *ctx = &t->ctx;
    int H = t->ds.height, W = t->ds.width;
    (void)x;   /* binarized or quantised from the host batch instead */
    cg_pixelcnn_pixels(r->m.a.levels, b->x, (int64_t)b->n * H * W, r->x, r->labels);
    cg_tensor *in = cg_new_on(ctx, t->o->device, CG_SHAPE(b->n, 1, H, W));
    if (in && cg_copy_from_host(ctx, in, r->x) != CG_OK)
        return ctx->err ? ctx->err : CG_ERR_CUDA;
    double nll;
    cg_status st = cg_pixelcnn_step(ctx, &r->m, &r->adam, in, r->labels, &nll);
    cg_scalars_put(out, "nll", nll);
    cg_scalars_put(out, "bpd", cg_pixelcnn_bpd(nll, (int64_t)H * W));
    return st;
}

static cg_status test_nll(cg_trainer *t, pcnn_run *r, cg_scalars *out)
{
    const pcnn_flags *f = t->settings;
    char why[512];
    double nats;
    int64_t count;
    cg_status st = cg_pixelcnn_evaluate(&r->m, &t->test, f->test_n, &nats, &count, why,
                                        sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "%s", why);
    cg_scalars_put(out, "test_nll", nats);
    cg_scalars_put(out, "test_bpd", cg_pixelcnn_bpd(nats, (int64_t)t->test.height *
                                                              t->test.width));
    return CG_OK;
}

static cg_status epoch_end(cg_trainer *t, void *self, int64_t epoch, cg_scalars *out)
{
    (void)epoch;
    return test_nll(t, self, out);
}

static cg_status on_save(cg_trainer *t, void *self)
{
    return cg_trainer_save_weights(t, &((pcnn_run *)self)->m.p, NULL, "pixelcnn.safetensors");
}

/* The test likelihood when no epoch ended there, and samples.png */
static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    pcnn_run *r = self;
    const pcnn_flags *f = t->settings;
    cg_status st = CG_OK;
    if (t->epoch == 0 || t->step % t->per_epoch != 0)
        st = test_nll(t, r, out);
    if (st != CG_OK || !t->o->out_dir || f->grid == 0)
        return st;
    int S = t->ds.height, n = (int)f->grid;
    real *img = malloc(sizeof(real) * (size_t)n * S * S);
    char why[512];
    if (!img)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory for samples.png");
    st = cg_pixelcnn_sample(&r->m, n, S, t->o->seed, STREAM_GRID, img, why, sizeof why);
    if (st != CG_OK)
        cg_trainer_fail(t, st, "%s", why);
    else
        st = cg_trainer_grid(t, "samples.png", cg_wrap(&t->ctx, img, CG_SHAPE(n, 1, S, S)), 8);
    free(img);
    return st;
}

static void free_run(void *self)
{
    pcnn_run *r = self;
    cg_pixelcnn_free(&r->m);
    free(r->x);
    free(r->labels);
}

#define F(field) offsetof(pcnn_flags, field)
static const cg_flag flags[] = {
    {"hidden", CG_FLAG_INT, F(hidden), "32", 1, 1024, "H",
     "h: residual blocks of 2h -> h -> h -> 2h channels", NULL},
    {"blocks", CG_FLAG_INT, F(blocks), "5", 0, CG_PIXELCNN_MAX_BLOCKS, "N",
     "residual blocks with a 3x3 mask-B convolution", NULL},
    {"levels", CG_FLAG_INT, F(levels), "2", 2, 256, "2|256",
     "values per pixel: 2 (binarized at 0.5, one logit) or 256 (softmax over 256)", NULL},
    {"test-n", CG_FLAG_INT, F(test_n), "1000", 0, 1e9, "N",
     "test images measured after each epoch and at the end (0: all)", NULL},
    {"grid", CG_FLAG_INT, F(grid), "64", 0, 1024, "N",
     "samples drawn into samples.png at the end (0: none)", NULL},
};
#undef F

static cg_status check(const void *settings, const cg_train_opts *o, char *err, size_t len)
{
    (void)o;
    const pcnn_flags *f = settings;
    if (f->levels != 2 && f->levels != 256) {
        snprintf(err, len, "--levels %lld: 2 or 256", (long long)f->levels);
        return CG_ERR_ARG;
    }
    return CG_OK;
}

extern const cg_sampler cg_sampler_pixelcnn;  /* pixelcnn_sample.c: cugen sample and eval */

const cg_model_kind cg_kind_pixelcnn = {
    .name = "pixelcnn", .title = "PixelCNN",
    .summary = "PixelCNN (van den Oord et al. 2016): masked convolutions, exact likelihood, "
               "binarized or 256-level Fashion-MNIST",
    .batch = 64, .lr = 1e-3, .ckpt_every = 500, .gpu = 1, .checkpoints = 1,
    .shared = "data data-dir image-size deterministic tf32", .data = "fashion-mnist",
    .flags = flags, .nflags = sizeof flags / sizeof flags[0],
    .settings_size = sizeof(pcnn_flags), .may_change = "grid", .check = check,
    .state_size = sizeof(pcnn_run), .test_split = 1, .build = build, .describe = describe,
    .step = step, .epoch_end = epoch_end, .on_save = on_save, .finish = finish,
    .free = free_run,
    .files = "samples: %s/samples.png; weights: %s/pixelcnn.safetensors",
    .sampler = &cg_sampler_pixelcnn,
};
