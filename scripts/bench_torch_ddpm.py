#!/usr/bin/python3
"""bench_torch_ddpm.py: one DDPM training step in PyTorch eager, timed.

`cugen bench step ddpm` runs this with its own settings and shows the two
side by side. The UNet is scripts/ddpm_torch.py (cugen's architecture); the
step: t uniform in [0, 1000), eps ~ N(0, I), x_t = sqrt(abar_t) x0 +
sqrt(1 - abar_t) eps (linear schedule), loss = mse(UNet(x_t, t), eps),
backward, Adam(2e-4), EMA(0.9999) of the weights; on random images in [-1, 1].
With --sample-n N also DDIM (eta 0, --steps) of N images, each step's x_0
prediction clipped to [-1, 1] and the noise re-derived from it, as cugen
samples. In the --precision cugen runs in (bench_common.py). Prints, for
cugen to parse:

    step_ms MEDIAN img_per_s RATE ... precision P [ddim_s SECONDS]

and "error MESSAGE" when it cannot run. Timing: time.perf_counter on the
CPU; on the GPU (--device cuda) CUDA events around each step and around the
whole sampling run.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import add_precision_arg, median_ms, report, set_precision, time_ms  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--nc", type=int, default=1)
    ap.add_argument("--ch", type=int, default=32)
    ap.add_argument("--ch-mult", default="1,2,2")
    ap.add_argument("--num-res-blocks", type=int, default=1)
    ap.add_argument("--attn", default="16")
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--sample-n", type=int, default=0)
    ap.add_argument("--steps", type=int, default=50)
    add_precision_arg(ap)
    a = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
        from ddpm_torch import UNet, linear_alpha_bar
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
    attn = () if a.attn == "none" else tuple(int(v) for v in a.attn.split(","))
    net = UNet(a.nc, a.image_size, a.ch, tuple(int(v) for v in a.ch_mult.split(",")),
               a.num_res_blocks, attn, a.dropout).to(dev)
    params = list(net.parameters())
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=2e-4)
    abar = linear_alpha_bar(1000).float().to(dev)
    x0 = torch.rand(a.batch, a.nc, a.image_size, a.image_size, device=dev) * 2 - 1

    def step():
        t = torch.randint(0, 1000, (a.batch,), device=dev)
        eps = torch.randn_like(x0)
        ab = abar[t].reshape(-1, 1, 1, 1)
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        opt.zero_grad()
        loss = F.mse_loss(net(xt, t.float()), eps)
        loss.backward()
        opt.step()
        with torch.no_grad():
            torch._foreach_mul_(ema, 0.9999)
            torch._foreach_add_(ema, [p.detach() for p in params], alpha=1e-4)

    net.train()
    med = median_ms(torch, a.device, step, a.warmup, a.repeat)
    extra = ""
    if a.sample_n > 0:
        net.eval()
        x = torch.randn(a.sample_n, a.nc, a.image_size, a.image_size, device=dev)
        one = torch.tensor(1.0, device=dev)

        def ddim():
            nonlocal x
            seq = [i * 1000 // a.steps for i in range(a.steps)]
            with torch.no_grad():
                for k in reversed(range(a.steps)):
                    t, ab = seq[k], abar[seq[k]]
                    abp = abar[seq[k - 1]] if k > 0 else one
                    e = net(x, torch.full((a.sample_n,), float(t), device=dev))
                    x0p = ((x - (1 - ab).sqrt() * e) / ab.sqrt()).clamp(-1, 1)
                    e = (x - ab.sqrt() * x0p) / (1 - ab).sqrt()
                    x = abp.sqrt() * x0p + (1 - abp).sqrt() * e

        extra = " ddim_s %.3f" % (time_ms(torch, a.device, ddim) / 1e3)
    report(torch, med, a.batch, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
