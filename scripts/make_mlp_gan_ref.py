#!/usr/bin/python3
"""make_mlp_gan_ref.py: the lecture notes' MLP GAN, 3 training steps, as a
reference file for cugen's parity test (tests/unit/test_classic.c).

    /usr/bin/python3 scripts/make_mlp_gan_ref.py tests/ref     (part of: make refs)

Needs Debian's python3-torch. The networks are the notes' make_generator_network
and make_discriminator_network (nn.Sequential: fc_g0, LeakyReLU, fc_g1, Tanh;
fc_d0 without bias, LeakyReLU, Dropout, fc_d1, Sigmoid), trained by their
d_train / g_train: BCELoss, torch.optim.Adam with its defaults for each net,
D on the real batch and G(z1) together, then G on D(G(z2)) with label 1. The
dropout probability is 0 here: torch's dropout masks come from its own
generator, cugen's from Philox, so parity is checked without them (dropout
itself is tested in tests/unit and tests/grad). Small sizes keep the file
small: z 20 (the notes'), 16 hidden units, 49 pixels, batch 8. The file holds

    init.G.<name>, init.D.<name>  the state_dicts before training
    real.<k>, z1.<k>, z2.<k>      step k's batch and noises (k = 0, 1, 2)
    loss_D.<k>, loss_G.<k>, D_x.<k>, D_G_z.<k>
    final.G.<name>, final.D.<name>  the state_dicts after step 2
    cfg                           nz, hidden, pixels, batch, steps

Inputs are drawn in float32; training runs in float64 (model.double()).
Format: CGREF1, see make_refs.py.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_refs import write_ref  # noqa: E402


def make_generator_network(input_size, num_hidden_units, num_output_units):
    model = nn.Sequential()
    model.add_module('fc_g0', nn.Linear(input_size, num_hidden_units))
    model.add_module('relu_g0', nn.LeakyReLU())
    model.add_module('fc_g1', nn.Linear(num_hidden_units, num_output_units))
    model.add_module('tanh_g', nn.Tanh())
    return model


def make_discriminator_network(input_size, num_hidden_units, p):
    model = nn.Sequential()
    model.add_module('fc_d0', nn.Linear(input_size, num_hidden_units, bias=False))
    model.add_module('relu_d0', nn.LeakyReLU())
    model.add_module('dropout', nn.Dropout(p=p))
    model.add_module('fc_d1', nn.Linear(num_hidden_units, 1))
    model.add_module('sigmoid', nn.Sigmoid())
    return model


def state(prefix, net):
    return [(prefix + k, v.detach().clone().to(torch.float32)) for k, v in net.state_dict().items()]


def case(path, seed, nz, hidden, npix, batch, steps=3):
    torch.manual_seed(seed)
    G = make_generator_network(nz, hidden, npix)
    D = make_discriminator_network(npix, hidden, 0.0)
    out = state("init.G.", G) + state("init.D.", D)
    reals = [torch.rand(batch, npix) * 2 - 1 for _ in range(steps)]
    z1s = [torch.rand(batch, nz) * 2 - 1 for _ in range(steps)]
    z2s = [torch.rand(batch, nz) * 2 - 1 for _ in range(steps)]
    G.double()
    D.double()
    loss_fn = nn.BCELoss()
    g_opt = torch.optim.Adam(G.parameters())
    d_opt = torch.optim.Adam(D.parameters())
    for k in range(steps):
        x = reals[k].double()
        D.zero_grad()
        d_proba_real = D(x)
        d_loss_real = loss_fn(d_proba_real, torch.ones(batch, 1, dtype=torch.float64))
        d_proba_fake = D(G(z1s[k].double()))
        d_loss_fake = loss_fn(d_proba_fake, torch.zeros(batch, 1, dtype=torch.float64))
        d_loss = d_loss_real + d_loss_fake
        d_loss.backward()
        d_opt.step()
        G.zero_grad()
        g_loss = loss_fn(D(G(z2s[k].double())), torch.ones(batch, 1, dtype=torch.float64))
        g_loss.backward()
        g_opt.step()
        out += [("real.%d" % k, reals[k]), ("z1.%d" % k, z1s[k]), ("z2.%d" % k, z2s[k]),
                ("loss_D.%d" % k, d_loss), ("loss_G.%d" % k, g_loss),
                ("D_x.%d" % k, d_proba_real.mean()), ("D_G_z.%d" % k, d_proba_fake.mean())]
    out += state("final.G.", G) + state("final.D.", D)
    out.append(("cfg", torch.tensor([nz, hidden, npix, batch, steps], dtype=torch.float32)))
    write_ref(path, out)
    print("wrote %s (%d tensors)" % (path, len(out)))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/ref"
    torch.set_num_threads(1)
    case(os.path.join(outdir, "mlp_gan.ref"), 21, nz=20, hidden=16, npix=49, batch=8)


if __name__ == "__main__":
    main()
