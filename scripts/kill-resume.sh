#!/usr/bin/env bash
# Exact resume after kill -9, proven: trains a short synthetic run (configs/synthetic, shortened)
# once without interruption, then TRIALS times with N SIGKILLs each, resuming after every kill,
# and compares the final and best weights files with the uninterrupted run's (sha256sum; where
# they differ, the largest difference per tensor). One thread (MEDSEG_THREADS=1), so the
# floating-point sums are the same in every run.
#
# Kill k of N lands in a phase chosen in turn: during training steps (a random moment), during a
# validation (right after a random validation starts) and, as the last kill when N >= 3, during
# the final validation and weights (the last epoch's validation). The run's phase marks
# (RUST_LOG=medseg::phase=info) say when each phase starts. Prints one line per kill and trial
# and "K of TRIALS trials bit-identical"; exits 1 when a trial differs, 2 on usage errors.
#
#   scripts/kill-resume.sh N                 e.g. scripts/kill-resume.sh 3
#   TRIALS=5 REPLICAS=2 scripts/kill-resume.sh 3
#   MEDSEG=path/to/medseg (default: target/release/medseg, built here)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd) || exit 2
# shellcheck source=scripts/common.sh
. "$here/scripts/common.sh"
if [ $# -ne 1 ] || ! is_count "$1"; then
    echo "usage: scripts/kill-resume.sh N (N >= 1 kills per trial)" >&2
    exit 2
fi
kills=$1
trials=${TRIALS:-3}
replicas=${REPLICAS:-1}
if ! is_count "$trials" || ! is_count "$replicas"; then
    echo "error: TRIALS and REPLICAS must be whole numbers >= 1" >&2
    exit 2
fi
cd "$here"
medseg=$(medseg_binary) || exit 2
export MEDSEG_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$medseg" synth --kind vessels --count 8 --size 64 --out "$tmp/data" > /dev/null
sets=(--set train.epochs=4 --set train.batches_per_epoch=6 --set train.batch_size=4
    --set "train.replicas=$replicas" --set "train.tiling={ tile = [64, 64], overlap = 0.25, batch = 4, blend = { gaussian = { sigma_scale = 0.125 } } }")
train_new() { # train_new OUT: a fresh run (phase marks on stderr)
    RUST_LOG=medseg::phase=info "$medseg" train --quiet --config configs/synthetic/msa-u2net-tiny.toml \
        --data-root "$tmp/data" --out "$1" --force "${sets[@]}"
}
train_resume() { RUST_LOG=medseg::phase=info "$medseg" train --quiet --resume "$1"; }

start=$(date +%s.%N)
train_new "$tmp/ref" 2> "$tmp/ref.log"
ref_seconds=$(echo "$(date +%s.%N) - $start" | bc)
echo "uninterrupted run: $(printf '%.1f' "$ref_seconds") s (replicas $replicas, 1 thread)"

# marks LOG PATTERN: how many phase marks matching PATTERN LOG holds.
marks() { grep -c "$2" "$1" 2> /dev/null || true; }

# One kill: starts the run (fresh, or resumed once a config.toml exists), waits for the phase,
# kills it with SIGKILL. Prints where it landed.
kill_once() {
    local run=$1 phase=$2 log=$tmp/seg.log pid seen delay
    : > "$log"
    if [ -f "$run/config.toml" ]; then train_resume "$run" 2> "$log" & else train_new "$run" 2> "$log" & fi
    pid=$!
    case "$phase" in
        train)
            # a random moment within the first two thirds of a run's length, once steps run
            while kill -0 "$pid" 2> /dev/null && [ "$(marks "$log" "training epoch")" = 0 ]; do sleep 0.01; done
            delay=$(echo "scale=2; $((RANDOM % 100)) * $ref_seconds / 150" | bc)
            sleep "$delay"
            ;;
        validation | final)
            local pattern="validation after epoch"
            [ "$phase" = final ] && pattern="validation after epoch 4 of 4"
            seen=0
            while kill -0 "$pid" 2> /dev/null && [ "$seen" = 0 ]; do
                seen=$(marks "$log" "$pattern")
                # a validation other than the last: take the first one this segment reaches
                sleep 0.01
            done
            # somewhere inside the validation (it lasts a fraction of a second)
            sleep "0.0$((RANDOM % 10))"
            ;;
    esac
    # $pid is the background subshell; the medseg process is its child.
    local child
    child=$(pgrep -P "$pid" || true)
    if [ -n "$child" ] && kill -9 "$child" 2> /dev/null; then
        wait "$pid" 2> /dev/null || true
        echo "  kill ($phase): after '$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o 'medseg::phase: .*' | tail -n 1 | cut -c 16-)'"
    else
        wait "$pid" 2> /dev/null || true
        echo "  kill ($phase): the run had already finished"
    fi
}

same=0
for t in $(seq 1 "$trials"); do
    run=$tmp/trial-$t
    echo "trial $t:"
    for k in $(seq 1 "$kills"); do
        phases=(train validation)
        phase=${phases[$(((k - 1) % 2))]}
        if [ "$kills" -ge 3 ] && [ "$k" = "$kills" ]; then phase=final; fi
        kill_once "$run" "$phase"
    done
    if [ -f "$run/config.toml" ]; then train_resume "$run" 2> "$tmp/last.log"; else train_new "$run" 2> "$tmp/last.log"; fi
    verdict=identical
    for f in model_final.safetensors model_best.safetensors; do
        a=$(sha256sum < "$tmp/ref/$f" | cut -c1-16)
        b=$(sha256sum < "$run/$f" | cut -c1-16)
        if [ "$a" != "$b" ]; then
            verdict=different
            echo "  $f: sha256 $b, uninterrupted $a; $(python3 "$here/scripts/compare-weights.py" "$tmp/ref/$f" "$run/$f")"
        else
            echo "  $f: sha256 $b, the same as the uninterrupted run's"
        fi
    done
    [ "$verdict" = identical ] && same=$((same + 1))
done
echo "$same of $trials trials bit-identical ($kills kill(s) each, replicas $replicas, 1 thread)"
[ "$same" = "$trials" ]
