#!/usr/bin/python3
"""bench_ops_torch.py: PyTorch timings of the layers `cugen bench ops` times.

For each layer: forward time and backward time (dx and dw through
torch.autograd.grad), the median over --repeat runs after --warmup, on random
non-zero float32 data. --device cpu (default): with
torch.set_num_threads(--threads), timed with the host clock. --device cuda:
on the GPU, cuDNN with its default heuristics (benchmark off), in the
--precision cugen runs in (fp32: both TF32 switches off, PyTorch's cuDNN
default being on; tf32: both on; bench_common.py), each call timed with CUDA
events like cugen's GPU benchmark; with --elementwise N,C,S also relu,
leaky_relu, tanh, add and batch norm (training mode) on an (N, C, S) tensor.
On stdout, for cugen to parse, the precision the switches are in, then one
line per layer or op:

    precision P
    layer NAME fwd_ms F bwd_ms B
    op NAME fwd_ms F bwd_ms B

and a line "error MESSAGE" if torch cannot run. Layers come from --layer
NAME,conv|convT,Cin,Cout,H,k,stride,pad (repeatable; `cugen bench ops --torch`
passes its own list); without any, the DCGAN 64x64 layers below.

Not for: correctness checks (tests/ref, scripts/make_refs.py).
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import add_precision_arg, precision_of, set_precision  # noqa: E402

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


def time_fwd_bwd(torch, op, inputs, dy, warmup, repeat, cuda):
    """Median ms of y = op() and of torch.autograd.grad(y, inputs, dy)."""
    tf, tb = [], []
    for it in range(warmup + repeat):
        if cuda:
            e = [torch.cuda.Event(enable_timing=True) for _ in range(3)]
            e[0].record()
            y = op()
            e[1].record()
            torch.autograd.grad(y, inputs, dy)
            e[2].record()
            e[2].synchronize()
            f, b = e[0].elapsed_time(e[1]), e[1].elapsed_time(e[2])
        else:
            t0 = time.perf_counter()
            y = op()
            t1 = time.perf_counter()
            torch.autograd.grad(y, inputs, dy)
            t2 = time.perf_counter()
            f, b = (t1 - t0) * 1e3, (t2 - t1) * 1e3
        if it >= warmup:
            tf.append(f)
            tb.append(b)
    return statistics.median(tf), statistics.median(tb)


def bench_layer(torch, layer, batch, warmup, repeat, dev):
    name, kind, cin, cout, h, k, s, p = layer
    F = torch.nn.functional
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(batch, cin, h, h, generator=g).to(dev).requires_grad_()
    if kind == "conv":
        w = (0.02 * torch.randn(cout, cin, k, k, generator=g)).to(dev).requires_grad_()
        op = lambda: F.conv2d(x, w, None, s, p)
    else:
        w = (0.02 * torch.randn(cin, cout, k, k, generator=g)).to(dev).requires_grad_()
        op = lambda: F.conv_transpose2d(x, w, None, s, p)
    dy = torch.randn(op().shape, generator=g).to(dev)
    return time_fwd_bwd(torch, op, (x, w), dy, warmup, repeat, dev.type == "cuda")


def bench_elementwise(torch, name, shape, warmup, repeat, dev):
    """relu, leaky_relu, tanh, add (dx of both inputs), batchnorm (training,
    affine, running stats; dx, dgamma, dbeta) on shape (N, C, S)."""
    F = torch.nn.functional
    g = torch.Generator().manual_seed(99)
    n, c, s = shape
    x = torch.randn(n, c, s, generator=g).to(dev).requires_grad_()
    dy = torch.randn(n, c, s, generator=g).to(dev)
    inputs = (x,)
    if name == "relu":
        op = lambda: F.relu(x)
    elif name == "leaky_relu":
        op = lambda: F.leaky_relu(x, 0.2)
    elif name == "tanh":
        op = lambda: torch.tanh(x)
    elif name == "add":
        b = torch.randn(n, c, s, generator=g).to(dev).requires_grad_()
        op = lambda: x + b
        inputs = (x, b)
    else:
        gamma = torch.rand(c, generator=g).add_(0.5).to(dev).requires_grad_()
        beta = torch.randn(c, generator=g).to(dev).requires_grad_()
        rm, rv = torch.zeros(c, device=dev), torch.ones(c, device=dev)
        op = lambda: F.batch_norm(x, rm, rv, gamma, beta, True, 0.1, 1e-5)
        inputs = (x, gamma, beta)
    return time_fwd_bwd(torch, op, inputs, dy, warmup, repeat, dev.type == "cuda")


def parse_shape(s):
    f = s.split(",")
    if len(f) != 3:
        raise argparse.ArgumentTypeError("expected N,C,S")
    return tuple(int(v) for v in f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layer", type=parse_layer, action="append")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    add_precision_arg(ap)
    ap.add_argument("--elementwise", type=parse_shape, help="N,C,S: also time the pointwise ops")
    a = ap.parse_args()
    try:
        import torch
    except ImportError as e:
        print("error PyTorch is not installed for %s (%s)" % (sys.executable, e), flush=True)
        return 3
    if a.device == "cuda":
        if not torch.cuda.is_available():
            print("error this PyTorch sees no CUDA device (%s)" % sys.executable, flush=True)
            return 3
    else:
        torch.set_num_threads(a.threads)
    set_precision(torch, a.precision)
    print("precision %s" % precision_of(torch), flush=True)
    dev = torch.device(a.device)
    for layer in a.layer or DCGAN:
        f, b = bench_layer(torch, layer, a.batch, a.warmup, a.repeat, dev)
        print("layer %s fwd_ms %.4f bwd_ms %.4f" % (layer[0], f, b), flush=True)
    if a.elementwise:
        for name in ("relu", "leaky_relu", "tanh", "add", "batchnorm"):
            f, b = bench_elementwise(torch, name, a.elementwise, a.warmup, a.repeat, dev)
            print("op %s fwd_ms %.4f bwd_ms %.4f" % (name, f, b), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
