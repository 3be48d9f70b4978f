#!/usr/bin/python3
"""make_vae_flow_ref.py: PyTorch references for the VAE and the 2-D RealNVP
(tests/unit/test_vae.c, test_flow.c).

    /usr/bin/python3 scripts/make_vae_flow_ref.py tests/ref     (part of: make refs)

Needs Debian's python3-torch. Two files, CGREF1 format (see make_refs.py):

vae_step.ref: one training step of the seed article's VAE (fc1, fc2_mu,
fc2_logvar, fc3, fc4; sigmoid decoder; BCELoss(reduction='sum') + the
analytic KL; Adam(lr 1e-3)) at a small size (48-16-3, batch 5) so that the
file stays small:
    init.<name>            the state_dict before the step (nn.Linear's init)
    x (5, 48) in [0, 1], eps (5, 3)
    loss, bce, kl          the batch sums
    mu, logvar (5, 3), recon (5, 48)   the forward pass
    grad.<name>            d loss / d parameter
    final.<name>           the state_dict after the Adam step
    cfg                    x_dim, hidden, latent, batch, lr

vae_conv.ref: the same for cugen's convolutional VAE with a Gaussian
likelihood (ConvVAE below: 32x32x1 images, width 4, latent 3, batch 3, one
learnt log-variance dec_logvar), same names.

flow.ref: a 2-D RealNVP of 2 coupling layers (layer i keeps coordinate i % 2;
net = Linear(1, 8) ReLU Linear(8, 8) ReLU Linear(8, 2); s = tanh(raw)), with
random weights (the last layer too, so that the layers do something):
    w.<name>               the state_dict (layers.<i>.net.<k>.weight, ...)
    x (7, 2)
    y.<i>, logdet.<i>      coupling layer i alone on x
    yin (7, 2)             a point set to invert
    inv.<i>, invlogdet.<i> layer i's inverse of yin and its log-det
    z, logdet              the whole flow on x
    nll                    mean -log p(x) (N(0, I) base)
    dx, grad.<name>        d nll / d x and / d parameters
    cfg                    layers, hidden, N

flowimg.ref, flowimg_ms.ref, flowimg_bn.ref: the image RealNVP (ImageRealNVP
below; the configurations in FLOWIMG_CASES: the one-scale layout on 1x4x4, 3
scales on 1x8x8, batchnorm in training mode on 1x8x8) with random weights,
act-norms already set, batchnorm running statistics random:
    w.<name>               the state_dict (a.0.net.in.weight, ..., image_size)
    y (N, 1, S, S)         inputs in logit space
    z (N, S*S), logdet     forward: z_0, z_1, ... flattened, log-dets summed over the batch
    nll                    mean -log p(y) per image
    dy, grad.<name>        d nll / d y and / d parameters
    final.<name>           the state_dict after forward and nll (batchnorm: running
                           statistics moved twice)
    cfg                    channels, size, layers, width, N, scales, last, batchnorm (0/1)

The inputs and weights are float32; the computations run in float64 on them.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_refs import cfg, write_ref  # noqa: E402


class VAE(nn.Module):
    """The seed article's VAE."""

    def __init__(self, input_dim=784, hidden_dim=400, latent_dim=20):
        super().__init__()
        self.fc1 = nn.Linear(input_dim, hidden_dim)
        self.fc2_mu = nn.Linear(hidden_dim, latent_dim)
        self.fc2_logvar = nn.Linear(hidden_dim, latent_dim)
        self.fc3 = nn.Linear(latent_dim, hidden_dim)
        self.fc4 = nn.Linear(hidden_dim, input_dim)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc2_mu(h1), self.fc2_logvar(h1)

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x, eps):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps  # reparameterize with a given eps
        return self.decode(z), mu, logvar


class ConvVAE(nn.Module):
    """cugen's --arch conv: stride-2 4x4 convolutions to 4x4 and back."""

    def __init__(self, channels, size, width, latent, gaussian):
        super().__init__()
        L = {32: 3, 64: 4}[size]
        enc, c = [], channels
        for i in range(L):
            enc += [nn.Conv2d(c, width << i, 4, 2, 1), nn.ReLU()]
            c = width << i
        self.enc = nn.Sequential(*enc)
        self.top = c
        self.fc_mu = nn.Linear(c * 16, latent)
        self.fc_logvar = nn.Linear(c * 16, latent)
        self.dec_fc = nn.Linear(latent, c * 16)
        dec = []
        for j in range(L):
            cout = channels if j == L - 1 else width << (L - 2 - j)
            dec += [nn.ConvTranspose2d(c, cout, 4, 2, 1)] + ([nn.ReLU()] if j < L - 1 else [])
            c = cout
        self.dec = nn.Sequential(*dec)
        if gaussian:
            self.dec_logvar = nn.Parameter(torch.zeros(1))

    def forward(self, x, eps):
        h = self.enc(x).flatten(1)
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + torch.exp(0.5 * logvar) * eps
        g = F.relu(self.dec_fc(z)).view(-1, self.top, 4, 4)
        return self.dec(g), mu, logvar


