#!/usr/bin/python3
"""make_inception_ref.py: the reference for cugen's FID Inception network.

    /usr/bin/python3 scripts/make_inception_ref.py tests/ref/inception_fid.ref
    /usr/bin/python3 scripts/make_inception_ref.py --weights OUT.safetensors

Needs Debian's python3-torch and python3-torchvision (no download: the model
is built with weights=None and filled here).

The model: torchvision's inception_v3(aux_logits=False, init_weights=False,
transform_input=False) with the FID changes, made by the small subclasses
below (written for this test): the average pools of the A, C and E blocks do
not count the padding, and the last E block (Mixed_7c) max-pools in its pool
branch. Input: images in [0, 1] resized to 299x299 (bilinear,
align_corners=False), scaled to [-1, 1]; output the 2048 global-average-pooled
features.

Weights: every parameter and BN buffer gets deterministic pseudo-random values
that the C test regenerates (tests/unit/inception_fixture.h documents the
hash: FNV-1a of the tensor name, splitmix64's finaliser over the element index,
scaled by the name's ending; conv weights (2u - 1) sqrt(6 / fan_in); the
classifier fc, which the features do not use, 8 times that). The
values are rounded to float32, then the model runs in float64, so the
reference is the float32 weights' exact answer to float32 precision and the
test measures cugen's own error.

The reference file (CGREF1 format of scripts/make_refs.py): "x" (2, 3, 64, 64)
uniform in [0, 1] (torch.Generator seed 7001) and "features" (2, 2048).

--weights writes the same weights as a safetensors file (F32, the state_dict
names), with the 1008-way classifier fc (scripts/make_inception_is_ref.py),
for `cugen eval --net` and scripts/bench_inception.py.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models import inception as tvi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_refs import write_ref  # noqa: E402

MASK = (1 << 64) - 1


def fnv1a(name):
    h = 0xcbf29ce484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001b3) & MASK
    return h


def hash_u(name, n):
    """u_i in [0, 1) for i in [0, n), float64 (see inception_fixture.h)."""
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(fnv1a(name)) + i * np.uint64(0x9E3779B97F4A7C15)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def hash_tensor(name, shape):
    n = int(np.prod(shape))
    u = hash_u(name, n)
    if name.endswith("conv.weight"):
        fan_in = n // shape[0]
        x = (2 * u - 1) * np.sqrt(6.0 / fan_in)
    elif name.endswith("bn.weight") or name.endswith("bn.running_var"):
        x = 0.5 + u
    elif name.endswith("bn.bias"):
        x = 0.2 * (2 * u - 1)
    elif name.endswith("bn.running_mean"):
        x = 0.1 * (2 * u - 1)
    elif name == "fc.weight":
        fan_in = n // shape[0]
        x = 8 * (2 * u - 1) * np.sqrt(6.0 / fan_in)
    elif name == "fc.bias":
        x = 4 * (2 * u - 1)
    else:
        raise ValueError("no hash rule for " + name)
    return x.astype(np.float32).reshape(shape)


# ---- the FID variant ------------------------------------------------------------
def _cat(*xs):
    return torch.cat(xs, 1)


class FidA(tvi.InceptionA):
    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
        return _cat(b1, b5, b3, bp)


class FidC(tvi.InceptionC):
    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for m in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                  self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = m(bd)
        bp = self.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
        return _cat(b1, b7, bd, bp)


class FidE(tvi.InceptionE):
    """max_pool: Mixed_7c's pool branch; else Mixed_7b's average."""

    def __init__(self, in_channels, max_pool):
        super().__init__(in_channels)
        self.max_pool = max_pool

    def forward(self, x):
        b1 = self.branch1x1(x)
        t = self.branch3x3_1(x)
        b3 = _cat(self.branch3x3_2a(t), self.branch3x3_2b(t))
        t = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = _cat(self.branch3x3dbl_3a(t), self.branch3x3dbl_3b(t))
        if self.max_pool:
            p = F.max_pool2d(x, 3, 1, 1)
        else:
            p = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        return _cat(b1, b3, bd, self.branch_pool(p))


def fid_inception():
    m = tvi.inception_v3(weights=None, aux_logits=False, init_weights=False,
                         transform_input=False)
    m.Mixed_5b = FidA(192, pool_features=32)
    m.Mixed_5c = FidA(256, pool_features=64)
    m.Mixed_5d = FidA(288, pool_features=64)
    m.Mixed_6b = FidC(768, channels_7x7=128)
    m.Mixed_6c = FidC(768, channels_7x7=160)
    m.Mixed_6d = FidC(768, channels_7x7=160)
    m.Mixed_6e = FidC(768, channels_7x7=192)
    m.Mixed_7b = FidE(1280, max_pool=False)
    m.Mixed_7c = FidE(2048, max_pool=True)
    return m.eval()


def used_state(m):
    """The state_dict entries the features use (no fc, no num_batches_tracked)."""
    return {k: v for k, v in m.state_dict().items()
            if not k.startswith("fc.") and not k.endswith("num_batches_tracked")}


def fill(m):
    state = used_state(m)
    new = {k: torch.from_numpy(hash_tensor(k, tuple(v.shape))) for k, v in state.items()}
    m.load_state_dict(new, strict=False)
    return new


FC_CLASSES = 1008  # the FID Inception's classifier (TF's 2015 graph), as pytorch-fid's file


def fill_fc(m):
    """m.fc becomes the 1008-way classifier with hash weights; returns its tensors."""
    m.fc = torch.nn.Linear(2048, FC_CLASSES)
    new = {k: torch.from_numpy(hash_tensor(k, (FC_CLASSES, 2048) if k == "fc.weight"
                                           else (FC_CLASSES,)))
           for k in ("fc.weight", "fc.bias")}
    m.load_state_dict(new, strict=False)
    return new


def features(m, x01):
    """x01 (N, 3, H, W) in [0, 1] -> (N, 2048), pytorch-fid's pool3 path."""
    x = F.interpolate(x01, size=(299, 299), mode="bilinear", align_corners=False)
    x = 2 * x - 1
    for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1",
                 "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c",
                 "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                 "Mixed_7a", "Mixed_7b", "Mixed_7c"):
        x = getattr(m, name)(x)
    return F.adaptive_avg_pool2d(x, 1).flatten(1)


def write_safetensors(path, tensors):
    """tensors: dict name -> float32 torch tensor; F32, the names sorted."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        b = tensors[name].detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def main():
    torch.set_num_threads(1)
    m = fid_inception()
    if len(sys.argv) == 3 and sys.argv[1] == "--weights":
        tensors = fill(m)
        tensors.update(fill_fc(m))
        write_safetensors(sys.argv[2], tensors)
        print("%s: %d tensors" % (sys.argv[2], len(tensors)))
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    fill(m)
    m = m.double()
    g = torch.Generator()
    g.manual_seed(7001)
    x = torch.rand(2, 3, 64, 64, generator=g, dtype=torch.float32)
    with torch.no_grad():
        f = features(m, x.double())
    write_ref(sys.argv[1], [("x", x), ("features", f)])
    print("%s: %d bytes; features mean %.4f, std %.4f" %
          (sys.argv[1], os.path.getsize(sys.argv[1]), f.mean().item(), f.std().item()))


if __name__ == "__main__":
    main()
