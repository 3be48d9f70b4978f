#!/usr/bin/python3
"""make_wgan_gp_ref.py: one WGAN-GP critic step in PyTorch (Gulrajani et al.
2017, Algorithm 1), as the reference of cugen's test (tests/unit/test_wgan_gp.c).

    /usr/bin/python3 scripts/make_wgan_gp_ref.py tests/ref     (part of: make refs)

The critic is DCGAN's discriminator (dcgan_torch.py) with LayerNorm([C, H, W])
where the example has BatchNorm2d and no sigmoid. The step, with lambda = 10
and Adam(lr 1e-4, betas (0, 0.9)):

    x_hat = eps x + (1 - eps) fake                     (eps one per sample)
    g     = autograd.grad(D(x_hat), x_hat, ones, create_graph=True)
    loss  = D(fake).mean() - D(x).mean() + lambda ((|g|_2 - 1)^2).mean()
    loss.backward(); opt.step()

Weights: the convolutions N(0, 0.1) (not DCGAN's 0.02, so that |g| is of order
one and both parts of the penalty's derivative matter), the layer norms' weight
N(1, 0.1) and bias N(0, 0.1) (not 1 and 0, so that their gradients are
exercised). The file holds

    init.D.<name>        the critic's state_dict before the step
    real, fake, eps      the batch, the fakes (stand-ins for G(z), uniform on
                         [-1, 1]) and the interpolation weights
    loss, d_real, d_fake, penalty, grad_norm (per sample)
    grad.D.<name>        the gradient of the loss for every parameter
    final.D.<name>       the state_dict after the Adam step
    cfg                  nc, ndf, image size, batch, lambda

Drawn in float32, run in float64 (model.double()), so the reference is the
exact answer to the precision of cugen's float32 step. Format: CGREF1 (see
make_refs.py).
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dcgan_torch import layers_for  # noqa: E402
from make_refs import write_ref  # noqa: E402


class Critic(nn.Module):
    def __init__(self, ndf, nc, size):
        super().__init__()
        layers = layers_for(size)
        mods = []
        for i in range(layers):
            cin = nc if i == 0 else ndf * 2 ** (i - 1)
            if i == layers - 1:
                mods.append(nn.Conv2d(cin, 1, 4, 1, 0, bias=False))
                break
            cout = ndf * 2 ** i
            mods.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=False))
            if i > 0:
                side = size >> (i + 1)
                mods.append(nn.LayerNorm([cout, side, side]))
            mods.append(nn.LeakyReLU(0.2))
        self.main = nn.Sequential(*mods)

    def forward(self, x):
        return self.main(x).view(-1)


def state(prefix, net):
    return [(prefix + k, v.detach().clone().to(torch.float32)) for k, v in net.state_dict().items()]


def case(path, seed, nc, ndf, size, batch, lam=10.0):
    torch.manual_seed(seed)
    net = Critic(ndf, nc, size)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.1)
        elif isinstance(m, nn.LayerNorm):
            nn.init.normal_(m.weight, 1.0, 0.1)
            nn.init.normal_(m.bias, 0.0, 0.1)
    out = state("init.D.", net)
    real = torch.rand(batch, nc, size, size) * 2 - 1
    fake = torch.rand(batch, nc, size, size) * 2 - 1
    eps = torch.rand(batch)
    net.double()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.0, 0.9))
    x, f, e = real.double(), fake.double(), eps.double().view(batch, 1, 1, 1)
    d_real = net(x).mean()
    d_fake = net(f).mean()
    x_hat = (e * x + (1 - e) * f).requires_grad_(True)
    d_hat = net(x_hat)
    g = torch.autograd.grad(d_hat, x_hat, torch.ones_like(d_hat), create_graph=True)[0]
    norm = g.view(batch, -1).norm(2, dim=1)
    penalty = lam * ((norm - 1) ** 2).mean()
    loss = d_fake - d_real + penalty
    opt.zero_grad()
    loss.backward()
    grads = [("grad.D." + k, p.grad.detach().clone()) for k, p in net.named_parameters()]
    opt.step()
    out += [("real", real), ("fake", fake), ("eps", eps), ("loss", loss), ("d_real", d_real),
            ("d_fake", d_fake), ("penalty", penalty), ("grad_norm", norm)]
    out += grads + state("final.D.", net)
    out.append(("cfg", torch.tensor([nc, ndf, size, batch, lam], dtype=torch.float32)))
    write_ref(path, out)
    print("wrote %s (%d tensors): grad norms %s, penalty %.4f" %
          (path, len(out), [round(v, 3) for v in norm.tolist()], penalty.item()))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/ref"
    torch.set_num_threads(1)
    case(os.path.join(outdir, "wgan_gp32.ref"), 21, nc=1, ndf=8, size=32, batch=4)


if __name__ == "__main__":
    main()
