#!/usr/bin/env bash
# GPU side by side: medseg through wgpu and PyTorch through CUDA, the same networks built from the
# same configs, the same loss, optimizer, batch (8 of 64x64) and tiling as bench-vs-pytorch.sh.
#
#   MEDSEG=path/to/wgpu-build/medseg scripts/bench-gpu-vs-pytorch.sh OUT_DIR [MODEL...]
#
# MEDSEG: a binary built with `cargo build --release -p medseg-cli --features wgpu`. The python3
# on PATH must hold torch with CUDA (torchvision optional). Writes ours-MODEL.json and
# torch-MODEL.json into OUT_DIR and prints a Markdown table. On a machine without Vulkan's loader
# (libvulkan1), install it first (how the lent H100 was set up:
# results/bench/h100-2026-11-27/README.md).
set -u
cd "$(dirname "$0")/.." || exit 2
if [ $# -lt 1 ] || [ -z "${MEDSEG:-}" ]; then
    echo "usage: MEDSEG=WGPU_BINARY $0 OUT_DIR [MODEL...]" >&2
    exit 2
fi
out=$1
shift
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(unet-pp u2netp unet msa-u2net)
mkdir -p "$out"
for m in "${models[@]}"; do
    # MSA-U2Net is slow on wgpu (docs/performance.md): fewer timed steps, a longer limit.
    steps=30
    limit=90
    if [ "$m" = msa-u2net ]; then
        steps=10
        limit=170
    fi
    "$MEDSEG" info --model "$m" --input 1x64x64 --json \
        | python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)['config']))" > "$out/$m.config.json"
    timeout 80 python3 tools/reference/bench_torch.py "$out/$m.config.json" --device cuda --steps 30 \
        > "$out/torch-$m.json" || echo "$m: pytorch failed or timed out" >&2
    timeout "$limit" "$MEDSEG" bench --device wgpu --model "$m" --channels 1 --batch 8 --patch 64 \
        --steps "$steps" --json > "$out/ours-$m.json" || echo "$m: medseg failed or timed out" >&2
done
python3 - "$out" "${models[@]}" <<'PY'
import json, os, sys
out, models = sys.argv[1], sys.argv[2:]
print("| model | implementation | train patches/s | DRIVE 584x565 tiled ms | 256x256 ms |")
print("|---|---|---|---|---|")
for m in models:
    for who in ("torch", "ours"):
        path = os.path.join(out, f"{who}-{m}.json")
        try:
            r = json.load(open(path))
        except (OSError, ValueError):
            print(f"| {m} | {who}: no result | | | |")
            continue
        fused = lambda k: f" ({r[k]:.0f} fused)" if k in r else ""
        print(f"| {m} | {r['impl']} | {r['train_patches_per_s']:.1f} | "
              f"{r['infer_drive_ms']:.0f}{fused('infer_drive_fused_ms')} | "
              f"{r['infer_256_ms']:.1f}{fused('infer_256_fused_ms')} |")
PY
