"""dcgan_torch.py: pytorch/examples' dcgan/main.py networks, generalised from
64x64 (5 convolutions each) to 32x32 (4), and its weights_init. Shared by
make_dcgan_ref.py (parity references) and bench_torch_dcgan.py (speed).

The state_dict names (main.0.weight, main.1.running_mean, ...) are those of
the example's modules, which cugen's G.safetensors and D.safetensors use.
"""
import torch.nn as nn


class Generator(nn.Module):
    def __init__(self, nz, ngf, nc, layers):
        super().__init__()
        mods = []
        for i in range(layers):
            cin = nz if i == 0 else ngf * 2 ** (layers - 1 - i)
            cout = nc if i == layers - 1 else ngf * 2 ** (layers - 2 - i)
            stride, pad = (1, 0) if i == 0 else (2, 1)
            mods.append(nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False))
            if i < layers - 1:
                mods += [nn.BatchNorm2d(cout), nn.ReLU(True)]
        mods.append(nn.Tanh())
        self.main = nn.Sequential(*mods)

    def forward(self, x):
        return self.main(x)


class Discriminator(nn.Module):
    def __init__(self, ndf, nc, layers):
        super().__init__()
        mods = []
        for i in range(layers):
            cin = nc if i == 0 else ndf * 2 ** (i - 1)
            if i == layers - 1:
                mods += [nn.Conv2d(cin, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
                break
            mods.append(nn.Conv2d(cin, ndf * 2 ** i, 4, 2, 1, bias=False))
            if i > 0:
                mods.append(nn.BatchNorm2d(ndf * 2 ** i))
            mods.append(nn.LeakyReLU(0.2, inplace=True))
        self.main = nn.Sequential(*mods)

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def weights_init(m):
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def layers_for(size):
    """convolutions per net at an image size: 5 at 64x64, 4 at 32x32"""
    return {32: 4, 64: 5}[size]
