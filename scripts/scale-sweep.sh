#!/usr/bin/env bash
# The shipped DRIVE weights on the DRIVE test images resampled by several factors (images
# bilinear and antialiased, labels and FOV masks nearest neighbour: `medseg data resample`),
# evaluated unscaled (--scale none) and scale-normalised (--scale auto), pooled F1 and AUC inside
# the FOV at each factor, as a Markdown table.
#
#   scripts/scale-sweep.sh DATA_ROOT [FACTOR...]     (default factors: 0.5 0.75 1 1.5 2 3)
#
# Writes runs/scale/drive-x<F>/ (the resampled test set), runs/scale/eval-x<F>-<mode>/ and
# results/scale/drive-x<F>-<mode>/ (metrics JSON/CSV, timing.csv with the factor per image),
# then results/scale/drive.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
    echo "usage: $0 DATA_ROOT [FACTOR...]" >&2
    exit 2
fi
# shellcheck source=scripts/common.sh
source scripts/common.sh
require_root "$1"
shift
if [ ! -d "$root/DRIVE" ]; then
    echo "error: $root/DRIVE is missing (the official DRIVE layout; docs/datasets.md)" >&2
    exit 2
fi
medseg=$(medseg_binary) || exit 2
factors=("$@")
if [ ${#factors[@]} -eq 0 ]; then
    factors=(0.5 0.75 1 1.5 2 3)
fi
mkdir -p results/scale
table=results/scale/drive.md
{
    echo "| factor | image size | F1 none | AUC none | s/image none | F1 auto | AUC auto | s/image auto | auto factor (median) |"
    echo "|---|---|---|---|---|---|---|---|---|"
} > "$table"
for f in "${factors[@]}"; do
    data=runs/scale/drive-x$f
    rm -rf "$data"
    "$medseg" data resample --dataset drive --root "$root/DRIVE" --factor "$f" --out "$data"
    row="| $f |"
    size=$(python3 -c "import struct,sys; b=open(sys.argv[1],'rb').read(24); print('%dx%d' % struct.unpack('>II', b[16:24]))" "$data/imagesTs/01.png")
    row="$row $size |"
    for mode in none auto; do
        out=runs/scale/eval-x$f-$mode
        res=results/scale/drive-x$f-$mode
        mkdir -p "$res"
        "$medseg" eval --weights weights/drive.safetensors --dataset folder --root "$data" \
            --split test --scale "$mode" --out "$out" > "$res/eval.txt"
        cp "$out/metrics.json" "$out/metrics.csv" "$out/timing.csv" "$res/"
        row="$row $(python3 - "$res" <<'PY'
import csv, json, statistics, sys
res = sys.argv[1]
m = json.load(open(f"{res}/metrics.json"))["pooled"]
rows = list(csv.DictReader(open(f"{res}/timing.csv")))
secs = statistics.mean(float(r["seconds"]) for r in rows)
scale = statistics.median(float(r["scale"]) for r in rows)
print(f"{m['f1']:.4f} | {m['auc']:.4f} | {secs:.2f} |", end="")
print(f"__SCALE__{scale:.3f}", end="")
PY
)"
    done
    # the median factor of the auto run goes last
    scale=${row##*__SCALE__}
    row=$(sed -E 's/__SCALE__[0-9.]+//g' <<< "$row")
    echo "$row $scale |" >> "$table"
    tail -n 1 "$table"
done
cat "$table"
