#!/usr/bin/python3
"""bench_torch_dcgan.py: one DCGAN training iteration in PyTorch eager, timed.

`cugen bench step dcgan` runs this with its own settings and shows the two
side by side. The iteration is the example's (dcgan/main.py): netD.zero_grad,
D on a real batch, G(z), D on G(z).detach, optimizerD.step, netG.zero_grad,
D(G(z)), optimizerG.step, with BCELoss and Adam(2e-4, (0.5, 0.999)), on random
data in [-1, 1], in the --precision cugen runs in (bench_common.py). Prints,
for cugen to parse:

    step_ms MEDIAN img_per_s RATE ... precision P

and "error MESSAGE" when it cannot run. GPU timing uses CUDA events around
each iteration; CPU timing time.perf_counter.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import add_precision_arg, median_ms, report, set_precision  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--image-size", type=int, default=64, choices=(32, 64))
    ap.add_argument("--nc", type=int, default=3)
    ap.add_argument("--nz", type=int, default=100)
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    add_precision_arg(ap)
    a = ap.parse_args()
    try:
        import torch
        import torch.nn as nn
        from dcgan_torch import Discriminator, Generator, layers_for, weights_init
    except ImportError as e:
        print("error PyTorch is not installed for %s (%s)" % (sys.executable, e), flush=True)
        return 3
    if a.device == "cuda" and not torch.cuda.is_available():
        print("error PyTorch sees no CUDA device", flush=True)
        return 3
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    set_precision(torch, a.precision)
    dev = torch.device(a.device)
    torch.manual_seed(1)
    L = layers_for(a.image_size)
    netG = Generator(a.nz, a.ngf, a.nc, L).to(dev)
    netD = Discriminator(a.ndf, a.nc, L).to(dev)
    netG.apply(weights_init)
    netD.apply(weights_init)
    crit = nn.BCELoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(a.batch, a.nc, a.image_size, a.image_size, device=dev) * 2 - 1
    ones = torch.ones(a.batch, device=dev)
    zeros = torch.zeros(a.batch, device=dev)

    def step():
        netD.zero_grad()
        errD_real = crit(netD(real), ones)
        errD_real.backward()
        fake = netG(torch.randn(a.batch, a.nz, 1, 1, device=dev))
        errD_fake = crit(netD(fake.detach()), zeros)
        errD_fake.backward()
        optD.step()
        netG.zero_grad()
        errG = crit(netD(fake), ones)
        errG.backward()
        optG.step()

    report(torch, median_ms(torch, a.device, step, a.warmup, a.repeat), a.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
