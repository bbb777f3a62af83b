#!/usr/bin/env bash
# Runs several experiment configs at once on a machine with many cores, each process limited to
# THREADS threads, then scores each on its test split. The same implementation as
# scripts/reproduce.sh (scripts/common.sh, run_configs) and the same outputs: runs/<folder>/<name>/
# and results/<folder>/<name>/; which weights each results file holds is listed at the top of
# scripts/reproduce.sh (in short: last/ = last-epoch weights, the reported numbers; the top-level
# metrics.json/metrics.csv/timing.csv/eval.txt = best-validation weights; last-tta/ and tta/ the
# same with test-time mirroring; train_metrics.csv, config.resolved.toml, train.log, time.txt).
#
#   scripts/run-parallel.sh DATA_ROOT THREADS CONFIG...
#
# Environment: MEDSEG (the binary; default target/release/medseg, built if missing), JOBS (how
# many configs run at once; default cores / THREADS, at least 1, so the cores are not oversubscribed),
# RESUME=1 (continue each run that has a checkpoint instead of restarting it),
# TRAIN_TIMEOUT / EVAL_TIMEOUT (seconds; a training stopped by its timeout is evaluated from its
# best checkpoint so far, has no last-epoch result, and is marked "stopped at timeout" in
# results/.../time.txt; an evaluation's timeout applies to each evaluation),
# EVAL_VARIANTS=0 (skip the two --tta evaluations).
# Exit status: 2 for a usage error or a missing DATA_ROOT; 1 if any config failed (the others
# still run); 0 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

if [ $# -lt 3 ]; then
    echo "usage: $0 DATA_ROOT THREADS CONFIG..." >&2
    exit 2
fi
# shellcheck source=scripts/common.sh
source scripts/common.sh
require_root "$1"
if ! is_count "$2"; then
    echo "error: THREADS must be a whole number of at least 1, not '$2'" >&2
    exit 2
fi
experiment_setup "$2"
shift 2

jobs_max=${JOBS:-$(($(nproc) / threads))}
if [ "$jobs_max" = 0 ]; then jobs_max=1; fi
if ! is_count "$jobs_max"; then
    echo "error: JOBS must be a whole number of at least 1, not '$jobs_max'" >&2
    exit 2
fi
run_configs "$jobs_max" "$@"
