#!/usr/bin/env bash
# Scores a finished run the protocol's way and its variants, each into its own folder of RESULTS
# (metrics JSON/CSV and the printed report eval.txt; never the probability maps, which stay in
# RUN/eval-test-VARIANT/):
#   last      RESULTS/last/      the LAST epoch's weights (`medseg eval --run RUN --last`), one
#                                pass: the protocol, the numbers the README and docs/results.md report
#   last-tta  RESULTS/last-tta/  last-epoch weights with test-time mirroring (--tta)
#   tta       RESULTS/tta/       best-validation weights with --tta
#   best      RESULTS/ itself    best-validation weights, one pass (also timing.csv): the protocol
#                                as first run; scripts/reproduce.sh and run-parallel.sh write it
#                                after every training, so it is not in the default list
#
#   scripts/eval-variants.sh RUN DATASET_DIR RESULTS
#
# VARIANTS="last last-tta" (say) picks which, in that order; default "last last-tta tta".
# The evaluation is the one scripts/reproduce.sh and run-parallel.sh run after every training
# (scripts/common.sh, eval_variant), so their results folders already hold all four;
# EVAL_TIMEOUT (seconds) limits each evaluation. A last* variant of a run without
# model_final.safetensors is skipped with a message. Exit status 2 for a usage error, 1 if an
# evaluation failed (the others still run).
set -euo pipefail
cd "$(dirname "$0")/.." || exit 2

if [ $# -ne 3 ]; then
    echo "usage: $0 RUN DATASET_DIR RESULTS" >&2
    exit 2
fi
run=$1
data=$2
out=$3
for dir in "$run" "$data"; do
    if [ ! -d "$dir" ]; then
        echo "error: $dir does not exist" >&2
        exit 2
    fi
done
# shellcheck source=scripts/common.sh
source scripts/common.sh
experiment_setup ""

read -ra variants <<< "${VARIANTS:-last last-tta tta}"
status=0
for variant in "${variants[@]}"; do
    eval_variant "$run" "$data" "$out" "$variant" || status=1
done
exit "$status"
