#!/usr/bin/python3
"""make_inception_is_ref.py: the reference for cugen's Inception Score.

    /usr/bin/python3 scripts/make_inception_is_ref.py tests/ref/inception_is.ref

Needs Debian's python3-torch and python3-torchvision (no download).

The network: make_inception_ref.py's (torchvision's inception_v3 with the FID
changes, filled with the hash weights of tests/unit/inception_fixture.h),
with the 1008-way classifier of the FID Inception's weights (fc.weight
(1008, 2048), fc.bias (1008), hash weights too), in float64.

The score, as Salimans et al.'s code computes it: the logits are the pool3
features times fc.weight WITHOUT fc.bias (their code multiplies pool_3 by the
weights of "softmax/logits/MatMul"; torch-fidelity calls these the unbiased
logits), p(y|x) their softmax, and for each of 10 consecutive splits of the
images (split i: images [i N / 10, (i + 1) N / 10)) exp(mean_x KL(p(y|x) ||
p(y))), p(y) the split's mean of p(y|x); the score is the mean and the
(population, ddof 0) standard deviation of the 10.

The images are 8 x 8 uniform noise (torch.Generator seed 7002), which the
network resizes to 299 x 299: large smooth blobs, so that the images differ.

The reference file (CGREF1, scripts/make_refs.py): "x" (20, 3, 8, 8),
"logits" (20, 1008), "is" (2): mean and std over 10 splits, "is1" (1): the
score of the 20 images as one split.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_inception_ref import features, fid_inception, fill, fill_fc  # noqa: E402
from make_refs import write_ref  # noqa: E402


def inception_score(logits, splits):
    """logits (N, K) float64 -> (mean, std) over splits, log-softmax for p log p."""
    logp = torch.log_softmax(logits, dim=1)
    n = logits.shape[0]
    scores = []
    for i in range(splits):
        part = logp[i * n // splits:(i + 1) * n // splits]
        p = part.exp()
        log_py = torch.log(p.mean(0, keepdim=True))
        kl = (p * (part - log_py)).sum(1).mean()
        scores.append(kl.exp().item())
    return float(np.mean(scores)), float(np.std(scores))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    m = fid_inception()
    fill(m)
    fill_fc(m)
    m = m.double()
    g = torch.Generator()
    g.manual_seed(7002)
    x = torch.rand(20, 3, 8, 8, generator=g, dtype=torch.float32)
    with torch.no_grad():
        f = features(m, x.double())
        logits = F.linear(f, m.fc.weight)  # no bias: the published score's logits
    mean, std = inception_score(logits, 10)
    one, _ = inception_score(logits, 1)
    write_ref(sys.argv[1], [("x", x), ("logits", logits),
                            ("is", torch.tensor([mean, std])), ("is1", torch.tensor([one]))])
    print("%s: IS %.6f +- %.6f over 10 splits, %.6f as one; logits std %.2f" %
          (sys.argv[1], mean, std, one, logits.std().item()))


if __name__ == "__main__":
    main()
