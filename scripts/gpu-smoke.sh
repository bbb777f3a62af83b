#!/usr/bin/env bash
# GPU check of a wgpu build on a lent NVIDIA machine (what docs/performance.md's GPU section
# reports): the side-by-side bench with PyTorch for the plain-unit and MSAC presets,
# the per-phase times of a wgpu training step, the shipped DRIVE model on the GPU against the
# CPU (same binary) on a synthetic fundus-like image, and the demo on the GPU for one epoch.
#
#   MEDSEG=path/to/wgpu-build/medseg scripts/gpu-smoke.sh OUT_DIR
#
# Needs: a binary built with `cargo build --release -p medseg-cli --features wgpu`, Vulkan's
# loader (libvulkan1), and a python3 with torch (CUDA), numpy and Pillow.
set -u
cd "$(dirname "$0")/.." || exit 2
if [ $# -ne 1 ] || [ -z "${MEDSEG:-}" ]; then
    echo "usage: MEDSEG=WGPU_BINARY $0 OUT_DIR" >&2
    exit 2
fi
out=$1
mkdir -p "$out"
tmp=$(mktemp -d)
nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__)"
echo "== bench side by side (plain preset, then MSAC)"
scripts/bench-gpu-vs-pytorch.sh "$out/bench" nested-u2net msa-u2net 2>&1 | tee "$out/gpu.txt"
echo "== phases on wgpu"
timeout 60 "$MEDSEG" bench --device wgpu --model nested-u2net --batch 8 --patch 64 --steps 10 \
    --repeats 1 2>&1 | tee -a "$out/gpu.txt"
echo "== pretrained drive on a synthetic image, cpu vs wgpu"
python3 - "$tmp/synth_fundus.png" <<'PY'
import sys
import numpy as np
from PIL import Image
h, w = 584, 565
yy, xx = np.mgrid[0:h, 0:w]
rng = np.random.default_rng(0)
img = np.zeros((h, w, 3), np.float32)
disk = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < 270 ** 2
img[..., 0] = 180 * disk; img[..., 1] = 90 * disk; img[..., 2] = 40 * disk
for _ in range(25):  # dark lines of random angle, offset and width: vessel-like
    a = rng.uniform(0, np.pi); c = rng.uniform(-200, 200); wd = rng.uniform(1, 4)
    d = np.abs(np.cos(a) * (xx - w / 2) + np.sin(a) * (yy - h / 2) - c)
    v = np.exp(-(d / wd) ** 2) * disk
    img[..., 1] -= 50 * v; img[..., 0] -= 40 * v
img += rng.normal(0, 4, img.shape)
Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(sys.argv[1])
PY
for d in cpu wgpu; do
    timeout 60 "$MEDSEG" predict --pretrained drive --device $d --out "$tmp/pred-$d" \
        "$tmp/synth_fundus.png" 2>&1 | tee -a "$out/gpu.txt"
done
python3 - "$tmp" <<'PY' 2>&1 | tee -a "$out/gpu.txt"
import sys
import numpy as np
from PIL import Image
t = sys.argv[1]
load = lambda d, k: np.asarray(Image.open(f"{t}/pred-{d}/synth_fundus_{k}.png"))
a, b = load("cpu", "prob").astype(int), load("wgpu", "prob").astype(int)
m1, m2 = load("cpu", "mask") > 0, load("wgpu", "mask") > 0
print("prob png max |diff| (of 255):", np.abs(a - b).max(), "mean", np.abs(a - b).mean(),
      "mask pixels differing:", int((m1 != m2).sum()), "of", m1.size, "fg", int(m1.sum()))
PY
echo "== demo on wgpu (1 epoch, 4 images)"
timeout 150 "$MEDSEG" demo --device wgpu --epochs 1 --images 4 --out "$tmp/demo" 2>&1 | tail -15 \
    | tee -a "$out/gpu.txt"
rm -rf "$tmp"
