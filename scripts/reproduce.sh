#!/usr/bin/env bash
# Reruns the experiments behind the README's results tables.
#
#   scripts/reproduce.sh DATA_ROOT [CONFIG...]
#
# DATA_ROOT holds the datasets in their official layouts (DRIVE/, STARE/, PH2/; see README).
# With no CONFIG, every config under configs/<dataset>/ whose dataset folder exists is run, then
# the STARE cross-validation's pooled report and the cross-dataset table.
# Each run trains into runs/<dataset>/<name>/, evaluates on the test split, and copies the
# metrics JSON/CSV, metrics.csv (training log), run time and peak memory into
# results/<dataset>/<name>/ (never the probability maps). Then scripts/eval-variants.sh scores
# the run with test-time mirroring and with its last epoch's weights (EVAL_VARIANTS=0 skips it).
# RESUME=1 continues a run that was interrupted (its checkpoint exists) instead of restarting it;
# its time.txt then holds one /usr/bin/time record per segment.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
    echo "usage: $0 DATA_ROOT [CONFIG...]" >&2
    exit 2
fi
root=$1
shift
source scripts/common.sh
require_root
medseg=$(medseg_binary)

configs=("$@")
all=0
if [ ${#configs[@]} -eq 0 ]; then
    all=1
    for c in configs/*/*.toml; do
        case "$c" in configs/synthetic/*) continue ;; esac
        configs+=("$c")
    done
fi

for config in "${configs[@]}"; do
    dataset=$(basename "$(dirname "$config")")
    name=$(basename "$config" .toml)
    data=$(dataset_dir "$dataset")
    if [ ! -d "$data" ]; then
        echo "skipping $config: $data is missing (expected the official $dataset layout)" >&2
        continue
    fi
    run=runs/$dataset/$name
    out=results/$dataset/$name
    mkdir -p "$out"
    echo "== $config -> $run"
    if [ "${RESUME:-0}" = 1 ] && [ -f "$run/checkpoint/last.json" ]; then
        # Continue an interrupted run from its last checkpoint; time.txt gains one more record.
        echo "   resuming from $run/checkpoint"
        /usr/bin/time -v -a -o "$out/time.txt" "$medseg" train --resume "$run" --quiet
    else
        /usr/bin/time -v -o "$out/time.txt" \
            "$medseg" train --config "$config" --data-root "$data" --out "$run" --force --quiet
    fi
    "$medseg" eval --run "$run" --root "$data" --split test --out "$run/eval-test" > "$out/eval.txt"
    cp "$run/eval-test/metrics.json" "$run/eval-test/metrics.csv" "$run/eval-test/timing.csv" "$out/"
    cp "$run/metrics.csv" "$out/train_metrics.csv"
    cp "$run/config.toml" "$out/config.resolved.toml"
    grep -E "Elapsed|Maximum resident" "$out/time.txt" || true
    if [ "${EVAL_VARIANTS:-1}" != 0 ]; then
        MEDSEG=$medseg scripts/eval-variants.sh "$run" "$data" "$out"
    fi
done

# With every config: the reports that combine runs (STARE cross-validation pooled over the four
# folds, for both presets; each shipped model tested on the other retinal dataset).
if [ "$all" = 1 ]; then
    if [ -d "$(dataset_dir stare)" ]; then
        MEDSEG=$medseg SKIP_TRAIN=1 scripts/stare-cv.sh "$root"
        MEDSEG=$medseg SKIP_TRAIN=1 CV=stare-cv-plain scripts/stare-cv.sh "$root"
    fi
    if [ -d "$(dataset_dir drive)" ] && [ -d "$(dataset_dir stare)" ]; then
        MEDSEG=$medseg scripts/cross-dataset.sh "$root"
    fi
fi
