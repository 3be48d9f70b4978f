#!/usr/bin/python3
"""make_ddpm_ref.py: one DDPM training step of a tiny UNet in PyTorch, as the
reference file of cugen's parity test (tests/unit/test_ddpm.c).

    /usr/bin/python3 scripts/make_ddpm_ref.py tests/ref     (part of: make refs)

Needs Debian's python3-torch. The UNet is scripts/ddpm_torch.py (cugen's
architecture and state_dict names) at a tiny size: 3 channels, 16x16, ch 8,
ch_mult (1, 2), one residual block per level, attention at 8x8 (level 1 and
the middle), at most 4 GroupNorm groups (2 and 4 channels per group), dropout
0 (PyTorch's dropout masks are not Philox's). Every weight is drawn (PyTorch's
default init, GroupNorm affines around 1 and 0) so that no gradient is zero.
The step: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps with the linear
schedule (T 1000), eps_pred = UNet(x_t, t), loss = mse(eps_pred, eps).
The file holds

    init.<name>     every parameter
    x0, eps, t      the batch (2 images), the noise, the timesteps (as floats)
    xt, pred, loss  the noisy images, the UNet output, the loss
    grad.<name>     d loss / d parameter
    cfg             in_ch, size, ch, mult0, mult1, num_res_blocks, attn, groups, T

The inputs are float32; the step runs in float64 on them (so the reference
is exact to float32 precision). Format: CGREF1, see make_refs.py.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ddpm_torch import UNet, linear_alpha_bar  # noqa: E402
from make_refs import write_ref  # noqa: E402


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/ref"
    torch.set_num_threads(1)
    torch.manual_seed(21)
    cfg = dict(in_ch=3, image_size=16, ch=8, ch_mult=(1, 2), num_res_blocks=1, attn=(8,),
               dropout=0.0, groups=4)
    net = UNet(**cfg)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if ".norm" in name or name.startswith("norm_out"):
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.2 * torch.randn_like(p))
    out = [("init." + k, v.detach().clone()) for k, v in net.state_dict().items()]
    N, T = 2, 1000
    x0 = torch.rand(N, 3, 16, 16) * 2 - 1
    eps = torch.randn(N, 3, 16, 16)
    t = torch.tensor([37.0, 912.0])
    net.double()
    ab = linear_alpha_bar(T)[t.long()].reshape(N, 1, 1, 1)
    xt = ab.sqrt() * x0.double() + (1 - ab).sqrt() * eps.double()
    pred = net(xt, t.double())
    loss = F.mse_loss(pred, eps.double())
    loss.backward()
    out += [("x0", x0), ("eps", eps), ("t", t), ("xt", xt), ("pred", pred), ("loss", loss)]
    out += [("grad." + k, p.grad) for k, p in net.named_parameters()]
    out.append(("cfg", torch.tensor([3, 16, 8, 1, 2, 1, 8, 4, T], dtype=torch.float32)))
    path = os.path.join(outdir, "ddpm_tiny.ref")
    write_ref(path, out)
    print("wrote %s (%d tensors, %d parameters)" %
          (path, len(out), sum(p.numel() for p in net.parameters())))


if __name__ == "__main__":
    main()
