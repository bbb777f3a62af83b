#!/usr/bin/env bash
# Prints the model table of docs/models.md: trainable parameters and GFLOPs (2 x multiply-adds, deployed
# form: BatchNorm folded, MSAC branches merged) of every preset, for one DRIVE image (green
# channel, 1x584x565) and one PH2 image as trained (RGB, 3x256x256).
#
#   scripts/model-table.sh            # uses target/release/medseg (built if missing) or $MEDSEG
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh
medseg=$(medseg_binary) || exit 2

echo "| model | trainable params (3 input channels) | GFLOPs, DRIVE image 1x584x565 | GFLOPs, lesion 3x256x256 |"
echo "|---|---|---|---|"
for model in msa-u2net msa-u2net-plain u2netp u2net unet unet-pp; do
    drive=$("$medseg" --threads 1 info --model "$model" --input 1x584x565 --json)
    lesion=$("$medseg" --threads 1 info --model "$model" --input 3x256x256 --json)
    python3 - "$model" "$drive" "$lesion" <<'PY'
import json, sys
model, drive, lesion = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
params = lesion["trainable_params"]
print(f"| {model} | {params / 1e6:.2f} M | {drive['gflops']:.1f} | {lesion['gflops']:.1f} |")
PY
done
