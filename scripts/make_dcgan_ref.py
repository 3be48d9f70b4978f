#!/usr/bin/python3
"""make_dcgan_ref.py: the PyTorch DCGAN example, 3 training steps, as reference
files for cugen's parity test (tests/unit/test_dcgan.c).

    /usr/bin/python3 scripts/make_dcgan_ref.py tests/ref     (part of: make refs)

Needs Debian's python3-torch. The networks are pytorch/examples' dcgan/main.py
Generator and Discriminator (nn.Sequential `main`, ConvTranspose2d / Conv2d of
4x4 kernels without bias, BatchNorm2d, ReLU / LeakyReLU(0.2), Tanh / Sigmoid),
generalised from 64x64 (5 convolutions each) to 32x32 (4), initialised by the
example's weights_init, trained by its loop: BCELoss, Adam(lr 2e-4, betas (0.5,
0.999)) for each net, the D step on a real batch (label 1) and on G(z).detach()
(label 0), then the G step on D(G(z)) with label 1.

Two cases keep the files small: dcgan32 (1 channel, nz 16, ngf 8, ndf 8, batch 8)
and dcgan64 (3 channels, nz 10, ngf 4, ndf 6, batch 3). Each file holds

    init.G.<name>, init.D.<name>  every parameter and buffer of the state_dicts
    real.<k>, z.<k>               the batch and the noise of step k (0, 1, 2)
    loss_D.<k>, loss_G.<k>        errD_real + errD_fake, errG
    D_x.<k>, D_G_z1.<k>, D_G_z2.<k>
    out_real.<k>, out_fake.<k>, out_g.<k>   D's outputs (probabilities)
    final.G.<name>, final.D.<name>          the state_dicts after step 2
    cfg                           nz, ngf, ndf, nc, image size, batch, steps

num_batches_tracked is stored as a float. The inputs are drawn in float32; the
training runs in float64 on them (model.double()), so the reference is the
exact answer to the precision cugen's float32 run can be judged by. Format:
CGREF1, see make_refs.py.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dcgan_torch import Discriminator, Generator, layers_for, weights_init  # noqa: E402
from make_refs import write_ref  # noqa: E402


def state(prefix, net):
    return [(prefix + k, v.detach().clone().to(torch.float32)) for k, v in net.state_dict().items()]


def case(path, seed, nz, ngf, ndf, nc, size, batch, steps=3):
    torch.manual_seed(seed)
    layers = layers_for(size)
    netG, netD = Generator(nz, ngf, nc, layers), Discriminator(ndf, nc, layers)
    netG.apply(weights_init)
    netD.apply(weights_init)
    out = state("init.G.", netG) + state("init.D.", netD)
    reals = [torch.rand(batch, nc, size, size) * 2 - 1 for _ in range(steps)]
    zs = [torch.randn(batch, nz, 1, 1) for _ in range(steps)]
    netG.double()
    netD.double()
    criterion = nn.BCELoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for k in range(steps):
        real = reals[k].double()
        netD.zero_grad()
        label = torch.full((batch,), 1.0, dtype=torch.float64)
        output = netD(real)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        out_real = output.detach().clone()
        fake = netG(zs[k].double())
        label.fill_(0.0)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        out_fake = output.detach().clone()
        errD = errD_real + errD_fake
        optD.step()
        netG.zero_grad()
        label.fill_(1.0)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        optG.step()
        out += [("real.%d" % k, reals[k]), ("z.%d" % k, zs[k].reshape(batch, nz)),
                ("loss_D.%d" % k, errD), ("loss_G.%d" % k, errG),
                ("D_x.%d" % k, torch.tensor([D_x])), ("D_G_z1.%d" % k, torch.tensor([D_G_z1])),
                ("D_G_z2.%d" % k, torch.tensor([D_G_z2])), ("out_real.%d" % k, out_real),
                ("out_fake.%d" % k, out_fake), ("out_g.%d" % k, output.detach())]
    out += state("final.G.", netG) + state("final.D.", netD)
    out.append(("cfg", torch.tensor([nz, ngf, ndf, nc, size, batch, steps], dtype=torch.float32)))
    write_ref(path, out)
    print("wrote %s (%d tensors)" % (path, len(out)))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/ref"
    torch.set_num_threads(1)
    case(os.path.join(outdir, "dcgan32.ref"), 11, nz=16, ngf=8, ndf=8, nc=1, size=32, batch=8)
    case(os.path.join(outdir, "dcgan64.ref"), 12, nz=10, ngf=4, ndf=6, nc=3, size=64, batch=3)


if __name__ == "__main__":
    main()
