#!/usr/bin/python3
"""make_refs.py: PyTorch reference files for cugen's tests (tests/unit/test_torch_refs*.c,
test_embedding.c, test_ebm.c).

    /usr/bin/python3 scripts/make_refs.py tests/ref      (or: make refs)
    /usr/bin/python3 scripts/make_refs.py tests/ref pixelcnn_step   (only those cases)

Needs Debian's python3-torch. Writes one small file per case into the given
folder; the files are committed, and regenerating them with the same torch
gives the same bytes (fixed seeds, CPU, no threads-dependent reductions at
these sizes).

What a case holds. Op cases: the inputs and weights, a random output gradient
"dy", the output "y", and the gradients of sum(y * dy) with respect to every
input and weight ("dx", "dw", "db", "dgamma", "dbeta"); "cfg" carries the op's
scalar arguments (documented per case below). Optimizer cases: initial
parameters, the gradient fed at every step, the parameters after every step.
Model cases (autoencoder_step): one training step of a small model, its
initial and final state_dict, forward values and gradients.

Precision. Inputs are drawn in float32. Ops are then evaluated in float64 on
those float32 values and the results rounded to float32, so a reference is
the exact answer to float32 precision and a test measures cugen's own error.
Optimizers run in float32, as a PyTorch training run does (its m and v are
float32 between steps, like cugen's).

File format (all little-endian; the C reader is tests/unit/ref.c):

    magic    6 bytes   "CGREF1"
    count    uint32    number of tensors
    then count times:
      name_len uint32  1..63
      name     name_len bytes, ASCII, no terminator
      ndim     uint32  1..4
      dims     ndim x int32, each >= 1
      data     prod(dims) x float32, row-major (C order)

Nothing may follow the last tensor. Scalars are tensors of shape (1).
"""
import os
import struct
import sys

import torch
import torch.nn.functional as F

MAGIC = b"CGREF1"


def write_ref(path, tensors):
    """tensors: list of (name, tensor); written in that order."""
    out = [MAGIC, struct.pack("<I", len(tensors))]
    for name, t in tensors:
        t = t.detach().to(torch.float32).contiguous()
        if t.dim() == 0:
            t = t.reshape(1)
        nb = name.encode("ascii")
        assert 1 <= len(nb) <= 63 and 1 <= t.dim() <= 4, name
        out.append(struct.pack("<I", len(nb)) + nb)
        out.append(struct.pack("<I", t.dim()) + struct.pack("<%di" % t.dim(), *t.shape))
        out.append(struct.pack("<%df" % t.numel(), *t.flatten().tolist()))
    with open(path, "wb") as f:
        f.write(b"".join(out))


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randn(g, *shape, scale=1.0, shift=0.0):
    return torch.randn(*shape, generator=g, dtype=torch.float32) * scale + shift


def uniform(g, lo, hi, *shape):
    return torch.rand(*shape, generator=g, dtype=torch.float32) * (hi - lo) + lo


def cfg(*values):
    return torch.tensor(values, dtype=torch.float64)


def op_case(fn, inputs, grad_names, dy_seed):
    """Run fn on float64 copies of the float32 inputs (a dict), backprop
    sum(y * dy) and return [(name, tensor)] for inputs, dy, y and the
    gradients of the inputs listed in grad_names (input name -> grad name)."""
    leaves = {}
    for name, t in inputs.items():
        leaves[name] = t.to(torch.float64).requires_grad_(name in grad_names)
    y = fn(leaves)
    dy = randn(gen(dy_seed), *y.shape)
    y.backward(dy.to(torch.float64))
    out = [(name, t) for name, t in inputs.items()]
    out += [("dy", dy), ("y", y)]
    out += [(gname, leaves[name].grad) for name, gname in grad_names.items()]
    return out


# ---- cases --------------------------------------------------------------------
def linear_case():
    """x (5, 7), w (3, 7), b (3)."""
    g = gen(101)
    inp = {"x": randn(g, 5, 7), "w": randn(g, 3, 7, scale=0.5), "b": randn(g, 3)}
    return op_case(lambda t: F.linear(t["x"], t["w"], t["b"]), inp,
                   {"x": "dx", "w": "dw", "b": "db"}, 102)


