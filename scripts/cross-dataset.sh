#!/usr/bin/env bash
# Cross-dataset rows: the shipped DRIVE weights tested on the STARE test split, and the STARE
# weights on the DRIVE test split (each dataset's own FOV rule and metrics), unscaled
# (--scale none: <name>) and scale-normalised (--scale auto: <name>-auto; each image resampled so
# that its field of view matches the training images').
#
#   scripts/cross-dataset.sh DATA_ROOT
#
# Writes runs/cross/<name>/ (maps, pictures) and results/cross/<name>/ (metrics JSON/CSV, log).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 DATA_ROOT (holding DRIVE/ and STARE/)" >&2
    exit 2
fi
root=$1
# shellcheck source=scripts/common.sh
source scripts/common.sh
medseg=$(medseg_binary) || exit 2
cross() {
    local weights=$1 dataset=$2 folder=$3 name=$4 scale=$5
    if [ ! -d "$root/$folder" ]; then
        echo "skipping $name: $root/$folder is missing" >&2
        return
    fi
    mkdir -p "results/cross/$name"
    "$medseg" eval --weights "$weights" --dataset "$dataset" --root "$root/$folder" --split test \
        --scale "$scale" --out "runs/cross/$name" > "results/cross/$name/eval.txt"
    cp "runs/cross/$name/metrics.json" "runs/cross/$name/metrics.csv" "runs/cross/$name/timing.csv" \
        "results/cross/$name/"
    tail -n 4 "results/cross/$name/eval.txt"
}
cross weights/drive.safetensors stare STARE drive-on-stare none
cross weights/stare.safetensors drive DRIVE stare-on-drive none
cross weights/drive.safetensors stare STARE drive-on-stare-auto auto
cross weights/stare.safetensors drive DRIVE stare-on-drive-auto auto
