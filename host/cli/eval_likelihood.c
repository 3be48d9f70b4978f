/*
 * eval_likelihood.c: `cugen eval CKPT --metric elbo|nll|bpd`: likelihoods of
 * a trained model on a test set, in nats per image (elbo, nll) or bits per
 * dimension (bpd), and with --out DIR the model's pictures.
 *
 * CKPT is a VAE run directory, its checkpoint.safetensors or vae.safetensors;
 * the images are resized to the size the VAE was trained at. bpd: an image
 * RealNVP's run directory or flow.safetensors; one dequantisation sample per
 * image.
 * elbo: the mean ELBO with one posterior sample per image. nll: the
 * importance-weighted estimate of -log p(x) with --k samples per image (the
 * ELBO is printed beside it: nll <= -elbo up to the estimate's noise).
 * --device: elbo and nll run on the GPU (auto: when there is one); bpd on
 * the CPU.
 */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cugen/data.h"
#include "cugen/flow.h"
#include "cugen/train.h"
#include "cugen/vae.h"

/* the side S with x_dim = channels S S, or 0 */
static int square_side(int x_dim, int channels)
{
    if (channels < 1 || x_dim % channels)
        return 0;
    int n = x_dim / channels, s = 1;
    while (s * s < n)
        s++;
    return s * s == n ? s : 0;
}

/* bits per dimension of an image RealNVP on the test set */
static int eval_bpd(const char *ckpt, const char *data, const char *data_dir, const char *split,
                    int64_t n, int64_t seed)
{
    const char *cmd = "cugen eval";
    char err[4600];
    cg_flowimg m;
    cg_status st = cg_flowimg_load(ckpt, &m, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s: --metric bpd is for image flows: %s\n", cmd, err);
        return st == CG_ERR_ARG || st == CG_ERR_IO ? 2 : 1;
    }
    cg_dataset ds;
    cg_data_spec spec = {.name = data, .dir = data_dir, .split = split, .size = m.a.size};
    if ((st = cg_dataset_open(&spec, &ds, err, sizeof err)) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        cg_flowimg_free(&m);
        return st == CG_ERR_ARG || st == CG_ERR_IO ? 2 : 1;
    }
    double bpd;
    st = cg_flowimg_evaluate(&m, &ds, n, (uint64_t)seed, &bpd, err, sizeof err);
    if (st == CG_OK)
        printf("%s, %lld images of %dx%dx%d; RealNVP (%d scales, %d couplings per stage, "
               "%d at the last, width %d, %s) from %s\n  %.4f bits per dimension\n", ds.name,
               (long long)(n > 0 && n < ds.count ? n : ds.count), ds.channels, ds.height,
               ds.width, m.a.scales, m.a.layers, m.a.last, m.a.width,
               cg_flowimg_norm_name(m.a.norm), ckpt, bpd);
    else
        fprintf(stderr, "%s: %s\n", cmd, err);
    cg_dataset_free(&ds);
    cg_flowimg_free(&m);
    return st == CG_OK ? 0 : st == CG_ERR_ARG ? 2 : 1;
}