def conv2d_case(seed, N, Cin, H, W, Cout, k, stride, pad, bias):
    """cfg = (stride, pad)."""
    g = gen(seed)
    inp = {"x": randn(g, N, Cin, H, W), "w": randn(g, Cout, Cin, k, k, scale=0.3)}
    grads = {"x": "dx", "w": "dw"}
    if bias:
        inp["b"] = randn(g, Cout)
        grads["b"] = "db"
    fn = lambda t: F.conv2d(t["x"], t["w"], t.get("b"), stride=stride, padding=pad)
    return [("cfg", cfg(stride, pad))] + op_case(fn, inp, grads, seed + 1)


def conv_transpose2d_case(seed, N, Cin, H, W, Cout, k, stride, pad, bias):
    """w (Cin, Cout, k, k) as PyTorch; cfg = (stride, pad)."""
    g = gen(seed)
    inp = {"x": randn(g, N, Cin, H, W), "w": randn(g, Cin, Cout, k, k, scale=0.3)}
    grads = {"x": "dx", "w": "dw"}
    if bias:
        inp["b"] = randn(g, Cout)
        grads["b"] = "db"
    fn = lambda t: F.conv_transpose2d(t["x"], t["w"], t.get("b"), stride=stride, padding=pad)
    return [("cfg", cfg(stride, pad))] + op_case(fn, inp, grads, seed + 1)


def conv2d_hw_case(seed, N, Cin, H, W, Cout, kh, kw, stride, ph, pw):
    """Rectangular kernel, per-axis padding, no bias; cfg = (stride, pad_h, pad_w)."""
    g = gen(seed)
    inp = {"x": randn(g, N, Cin, H, W), "w": randn(g, Cout, Cin, kh, kw, scale=0.3)}
    fn = lambda t: F.conv2d(t["x"], t["w"], None, stride=stride, padding=(ph, pw))
    return [("cfg", cfg(stride, ph, pw))] + op_case(fn, inp, {"x": "dx", "w": "dw"}, seed + 1)


def pool_case(seed, kind, N, C, H, W, k, stride, pad, count_include_pad=0):
    """max_pool2d / avg_pool2d; cfg = (k, stride, pad, count_include_pad)."""
    g = gen(seed)
    inp = {"x": randn(g, N, C, H, W)}
    if kind == "max":
        fn = lambda t: F.max_pool2d(t["x"], k, stride, pad)
    else:
        fn = lambda t: F.avg_pool2d(t["x"], k, stride, pad,
                                    count_include_pad=bool(count_include_pad))
    return [("cfg", cfg(k, stride, pad, count_include_pad))] + op_case(fn, inp, {"x": "dx"},
                                                                       seed + 1)


def bilinear_case(seed, N, C, H, W, Ho, Wo):
    """interpolate(mode='bilinear', align_corners=False); cfg = (Ho, Wo)."""
    g = gen(seed)
    inp = {"x": randn(g, N, C, H, W)}
    fn = lambda t: F.interpolate(t["x"], size=(Ho, Wo), mode="bilinear", align_corners=False)
    return [("cfg", cfg(Ho, Wo))] + op_case(fn, inp, {"x": "dx"}, seed + 1)


def batchnorm_case(seed, training):
    """x (4, 3, 5, 5) with per-channel offsets and scales, affine.
    cfg = (training, momentum, eps). Running stats go in as running_mean_in /
    running_var_in and come out (after the step) as running_mean / running_var:
    (0, 1) in training, given values in eval (unchanged by the step)."""
    g = gen(seed)
    N, C, H, W = 4, 3, 5, 5
    momentum, eps = 0.1, 1e-5
    shift = torch.tensor([0.5, -1.0, 2.0]).reshape(1, C, 1, 1)
    scale = torch.tensor([1.0, 0.3, 2.5]).reshape(1, C, 1, 1)
    x = (randn(g, N, C, H, W) * scale + shift).to(torch.float32)
    inp = {"x": x, "gamma": uniform(g, 0.5, 1.5, C), "beta": randn(g, C)}
    if training:
        rm, rv = torch.zeros(C), torch.ones(C)
    else:
        rm, rv = randn(g, C, scale=0.5), uniform(g, 0.5, 2.0, C)
    rm64, rv64 = rm.to(torch.float64), rv.to(torch.float64)
    fn = lambda t: F.batch_norm(t["x"], rm64, rv64, t["gamma"], t["beta"],
                                training=bool(training), momentum=momentum, eps=eps)
    out = op_case(fn, inp, {"x": "dx", "gamma": "dgamma", "beta": "dbeta"}, seed + 1)
    return ([("cfg", cfg(training, momentum, eps)),
             ("running_mean_in", rm), ("running_var_in", rv)] + out +
            [("running_mean", rm64), ("running_var", rv64)])


