#!/usr/bin/python3
"""dcgan_torch_load.py: a cugen DCGAN run's weights in the PyTorch example.

    /usr/bin/python3 scripts/dcgan_torch_load.py RUN_DIR [--z Z.f32 --images X.f32 [--class K]]

Reads RUN_DIR/G.safetensors and D.safetensors (with safetensors_check.py's
reader: Debian has no `safetensors` package), builds the example's Generator
and Discriminator (scripts/dcgan_torch.py) with the sizes and variants the
files imply, and loads them with load_state_dict(strict=True):

  main.K.weight_orig, weight_u, weight_v   spectral_norm applied to those
                                           convolutions (--spectral-norm, -g)
  embed.weight                             conditional: G's label embedding,
                                           D's projection embedding
  main.3.weight of shape (C, H, W)         the WGAN-GP critic (--loss wgan-gp):
                                           LayerNorm where D has BatchNorm2d

With --z and --images (raw little-endian float32 files, as `cugen sample
--dump` writes them: latents (N, nz) and the generated images (N, nc, S, S)),
runs the loaded G in train mode (batch statistics, as the example samples;
spectral norm with the stored vectors, as cugen samples) on those z, for
class K when conditional (cugen sample --class K), and prints the largest
difference from cugen's images.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dcgan_torch import Discriminator, Generator  # noqa: E402
from safetensors_check import parse  # noqa: E402


def load(path):
    with open(path, "rb") as f:
        return parse(f.read())[1]


def conv_weights(sd):
    """(index in main, weight) of the (transposed) convolutions, and whether
    they are spectrally normalised"""
    sn = any(k.endswith(".weight_orig") for k in sd)
    suffix = ".weight_orig" if sn else ".weight"
    convs = sorted((int(k.split(".")[1]), v) for k, v in sd.items()
                   if k.startswith("main.") and k.endswith(suffix) and v.dim() == 4)
    return convs, sn


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    run = argv[1]
    g, d = load(os.path.join(run, "G.safetensors")), load(os.path.join(run, "D.safetensors"))
    convs, sn_g = conv_weights(g)
    d_convs, sn_d = conv_weights(d)
    layers = len(convs)
    classes, embed = (g["embed.weight"].shape if "embed.weight" in g else (0, 0))
    nz, ngf = convs[0][1].shape[0] - embed, convs[-1][1].shape[0]
    nc = convs[-1][1].shape[1]
    ndf = d_convs[0][1].shape[0]
    netG = Generator(nz, ngf, nc, layers, sn=sn_g, num_classes=classes, embed_dim=embed)
    critic = "main.3.weight" in d and d["main.3.weight"].dim() == 3
    netD = Discriminator(ndf, nc, layers, sn=sn_d, num_classes=classes, critic=critic)
    netG.load_state_dict(g, strict=True)
    netD.load_state_dict(d, strict=True)
    size = 4 << (layers - 1)
    variants = [s for s, on in (("spectral norm on G", sn_g), ("spectral norm on D", sn_d),
                                ("conditional on %d classes" % classes, classes),
                                ("the WGAN-GP critic", critic)) if on]
    print("%s: load_state_dict(strict=True) ok: Generator(nz %d, ngf %d, nc %d) %d parameters, "
          "Discriminator(ndf %d) %d parameters, %dx%d%s" % (
              run, nz, ngf, nc, sum(p.numel() for p in netG.parameters()), ndf,
              sum(p.numel() for p in netD.parameters()), size, size,
              "".join(", " + v for v in variants)))
    if "--z" in argv:
        z = torch.frombuffer(bytearray(open(argv[argv.index("--z") + 1], "rb").read()),
                             dtype=torch.float32).reshape(-1, nz, 1, 1)
        want = torch.frombuffer(bytearray(open(argv[argv.index("--images") + 1], "rb").read()),
                                dtype=torch.float32).reshape(z.shape[0], nc, size, size)
        y = None
        if classes:
            if "--class" not in argv:
                print("  a conditional G: give --class K (cugen sample --class K)")
                return 2
            y = torch.full((z.shape[0],), int(argv[argv.index("--class") + 1]), dtype=torch.long)
        netG.train()
        # spectral norm with the stored u and v (no power iteration), as cugen samples:
        # eval mode for the normalised convolutions only, batch statistics for batchnorm
        for m in netG.modules():
            if hasattr(m, "weight_orig"):
                m.eval()
        with torch.no_grad():
            got = netG(z, y)
        err = (got - want).abs().max().item()
        print("  G(z) in PyTorch vs cugen's images: max |difference| %.3g over %d images" %
              (err, z.shape[0]))
        if err > 1e-4:
            print("  DIFFERS")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
