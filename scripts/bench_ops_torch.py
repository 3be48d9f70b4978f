#!/usr/bin/python3
"""bench_ops_torch.py: PyTorch CPU timings of the layers `cugen bench ops` times.

For each layer: forward time and backward time (dx and dw through
torch.autograd.grad), the median over --repeat runs after --warmup, on random
non-zero float32 data, with torch.set_num_threads(--threads). One line per
layer on stdout, for cugen to parse:

    layer NAME fwd_ms F bwd_ms B

and a line "error MESSAGE" if torch cannot run. Layers come from --layer
NAME,conv|convT,Cin,Cout,H,k,stride,pad (repeatable; `cugen bench ops --torch`
passes its own list); without any, the DCGAN 64x64 layers below.

Not for: correctness checks (tests/ref, scripts/make_refs.py).
"""
import argparse
import statistics
import sys
import time

# DCGAN 64x64, nz = 100, ngf = ndf = 64, no bias: name, kind, Cin, Cout, H, k, s, p
DCGAN = [
    ("G1", "convT", 100, 512, 1, 4, 1, 0), ("G2", "convT", 512, 256, 4, 4, 2, 1),
    ("G3", "convT", 256, 128, 8, 4, 2, 1), ("G4", "convT", 128, 64, 16, 4, 2, 1),
    ("G5", "convT", 64, 3, 32, 4, 2, 1), ("D1", "conv", 3, 64, 64, 4, 2, 1),
    ("D2", "conv", 64, 128, 32, 4, 2, 1), ("D3", "conv", 128, 256, 16, 4, 2, 1),
    ("D4", "conv", 256, 512, 8, 4, 2, 1), ("D5", "conv", 512, 1, 4, 4, 1, 0),
]


def parse_layer(s):
    f = s.split(",")
    if len(f) != 8 or f[1] not in ("conv", "convT"):
        raise argparse.ArgumentTypeError("expected NAME,conv|convT,Cin,Cout,H,k,stride,pad")
    return (f[0], f[1]) + tuple(int(v) for v in f[2:])


def bench_layer(torch, layer, batch, warmup, repeat):
    name, kind, cin, cout, h, k, s, p = layer
    F = torch.nn.functional
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(batch, cin, h, h, generator=g, requires_grad=True)
    if kind == "conv":
        w = (0.02 * torch.randn(cout, cin, k, k, generator=g)).requires_grad_()
        op = lambda: F.conv2d(x, w, None, s, p)
    else:
        w = (0.02 * torch.randn(cin, cout, k, k, generator=g)).requires_grad_()
        op = lambda: F.conv_transpose2d(x, w, None, s, p)
    dy = torch.randn(op().shape, generator=g)
    tf, tb = [], []
    for it in range(warmup + repeat):
        t0 = time.perf_counter()
        y = op()
        t1 = time.perf_counter()
        torch.autograd.grad(y, (x, w), dy)
        t2 = time.perf_counter()
        if it >= warmup:
            tf.append((t1 - t0) * 1e3)
            tb.append((t2 - t1) * 1e3)
    return statistics.median(tf), statistics.median(tb)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layer", type=parse_layer, action="append")
    a = ap.parse_args()
    try:
        import torch
    except ImportError as e:
        print("error PyTorch is not installed for %s (%s)" % (sys.executable, e), flush=True)
        return 3
    torch.set_num_threads(a.threads)
    for layer in a.layer or DCGAN:
        f, b = bench_layer(torch, layer, a.batch, a.warmup, a.repeat)
        print("layer %s fwd_ms %.4f bwd_ms %.4f" % (layer[0], f, b), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