def groupnorm_case():
    """x (2, 6, 5, 3), 3 groups, affine; cfg = (groups, eps)."""
    g = gen(601)
    groups, eps = 3, 1e-5
    shift = torch.tensor([0.5, -1.0, 2.0, 0.0, 1.5, -0.5]).reshape(1, 6, 1, 1)
    inp = {"x": (randn(g, 2, 6, 5, 3) + shift).to(torch.float32),
           "gamma": uniform(g, 0.5, 1.5, 6), "beta": randn(g, 6)}
    fn = lambda t: F.group_norm(t["x"], groups, t["gamma"], t["beta"], eps=eps)
    out = op_case(fn, inp, {"x": "dx", "gamma": "dgamma", "beta": "dbeta"}, 602)
    return [("cfg", cfg(groups, eps))] + out


def embedding_case():
    """F.embedding: weight (7, 5), 13 indices with repeats (row 3 four times)
    and a row no index names (6), stored as "idx" in float32 (integral values;
    the test converts them to int32). The gradient goes to the weight only."""
    g = gen(701)
    idx = torch.tensor([3, 1, 3, 5, 0, 3, 2, 5, 1, 4, 3, 0, 2], dtype=torch.int64)
    inp = {"weight": randn(g, 7, 5)}
    fn = lambda t: F.embedding(idx, t["weight"])
    return [("idx", idx.to(torch.float32))] + op_case(fn, inp, {"weight": "dweight"}, 702)


STEPS = 5
GRAD_SCALES = [1.0, 0.1, 2.0, 0.5, 1.0]  # gradient size varies from step to step


def optim_case(seed, make_opt, hparams):
    """Two parameter tensors p0 (13) and p1 (6), STEPS steps.
    Names: p0, p1 (initial), grad<s>.<i> (fed at step s = 1..STEPS),
    after<s>.<i> (parameters after step s); cfg = hparams."""
    g = gen(seed)
    params = [torch.nn.Parameter(randn(g, 13)), torch.nn.Parameter(randn(g, 6, scale=0.5))]
    out = [("cfg", cfg(*hparams))]
    out += [("p%d" % i, p.detach().clone()) for i, p in enumerate(params)]
    opt = make_opt(params)
    for s in range(1, STEPS + 1):
        for i, p in enumerate(params):
            grad = randn(g, *p.shape, scale=GRAD_SCALES[s - 1])
            p.grad = grad.clone()
            out.append(("grad%d.%d" % (s, i), grad))
        opt.step()
        out += [("after%d.%d" % (s, i), p.detach().clone()) for i, p in enumerate(params)]
    return out


def adam_case(seed, decoupled, lr, b1, b2, eps, wd):
    """cfg = (lr, beta1, beta2, eps, weight_decay, decoupled)."""
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    return optim_case(seed, lambda ps: cls(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd),
                      (lr, b1, b2, eps, wd, decoupled))


def sgd_case(seed, lr, momentum, dampening, wd, nesterov):
    """cfg = (lr, momentum, dampening, weight_decay, nesterov)."""
    return optim_case(seed, lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum,
                                                       dampening=dampening, weight_decay=wd,
                                                       nesterov=bool(nesterov)),
                      (lr, momentum, dampening, wd, nesterov))


class EBMNet(torch.nn.Module):
    """The seed article's EBM: net = Sequential(Linear, ReLU, Linear, ReLU, Linear)."""

    def __init__(self, input_dim, hidden_dim):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(input_dim, hidden_dim), torch.nn.ReLU(),
            torch.nn.Linear(hidden_dim, hidden_dim), torch.nn.ReLU(),
            torch.nn.Linear(hidden_dim, 1))

    def forward(self, x):
        return self.net(x)


