#!/usr/bin/env bash
# Side by side: medseg (burn Flex) and the identical PyTorch network, same inputs' shapes,
# same loss and optimizer, same tiling, 2 threads each. Appends rows to docs/performance.md and prints
#   train_ratio=<ours/pytorch patches/s> infer_ratio=<ours/pytorch ms> rss_ratio=<ours/pytorch>
#
#   scripts/bench-vs-pytorch.sh [MODEL] [STEPS]      (default msa-u2net, 10)
#
# REPLICAS=N (default 1) trains ours data-parallel: the batch of 8 in N chunks whose passes run
# concurrently (`train.replicas`; BatchNorm then normalises per chunk, as PyTorch's DDP without
# SyncBatchNorm does). The row says so.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-msa-u2net}
steps=${2:-10}
threads=2
replicas=${REPLICAS:-1}

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -c "import torch, torchvision" 2>/dev/null || .venv/bin/pip install -q -r tools/requirements.txt

cargo build --release -p medseg-cli
medseg=target/release/medseg
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$medseg" info --model "$model" --input 1x64x64 --json \
    | .venv/bin/python -c "import json,sys; print(json.dumps(json.load(sys.stdin)['config']))" > "$tmp/config.json"

"$medseg" --threads "$threads" bench --model "$model" --channels 1 --steps "$steps" \
    --replicas "$replicas" --json > "$tmp/ours.json"
OMP_NUM_THREADS=$threads .venv/bin/python tools/reference/bench_torch.py "$tmp/config.json" \
    --steps "$steps" --threads "$threads" > "$tmp/torch.json"

.venv/bin/python - "$tmp/ours.json" "$tmp/torch.json" "$model" <<'PY'
import json, platform, subprocess, sys, datetime
ours = json.load(open(sys.argv[1])); ref = json.load(open(sys.argv[2])); model = sys.argv[3]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
rows = []
commit = subprocess.getoutput("git rev-parse --short HEAD 2>/dev/null") or "?"
ours["impl"] = f"{ours['impl']} {commit}"
if ours.get("replicas", 1) > 1:
    ours["impl"] += f" ({ours['replicas']} replicas)"
for r in (ours, ref):
    fused = lambda k: f" ({r[k]:.0f} fused)" if k in r else ""
    rows.append(f"| {datetime.date.today()} | {model} | {r['impl']} | {r['train_patches_per_s']:.1f} | "
                f"{r['infer_drive_ms']:.0f}{fused('infer_drive_fused_ms')} | "
                f"{r['infer_256_ms']:.0f}{fused('infer_256_fused_ms')} | {r['peak_rss_mib']:.0f} |")
header = ("| date | model | implementation | train patches/s (batch 8 of 64x64) | DRIVE 584x565 tiled ms | "
          "256x256 ms | peak RSS MiB |\n|---|---|---|---|---|---|---|\n")
try:
    text = open("docs/performance.md").read()
except FileNotFoundError:
    text = ("# Performance\n\nRows appended by `scripts/bench-vs-pytorch.sh` (2 threads each, synthetic inputs, "
            f"the same network built from the same config).\n\nMachine: {cpu}, {subprocess.getoutput('nproc')} cores.\n\n" + header)
# Rows go at the end of the side-by-side table (the one whose header starts "| date |").
lines = text.rstrip("\n").split("\n")
start = next((i for i, l in enumerate(lines) if l.startswith("| date |")), None)
if start is None:
    lines += ["", header.rstrip("\n")]
    end = len(lines)
else:
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
lines[end:end] = rows
open("docs/performance.md", "w").write("\n".join(lines) + "\n")
print(f"train_ratio={ours['train_patches_per_s'] / ref['train_patches_per_s']:.3f} "
      f"infer_ratio={ours['infer_drive_fused_ms'] / ref['infer_drive_ms']:.3f} "
      f"rss_ratio={ours['peak_rss_mib'] / ref['peak_rss_mib']:.3f}")
PY
