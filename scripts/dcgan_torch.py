"""dcgan_torch.py: pytorch/examples' dcgan/main.py networks, generalised from
64x64 (5 convolutions each) to 32x32 (4), and its weights_init. Shared by
make_dcgan_ref.py (parity references) and bench_torch_dcgan.py (speed).

The state_dict names (main.0.weight, main.1.running_mean, ...) are those of
the example's modules, which cugen's G.safetensors and D.safetensors use.

The variants of `cugen train dcgan` are options of the same modules, each off
by default (the example's networks then):
  sn                 torch.nn.utils.spectral_norm on every (transposed)
                     convolution: main.K.weight_orig, weight_u, weight_v
  num_classes, embed_dim   conditioning: G reads cat(z, embed(y)) (embed =
                     nn.Embedding(num_classes, embed_dim)); D is a projection
                     discriminator, out + (embed(y) * h.flatten(1)).sum(1)
                     with h the features its last convolution reads
  logits             D without the final Sigmoid (hinge loss, BCE with
                     logits, and always when conditional)
  critic             D is the WGAN-GP critic: LayerNorm([C, H, W]) where the
                     example has BatchNorm2d(C), and no Sigmoid
"""
import torch
import torch.nn as nn


def maybe_sn(module, on):
    return nn.utils.spectral_norm(module) if on else module


class Generator(nn.Module):
    def __init__(self, nz, ngf, nc, layers, sn=False, num_classes=0, embed_dim=0):
        super().__init__()
        mods = []
        for i in range(layers):
            cin = nz + (embed_dim if num_classes else 0) if i == 0 else ngf * 2 ** (layers - 1 - i)
            cout = nc if i == layers - 1 else ngf * 2 ** (layers - 2 - i)
            stride, pad = (1, 0) if i == 0 else (2, 1)
            mods.append(maybe_sn(nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False), sn))
            if i < layers - 1:
                mods += [nn.BatchNorm2d(cout), nn.ReLU(True)]
        mods.append(nn.Tanh())
        self.main = nn.Sequential(*mods)
        if num_classes:
            self.embed = nn.Embedding(num_classes, embed_dim)

    def forward(self, x, y=None):
        if y is not None:
            n = x.shape[0]
            x = torch.cat([x.reshape(n, -1), self.embed(y)], 1).reshape(n, -1, 1, 1)
        return self.main(x)


class Discriminator(nn.Module):
    def __init__(self, ndf, nc, layers, sn=False, num_classes=0, logits=False, critic=False):
        super().__init__()
        mods = []
        for i in range(layers):
            cin = nc if i == 0 else ndf * 2 ** (i - 1)
            if i == layers - 1:
                mods.append(maybe_sn(nn.Conv2d(cin, 1, 4, 1, 0, bias=False), sn))
                if not (logits or num_classes or critic):
                    mods.append(nn.Sigmoid())
                break
            mods.append(maybe_sn(nn.Conv2d(cin, ndf * 2 ** i, 4, 2, 1, bias=False), sn))
            if i > 0 and critic:
                side = (4 << (layers - 1)) >> (i + 1)
                mods.append(nn.LayerNorm([ndf * 2 ** i, side, side]))
            elif i > 0:
                mods.append(nn.BatchNorm2d(ndf * 2 ** i))
            mods.append(nn.LeakyReLU(0.2, inplace=True))
        self.main = nn.Sequential(*mods)
        self.projection = num_classes > 0
        if num_classes:
            self.embed = nn.Embedding(num_classes, ndf * 2 ** (layers - 2) * 16)

    def forward(self, x, y=None):
        if not self.projection:
            return self.main(x).view(-1, 1).squeeze(1)
        h = self.main[:-1](x)
        out = self.main[-1](h).view(-1)
        return out + (self.embed(y) * h.flatten(1)).sum(1)


def weights_init(m):
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        # under spectral_norm the parameter is weight_orig (weight is computed from it)
        nn.init.normal_(getattr(m, "weight_orig", m.weight).data, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def layers_for(size):
    """convolutions per net at an image size: 5 at 64x64, 4 at 32x32"""
    return {32: 4, 64: 5}[size]