def gaussian_vae_loss(mean, x, mu, logvar, dec_logvar):
    rec = 0.5 * torch.sum((x - mean) ** 2 / torch.exp(dec_logvar) + dec_logvar +
                          math.log(2 * math.pi))
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec + kld, rec, kld


def vae_loss(recon, x, mu, logvar):
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld, bce, kld


class Coupling(nn.Module):
    def __init__(self, parity, hidden):
        super().__init__()
        self.parity = parity
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, 2))

    def st(self, keep):
        raw, t = self.net(keep).chunk(2, dim=1)
        return torch.tanh(raw), t

    def forward(self, x):
        c, o = self.parity, 1 - self.parity
        s, t = self.st(x[:, c:c + 1])
        yo = x[:, o:o + 1] * torch.exp(s) + t
        y = torch.cat([x[:, c:c + 1], yo] if c == 0 else [yo, x[:, c:c + 1]], dim=1)
        return y, s

    def inverse(self, y):
        c, o = self.parity, 1 - self.parity
        s, t = self.st(y[:, c:c + 1])
        xo = (y[:, o:o + 1] - t) * torch.exp(-s)
        x = torch.cat([y[:, c:c + 1], xo] if c == 0 else [xo, y[:, c:c + 1]], dim=1)
        return x, -s


class RealNVP2D(nn.Module):
    def __init__(self, layers, hidden):
        super().__init__()
        self.layers = nn.ModuleList([Coupling(i % 2, hidden) for i in range(layers)])

    def forward(self, x):
        ld = torch.zeros(x.shape[0], 1, dtype=x.dtype)
        for layer in self.layers:
            x, s = layer(x)
            ld = ld + s
        return x, ld

    def nll(self, x):
        z, ld = self(x)
        logp = -0.5 * (z ** 2).sum(1, keepdim=True) - math.log(2 * math.pi) + ld
        return -logp.mean()


