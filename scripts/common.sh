# shellcheck shell=bash
# Shared by the experiment scripts (sourced, not run): finding the binary and the datasets, and
# the one implementation of "train a config, evaluate it, copy its results" behind
# scripts/reproduce.sh and scripts/run-parallel.sh (run_configs, run_config), whose evaluations
# scripts/eval-variants.sh shares (eval_variant).
#
# Which weights each file in results/<folder>/<name>/ holds (the protocol, docs/results.md, scores
# the LAST epoch's weights; the best-validation figures are kept beside them):
#   last/{metrics.json,metrics.csv,eval.txt}  last-epoch weights, one pass: the reported numbers
#   last-tta/...                              last-epoch weights, test-time mirroring (--tta)
#   metrics.json, metrics.csv, timing.csv, eval.txt
#                                             best-validation weights (model_best), one pass: the
#                                             protocol as first run, kept in the committed layout
#   tta/...                                   best-validation weights, --tta
#   train_metrics.csv (the run's per-epoch log), config.resolved.toml, train.log (the training's
#   output), time.txt (/usr/bin/time -v record of the training, one per segment when resumed,
#   then "train exit CODE after S s ...", and "stopped at timeout" where TRAIN_TIMEOUT stopped it)

# The medseg binary: $MEDSEG if set, else target/release/medseg, built (or brought up to date) here.
# Callers: medseg=$(medseg_binary) || exit 2
medseg_binary() {
    if [ -n "${MEDSEG:-}" ]; then
        if ! command -v "$MEDSEG" > /dev/null; then
            echo "error: MEDSEG=$MEDSEG is not an executable" >&2
            return 2
        fi
        echo "$MEDSEG"
        return
    fi
    cargo build --release -p medseg-cli >&2 || return 2
    echo target/release/medseg
}

# require_root DIR: sets root (the data root) to DIR; exits with code 2 unless it is a folder.
require_root() {
    root=$1
    if [ ! -d "$root" ]; then
        echo "error: data root $root does not exist (it should hold DRIVE/, STARE/, PH2/ in their official layouts; docs/datasets.md)" >&2
        exit 2
    fi
}

# The dataset folder for a configs/ subfolder: configs/<dataset>/ or configs/<dataset>-<study>/.
dataset_dir() {
    case "${1%%-*}" in
        drive) echo "$root/DRIVE" ;;
        stare) echo "$root/STARE" ;;
        ph2) echo "$root/PH2" ;;
        kvasir) echo "$root/Kvasir-SEG" ;;
        jsrt) echo "$root/JSRT" ;;
        *) echo "$root/$1" ;;
    esac
}

# True if $1 is a whole number of at least 1.
is_count() {
    [[ "$1" =~ ^[1-9][0-9]*$ ]]
}

# experiment_setup [THREADS]: sets the globals the functions below read: medseg (the binary),
# threads (MEDSEG_THREADS for every medseg process; empty: the environment's, default every
# core), train_timeout and eval_timeout (TRAIN_TIMEOUT, EVAL_TIMEOUT: seconds, 0 = none).
# Exits with code 2 if the binary cannot be had.
experiment_setup() {
    threads=${1:-}
    train_timeout=${TRAIN_TIMEOUT:-0}
    eval_timeout=${EVAL_TIMEOUT:-0}
    medseg=$(medseg_binary) || exit 2
}

# eval_variant RUN DATASET_DIR RESULTS VARIANT: scores the finished run RUN on DATASET_DIR's test
# split and copies the metrics JSON/CSV and the printed report (eval.txt) into RESULTS (VARIANT
# best: best-validation weights; also timing.csv) or RESULTS/VARIANT/ (last: last-epoch weights,
# the protocol; tta: best-validation with --tta; last-tta: last epoch with --tta). Never copies
# the probability maps (they stay in RUN/eval-test[-VARIANT]/). A last* variant of a run without
# model_final.safetensors (training stopped early) is skipped with a message. Returns 1 if the
# evaluation or a copy fails.
eval_variant() {
    local run=$1 data=$2 out=$3 variant=$4
    local dest=$out/$variant evalout=$run/eval-test-$variant flags=() files=(metrics.json metrics.csv) limit=() label
    case "$variant" in
        best)
            dest=$out
            evalout=$run/eval-test
            files+=(timing.csv)
            label="best-validation weights"
            ;;
        last)
            flags=(--last)
            label="last epoch, the reported numbers"
            ;;
        tta)
            flags=(--tta)
            label="best-validation, --tta"
            ;;
        last-tta)
            flags=(--last --tta)
            label="last epoch, --tta"
            ;;
        *)
            echo "error: unknown evaluation variant '$variant' (best, last, tta, last-tta)" >&2
            return 1
            ;;
    esac
    if [[ "$variant" == last* && ! -f "$run/model_final.safetensors" ]]; then
        echo "skipping $variant of $run: $run/model_final.safetensors is missing (training did not finish)" >&2
        return 0
    fi
    if [ "${eval_timeout:-0}" != 0 ]; then limit=(timeout "$eval_timeout"); fi
    mkdir -p "$dest" || return 1
    if ! "${limit[@]}" "$medseg" eval --run "$run" --root "$data" --split test "${flags[@]}" \
        --out "$evalout" > "$dest/eval.txt" 2>&1; then
        echo "error: medseg eval ($variant) of $run failed; the end of $dest/eval.txt:" >&2
        tail -n 5 "$dest/eval.txt" >&2
        return 1
    fi
    local f
    for f in "${files[@]}"; do
        cp "$evalout/$f" "$dest/" || return 1
    done
    echo "   $dest/ ($label): $(grep -E "^(pooled|mean over classes)" "$dest/eval.txt")"
}

