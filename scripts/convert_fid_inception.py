#!/usr/bin/python3
"""convert_fid_inception.py: pytorch-fid's Inception weights -> the safetensors file cugen reads.

    /usr/bin/python3 scripts/convert_fid_inception.py pt_inception-2015-12-05-6726825d.pth \\
        inception.safetensors

The input is the file pytorch-fid downloads for its FID Inception network
(pt_inception-2015-12-05-6726825d.pth, a state_dict); get it yourself, cugen
downloads nothing. Needs Debian's python3-torch only.

Kept: the tensors the feature network uses, every BasicConv2d's conv.weight,
bn.weight, bn.bias, bn.running_mean and bn.running_var of Conv2d_* and Mixed_*
(470 tensors), and the classifier fc.weight (1008, 2048) and fc.bias (1008),
TF's 1008-way logits layer, which the Inception Score uses (FID takes the 2048
features before it; the score takes fc.weight without the bias, as Salimans et
al.'s code: see include/cugen/metrics.h), 472 tensors as float32 under their
state_dict names. Dropped (and listed): the BN counters (num_batches_tracked)
and anything else (auxiliary logits).
Then: cugen eval --metric fid --net inception.safetensors --real ... --fake ...
      cugen eval --metric is --net inception.safetensors --fake ...
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_inception_ref import write_safetensors  # noqa: E402

PARTS = ("conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var")
CLASSIFIER = ("fc.weight", "fc.bias")
EXPECTED = 470 + len(CLASSIFIER)


def used(name):
    return (name.startswith(("Conv2d_", "Mixed_")) and name.endswith(PARTS)) or name in CLASSIFIER


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    state = torch.load(src, map_location="cpu")
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        sys.exit("%s: not a state_dict of tensors" % src)
    keep = {k: v.to(torch.float32) for k, v in state.items() if used(k)}
    dropped = sorted(k for k in state if k not in keep)
    if len(keep) != EXPECTED:
        sys.exit("%s: %d Inception tensors, expected %d; is this pytorch-fid's FID Inception "
                 "state_dict?" % (src, len(keep), EXPECTED))
    write_safetensors(dst, keep)
    counters = [k for k in dropped if k.endswith("num_batches_tracked")]
    other = [k for k in dropped if k not in counters]
    print("%s: %d tensors (float32), %d bytes" % (dst, len(keep), os.path.getsize(dst)))
    print("dropped %d BN counters (num_batches_tracked) and %d other tensors%s" %
          (len(counters), len(other), (": " + ", ".join(other)) if other else ""))


if __name__ == "__main__":
    main()