class EBMConv(torch.nn.Module):
    """Lippe's tutorial-8 CNNModel (Swish = SiLU), its output taken as the energy E."""

    def __init__(self, channels, side, h):
        super().__init__()
        pad = (36 - side) // 2
        self.cnn_layers = torch.nn.Sequential(
            torch.nn.Conv2d(channels, h // 2, 5, 2, pad), torch.nn.SiLU(),
            torch.nn.Conv2d(h // 2, h, 3, 2, 1), torch.nn.SiLU(),
            torch.nn.Conv2d(h, 2 * h, 3, 2, 1), torch.nn.SiLU(),
            torch.nn.Conv2d(2 * h, 2 * h, 3, 2, 1), torch.nn.SiLU(),
            torch.nn.Flatten(),
            torch.nn.Linear(8 * h, 2 * h), torch.nn.SiLU(),
            torch.nn.Linear(2 * h, 1))

    def forward(self, x):
        return self.cnn_layers(x)


def ebm_state(prefix, net):
    return [(prefix + k, v.detach().clone().to(torch.float32)) for k, v in net.state_dict().items()]


def ebm_noise_case():
    """One Adam step (lr 1e-3, torch defaults) of the article's objective with the sign that
    makes data LOW energy: BCEWithLogits over the 2N logits -E, label 1 data, 0 noise.
    Holds init.<name>, x (N, D), noise (N, D), loss, e_data, e_noise, final.<name>;
    cfg = D, H, N."""
    D, H, N = 12, 8, 5
    torch.manual_seed(601)
    net = EBMNet(D, H)
    out = ebm_state("init.", net)
    g = gen(602)
    x = uniform(g, -1, 1, N, D)
    noise = randn(g, N, D)
    net.double()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    e_pos, e_neg = net(x.double()), net(noise.double())
    logits = torch.cat([-e_pos, -e_neg]).squeeze(1)
    labels = torch.cat([torch.ones(N), torch.zeros(N)]).double()
    loss = F.binary_cross_entropy_with_logits(logits, labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
    out += [("x", x), ("noise", noise), ("loss", loss), ("e_data", e_pos.mean()),
            ("e_noise", e_neg.mean())]
    return out + ebm_state("final.", net) + [("cfg", cfg(D, H, N))]


def ebm_langevin_case():
    """Contrastive divergence as Lippe's tutorial 8 (Du & Mordatch 2019): K Langevin steps
    from the chains x0 with the fixed noises (x = clamp(x + noise_k); g = clamp(dE/dx,
    -clip, clip); x = clamp(x - step g)), the parameters frozen; then one Adam step
    (lr 1e-4, betas (0, 0.999)) on mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 +
    mean E(x-)^2), x+ = clamp(x + jitter). The noises are drawn here, in float32, scaled;
    cugen's test feeds them to its sampler. Holds init.<name>, x, jitter, x0, noise (K, N,
    C S S), samples, loss, cd, reg, e_data, e_sample, final.<name>; cfg = C, S, h, N, K,
    step, sigma, clip, alpha."""
    # the tutorial's sigma and alpha; a clip near the median |dE/dx| of this small random
    # net (about 1e-5) so that both sides of it are taken, and a step that makes the
    # gradient's move (0.01) as large as the noise's
    C, S, h, N, K = 1, 28, 4, 3, 4
    step, sigma, clip, alpha = 1000.0, 0.005, 1.5e-5, 0.1
    torch.manual_seed(611)
    net = EBMConv(C, S, h)
    out = ebm_state("init.", net)
    g = gen(612)
    x = uniform(g, -1, 1, N, C, S, S)
    jitter = randn(g, N, C, S, S) * sigma
    x0 = uniform(g, -1, 1, N, C, S, S)
    noise = randn(g, K, N, C, S, S) * sigma
    net.double()
    for p in net.parameters():
        p.requires_grad_(False)
    xs = x0.double()
    for k in range(K):
        xs = (xs + noise[k].double()).clamp(-1, 1).requires_grad_(True)
        net(xs).sum().backward()
        gr = xs.grad.clamp(-clip, clip)
        xs = (xs.detach() - step * gr).clamp(-1, 1)
    for p in net.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.0, 0.999))
    real = (x.double() + jitter.double()).clamp(-1, 1)
    e_pos, e_neg = net(real), net(xs)
    cd = e_pos.mean() - e_neg.mean()
    reg = alpha * ((e_pos ** 2).mean() + (e_neg ** 2).mean())
    loss = cd + reg
    opt.zero_grad()
    loss.backward()
    opt.step()
    out += [("x", x), ("jitter", jitter), ("x0", x0), ("noise", noise.reshape(K, N, C * S * S)),
            ("samples", xs), ("loss", loss), ("cd", cd), ("reg", reg),
            ("e_data", e_pos.mean()), ("e_sample", e_neg.mean())]
    return out + ebm_state("final.", net) + [
        ("cfg", cfg(C, S, h, N, K, step, sigma, clip, alpha))]
class Autoencoder(torch.nn.Module):
    """The seed article's autoencoder at any size (its Unflatten left out: cugen's
    images are flat and the loss is the same)."""

    def __init__(self, D, h1, h2, latent):
        super().__init__()
        nn = torch.nn
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(D, h1), nn.ReLU(True),
                                     nn.Linear(h1, h2), nn.ReLU(True), nn.Linear(h2, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, h2), nn.ReLU(True), nn.Linear(h2, h1),
                                     nn.ReLU(True), nn.Linear(h1, D), nn.Tanh())


