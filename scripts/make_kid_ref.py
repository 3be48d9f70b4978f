#!/usr/bin/python3
"""make_kid_ref.py: the reference for cugen's KID (the unbiased squared MMD
with the cubic polynomial kernel of Binkowski et al. 2018).

    /usr/bin/python3 scripts/make_kid_ref.py tests/ref/kid.ref

Needs Debian's python3-torch and python3-numpy.

For feature rows x (n, d), y (m, d) and k(a, b) = (a.b / d + 1)^3:
  mmd2 = sum_{i != j} k(x_i, x_j) / (n (n - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
         - 2 sum_{i, j} k(x_i, y_j) / (n m)
written here twice, with numpy (the Gram matrices, their diagonals taken
out) and with torch (the sums over i < j, doubled), in float64 from the
float32 values stored, and the two must agree to 1e-12 before the file is
written.

Two cases (torch.Generator seed 7003): "a" x (40, 16) ~ N(0, 1) against
y (30, 16) ~ N(0.3, 1.2^2); "b" ReLU'd N(0, 1) rows (50, 128), like the
FMNIST net's features, against ReLU'd N(0.1, 1) rows (45, 128).
File (CGREF1, scripts/make_refs.py): a_x, a_y, a_mmd2 (1), b_x, b_y, b_mmd2 (1).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_refs import write_ref  # noqa: E402


def mmd2_numpy(x, y):
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    n, m = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) +
            (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / (n * m))


def mmd2_torch(x, y):
    d = x.shape[1]

    def off_diag(a):
        k = (a @ a.T / d + 1) ** 3
        return 2 * torch.triu(k, diagonal=1).sum()
    n, m = len(x), len(y)
    kxy = ((x @ y.T / d + 1) ** 3).sum()
    return (off_diag(x) / (n * (n - 1)) + off_diag(y) / (m * (m - 1)) -
            2 * kxy / (n * m)).item()


def case(x, y):
    x64, y64 = x.double(), y.double()
    a = mmd2_numpy(x64.numpy(), y64.numpy())
    b = mmd2_torch(x64, y64)
    assert abs(a - b) <= 1e-12 * max(1.0, abs(a)), (a, b)
    return a


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    g = torch.Generator()
    g.manual_seed(7003)
    ax = torch.randn(40, 16, generator=g)
    ay = 0.3 + 1.2 * torch.randn(30, 16, generator=g)
    bx = torch.relu(torch.randn(50, 128, generator=g))
    by = torch.relu(0.1 + torch.randn(45, 128, generator=g))
    a, b = case(ax, ay), case(bx, by)
    write_ref(sys.argv[1], [("a_x", ax), ("a_y", ay), ("a_mmd2", torch.tensor([a])),
                            ("b_x", bx), ("b_y", by), ("b_mmd2", torch.tensor([b]))])
    print("%s: mmd2 a %.9g, b %.9g" % (sys.argv[1], a, b))


if __name__ == "__main__":
    main()
