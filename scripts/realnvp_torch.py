#!/usr/bin/python3
"""realnvp_torch.py: the image RealNVP trained in PyTorch the way
`cugen train realnvp --data fashion-mnist` trains it, for the side-by-side
numbers in docs/benchmarks.md.

    /usr/bin/python3 scripts/realnvp_torch.py --steps 300 [--batch 64] [--lr 1e-3]
        [--width 32] [--layers 3] [--scales 2] [--norm actnorm|batchnorm] [--threads 1]

Same flow (ImageRealNVP of make_vae_flow_ref.py, whose forward pass, log-det
and gradients tests/unit/test_flow.c compares with cugen's), same recipe:
Conv2d's default initialisation except the zeroed last convolution of every
s/t net, act-norm initialised from the first batch; pixels dequantised as
(pixel + u) / 256 with u ~ U(0, 1), logit(0.05 + 0.9 x); the mean NLL per
image minimised by Adam(lr, betas (0.9, 0.999), eps 1e-8); batches drawn in
a new random order every epoch, the last partial batch dropped (as cugen's
loader does). Then the test set's bits per dimension, one dequantisation
sample per image, batchnorm with its running statistics (as cugen eval
--metric bpd). The random streams are PyTorch's, so the numbers match
cugen's in distribution, not bit for bit. Prints:

    steps S train_bpd B img_per_s R seconds T
    test_bpd B
"""
import argparse
import gzip
import math
import os
import struct
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vae_flow_ref import ImageRealNVP  # noqa: E402

DIR = "/usr/share/datasets/fashion-mnist"
ALPHA = 0.05


def idx_images(split):
    for name in ("%s-images-idx3-ubyte.gz" % split, "%s-images-idx3-ubyte" % split):
        path = os.path.join(DIR, name)
        if os.path.exists(path):
            break
    else:
        sys.exit("no %s images in %s" % (split, DIR))
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic, n, h, w = struct.unpack(">IIII", data[:16])
    assert magic == 0x803, path
    return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).view(n, 1, h, w)


def preprocess(pixels):
    """uint8 (N, 1, S, S) -> y in logit space and sum over the batch of log|dy/dpixel/256|"""
    x = (pixels.float() + torch.rand(pixels.shape)) / 256
    s = ALPHA + (1 - 2 * ALPHA) * x
    y = torch.log(s) - torch.log1p(-s)
    ld = (math.log(1 - 2 * ALPHA) - torch.log(s) - torch.log1p(-s) - math.log(256)).sum()
    return y, ld.item()


def bpd(nll, ld_per_image, dims):
    return (nll - ld_per_image) / (dims * math.log(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--scales", type=int, default=2)
    ap.add_argument("--norm", choices=("actnorm", "batchnorm"), default="actnorm")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-limit", type=int, default=0, help="0: the whole test set")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train, test = idx_images("train"), idx_images("t10k")
    S = train.shape[2]
    D = S * S
    model = ImageRealNVP(1, S, a.layers, a.width, a.scales, a.layers + 1, a.norm)
    for m in model.modules():
        if hasattr(m, "net"):
            torch.nn.init.zeros_(m.net["out"].weight)
            torch.nn.init.zeros_(m.net["out"].bias)
        if hasattr(m, "norm") and hasattr(m.norm, "inited"):
            m.norm.inited.zero_()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    per_epoch = train.shape[0] // a.batch
    order, step, t0, train_bpd = None, 0, None, float("nan")
    model.train()
    while step < a.steps:
        if step % per_epoch == 0:
            order = torch.randperm(train.shape[0])
        i = step % per_epoch
        if step == 1:
            t0 = time.perf_counter()   # from the second step, as cugen's img/s
        y, ld = preprocess(train[order[i * a.batch:(i + 1) * a.batch]])
        nll = model.nll(y)
        opt.zero_grad()
        nll.backward()
        opt.step()
        train_bpd = bpd(nll.item(), ld / a.batch, D)
        step += 1
    secs = time.perf_counter() - t0
    print("steps %d train_bpd %.4f img_per_s %.1f seconds %.1f" %
          (step, train_bpd, (step - 1) * a.batch / secs, secs), flush=True)
    model.eval()
    n = test.shape[0] if a.test_limit <= 0 else min(a.test_limit, test.shape[0])
    nll_sum, ld_sum = 0.0, 0.0
    with torch.no_grad():
        for i in range(0, n, 100):
            y, ld = preprocess(test[i:min(i + 100, n)])
            nll_sum += model.nll(y).item() * y.shape[0]
            ld_sum += ld
    print("test_bpd %.4f (%d images)" % (bpd(nll_sum / n, ld_sum / n, D), n))


if __name__ == "__main__":
    main()