def autoencoder_step_case(seed, D, h1, h2, latent, N, lr, wd):
    """One training step of the article's recipe (MSELoss, Adam(lr, weight_decay))
    from nn.Linear's default init (float32, then run in float64):
    init.<name>, x (N, D) in [-1, 1], z (N, latent) the codes, recon (N, D),
    loss (the mean), grad.<name>, final.<name> after the Adam step;
    cfg = (D, h1, h2, latent, N, lr, weight_decay). The weight decay is larger
    than the article's 1e-5, which one step at float32 precision cannot show."""
    torch.manual_seed(seed)
    model = Autoencoder(D, h1, h2, latent)
    init = [("init." + k, v.detach().clone()) for k, v in model.state_dict().items()]
    x = uniform(gen(seed + 1), -1.0, 1.0, N, D)
    model = model.double()
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    z = model.encoder(x.double())
    recon = model.decoder(z)
    loss = F.mse_loss(recon, x.double())
    opt.zero_grad()
    loss.backward()
    grads = [("grad." + k, p.grad.detach().clone()) for k, p in model.named_parameters()]
    opt.step()
    final = [("final." + k, v.detach().clone()) for k, v in model.state_dict().items()]
    return ([("cfg", cfg(D, h1, h2, latent, N, lr, wd))] + init +
            [("x", x), ("z", z), ("recon", recon), ("loss", loss)] + grads + final)


def pixelcnn_case(seed, levels, N, S, hidden, blocks, lr):
    """One Adam step of scripts/pixelcnn_torch.py's PixelCNN on N random S x S images,
    in float64 from float32 weights: init.<param>, x (N, 1, S, S), labels (N, S, S),
    logits (levels 2: (N, 1, S, S); 256: (N, S S, 256), each pixel's logits together),
    nll (summed over the batch), grad.<param> of nll / N, final.<param> after
    torch.optim.Adam(lr) (its defaults otherwise); cfg = (levels, hidden, blocks, lr)."""
    from pixelcnn_torch import PixelCNN, pixels
    torch.manual_seed(seed)
    m = PixelCNN(hidden, blocks, levels)
    g = gen(seed + 1)
    with torch.no_grad():   # biases away from PyTorch's small defaults
        for name, p in m.named_parameters():
            if name.endswith("bias"):
                p.copy_(randn(g, *p.shape, scale=0.2))
    init = [("init." + n, p.detach().clone()) for n, p in m.named_parameters()]
    images = torch.randint(0, 256, (N, S, S), generator=g, dtype=torch.int64).to(torch.uint8)
    x, lab = pixels(images, levels)
    m = m.double()
    z = m.forward(x.double())
    nll = m.nll(x.double(), lab)
    (nll / N).backward()
    out = [("cfg", cfg(levels, hidden, blocks, lr))] + init
    out += [("x", x), ("labels", lab.to(torch.float32))]
    out += [("logits", z if levels == 2 else z.reshape(N, z.shape[1], S * S).transpose(1, 2))]
    out += [("nll", nll)]
    out += [("grad." + n, p.grad) for n, p in m.named_parameters()]
    m = m.float()
    for n, p in m.named_parameters():
        p.grad = p.grad.float()
    torch.optim.Adam(m.parameters(), lr=lr).step()
    out += [("final." + n, p.detach()) for n, p in m.named_parameters()]
    return out


