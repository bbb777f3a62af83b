#!/usr/bin/env bash
# Runs several experiment configs at once on a machine with many cores, each process limited to
# THREADS threads, then evaluates each on its test split. Same outputs as scripts/reproduce.sh:
# runs/<folder>/<name>/ and results/<folder>/<name>/ (metrics JSON/CSV, training log, time).
#
#   scripts/run-parallel.sh DATA_ROOT THREADS CONFIG...
#
# Environment: MEDSEG (the binary; default target/release/medseg, built if missing), JOBS (how
# many configs run at once; default cores / THREADS, at least 1, so the cores are not oversubscribed),
# RESUME=1 (continue each run that has a checkpoint instead of restarting it),
# TRAIN_TIMEOUT / EVAL_TIMEOUT (seconds; a training stopped by its timeout is evaluated from its
# best checkpoint so far and marked "stopped at timeout" in results/.../time.txt).
set -uo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 3 ]; then
    echo "usage: $0 DATA_ROOT THREADS CONFIG..." >&2
    exit 2
fi
root=$1
threads=$2
shift 2
source scripts/common.sh
require_root
medseg=$(medseg_binary)
train_timeout=${TRAIN_TIMEOUT:-0}
eval_timeout=${EVAL_TIMEOUT:-0}
timer=()
if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -v); fi

one() {
    local config=$1
    local folder name data run out start rc
    folder=$(basename "$(dirname "$config")")
    name=$(basename "$config" .toml)
    data=$(dataset_dir "$folder")
    run=runs/$folder/$name
    out=results/$folder/$name
    mkdir -p "$out"
    start=$(date +%s)
    if [ "${RESUME:-0}" = 1 ] && [ -f "$run/checkpoint/last.json" ]; then
        # Continue an interrupted run from its checkpoint; the logs gain one more segment.
        MEDSEG_THREADS=$threads timeout "$train_timeout" "${timer[@]}" \
            "$medseg" train --resume "$run" --quiet >> "$out/train.log" 2>> "$out/time.txt"
    else
        MEDSEG_THREADS=$threads timeout "$train_timeout" "${timer[@]}" \
            "$medseg" train --config "$config" --data-root "$data" --out "$run" --force --quiet \
            > "$out/train.log" 2> "$out/time.txt"
    fi
    rc=$?
    echo "train exit $rc after $(($(date +%s) - start)) s with $threads thread(s) on $(nproc) cores" >> "$out/time.txt"
    if [ "$rc" = 124 ]; then echo "stopped at timeout" >> "$out/time.txt"; fi
    MEDSEG_THREADS=$threads timeout "$eval_timeout" \
        "$medseg" eval --run "$run" --root "$data" --split test --out "$run/eval-test" > "$out/eval.txt" 2>&1
    cp "$run/eval-test/metrics.json" "$run/eval-test/metrics.csv" "$run/eval-test/timing.csv" "$out/" 2>/dev/null
    cp "$run/metrics.csv" "$out/train_metrics.csv" 2>/dev/null
    cp "$run/config.toml" "$out/config.resolved.toml" 2>/dev/null
    echo "== $config: train exit $rc, $(tail -n 1 "$out/eval.txt")"
}

jobs_max=${JOBS:-$(($(nproc) / threads))}
if [ "$jobs_max" -lt 1 ]; then jobs_max=1; fi
for config in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
        wait -n
    done
    one "$config" &
done
wait
