#!/usr/bin/env python3
"""The ceiling of the scale sweep: the native-size DRIVE predictions carried to each factor's size
(bilinear) and scored against that size's labels (nearest neighbour, as `medseg data resample`
writes them), pooled F1 inside the FOV at threshold 0.5.

At factors other than 1 even a perfect transport of the native result loses F1: the labels,
resampled by nearest neighbour, have blocky edges that no smooth probability map matches. This is
the figure `--scale auto` is measured against in docs/scale.md.

    python3 scripts/scale-oracle.py [FACTOR...]    (after scripts/scale-sweep.sh; needs
                                                    tools/requirements.txt's numpy and pillow)
"""
import glob
import os
import sys

import numpy as np
from PIL import Image


def main() -> None:
    factors = sys.argv[1:] or ["0.5", "0.75", "1.5", "2", "3"]
    native = "runs/scale/eval-x1-none/prob"
    if not os.path.isdir(native):
        sys.exit(f"error: {native} is missing: run scripts/scale-sweep.sh DATA_ROOT first")
    print("| factor | F1, native prediction carried to this size |")
    print("|---|---|")
    for f in factors:
        data = f"runs/scale/drive-x{f}"
        if not os.path.isdir(data):
            sys.exit(f"error: {data} is missing: run scripts/scale-sweep.sh DATA_ROOT {f}")
        tp = fp = fn = 0
        for path in sorted(glob.glob(f"{native}/*.png")):
            name = os.path.basename(path)
            prob = np.asarray(Image.open(path), dtype=np.float64) / 65535.0
            label = np.asarray(Image.open(f"{data}/labelsTs/{name}")) > 127
            fov = np.asarray(Image.open(f"{data}/fovTs/{name}")) > 127
            h, w = label.shape
            up = Image.fromarray(prob.astype(np.float32), mode="F").resize((w, h), Image.BILINEAR)
            pred = np.asarray(up) >= 0.5
            tp += int(np.sum(pred & label & fov))
            fp += int(np.sum(pred & ~label & fov))
            fn += int(np.sum(~pred & label & fov))
        print(f"| {f} | {2 * tp / (2 * tp + fp + fn):.4f} |")


if __name__ == "__main__":
    main()