class ImageCoupling(nn.Module):
    """cugen's image coupling + act-norm or batchnorm: checkerboard (checker)
    or channel halves. Batchnorm in training mode normalises with the
    batch's mean and biased variance over (N, H, W) and moves the running
    ones by momentum 0.1; in eval mode it uses the running ones."""

    def __init__(self, ch, checker, parity, width, norm="actnorm"):
        super().__init__()
        self.checker, self.parity, self.norm_kind = checker, parity, norm
        cin = ch if checker else ch // 2
        self.net = nn.ModuleDict({
            "in": nn.Conv2d(cin, width, 3, 1, 1), "res1": nn.Conv2d(width, width, 3, 1, 1),
            "res2": nn.Conv2d(width, width, 3, 1, 1), "out": nn.Conv2d(width, 2 * cin, 3, 1, 1)})
        self.norm = nn.Module()
        self.norm.logs = nn.Parameter(torch.zeros(1, ch, 1, 1))
        self.norm.bias = nn.Parameter(torch.zeros(1, ch, 1, 1))
        if norm == "batchnorm":
            self.norm.register_buffer("running_mean", torch.zeros(1, ch, 1, 1))
            self.norm.register_buffer("running_var", torch.ones(1, ch, 1, 1))
        else:
            self.norm.register_buffer("inited", torch.ones(1))

    def st(self, keep):
        n = self.net
        h = F.relu(n["in"](keep))
        h = F.relu(h + n["res2"](F.relu(n["res1"](h))))
        raw, t = n["out"](h).chunk(2, dim=1)
        return torch.tanh(raw), t

    def forward(self, x):
        if self.checker:
            H, W = x.shape[2], x.shape[3]
            ij = torch.arange(H).view(H, 1) + torch.arange(W).view(1, W)
            b = ((ij % 2) == self.parity).to(x.dtype).view(1, 1, H, W)
            s, t = self.st(x * b)
            s, t = s * (1 - b), t * (1 - b)
            y = x * torch.exp(s) + t
        else:
            halves = list(x.chunk(2, dim=1))
            keep, change = halves[self.parity], halves[1 - self.parity]
            s, t = self.st(keep)
            halves[1 - self.parity] = change * torch.exp(s) + t
            y = torch.cat(halves, dim=1)
        if self.norm_kind == "actnorm" and self.norm.inited.item() == 0:
            with torch.no_grad():   # first use: zero mean, unit variance on this batch
                mean = y.mean(dim=(0, 2, 3), keepdim=True)
                sd = y.var(dim=(0, 2, 3), unbiased=False, keepdim=True).sqrt() + 1e-6
                self.norm.logs.copy_(-sd.log())
                self.norm.bias.copy_(-mean / sd)
                self.norm.inited.fill_(1)
        logs = self.norm.logs
        if self.norm_kind == "batchnorm":
            if self.training:
                mean = y.mean(dim=(0, 2, 3), keepdim=True)
                var = ((y - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
                with torch.no_grad():
                    self.norm.running_mean.mul_(0.9).add_(0.1 * mean)
                    self.norm.running_var.mul_(0.9).add_(0.1 * var)
            else:
                mean, var = self.norm.running_mean, self.norm.running_var
            logs = logs - 0.5 * torch.log(var + 1e-5)
            y = y - mean
        ld = s.sum() + logs.sum() * (y.numel() / y.shape[1])
        return y * torch.exp(logs) + self.norm.bias, ld


class ImageRealNVP(nn.Module):
    """Stages a, b, c, ...: per scale but the last, `layers` checkerboard
    couplings, pixel_unshuffle, `layers` channel couplings, half the channels
    factored out; at the last scale `last` checkerboard couplings."""

    def __init__(self, channels, size, layers, width, scales=2, last=None, norm="actnorm"):
        super().__init__()
        C = channels
        self.C, self.scales = C, scales
        last = layers + 1 if last is None else last
        for j in range(2 * scales - 1):
            checker, k = j % 2 == 0, j // 2
            ch = (C << k) if checker else 4 * (C << k)
            n = last if j == 2 * scales - 2 else layers
            setattr(self, chr(ord("a") + j), nn.ModuleList(
                [ImageCoupling(ch, checker, i % 2, width, norm) for i in range(n)]))
        self.register_buffer("image_size", torch.full((1,), float(size)))

    def stage(self, j):
        return getattr(self, chr(ord("a") + j))

    def forward(self, y):
        ld, zs, h = 0, [], y
        for k in range(self.scales):
            for layer in self.stage(2 * k):
                h, d = layer(h)
                ld = ld + d
            if k == self.scales - 1:
                break
            h = F.pixel_unshuffle(h, 2)
            for layer in self.stage(2 * k + 1):
                h, d = layer(h)
                ld = ld + d
            ck = self.C << k
            zs.append(h[:, :2 * ck].flatten(1))
            h = h[:, 2 * ck:]
        zs.append(h.flatten(1))
        return torch.cat(zs, dim=1), ld

    def nll(self, y):
        z, ld = self(y)
        base = 0.5 * (z ** 2).sum() + 0.5 * z.numel() * math.log(2 * math.pi)
        return (base - ld) / y.shape[0]


def state(prefix, net):
    return [(prefix + k, v.detach().clone().float()) for k, v in net.state_dict().items()]


def vae_case(path):
    torch.manual_seed(11)
    D, H, L, B, lr = 48, 16, 3, 5, 1e-3
    model = VAE(D, H, L)
    x = torch.rand(B, D)
    eps = torch.randn(B, L)
    out = [("cfg", cfg(D, H, L, B, lr))] + state("init.", model)
    out += [("x", x), ("eps", eps)]
    model.double()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    recon, mu, logvar = model(x.double(), eps.double())
    loss, bce, kld = vae_loss(recon, x.double(), mu, logvar)
    opt.zero_grad()
    loss.backward()
    out += [("loss", loss), ("bce", bce), ("kl", kld), ("mu", mu), ("logvar", logvar),
            ("recon", recon)]
    out += [("grad." + k, p.grad) for k, p in model.named_parameters()]
    opt.step()
    out += state("final.", model)
    write_ref(path, out)


def conv_vae_case(path):
    torch.manual_seed(13)
    C, S, W, L, B, lr = 1, 32, 4, 3, 3, 1e-3
    model = ConvVAE(C, S, W, L, True)
    with torch.no_grad():
        model.dec_logvar.fill_(-0.7)   # not 0, so that its gradient path is exercised
    x = torch.rand(B, C, S, S)
    eps = torch.randn(B, L)
    out = [("cfg", cfg(C, S, W, L, B, lr))] + state("init.", model)
    out += [("x", x), ("eps", eps)]
    model.double()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    mean, mu, logvar = model(x.double(), eps.double())
    loss, rec, kld = gaussian_vae_loss(mean, x.double(), mu, logvar, model.dec_logvar)
    opt.zero_grad()
    loss.backward()
    out += [("loss", loss), ("bce", rec), ("kl", kld), ("mu", mu), ("logvar", logvar)]
    out += [("grad." + k, p.grad) for k, p in model.named_parameters()]
    opt.step()
    out += state("final.", model)
    write_ref(path, out)


def flow_case(path):
    torch.manual_seed(12)
    layers, hidden, N = 2, 8, 7
    model = RealNVP2D(layers, hidden)
    with torch.no_grad():
        for p in model.parameters():   # weights of a trained-looking size, last layers too
            p.copy_(torch.randn(p.shape) * 0.6)
    x = torch.randn(N, 2)
    yin = torch.randn(N, 2)
    out = [("cfg", cfg(layers, hidden, N))] + state("w.", model)
    out += [("x", x), ("yin", yin)]
    model.double()
    xd = x.double().requires_grad_(True)
    for i, layer in enumerate(model.layers):
        with torch.no_grad():
            y, s = layer(x.double())
            xi, si = layer.inverse(yin.double())
        out += [("y.%d" % i, y), ("logdet.%d" % i, s), ("inv.%d" % i, xi),
                ("invlogdet.%d" % i, si)]
    z, ld = model(xd)
    nll = model.nll(xd)
    nll.backward()
    out += [("z", z), ("logdet", ld), ("nll", nll), ("dx", xd.grad)]
    out += [("grad." + k, p.grad) for k, p in model.named_parameters()]
    write_ref(path, out)


def flowimg_case(path, seed, C, S, L, W, N, scales, last, norm):
    torch.manual_seed(seed)
    model = ImageRealNVP(C, S, L, W, scales, last, norm)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape) * 0.4)
        for name, b in model.named_buffers():   # running statistics not at their start
            if name.endswith("running_mean"):
                b.copy_(torch.rand(b.shape) - 0.5)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape) * 1.5 + 0.5)
    y = torch.randn(N, C, S, S)
    bn = 1 if norm == "batchnorm" else 0
    out = [("cfg", cfg(C, S, L, W, N, scales, last, bn))] + state("w.", model) + [("y", y)]
    model.double()
    model.train()
    yd = y.double().requires_grad_(True)
    z, ld = model(yd)
    nll = model.nll(yd)   # batchnorm: moves the running statistics a second time
    nll.backward()
    out += [("z", z), ("logdet", ld), ("nll", nll), ("dy", yd.grad)]
    out += [("grad." + k, p.grad) for k, p in model.named_parameters()]
    out += state("final.", model)
    write_ref(path, out)