int cli_eval_likelihood(int argc, char **argv)
{
    const char *cmd = "cugen eval";
    const char *metric = NULL, *data = "fashion-mnist", *data_dir = NULL, *split = "test";
    const char *out = NULL, *device = "auto";
    int64_t k = 1000, n = 0, seed = 0;
    arg_opt opts[] = {
        {"metric", ARG_CHOICE, &metric, "elbo|nll|bpd", "what to measure", 1, 0, 0},
        {"k", ARG_INT, &k, "N", "nll: importance samples per image (default 1000)", 1, 1e6, 0},
        {"n", ARG_INT, &n, "N", "only the first N images (default all)", 1, 1e9, 0},
        {"data", ARG_CHOICE, &data, "fashion-mnist|mnist|celeba|imagefolder",
         "the images (default fashion-mnist)", 1, 0, 0},
        {"data-dir", ARG_STR, &data_dir, "PATH", "where they are", 1, 0, 0},
        {"split", ARG_CHOICE, &split, "train|test", "which part (default test)", 1, 0, 0},
        {"seed", ARG_INT, &seed, "N", "seed of the posterior samples (default 0)", 0,
         9.007199254740992e15, 0},
        {"out", ARG_STR, &out, "DIR", "also write the pictures (samples.png, recon.png, "
         "traversal.png, interp.png, manifold.png for a 2-D latent) here", 1, 0, 0},
        {"device", ARG_CHOICE, &device, "auto|cpu|cuda",
         "elbo, nll: where to compute (default auto: the GPU if there is one)", 1, 0, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int npos = 0;
    int r = args_parse(cmd, opts, nopts, argc, argv, 1, pos, 1, &npos);
    if (r == ARGS_HELP) {
        args_usage(cmd, "CKPT --metric elbo|nll|bpd [flags]   (CKPT: a VAE or image RealNVP run "
                   "directory, or its weights)", opts, nopts);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    if (npos != 1) {
        fprintf(stderr, "%s: give one checkpoint: a run directory, checkpoint.safetensors or "
                "vae.safetensors (see %s --help)\n", cmd, cmd);
        return 2;
    }
    /* only the IDX sets have splits; a folder or packed file is what it is */
    int has_splits = strcmp(data, "fashion-mnist") == 0 || strcmp(data, "mnist") == 0;
    if (!has_splits && opts[5].seen) {
        fprintf(stderr, "%s: --split is for fashion-mnist and mnist; %s is evaluated whole\n",
                cmd, data);
        return 2;
    }
    if (!has_splits)
        split = NULL;
    if (opts[1].seen && strcmp(metric, "nll") != 0) {
        fprintf(stderr, "%s: --k is for --metric nll\n", cmd);
        return 2;
    }
    char err[4600];
    if (strcmp(metric, "bpd") == 0 && out) {
        fprintf(stderr, "%s: --out draws a VAE's pictures; a flow's samples are in its run "
                "directory (samples.png)\n", cmd);
        return 2;
    }
    if (strcmp(metric, "bpd") == 0) {
        if (strcmp(device, "cuda") == 0) {
            fprintf(stderr, "%s: --device cuda: --metric bpd runs on the CPU only\n", cmd);
            return 2;
        }
        return eval_bpd(pos[0], data, data_dir, split, n, seed);
    }
    cg_device dev;
    char note[320];
    if (cg_device_resolve(device, &dev, note, sizeof note) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, note);
        return 2;
    }
    cg_vae m;
    cg_status st = cg_vae_load(pos[0], &m, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return st == CG_ERR_ARG || st == CG_ERR_IO ? 2 : 1;
    }
    if (dev == CG_CUDA && (st = cg_vae_to_device(&m, CG_CUDA, err, sizeof err)) != CG_OK) {
        fprintf(stderr, "%s: parameters to the GPU: %s\n", cmd, err);
        cg_vae_free(&m);
        return 1;
    }
    cg_dataset ds;
    cg_data_spec spec = {.name = data, .dir = data_dir, .split = split,
                         .size = m.a.kind == CG_VAE_CONV ? m.a.size : 0};
    st = cg_dataset_open(&spec, &ds, err, sizeof err);
    int side = st == CG_OK ? square_side(m.a.x_dim, ds.channels) : 0;
    if (st == CG_OK && side && side != ds.height) {
        /* an MLP trained on resized images (--image-size): the same size here */
        cg_dataset_free(&ds);
        spec.size = side;
        st = cg_dataset_open(&spec, &ds, err, sizeof err);
    }
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        cg_vae_free(&m);
        return st == CG_ERR_ARG || st == CG_ERR_IO ? 2 : 1;
    }
    int iw = strcmp(metric, "nll") == 0 ? (int)k : 0;
    cg_vae_eval ev;
    st = cg_vae_evaluate(&m, &ds, n, iw, (uint64_t)seed, &ev, err, sizeof err);
    if (st == CG_OK && out) {
        if ((st = cg_mkdirs(out, err, sizeof err)) == CG_OK)
            st = cg_vae_pictures(&m, &ds, out, (uint64_t)seed, err, sizeof err);
    }
    int code = 0;
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        code = st == CG_ERR_ARG ? 2 : 1;
    } else {
        printf("%s\n", note);
        printf("%s, %lld images of %dx%dx%d; %s VAE (%s pixels, latent %d) from %s\n",
               ds.name, (long long)ev.images, ds.channels, ds.height, ds.width,
               m.a.kind == CG_VAE_CONV ? "conv" : "MLP",
               m.a.lik == CG_VAE_GAUSSIAN ? "Gaussian" : "Bernoulli", m.a.latent, pos[0]);
        printf("  ELBO %.4f nats per image (rec %.4f, kl %.4f)\n", ev.elbo, ev.rec, ev.kl);
        if (iw)
            printf("  NLL %.4f nats per image (importance-weighted, k = %d)\n", ev.nll, ev.k);
        if (out)
            printf("  pictures in %s\n", out);
    }
    cg_dataset_free(&ds);
    cg_vae_free(&m);
    return code;
}
