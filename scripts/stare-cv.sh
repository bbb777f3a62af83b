#!/usr/bin/env bash
# STARE 4-fold cross-validation (issue #6's second STARE row). Trains the four configs in
# configs/stare-cv/ side by side (scripts/run-parallel.sh, THREADS worker threads per process, as
# many processes at once as the cores allow, or JOBS),
# then scores each fold's last-epoch model on its own five held-out images, all twenty in one
# report (means over images and metrics pooled over every pixel of all twenty, AUC included),
# without and with test-time mirroring:
#   results/stare-cv/pooled/ and results/stare-cv/pooled-tta/
# Each fold's own folder, results/stare-cv/foldN/, is what run-parallel.sh writes: last/ its
# last-epoch scores on its five images, the top level its best-validation ones (the --tta
# variants only with EVAL_VARIANTS=1).
#
#   scripts/stare-cv.sh DATA_ROOT [THREADS]     (THREADS per process, default 1)
#   SKIP_TRAIN=1 scripts/stare-cv.sh DATA_ROOT  (score runs/stare-cv/fold*/ as they are)
#   RESUME=1 scripts/stare-cv.sh DATA_ROOT      (continue interrupted folds from their checkpoints)
#   CV=stare-cv-plain scripts/stare-cv.sh DATA_ROOT  (the folds in configs/stare-cv-plain/ instead:
#                                                    runs/ and results/stare-cv-plain/)
set -euo pipefail
cd "$(dirname "$0")/.." || exit 2

if [ $# -lt 1 ]; then
    echo "usage: $0 DATA_ROOT [THREADS]" >&2
    exit 2
fi
threads=${2:-1}
# shellcheck source=scripts/common.sh
source scripts/common.sh
require_root "$1"
if ! is_count "$threads"; then
    echo "error: THREADS must be a whole number of at least 1, not '$threads'" >&2
    exit 2
fi
data=$(dataset_dir stare)
if [ ! -d "$data" ]; then
    echo "error: $data is missing (expected the official STARE layout)" >&2
    exit 2
fi
medseg=$(medseg_binary) || exit 2
cv=${CV:-stare-cv}
configs=()
for f in 0 1 2 3; do
    if [ ! -f "configs/$cv/fold$f.toml" ]; then
        echo "error: configs/$cv/fold$f.toml is missing" >&2
        exit 2
    fi
    configs+=("configs/$cv/fold$f.toml")
done
if [ "${SKIP_TRAIN:-0}" != 1 ]; then
    # The folds' own results folders get the best-validation and last-epoch scores (the pooled
    # reports below are the ones reported); EVAL_VARIANTS=1 adds each fold's --tta scores.
    MEDSEG=$medseg EVAL_VARIANTS=${EVAL_VARIANTS:-0} scripts/run-parallel.sh "$root" "$threads" "${configs[@]}"
fi
runs=()
for c in "${configs[@]}"; do
    runs+=(--run "runs/$cv/$(basename "$c" .toml)")
done
for variant in pooled pooled-tta; do
    flags=()
    if [ "$variant" = pooled-tta ]; then flags=(--tta); fi
    out=results/$cv/$variant
    mkdir -p "$out"
    MEDSEG_THREADS=$threads "$medseg" eval --last "${runs[@]}" --root "$data" --split test \
        "${flags[@]}" --out "runs/$cv/eval-$variant" > "$out/eval.txt"
    cp "runs/$cv/eval-$variant/metrics.json" "runs/$cv/eval-$variant/metrics.csv" "$out/"
    echo "== $variant"
    tail -n 4 "$out/eval.txt"
done
