#!/usr/bin/env bash
# Settles the paper's claims with seeds (docs/claims.md): runs `medseg compare` on every
# comparison below whose result folders exist, writing results/claims/<comparison>.txt and .json.
# It trains nothing: train the arms first, e.g.
#
#   scripts/run-parallel.sh ../shared/data configs/ph2-claims/*.toml
#   scripts/run-parallel.sh ../shared/data configs/drive-ablation/drive-{default,plain-units}*.toml
#
#   scripts/claims.sh [COMPARISON...]
#
# With no argument every comparison is tried; one whose runs are not all there is listed as
# missing (with the first missing folder) and skipped. MEDSEG as in scripts/common.sh.
# Exit status: 2 for an unknown comparison or no medseg binary, 1 if a comparison failed, 0
# otherwise (missing ones are not failures).
set -euo pipefail
cd "$(dirname "$0")/.." || exit 2
# shellcheck source=scripts/common.sh
source scripts/common.sh

# name | metric | aggregate | arm A (name:results prefix) | arm B. Each arm is three runs: the
# prefix itself (seed 42), -seed1 and -seed2.
comparisons=(
    "ph2-msssim|f1|mean|bce-dice:results/ph2-claims/bce-dice|bce-dice-msssim:results/ph2-claims/bce-dice-msssim"
    "ph2-focal|f1|mean|bce-dice:results/ph2-claims/bce-dice|focal-dice:results/ph2-claims/focal-dice"
    "ph2-weighted|f1|mean|bce-dice:results/ph2-claims/bce-dice|weighted-dice:results/ph2-claims/weighted-dice"
    "ph2-topk|f1|mean|bce-dice:results/ph2-claims/bce-dice|topk-dice:results/ph2-claims/topk-dice"
    "drive-msssim|f1|pooled|focal-dice-p192:results/drive-ablation/drive-p192-focal-dice|focal-dice-msssim-p192:results/drive-ablation/drive-p192-focal-dice-msssim"
    "ph2-msac|f1|mean|plain-units:results/ph2-claims/bce-dice|msac:results/ph2-claims/msac"
    "drive-msac|f1|pooled|plain-units:results/drive-ablation/drive-plain-units|msac:results/drive-ablation/drive-default"
    "drive-few-5|f1|pooled|unet:results/drive-ablation/drive-unet-fewshot-5|msa-u2net:results/drive-ablation/drive-fewshot-5"
    "drive-few-10|f1|pooled|unet:results/drive-ablation/drive-unet-fewshot-10|msa-u2net:results/drive-ablation/drive-fewshot-10"
    "drive-few-18|f1|pooled|unet:results/drive-ablation/drive-unet|msa-u2net:results/drive-ablation/drive-default"
    "ph2-few-10|f1|mean|unet:results/ph2-claims/unet-fewshot-10|msa-u2net:results/ph2-claims/msac-fewshot-10"
    "ph2-few-25|f1|mean|unet:results/ph2-claims/unet-fewshot-25|msa-u2net:results/ph2-claims/msac-fewshot-25"
    "ph2-few-90|f1|mean|unet:results/ph2-claims/unet|msa-u2net:results/ph2-claims/msac"
)

names=()
for c in "${comparisons[@]}"; do names+=("${c%%|*}"); done
wanted=("$@")
if [ ${#wanted[@]} -eq 0 ]; then wanted=("${names[@]}"); fi
for w in "${wanted[@]}"; do
    if [[ ! " ${names[*]} " =~ \ $w\  ]]; then
        echo "error: unknown comparison '$w' (known: ${names[*]})" >&2
        exit 2
    fi
done
medseg=$(medseg_binary) || exit 2

failed=0
mkdir -p results/claims
for c in "${comparisons[@]}"; do
    IFS='|' read -r name metric aggregate arm_a arm_b <<< "$c"
    [[ " ${wanted[*]} " =~ \ $name\  ]] || continue
    runs_a=("${arm_a#*:}" "${arm_a#*:}-seed1" "${arm_a#*:}-seed2")
    runs_b=("${arm_b#*:}" "${arm_b#*:}-seed1" "${arm_b#*:}-seed2")
    missing=""
    for r in "${runs_a[@]}" "${runs_b[@]}"; do
        if [ ! -f "$r/last/metrics.json" ]; then missing=$r; break; fi
    done
    if [ -n "$missing" ]; then
        echo "missing: $name ($missing/last/metrics.json and maybe more)"
        continue
    fi
    echo "== $name"
    if "$medseg" compare --metric "$metric" --aggregate "$aggregate" \
        --name-a "${arm_a%%:*}" --name-b "${arm_b%%:*}" \
        --a "${runs_a[@]}" --b "${runs_b[@]}" \
        --json "results/claims/$name.json" > "results/claims/$name.txt"; then
        cat "results/claims/$name.txt"
    else
        echo "error: comparison $name failed" >&2
        failed=1
    fi
done
exit "$failed"
