#!/usr/bin/python3
"""Compare `cugen prepare celeba` with the torchvision recipe done in PIL.

torchvision's Resize(size) + CenterCrop(size) on a PIL image is PIL's bilinear
resize of the shorter side to `size` (the longer to int(size * long / short))
followed by a crop at round((H - size) / 2), round((W - size) / 2). This script
writes CelebA-sized (178 x 218) JPEGs, runs cugen's prepare on them, repeats
the recipe with PIL on the same files, and prints the pixel differences.
Needs Debian's python3-pil and numpy; run from the repository root after make:

    /usr/bin/python3 scripts/prepare_vs_pil.py [build/cugen]
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

SIZE, COUNT, HEADER = 64, 20, 128


def main():
    cugen = sys.argv[1] if len(sys.argv) > 1 else "build/cugen"
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "img")
        os.mkdir(src)
        y, x = np.mgrid[0:218, 0:178]
        for i in range(COUNT):
            base = np.stack([128 + 100 * np.sin(x / (7 + i) + c) * np.cos(y / (11 + i))
                             for c in range(3)], -1)
            im = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(im).save(os.path.join(src, f"{i:06d}.jpg"), quality=90)
        out = os.path.join(tmp, "out.pack")
        subprocess.run([cugen, "prepare", "celeba", "--src", src, "--size", str(SIZE),
                        "--out", out, "--split", "all"], check=True, stderr=subprocess.DEVNULL)
        raw = open(out, "rb").read()
        px = np.frombuffer(raw[HEADER:HEADER + COUNT * 3 * SIZE * SIZE], np.uint8)
        px = px.reshape(COUNT, 3, SIZE, SIZE).astype(int)
        diffs = []
        for i in range(COUNT):
            im = Image.open(os.path.join(src, f"{i:06d}.jpg")).convert("RGB")
            w, h = im.size
            nw, nh = (SIZE, int(SIZE * h / w)) if w <= h else (int(SIZE * w / h), SIZE)
            r = np.asarray(im.resize((nw, nh), Image.BILINEAR))
            top, left = int(round((nh - SIZE) / 2.0)), int(round((nw - SIZE) / 2.0))
            ref = r[top:top + SIZE, left:left + SIZE].transpose(2, 0, 1).astype(int)
            diffs.append(np.abs(ref - px[i]))
        d = np.stack(diffs)
        print(f"{COUNT} images: max |cugen - PIL| = {d.max()} grey levels, mean {d.mean():.3f}, "
              f"exactly equal {100 * (d == 0).mean():.1f}%")
        return 0 if d.max() <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
