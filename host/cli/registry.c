/*
 * registry.c (cli): every model `cugen train` knows, in the order of its
 * --help. A model's kind lives beside its code.
 */
#include "cli/train_kinds.h"
#include "cugen/flow.h"

extern const cg_model_kind cg_kind_vae, cg_kind_dcgan, cg_kind_ddpm, cg_kind_mlp_gan,
    cg_kind_rbm, cg_kind_classifier, cg_kind_gauss_init, cg_kind_gaussian, cg_kind_gmm,
    cg_kind_linear_game, cg_kind_ebm, cg_kind_pixelcnn;
extern const cg_model_kind cg_kind_autoencoder;

const cg_model_kind *const cli_kinds[] = {
    &cg_kind_gaussian, &cg_kind_linear_game, &cg_kind_dcgan, &cg_kind_ddpm, &cg_kind_vae,
    &cg_kind_autoencoder,
    &cg_kind_realnvp, &cg_kind_mlp_gan, &cg_kind_gmm, &cg_kind_rbm, &cg_kind_gauss_init,
    &cg_kind_classifier, &cg_kind_ebm, &cg_kind_pixelcnn,
};
const int cli_n_kinds = sizeof cli_kinds / sizeof cli_kinds[0];
