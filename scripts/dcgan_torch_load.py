#!/usr/bin/python3
"""dcgan_torch_load.py: a cugen DCGAN run's weights in the PyTorch example.

    /usr/bin/python3 scripts/dcgan_torch_load.py RUN_DIR [--z Z.f32 --images X.f32]

Reads RUN_DIR/G.safetensors and D.safetensors (with safetensors_check.py's
reader: Debian has no `safetensors` package), builds the example's Generator
and Discriminator with the sizes the files imply, and loads them with
load_state_dict(strict=True). With --z and --images (raw little-endian float32
files: latents (N, nz) and cugen's generated images (N, nc, S, S)), runs the
loaded G in train mode (batch statistics, as the example samples) on those z
and prints the largest difference from cugen's images.
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


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    run = argv[1]
    g, d = load(os.path.join(run, "G.safetensors")), load(os.path.join(run, "D.safetensors"))
    convs = sorted((int(k.split(".")[1]), v) for k, v in g.items()
                   if k.endswith(".weight") and v.dim() == 4)
    layers = len(convs)
    nz, ngf = convs[0][1].shape[0], convs[-1][1].shape[0]
    nc = convs[-1][1].shape[1]
    ndf = d["main.0.weight"].shape[0]
    netG, netD = Generator(nz, ngf, nc, layers), Discriminator(ndf, nc, layers)
    netG.load_state_dict(g, strict=True)
    netD.load_state_dict(d, strict=True)
    size = 4 << (layers - 1)
    print("%s: load_state_dict(strict=True) ok: Generator(nz %d, ngf %d, nc %d) %d parameters, "
          "Discriminator(ndf %d) %d parameters, %dx%d" % (
              run, nz, ngf, nc, sum(p.numel() for p in netG.parameters()), ndf,
              sum(p.numel() for p in netD.parameters()), size, size))
    if "--z" in argv:
        z = torch.frombuffer(bytearray(open(argv[argv.index("--z") + 1], "rb").read()),
                             dtype=torch.float32).reshape(-1, nz, 1, 1)
        want = torch.frombuffer(bytearray(open(argv[argv.index("--images") + 1], "rb").read()),
                                dtype=torch.float32).reshape(z.shape[0], nc, size, size)
        with torch.no_grad():
            got = netG.train()(z)
        err = (got - want).abs().max().item()
        print("  G(z) in PyTorch vs cugen's images: max |difference| %.3g over %d images" %
              (err, z.shape[0]))
        if err > 1e-4:
            print("  DIFFERS")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
