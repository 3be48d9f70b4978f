#!/usr/bin/python3
"""bench_torch_realnvp.py: one image RealNVP training step in PyTorch eager, timed.

`cugen bench step realnvp` runs this with its own settings and shows the two
side by side. The flow is ImageRealNVP of make_vae_flow_ref.py (the module
cugen's flow is checked against), set up as realnvp_torch.py sets it up
(zeroed last convolutions, act-norm initialised from the first batch); the
step, as realnvp_torch.py's: random 8-bit images dequantised as
(pixel + u) / 256, logit(0.05 + 0.9 x), the mean NLL per image, backward,
Adam(1e-3). The first step (act-norm's initialisation) and --warmup more are
not timed. In the --precision cugen runs in (bench_common.py). Prints, for
cugen to parse:

    step_ms MEDIAN img_per_s RATE ... precision P

and "error MESSAGE" when it cannot run. Timing: time.perf_counter on the
CPU; on the GPU (--device cuda) CUDA events around each step.
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import add_precision_arg, median_ms, report, set_precision  # noqa: E402

ALPHA = 0.05


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--image-size", type=int, default=28)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--scales", type=int, default=2)
    ap.add_argument("--norm", choices=("actnorm", "batchnorm"), default="actnorm")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    add_precision_arg(ap)
    a = ap.parse_args()
    try:
        import torch
        from make_vae_flow_ref import ImageRealNVP
    except ImportError as e:
        print("error PyTorch is not installed for %s (%s)" % (sys.executable, e), flush=True)
        return 3
    if a.device == "cuda" and not torch.cuda.is_available():
        print("error PyTorch sees no CUDA device", flush=True)
        return 3
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    set_precision(torch, a.precision)
    torch.manual_seed(1)
    dev = torch.device(a.device)
    model = ImageRealNVP(1, a.image_size, a.layers, a.width, a.scales, a.layers + 1, a.norm)
    for m in model.modules():
        if hasattr(m, "net"):
            torch.nn.init.zeros_(m.net["out"].weight)
            torch.nn.init.zeros_(m.net["out"].bias)
        if hasattr(m, "norm") and hasattr(m.norm, "inited"):
            m.norm.inited.zero_()
    model = model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    pixels = torch.randint(0, 256, (a.batch, 1, a.image_size, a.image_size)).float().to(dev)

    def step():
        x = (pixels + torch.rand(pixels.shape, device=dev)) / 256
        s = ALPHA + (1 - 2 * ALPHA) * x
        y = torch.log(s) - torch.log1p(-s)
        nll = model.nll(y)
        opt.zero_grad()
        nll.backward()
        opt.step()
        nll.item()

    med = median_ms(torch, a.device, step, 1 + a.warmup, a.repeat)
    if not math.isfinite(med):
        print("error no timing", flush=True)
        return 1
    report(torch, med, a.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
