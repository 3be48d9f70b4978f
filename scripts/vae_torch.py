#!/usr/bin/python3
"""vae_torch.py: the seed article's MLP VAE trained in PyTorch the way
`cugen train vae` trains it, for the side-by-side numbers in docs/benchmarks.md.

    /usr/bin/python3 scripts/vae_torch.py --epochs 10 [--threads 2] [--device cpu]

Same network (784-400-20, the article's VAE module from make_vae_flow_ref.py),
same recipe: Fashion-MNIST pixels in [0, 1] as Bernoulli targets (grey values,
not binarised), BCE summed + analytic KL, Adam(lr 1e-3), batches of 128 drawn
in a new random order every epoch with the last partial batch dropped (as
cugen's loader does). After every epoch: the test ELBO with one posterior
sample per image (nats per image) and the training throughput (img/s of the
epoch's steps, data handling included, evaluation excluded). Prints one line
per epoch:

    epoch E train_loss L test_elbo T img_per_s R
"""
import argparse
import gzip
import os
import struct
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vae_flow_ref import VAE, vae_loss  # noqa: E402

DIR = "/usr/share/datasets/fashion-mnist"


def idx_images(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic, n, h, w = struct.unpack(">IIII", data[:16])
    assert magic == 0x803, path
    return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).view(n, h * w)


def find(split):
    for name in ("%s-images-idx3-ubyte.gz" % split, "%s-images-idx3-ubyte" % split):
        p = os.path.join(DIR, name)
        if os.path.exists(p):
            return p
    sys.exit("no %s images in %s" % (split, DIR))


def test_elbo(model, test, device):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, test.shape[0], 500):
            x = (test[i:i + 500].float() / 255).to(device)
            mu, logvar = model.encode(x)
            eps = torch.randn_like(mu)
            recon = model.decode(mu + torch.exp(0.5 * logvar) * eps)
            loss, _, _ = vae_loss(recon, x, mu, logvar)
            total += loss.item()
    model.train()
    return -total / test.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train, test = idx_images(find("train")), idx_images(find("t10k"))
    model = VAE().to(a.device)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    steps = train.shape[0] // a.batch
    print("torch %s, %d threads, %s" % (torch.__version__, torch.get_num_threads(), a.device),
          flush=True)
    for epoch in range(1, a.epochs + 1):
        order = torch.randperm(train.shape[0])
        t0, total = time.perf_counter(), 0.0
        for s in range(steps):
            x = (train[order[s * a.batch:(s + 1) * a.batch]].float() / 255).to(a.device)
            recon, mu, logvar = model(x, torch.randn(x.shape[0], 20, device=a.device))
            loss, _, _ = vae_loss(recon, x, mu, logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        rate = steps * a.batch / (time.perf_counter() - t0)
        print("epoch %d train_loss %.3f test_elbo %.3f img_per_s %.0f" %
              (epoch, total / (steps * a.batch), test_elbo(model, test, a.device), rate),
              flush=True)


if __name__ == "__main__":
    main()