CASES = {
    "linear": linear_case,
    "conv2d_k3s2p1": lambda: conv2d_case(201, 2, 3, 9, 7, 4, 3, 2, 1, True),
    "conv2d_k4s2p1_nobias": lambda: conv2d_case(211, 2, 3, 9, 7, 5, 4, 2, 1, False),
    "convt_k4s2p1": lambda: conv_transpose2d_case(301, 2, 3, 5, 4, 4, 4, 2, 1, True),
    "convt_k4s1p0_1x1": lambda: conv_transpose2d_case(311, 3, 5, 1, 1, 4, 4, 1, 0, False),
    "conv2d_k1x7_p0_3": lambda: conv2d_hw_case(221, 2, 3, 6, 9, 4, 1, 7, 1, 0, 3),
    "conv2d_k3x1_s2_p1_0": lambda: conv2d_hw_case(231, 2, 3, 9, 6, 4, 3, 1, 2, 1, 0),
    "maxpool_k3s2": lambda: pool_case(241, "max", 2, 3, 9, 8, 3, 2, 0),
    "maxpool_k3s1p1": lambda: pool_case(251, "max", 2, 3, 7, 6, 3, 1, 1),
    "avgpool_k3s1p1_nopad": lambda: pool_case(261, "avg", 2, 3, 7, 6, 3, 1, 1, 0),
    "avgpool_k3s2p1_pad": lambda: pool_case(271, "avg", 2, 3, 7, 8, 3, 2, 1, 1),
    "bilinear_up": lambda: bilinear_case(281, 2, 3, 5, 7, 11, 16),
    "bilinear_down": lambda: bilinear_case(291, 2, 2, 13, 11, 5, 4),
    "bilinear_8_to_37": lambda: bilinear_case(301, 1, 1, 8, 8, 37, 37),
    "batchnorm_train": lambda: batchnorm_case(401, 1),
    "batchnorm_eval": lambda: batchnorm_case(411, 0),
    "groupnorm": groupnorm_case,
    "embedding": embedding_case,
    "adam": lambda: adam_case(501, 0, 0.01, 0.9, 0.999, 1e-8, 0.01),
    "adamw": lambda: adam_case(511, 1, 0.01, 0.9, 0.999, 1e-8, 0.1),
    "sgd_momentum": lambda: sgd_case(521, 0.05, 0.9, 0.1, 0.01, 0),
    "sgd_nesterov": lambda: sgd_case(531, 0.05, 0.9, 0.0, 0.01, 1),
    "ebm_noise": ebm_noise_case,
    "ebm_langevin": ebm_langevin_case,
    "autoencoder_step": lambda: autoencoder_step_case(801, 48, 16, 8, 2, 5, 1e-3, 1e-2),
    "pixelcnn_step": lambda: pixelcnn_case(601, 2, 3, 9, 4, 2, 0.01),
    "pixelcnn256_step": lambda: pixelcnn_case(611, 256, 2, 6, 3, 1, 0.01),
}


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: make_refs.py OUT_DIR [CASE...]")
    outdir = sys.argv[1]
    only = sys.argv[2:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    total = 0
    for name, make in CASES.items():
        if only and name not in only:
            continue
        path = os.path.join(outdir, name + ".ref")
        write_ref(path, make())
        size = os.path.getsize(path)
        total += size
        print("%-36s %6d bytes" % (path, size))
    print("total %d bytes (torch %s)" % (total, torch.__version__))


if __name__ == "__main__":
    main()
