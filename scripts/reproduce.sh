#!/usr/bin/env bash
# Reruns the experiments behind the results tables (docs/results.md), one config after another.
#
#   scripts/reproduce.sh DATA_ROOT [CONFIG...]
#
# DATA_ROOT holds the datasets in their official layouts (DRIVE/, STARE/, PH2/; see docs/datasets.md).
# With no CONFIG, every config under configs/<dataset>/ whose dataset folder exists is run, then
# the STARE cross-validations' pooled reports (configs/stare-cv*/) and the cross-dataset table.
# Each run trains into runs/<dataset>/<name>/, is scored on the test split, and its files are
# copied into results/<dataset>/<name>/ (never the probability maps). Which weights each holds:
#   last/metrics.json, last/metrics.csv, last/eval.txt
#       the LAST epoch's weights (`medseg eval --run RUN --last`), one pass: the protocol, the
#       numbers the README and docs/results.md report
#   last-tta/...     last epoch's weights with test-time mirroring (--tta)
#   metrics.json, metrics.csv, timing.csv, eval.txt
#       best-validation weights (model_best.safetensors), one pass: the protocol as first run,
#       kept beside the last-epoch figures (same layout as the results already committed)
#   tta/...          best-validation weights with --tta
#   train_metrics.csv (per-epoch training log), config.resolved.toml, train.log (the training's
#   output), time.txt (wall time and peak memory of the training, /usr/bin/time -v)
# EVAL_VARIANTS=0 skips the two --tta evaluations (never last/).
# RESUME=1 continues a run that was interrupted (its checkpoint exists) instead of restarting it;
# its time.txt then holds one /usr/bin/time record per segment. TRAIN_TIMEOUT / EVAL_TIMEOUT,
# MEDSEG: as in scripts/run-parallel.sh, which is the same implementation (scripts/common.sh,
# run_configs) with several configs at once; this script runs them one at a time (JOBS=1) with
# MEDSEG_THREADS as in the environment (default every core).
# Exit status: 2 for a usage error or a missing DATA_ROOT; 1 if any run or report failed (the
# others still run); 0 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.." || exit 2

if [ $# -lt 1 ]; then
    echo "usage: $0 DATA_ROOT [CONFIG...]" >&2
    exit 2
fi
# shellcheck source=scripts/common.sh
source scripts/common.sh
require_root "$1"
shift
experiment_setup ""

configs=("$@")
all=0
if [ ${#configs[@]} -eq 0 ]; then
    all=1
    for c in configs/*/*.toml; do
        case "$c" in configs/synthetic/*) continue ;; esac
        configs+=("$c")
    done
fi

status=0
run_configs 1 "${configs[@]}" || status=1

# With every config: the reports that combine runs (each STARE cross-validation pooled over its
# four folds' last-epoch weights; each shipped model tested on the other retinal dataset).
if [ "$all" = 1 ]; then
    if [ -d "$(dataset_dir stare)" ]; then
        for cv in configs/stare-cv*/; do
            [ -d "$cv" ] || continue
            cv=$(basename "$cv")
            MEDSEG=$medseg SKIP_TRAIN=1 CV=$cv scripts/stare-cv.sh "$root" || status=1
        done
    fi
    if [ -d "$(dataset_dir drive)" ] && [ -d "$(dataset_dir stare)" ]; then
        MEDSEG=$medseg scripts/cross-dataset.sh "$root" || status=1
    fi
fi
exit "$status"