FLOWIMG_CASES = {
    # the one-scale layout of earlier versions: stages a, b, c of 1 coupling
    "flowimg.ref": (14, 1, 4, 1, 3, 2, 2, 1, "actnorm"),
    # 3 scales (a, b, c, d, e), the last with 2 couplings
    "flowimg_ms.ref": (15, 1, 8, 1, 3, 2, 3, 2, "actnorm"),
    # 2 scales with batchnorm in training mode
    "flowimg_bn.ref": (16, 1, 8, 1, 3, 3, 2, 2, "batchnorm"),
}


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "tests/ref"
    os.makedirs(folder, exist_ok=True)
    torch.set_num_threads(1)
    vae_case(os.path.join(folder, "vae_step.ref"))
    conv_vae_case(os.path.join(folder, "vae_conv.ref"))
    flow_case(os.path.join(folder, "flow.ref"))
    for name, args in FLOWIMG_CASES.items():
        flowimg_case(os.path.join(folder, name), *args)
    for name in ("vae_step.ref", "vae_conv.ref", "flow.ref") + tuple(FLOWIMG_CASES):
        print("wrote %s (%d bytes)" % (os.path.join(folder, name),
                                       os.path.getsize(os.path.join(folder, name))))


if __name__ == "__main__":
    main()
