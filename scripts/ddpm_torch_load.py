#!/usr/bin/python3
"""ddpm_torch_load.py: a cugen DDPM run's weights in PyTorch.

    /usr/bin/python3 scripts/ddpm_torch_load.py RUN_DIR [--z Z.f32 --images X.f32 --steps N]

Reads RUN_DIR/checkpoint.safetensors (with safetensors_check.py's reader:
Debian has no `safetensors` package), builds scripts/ddpm_torch.py's UNet
from the architecture the checkpoint records (train.extra.run.*), and loads
the EMA weights ("ema." tensors, prefix dropped) with load_state_dict(strict=
True); checks that RUN_DIR/unet_ema.safetensors holds the same values. With
--z and --images (raw float32 files of `cugen sample RUN_DIR --ddim-steps N --dump
PREFIX`: x_T and cugen's samples, (n, C, S, S)), runs DDIM (eta 0, N steps,
x_0 clipped unless --no-clip, as cugen) in float64 from the same x_T and
prints the largest difference.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ddpm_torch import UNet  # noqa: E402
from safetensors_check import parse  # noqa: E402


def load(path):
    with open(path, "rb") as f:
        return parse(f.read())[1]


def arch(ck):
    def run(name):
        return int(ck["train.extra.run." + name].item())
    levels, mult = run("levels"), run("ch_mult")
    attn_mask = run("attn")
    return dict(in_ch=run("channels"), image_size=run("image_size"), ch=run("ch"),
                ch_mult=tuple((mult >> (8 * i)) & 255 for i in range(levels)),
                num_res_blocks=run("num_res_blocks"),
                attn=tuple(1 << k for k in range(16) if attn_mask >> k & 1),
                dropout=round(run("dropout_ppm") * 1e-6, 6), groups=run("groups")), run("timesteps"), \
        run("schedule")


def ddim(net, x, alpha_bar, steps, clip):
    T = len(alpha_bar)
    seq = [i * T // steps for i in range(steps)]
    for k in reversed(range(steps)):
        t = seq[k]
        ab = alpha_bar[t]
        abp = alpha_bar[seq[k - 1]] if k > 0 else torch.tensor(1.0, dtype=torch.float64)
        e = net(x, torch.full((x.shape[0],), float(t), dtype=torch.float64))
        x0 = (x - (1 - ab).sqrt() * e) / ab.sqrt()
        if clip:  # cugen's default: x_0 clipped, the noise re-derived from it
            x0 = x0.clamp(-1, 1)
            e = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
        x = abp.sqrt() * x0 + (1 - abp).sqrt() * e
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run")
    ap.add_argument("--z")
    ap.add_argument("--images")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--no-clip", action="store_true", help="as cugen sample --no-clip")
    a = ap.parse_args()
    ck = load(os.path.join(a.run, "checkpoint.safetensors"))
    cfg, T, schedule = arch(ck)
    if schedule != 0:
        sys.exit("only the linear schedule is rebuilt here")
    net = UNet(**cfg)
    ema = {k[4:]: v for k, v in ck.items() if k.startswith("ema.")}
    net.load_state_dict(ema, strict=True)
    exported = load(os.path.join(a.run, "unet_ema.safetensors"))
    same = all(torch.equal(exported[k], v) for k, v in ema.items()) and len(exported) == len(ema)
    print("loaded %d EMA tensors (%d parameters) into UNet(%s) with strict=True; "
          "unet_ema.safetensors %s" % (len(ema), sum(p.numel() for p in net.parameters()),
                                       ", ".join("%s=%s" % kv for kv in cfg.items()),
                                       "holds the same values" if same else "DIFFERS"))
    if not (a.z and a.images):
        return 0 if same else 1
    C, S = cfg["in_ch"], cfg["image_size"]
    z = torch.frombuffer(bytearray(open(a.z, "rb").read()), dtype=torch.float32)
    got = torch.frombuffer(bytearray(open(a.images, "rb").read()), dtype=torch.float32)
    z, got = z.reshape(-1, C, S, S), got.reshape(-1, C, S, S)
    net.double().eval()
    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    with torch.no_grad():
        x = ddim(net, z.double(), torch.cumprod(1 - betas, 0), a.steps,
                 not a.no_clip)
    diff = (x - got.double()).abs().max().item()
    print("DDIM %d steps from cugen's x_T: %d images; max |PyTorch - cugen| = %.3g "
          "(pixel values in about [-1, 1])" % (a.steps, z.shape[0], diff))
    return 0


if __name__ == "__main__":
    sys.exit(main())
