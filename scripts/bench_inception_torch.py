#!/usr/bin/python3
"""bench_inception_torch.py: img/s of the FID Inception features in PyTorch, for
`cugen bench inception` (which runs it and prints the ratio).

    /usr/bin/python3 scripts/bench_inception_torch.py --n 64 --batch 16 --image-size 64

The model of scripts/make_inception_ref.py (torchvision's inception_v3 with the
FID changes, the hash weights), float32, eval mode, no_grad; n random images of
3 x S x S in [0, 1], resized to 299 inside as pytorch-fid does, in batches,
in the --precision cugen runs in (bench_common.py). One untimed batch first;
prints "step_ms <ms per batch> img_per_s <rate> ... precision P".
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import add_precision_arg, precision_of, set_precision  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    add_precision_arg(ap)
    a = ap.parse_args()
    try:
        import torch
        from make_inception_ref import features, fid_inception, fill
    except ImportError as e:
        print("error PyTorch or torchvision is not installed for %s (%s)" % (sys.executable, e),
              flush=True)
        return 3
    if a.device == "cuda" and not torch.cuda.is_available():
        print("error PyTorch sees no CUDA device", flush=True)
        return 3
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    set_precision(torch, a.precision)
    dev = torch.device(a.device)
    m = fid_inception()
    fill(m)
    m = m.to(dev)
    torch.manual_seed(1)
    x = torch.rand(a.n, 3, a.image_size, a.image_size, device=dev)

    def run(lo, hi):
        with torch.no_grad():
            f = features(m, x[lo:hi])
        if a.device == "cuda":
            torch.cuda.synchronize()
        return f

    run(0, min(a.batch, a.n))
    s = time.perf_counter()
    for lo in range(0, a.n, a.batch):
        run(lo, min(lo + a.batch, a.n))
    secs = time.perf_counter() - s
    batches = (a.n + a.batch - 1) // a.batch
    print("step_ms %.4f img_per_s %.2f threads %d torch %s precision %s" %
          (secs / batches * 1e3, a.n / secs, torch.get_num_threads(), torch.__version__,
           precision_of(torch)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