# clear_outputs RESULTS RESUMED: removes what run_config is about to rewrite in RESULTS, so that
# nothing from an earlier run of the config stays beside the new files (a resumed run keeps its
# time.txt and train.log, which gain one more segment). Other files (notes) are left alone.
clear_outputs() {
    local out=$1 resumed=$2 v
    rm -f "$out/metrics.json" "$out/metrics.csv" "$out/timing.csv" "$out/eval.txt" \
        "$out/train_metrics.csv" "$out/config.resolved.toml"
    for v in last last-tta tta; do
        rm -f "$out/$v/metrics.json" "$out/$v/metrics.csv" "$out/$v/eval.txt"
        if [ -d "$out/$v" ]; then rmdir "$out/$v" 2> /dev/null || true; fi
    done
    if [ "$resumed" = 0 ]; then rm -f "$out/time.txt" "$out/train.log"; fi
}

# run_config CONFIG: trains CONFIG (configs/<folder>/<name>.toml) into runs/<folder>/<name>/ (or,
# with RESUME=1 and a checkpoint there, continues it), then scores it (eval_variant: best and
# last always, last-tta and tta unless EVAL_VARIANTS=0) and copies the files listed at the top
# into results/<folder>/<name>/. A config whose dataset folder is missing is skipped (returns 0).
# Returns 1 if the config is missing, training fails (a TRAIN_TIMEOUT stop is not a failure: the
# run is then scored with its best checkpoint so far, marked in time.txt) or an evaluation fails.
# Run it in a subshell: it exports MEDSEG_THREADS.
run_config() {
    local config=$1
    local folder name data run out start rc=0 resumed=0 failed=0 stopped=0 timer=() limit=() train=() v
    if [ ! -f "$config" ]; then
        echo "error: config $config does not exist" >&2
        return 1
    fi
    folder=$(basename "$(dirname "$config")")
    name=$(basename "$config" .toml)
    data=$(dataset_dir "$folder")
    if [ ! -d "$data" ]; then
        echo "skipping $config: $data is missing (expected the official $folder layout; docs/datasets.md)" >&2
        return 0
    fi
    run=runs/$folder/$name
    out=results/$folder/$name
    if [ -n "$threads" ]; then export MEDSEG_THREADS=$threads; fi
    if [ "${RESUME:-0}" = 1 ] && [ -f "$run/checkpoint/last.json" ]; then resumed=1; fi
    mkdir -p "$out" || return 1
    clear_outputs "$out" "$resumed"
    if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -v -a -o "$out/time.txt"); fi
    if [ "$train_timeout" != 0 ]; then limit=(timeout "$train_timeout"); fi
    if [ "$resumed" = 1 ]; then
        echo "== $config -> $run (resuming from $run/checkpoint)"
        train=(train --resume "$run" --quiet)
    else
        echo "== $config -> $run"
        train=(train --config "$config" --data-root "$data" --out "$run" --force --quiet)
    fi
    start=$(date +%s)
    "${timer[@]}" "${limit[@]}" "$medseg" "${train[@]}" >> "$out/train.log" 2>&1 || rc=$?
    echo "train exit $rc after $(($(date +%s) - start)) s with ${MEDSEG_THREADS:-$(nproc)} thread(s) on $(nproc) cores" \
        >> "$out/time.txt"
    if [ "$rc" = 124 ] && [ "$train_timeout" != 0 ]; then
        stopped=1
        echo "stopped at timeout" >> "$out/time.txt"
        echo "   $config: training stopped at its timeout ($train_timeout s): scoring its best checkpoint so far; no last-epoch scores" >&2
    elif [ "$rc" != 0 ]; then
        echo "error: training $config failed (exit $rc); the end of $out/train.log:" >&2
        tail -n 5 "$out/train.log" >&2
        return 1
    fi
    cp "$run/metrics.csv" "$out/train_metrics.csv" || failed=1
    cp "$run/config.toml" "$out/config.resolved.toml" || failed=1
    local variants=(last best)
    if [ "${EVAL_VARIANTS:-1}" != 0 ]; then variants+=(last-tta tta); fi
    if [ "$stopped" = 1 ]; then variants=("${variants[@]/last*/}"); fi
    for v in "${variants[@]}"; do
        if [ -n "$v" ]; then eval_variant "$run" "$data" "$out" "$v" || failed=1; fi
    done
    grep -E "Elapsed|Maximum resident" "$out/time.txt" | sed "s|^[[:space:]]*|   $name: |" || true
    if [ "$failed" = 0 ] && [ "$stopped" = 1 ]; then
        echo "== $config: stopped at timeout, best-validation results in $out/ (no last-epoch scores)"
    elif [ "$failed" = 0 ]; then
        echo "== $config: train exit $rc, results in $out/ (the reported numbers: $out/last/)"
    else
        echo "== $config: train exit $rc, FAILED (see above)"
    fi
    return "$failed"
}

# run_configs JOBS CONFIG...: run_config for each CONFIG, JOBS at a time (1: one after the other,
# in the foreground). Returns 1 if any failed (the others still run), naming them.
run_configs() {
    local jobs_max=$1 config failures
    shift
    failures=$(mktemp) || return 1
    for config in "$@"; do
        if [ "$jobs_max" -le 1 ]; then
            (run_config "$config") || echo "$config" >> "$failures"
        else
            while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
                wait -n || true
            done
            { run_config "$config" || echo "$config" >> "$failures"; } &
        fi
    done
    wait
    if [ -s "$failures" ]; then
        echo "failed: $(tr '\n' ' ' < "$failures")" >&2
        rm -f "$failures"
        return 1
    fi
    rm -f "$failures"
}
