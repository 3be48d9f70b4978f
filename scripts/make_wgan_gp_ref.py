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
from dcgan_torch import Discriminator, Generator, layers_for, weights_init  # noqa: E402
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


def kind_case(path, seed, nz, ngf, ndf, nc, size, batch, n_critic, classes=0, embed=0,
              lam=10.0):
    """One step of `cugen train dcgan --loss wgan-gp`: n_critic critic steps,
    step i on its own real batch, z and eps (and labels y.i, conditional),
    the fakes G(z.i) drawn without a graph by G in train mode; then the G
    step, -D(G(z.n_critic), y.(n_critic-1)).mean(), Adam on G. Files: init.G.,
    init.D., real.i, z.i (i <= n_critic), eps.i, y.i (labels as floats),
    loss.i, wasserstein.i, penalty.i, loss_G, final.G., final.D., cfg = nz,
    ngf, ndf, nc, size, batch, n_critic, classes, embed, lambda."""
    torch.manual_seed(seed)
    layers = layers_for(size)
    netG = Generator(nz, ngf, nc, layers, num_classes=classes, embed_dim=embed)
    netD = Discriminator(ndf, nc, layers, num_classes=classes, critic=True)
    netG.apply(weights_init)
    for m in netD.modules():  # as case(): |grad| of order one, the layer norms' gradients live
        if isinstance(m, (nn.Conv2d, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.1)
        elif isinstance(m, nn.LayerNorm):
            nn.init.normal_(m.weight, 1.0, 0.1)
            nn.init.normal_(m.bias, 0.0, 0.1)
    out = state("init.G.", netG) + state("init.D.", netD)
    reals = [torch.rand(batch, nc, size, size) * 2 - 1 for _ in range(n_critic)]
    zs = [torch.randn(batch, nz) for _ in range(n_critic + 1)]
    epss = [torch.rand(batch) for _ in range(n_critic)]
    ys = [torch.randint(0, classes, (batch,)) if classes else None for _ in range(n_critic)]
    netG.double()
    netD.double()
    optD = torch.optim.Adam(netD.parameters(), lr=1e-4, betas=(0.0, 0.9))
    optG = torch.optim.Adam(netG.parameters(), lr=1e-4, betas=(0.0, 0.9))
    for i in range(n_critic):
        x, y, e = reals[i].double(), ys[i], epss[i].double().view(batch, 1, 1, 1)
        with torch.no_grad():
            fake = netG(zs[i].double().view(batch, nz, 1, 1), y)
        d_real = netD(x, y).mean()
        d_fake = netD(fake, y).mean()
        x_hat = (e * x + (1 - e) * fake).requires_grad_(True)
        d_hat = netD(x_hat, y)
        g = torch.autograd.grad(d_hat, x_hat, torch.ones_like(d_hat), create_graph=True)[0]
        penalty = lam * ((g.view(batch, -1).norm(2, dim=1) - 1) ** 2).mean()
        loss = d_fake - d_real + penalty
        optD.zero_grad()
        loss.backward()
        optD.step()
        out += [("real.%d" % i, reals[i]), ("z.%d" % i, zs[i]), ("eps.%d" % i, epss[i]),
                ("loss.%d" % i, loss), ("wasserstein.%d" % i, d_real - d_fake),
                ("penalty.%d" % i, penalty)]
        if y is not None:
            out.append(("y.%d" % i, y.to(torch.float32)))
    y = ys[n_critic - 1]
    for p in netD.parameters():
        p.requires_grad_(False)
    optG.zero_grad()
    err_g = -netD(netG(zs[n_critic].double().view(batch, nz, 1, 1), y), y).mean()
    err_g.backward()
    optG.step()
    out += [("z.%d" % n_critic, zs[n_critic]), ("loss_G", err_g)]
    out += state("final.G.", netG) + state("final.D.", netD)
    out.append(("cfg", torch.tensor([nz, ngf, ndf, nc, size, batch, n_critic, classes, embed,
                                     lam], dtype=torch.float32)))
    write_ref(path, out)
    print("wrote %s (%d tensors): loss_G %.4f" % (path, len(out), err_g.item()))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/ref"
    torch.set_num_threads(1)
    case(os.path.join(outdir, "wgan_gp32.ref"), 21, nc=1, ndf=8, size=32, batch=4)
    kind_case(os.path.join(outdir, "dcgan_wgan32.ref"), 31, nz=8, ngf=8, ndf=8, nc=1,
              size=32, batch=4, n_critic=3)
    kind_case(os.path.join(outdir, "dcgan_wgan_cond32.ref"), 32, nz=6, ngf=4, ndf=6, nc=3,
              size=32, batch=5, n_critic=2, classes=4, embed=5)


if __name__ == "__main__":
    main()
