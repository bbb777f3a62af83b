#!/usr/bin/env bash
# Scores a finished run three more ways besides the protocol's (best-validation weights, one
# pass): test-time mirroring (--tta), the last epoch's weights (--last), and both. Each variant's
# metrics JSON/CSV goes into RESULTS/{tta,last,last-tta}/ (never the probability maps).
#
#   scripts/eval-variants.sh RUN DATASET_DIR RESULTS
#
# VARIANTS="tta" (say) runs a subset. Called by scripts/reproduce.sh after every run
# (EVAL_VARIANTS=0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 3 ]; then
    echo "usage: $0 RUN DATASET_DIR RESULTS" >&2
    exit 2
fi
run=$1
data=$2
out=$3
source scripts/common.sh
medseg=$(medseg_binary)

for variant in ${VARIANTS:-tta last last-tta}; do
    flags=()
    case "$variant" in
        tta) flags=(--tta) ;;
        last) flags=(--last) ;;
        last-tta) flags=(--last --tta) ;;
    esac
    if [[ "$variant" == last* && ! -f "$run/model_final.safetensors" ]]; then
        echo "skipping $variant: $run/model_final.safetensors is missing" >&2
        continue
    fi
    mkdir -p "$out/$variant"
    "$medseg" eval --run "$run" --root "$data" --split test "${flags[@]}" \
        --out "$run/eval-test-$variant" > "$out/$variant/eval.txt"
    cp "$run/eval-test-$variant/metrics.json" "$run/eval-test-$variant/metrics.csv" "$out/$variant/"
    grep "^pooled" "$out/$variant/eval.txt" | sed "s/^/$variant: /"
done
