"""PyTorch side of `scripts/bench-vs-pytorch.sh`: the same network (built from the Rust
config JSON), the same loss (focal alpha 0.25, gamma 2 + soft Dice on the fused and every side
output), AdamW, the same synthetic inputs' shapes, the same tiling (128 px, 25 % overlap,
Gaussian blend, 8 tiles a batch) and the same thread count.

usage: python bench_torch.py CONFIG_JSON --batch 8 --patch 64 --steps 10 --repeats 3 --threads 2
       [--device cuda]
Prints one JSON line like `medseg bench --json`. On a GPU every timing waits for the device
(torch.cuda.synchronize) and the JSON adds the peak GPU memory PyTorch allocated.
"""

import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

try:
    from torchvision.ops import sigmoid_focal_loss
except ImportError:  # a machine with torch alone (the lent GPU): torchvision's formula

    def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="mean"):
        p = torch.sigmoid(inputs)
        ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
        p_t = p * targets + (1 - p) * (1 - targets)
        loss = ce * ((1 - p_t) ** gamma)
        if alpha >= 0:
            loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
        return loss.mean()

sys.path.insert(0, os.path.dirname(__file__))
from medseg_ref import build, trainable_params  # noqa: E402


def soft_dice(logits, target, smooth=1.0):
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    inter = (p * t).sum(1)
    return (1 - (2 * inter + smooth) / (p.sum(1) + t.sum(1) + smooth)).mean()


def loss_fn(out, y):
    fused, sides = out
    total = 0.0
    for o in [fused] + list(sides):
        total = total + sigmoid_focal_loss(o, y, alpha=0.25, gamma=2.0, reduction="mean") + soft_dice(o, y)
    return total


def steps(length, tile, overlap):
    if length <= tile:
        return [0]
    target = max(tile * (1 - overlap), 1)
    n = math.ceil((length - tile) / target) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def gaussian(tile, sigma_scale=0.125):
    c = (tile - 1) / 2
    s = sigma_scale * tile
    ax = torch.exp(-((torch.arange(tile) - c) ** 2) / (2 * s * s))
    w = ax[:, None] * ax[None, :]
    w = w / w.max()
    return w.clamp_min(w[w > 0].min())


@torch.no_grad()
def predict_tiled(model, image, tile=128, overlap=0.25, batch=8, device="cpu"):
    c, h, w = image.shape
    ph, pw = max(h, tile), max(w, tile)
    padded = torch.zeros(c, ph, pw)
    padded[:, :h, :w] = image
    weight = gaussian(tile)
    acc = torch.zeros(ph, pw)
    wsum = torch.zeros(ph, pw)
    pos = [(y, x) for y in steps(ph, tile, overlap) for x in steps(pw, tile, overlap)]
    for k in range(0, len(pos), batch):
        chunk = pos[k : k + batch]
        tiles = torch.stack([padded[:, y : y + tile, x : x + tile] for y, x in chunk])
        probs = torch.sigmoid(model(tiles.to(device))[0])[:, 0].cpu()
        for (y, x), p in zip(chunk, probs):
            acc[y : y + tile, x : x + tile] += p * weight
            wsum[y : y + tile, x : x + tile] += weight
    return (acc / wsum)[:h, :w]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(a.config) as f:
        cfg = json.load(f)
    model = build(cfg).to(a.device)
    c = cfg["in_channels"]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, eps=1e-8)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(a.batch, c, a.patch, a.patch, generator=g).to(a.device)
    y = (torch.rand(a.batch, 1, a.patch, a.patch, generator=g) > 0.88).float().to(a.device)
    model.train()
    elapsed = 0.0
    for step in range(a.steps + 2):
        sync()
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
        if step >= 2:
            elapsed += time.perf_counter() - t
    model.eval()

    def timed(h, w, tile, overlap, batch):
        image = torch.rand(c, h, w, generator=g)
        best = float("inf")
        for rep in range(a.repeats + 1):
            sync()
            t = time.perf_counter()
            predict_tiled(model, image, tile, overlap, batch, a.device)
            sync()
            if rep > 0:
                best = min(best, time.perf_counter() - t)
        return best * 1e3

    drive_ms = timed(584, 565, 128, 0.25, 8)
    lesion_ms = timed(256, 256, 256, 0.0, 1)
    extra = {}
    if a.device != "cpu":
        extra["device"] = torch.cuda.get_device_name()
        extra["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps({
        "impl": f"pytorch {torch.__version__}",
        "params": trainable_params(model),
        "train_batch": a.batch, "patch": a.patch, "channels": c,
        "train_patches_per_s": a.steps * a.batch / elapsed,
        "infer_drive_ms": drive_ms,
        "infer_256_ms": lesion_ms,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "threads": torch.get_num_threads(),
        **extra,
    }))


if __name__ == "__main__":
    main()
