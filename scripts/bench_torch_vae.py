#!/usr/bin/python3
"""bench_torch_vae.py: one VAE training step in PyTorch eager, timed.

`cugen bench step vae` runs this with its own settings and shows the two side
by side. The step is cugen's (and the article's): encode, h = mu + exp(logvar
/ 2) eps with eps ~ N(0, I) drawn in the step, decode, the reconstruction term
summed (BCE on Bernoulli pixels; for --likelihood gaussian the Gaussian NLL with
one learnt log-variance) plus the analytic KL, backward, Adam(1e-3), on a
fixed random batch of grey values in [0, 1]. The MLP is the article's module
(784-400-20, sigmoid then binary_cross_entropy as the article writes it); the
conv VAE is make_vae_flow_ref.py's ConvVAE (BCE from the logits). In the
--precision cugen runs in (bench_common.py). Prints, for cugen to parse:

    step_ms MEDIAN img_per_s RATE ... precision P

and "error MESSAGE" when it cannot run. GPU timing uses CUDA events around
each step; CPU timing time.perf_counter.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import add_precision_arg, median_ms, report, set_precision  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--arch", default="conv", choices=("mlp", "conv"))
    ap.add_argument("--likelihood", default="bernoulli", choices=("bernoulli", "gaussian"))
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--nc", type=int, default=1)
    ap.add_argument("--hidden", type=int, default=400)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--latent", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    add_precision_arg(ap)
    a = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
        from make_vae_flow_ref import VAE, ConvVAE, gaussian_vae_loss, vae_loss
    except ImportError as e:
        print("error PyTorch is not installed for %s (%s)" % (sys.executable, e), flush=True)
        return 3
    if a.device == "cuda" and not torch.cuda.is_available():
        print("error PyTorch sees no CUDA device", flush=True)
        return 3
    if a.arch == "mlp" and a.likelihood == "gaussian":
        print("error the MLP benchmark is the article's Bernoulli VAE", flush=True)
        return 3
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    set_precision(torch, a.precision)
    dev = torch.device(a.device)
    torch.manual_seed(1)
    S, C = a.image_size, a.nc
    gaussian = a.likelihood == "gaussian"
    if a.arch == "mlp":
        model = VAE(C * S * S, a.hidden, a.latent).to(dev)
        x = torch.rand(a.batch, C * S * S, device=dev)
    else:
        model = ConvVAE(C, S, a.width, a.latent, gaussian).to(dev)
        x = torch.rand(a.batch, C, S, S, device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        eps = torch.randn(a.batch, a.latent, device=dev)
        out, mu, logvar = model(x, eps)
        if a.arch == "mlp":
            loss = vae_loss(out, x, mu, logvar)[0]
        elif gaussian:
            loss = gaussian_vae_loss(out, x, mu, logvar, model.dec_logvar)[0]
        else:
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = F.binary_cross_entropy_with_logits(out, x, reduction="sum") + kld
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()  # cugen reads its loss back every step too

    report(torch, median_ms(torch, a.device, step, a.warmup, a.repeat), a.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
