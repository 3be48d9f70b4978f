#!/usr/bin/python3
"""make_dcgan_variants_ref.py: the DCGAN variants of `cugen train dcgan`
(hinge loss, spectral normalisation, conditioning with a projection
discriminator), 3 training steps in PyTorch, as reference files for the
parity test in tests/unit/test_dcgan.c.

    /usr/bin/python3 scripts/make_dcgan_variants_ref.py tests/ref   (part of: make refs)

The networks are scripts/dcgan_torch.py's with their options; the loop is
make_dcgan_ref.py's (the D step on a real batch and on G(z).detach(), Adam on
D, the G step on D(G(z)), Adam on G; Adam(2e-4, (0.5, 0.999))) with:

  loss bce:   BCEWithLogits on D's logits (D has no Sigmoid when conditional)
  loss hinge: D relu(1 - D(x)).mean() + relu(1 + D(G(z))).mean(), G -D(G(z)).mean()
  conditional: y drawn uniformly per step; G(z, y) and D(., y) for the batch's y

Spectral normalisation runs as torch.nn.utils.spectral_norm does in training
mode: one power iteration per forward, so D's vectors move three times a step
and G's once. Cases:

  dcgan_sn32    hinge, spectral norm on D and G, 32x32, 1 channel
  dcgan_cond64  BCE, conditional on 5 classes (embed 7), 64x64, 3 channels
  dcgan_all32   hinge, spectral norm on D, conditional on 10 classes (embed 6)

Files as make_dcgan_ref.py's, plus y.<k> (labels as floats; conditional) and
cfg = nz, ngf, ndf, nc, size, batch, steps, sn (1 D, 2 G), classes,
embed_dim, loss (0 bce, 1 hinge). D_x, D_G_z1, D_G_z2 and the out_* are
sigmoid(D) for BCE and D's raw outputs for hinge, as cugen reports them.
Training runs in float64 on float32 inputs. Format: CGREF1, see make_refs.py.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dcgan_torch import Discriminator, Generator, layers_for, weights_init  # noqa: E402
from make_refs import write_ref  # noqa: E402


def state(prefix, net):
    return [(prefix + k, v.detach().clone().to(torch.float32)) for k, v in net.state_dict().items()]


def init_embeddings(netG, netD):
    """cugen's: G's label embedding N(0, 1) (nn.Embedding's own), D's N(0, 0.02)"""
    if hasattr(netD, "embed"):
        nn.init.normal_(netD.embed.weight.data, 0.0, 0.02)


def case(path, seed, nz, ngf, ndf, nc, size, batch, sn=0, classes=0, embed=0, hinge=False,
         steps=3):
    torch.manual_seed(seed)
    layers = layers_for(size)
    netG = Generator(nz, ngf, nc, layers, sn=bool(sn & 2), num_classes=classes, embed_dim=embed)
    netD = Discriminator(ndf, nc, layers, sn=bool(sn & 1), num_classes=classes, logits=True)
    netG.apply(weights_init)
    netD.apply(weights_init)
    init_embeddings(netG, netD)
    out = state("init.G.", netG) + state("init.D.", netD)
    reals = [torch.rand(batch, nc, size, size) * 2 - 1 for _ in range(steps)]
    zs = [torch.randn(batch, nz, 1, 1) for _ in range(steps)]
    ys = [torch.randint(0, classes, (batch,)) if classes else None for _ in range(steps)]
    netG.double()
    netD.double()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def d_loss(o, real):
        if hinge:
            return F.relu(1 - o).mean() if real else F.relu(1 + o).mean()
        return F.binary_cross_entropy_with_logits(o, torch.full_like(o, 1.0 if real else 0.0))

    def shown(o):
        return o.detach().clone() if hinge else torch.sigmoid(o.detach())

    for k in range(steps):
        real, y = reals[k].double(), ys[k]
        netD.zero_grad()
        output = netD(real, y)
        errD_real = d_loss(output, True)
        errD_real.backward()
        out_real = shown(output)
        fake = netG(zs[k].double(), y)
        output = netD(fake.detach(), y)
        errD_fake = d_loss(output, False)
        errD_fake.backward()
        out_fake = shown(output)
        errD = errD_real + errD_fake
        optD.step()
        netG.zero_grad()
        output = netD(fake, y)
        errG = -output.mean() if hinge else d_loss(output, True)
        errG.backward()
        out_g = shown(output)
        optG.step()
        out += [("real.%d" % k, reals[k]), ("z.%d" % k, zs[k].reshape(batch, nz)),
                ("loss_D.%d" % k, errD), ("loss_G.%d" % k, errG),
                ("D_x.%d" % k, out_real.mean().reshape(1)),
                ("D_G_z1.%d" % k, out_fake.mean().reshape(1)),
                ("D_G_z2.%d" % k, out_g.mean().reshape(1)), ("out_real.%d" % k, out_real),
                ("out_fake.%d" % k, out_fake), ("out_g.%d" % k, out_g)]
        if y is not None:
            out.append(("y.%d" % k, y.to(torch.float32)))
    out += state("final.G.", netG) + state("final.D.", netD)
    out.append(("cfg", torch.tensor([nz, ngf, ndf, nc, size, batch, steps, sn, classes, embed,
                                     1 if hinge else 0], dtype=torch.float32)))
    write_ref(path, out)
    print("wrote %s (%d tensors)" % (path, len(out)))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/ref"
    torch.set_num_threads(1)
    case(os.path.join(outdir, "dcgan_sn32.ref"), 21, nz=16, ngf=8, ndf=8, nc=1, size=32,
         batch=8, sn=3, hinge=True)
    case(os.path.join(outdir, "dcgan_cond64.ref"), 22, nz=10, ngf=4, ndf=6, nc=3, size=64,
         batch=3, classes=5, embed=7)
    case(os.path.join(outdir, "dcgan_all32.ref"), 23, nz=12, ngf=6, ndf=8, nc=1, size=32,
         batch=6, sn=1, classes=10, embed=6, hinge=True)


if __name__ == "__main__":
    main()
