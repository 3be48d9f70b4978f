#!/usr/bin/python3
"""train_torch_pixelcnn.py: the PixelCNN of cugen train pixelcnn trained in PyTorch the same
way, for comparing bits per dimension after the same short training.

    /usr/bin/python3 scripts/train_torch_pixelcnn.py --steps 300 [--hidden 32 --blocks 5
        --levels 2 --batch 64 --lr 1e-3 --seed 0 --test-n 0]

The same network (pixelcnn_torch.py), data (Fashion-MNIST from
/usr/share/datasets/fashion-mnist, binarized at 0.5 or 256 levels), batch, steps and
Adam(lr); its own initial weights and shuffle (torch's generator, not cugen's Philox), so
the two runs agree in distribution, not step by step. Prints the test NLL (nats per image)
and bits per dimension over the first --test-n test images (0: all).
"""
import argparse
import gzip
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pixelcnn_torch import PixelCNN, pixels  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def idx_images(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    n, h, w = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    return torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).reshape(n, h, w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--levels", type=int, default=2, choices=(2, 256))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-n", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    train, test = idx_images("train-images-idx3-ubyte.gz"), idx_images("t10k-images-idx3-ubyte.gz")
    if a.test_n > 0:
        test = test[:a.test_n]
    m = PixelCNN(a.hidden, a.blocks, a.levels)
    opt = torch.optim.Adam(m.parameters(), lr=a.lr)
    order, at, t0 = torch.randperm(len(train)), 0, time.time()
    for step in range(1, a.steps + 1):
        if at + a.batch > len(train):
            order, at = torch.randperm(len(train)), 0
        x, lab = pixels(train[order[at:at + a.batch]], a.levels)
        at += a.batch
        loss = m.nll(x, lab) / a.batch
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == a.steps:
            print("step %d nll %.3f (%.1f s)" % (step, loss.item(), time.time() - t0), flush=True)
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(test), 100):
            x, lab = pixels(test[i:i + 100], a.levels)
            total += m.nll(x, lab).item()
    nats = total / len(test)
    print("test: %d images, NLL %.4f nats per image, %.5f bits per dimension"
          % (len(test), nats, nats / (784 * math.log(2))))


if __name__ == "__main__":
    main()
