#!/usr/bin/env bash
# Dry run of the experiment scripts without data or a real binary: scripts/reproduce.sh,
# run-parallel.sh and eval-variants.sh run in a scratch copy of scripts/ against a stub medseg
# (a shell script that records its arguments and writes the files the real one would), and the
# checks below hold: usage errors and a missing data root exit 2; reproduce.sh and
# run-parallel.sh produce the same results files through the one implementation; last/ holds the
# last-epoch (--last) scores and the top level the best-validation ones; EVAL_VARIANTS=0,
# RESUME=1, TRAIN_TIMEOUT, a failing training, JOBS=2, every config at once with the STARE
# cross-validation's pooled reports and the cross-dataset table; claims.sh's comparisons; the
# usage errors of kill-resume.sh and fuzz.sh. Run by .ci/run; a few seconds.
#
#   scripts/test-scripts.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd) || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
repo=$tmp/repo
mkdir -p "$repo/configs/drive" "$repo/configs/ph2" "$repo/data/DRIVE" "$tmp/bin"
cp -r "$here/scripts" "$repo/"
printf 'name = "a"\n' > "$repo/configs/drive/a.toml"
printf 'name = "b"\n' > "$repo/configs/drive/b.toml"
printf 'name = "c"\n' > "$repo/configs/ph2/c.toml"

# The stub: `train` writes a run folder, then takes FAKE_TRAIN_SLEEP seconds (FAKE_TRAIN_FAIL=1:
# fails) before writing model_final (the last epoch's weights); `eval` writes metrics whose pooled
# F1 says which weights and flags it was given (best 0.80, last 0.81, +0.001 with --tta). Every
# call is logged.
cat > "$tmp/bin/medseg" << 'STUB'
#!/usr/bin/env bash
set -eu
echo "$*" >> "${FAKE_LOG:?}"
cmd=$1
shift
run="" out="" last=0 tta=0
while [ $# -gt 0 ]; do
    case "$1" in
        --run | --resume) run=$2; shift ;;
        --out) out=$2; shift ;;
        --last) last=1 ;;
        --tta) tta=1 ;;
    esac
    shift
done
case "$cmd" in
    train)
        if [ -z "$run" ]; then # --force: a fresh run folder
            run=$out
            rm -rf "$run"
        fi
        echo "epoch 1: loss 1.0" >&2
        if [ "${FAKE_TRAIN_FAIL:-0}" = 1 ]; then echo "error: fake failure" >&2; exit 2; fi
        mkdir -p "$run/checkpoint"
        echo '{}' > "$run/checkpoint/last.json"
        echo "epoch,loss,val_f1" > "$run/metrics.csv"
        echo 'name = "fake"' > "$run/config.toml"
        : > "$run/model_best.safetensors"
        sleep "${FAKE_TRAIN_SLEEP:-0}"
        : > "$run/model_final.safetensors"
        ;;
    eval)
        f1=$(( 8000 + 100 * last + 10 * tta ))
        mkdir -p "$out"
        echo "{\"run\": \"$run\", \"last\": $last, \"tta\": $tta, \"pooled\": {\"f1\": 0.$f1}}" > "$out/metrics.json"
        echo "id,f1" > "$out/metrics.csv"
        echo "id,ms" > "$out/timing.csv"
        echo "id  f1"
        echo "pooled (all pixels)  0.$f1"
        ;;
    compare) echo "verdict: stub" ;;
    *) echo "stub: unexpected command $cmd" >&2; exit 2 ;;
esac
STUB
chmod +x "$tmp/bin/medseg"
export MEDSEG=$tmp/bin/medseg FAKE_LOG=$tmp/calls.log
unset RESUME EVAL_VARIANTS TRAIN_TIMEOUT EVAL_TIMEOUT JOBS VARIANTS
cd "$repo"

fails=0
check() { # check DESCRIPTION COMMAND...: runs COMMAND, reports
    local what=$1
    shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
exits() { # exits CODE COMMAND...: true if COMMAND exits with CODE (its output in $tmp/out)
    local want=$1 rc=0
    shift
    "$@" > "$tmp/out" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || { echo "     exit $rc, wanted $want; output:"; sed 's/^/     | /' "$tmp/out"; false; }
}
has() { grep -q -- "$1" "$2"; }
listing() { (cd "$1" && find . -type f | LC_ALL=C sort); }
stale_final_not_scored() { [ -f runs/drive/a/model_final.safetensors ] && [ ! -e results/drive/a/last ]; }
pooled() { sed -n 's/.*"f1": \([0-9.]*\).*/\1/p' "$1"; }

check "reproduce.sh with no arguments: usage, exit 2" exits 2 scripts/reproduce.sh
check "  ... says usage" has "usage: .*reproduce.sh DATA_ROOT" "$tmp/out"
check "reproduce.sh with a missing data root: exit 2" exits 2 scripts/reproduce.sh "$tmp/nowhere"
check "  ... names the missing folder" has "data root $tmp/nowhere does not exist" "$tmp/out"
check "run-parallel.sh with two arguments: usage, exit 2" exits 2 scripts/run-parallel.sh data 1
check "run-parallel.sh with THREADS=x: exit 2" exits 2 scripts/run-parallel.sh data x configs/drive/a.toml
check "run-parallel.sh with a missing data root: exit 2" exits 2 scripts/run-parallel.sh "$tmp/nowhere" 1 configs/drive/a.toml
check "eval-variants.sh with a missing run: exit 2" exits 2 scripts/eval-variants.sh runs/none data/DRIVE results/x

expected="./config.resolved.toml
./eval.txt
./last-tta/eval.txt
./last-tta/metrics.csv
./last-tta/metrics.json
./last/eval.txt
./last/metrics.csv
./last/metrics.json
./metrics.csv
./metrics.json
./time.txt
./timing.csv
./train.log
./train_metrics.csv
./tta/eval.txt
./tta/metrics.csv
./tta/metrics.json"

: > "$FAKE_LOG"
check "reproduce.sh DATA_ROOT CONFIG: exit 0" exits 0 scripts/reproduce.sh data configs/drive/a.toml
check "  ... the documented file set" [ "$(listing results/drive/a)" = "$expected" ]
check "  ... last/ holds the --last scores" [ "$(pooled results/drive/a/last/metrics.json)" = 0.8100 ]
check "  ... last-tta/ --last --tta" [ "$(pooled results/drive/a/last-tta/metrics.json)" = 0.8110 ]
check "  ... top level: best-validation weights" [ "$(pooled results/drive/a/metrics.json)" = 0.8000 ]
check "  ... tta/: best-validation weights, --tta" [ "$(pooled results/drive/a/tta/metrics.json)" = 0.8010 ]
check "  ... trained once with the config and data folder" \
    has "^train --config configs/drive/a.toml --data-root data/DRIVE --out runs/drive/a --force --quiet$" "$FAKE_LOG"
check "  ... time.txt has the exit line" has "^train exit 0 after" results/drive/a/time.txt
check "  ... prints the last-epoch line" has "results/drive/a/last/ (last epoch, the reported numbers): pooled (all pixels)  0.8100" "$tmp/out"
cp -r results/drive/a "$tmp/by-reproduce"
cp "$FAKE_LOG" "$tmp/by-reproduce.log"

rm -rf results runs
: > "$FAKE_LOG"
check "run-parallel.sh DATA_ROOT 1 CONFIG: exit 0" exits 0 scripts/run-parallel.sh data 1 configs/drive/a.toml
check "  ... the same file set as reproduce.sh" [ "$(listing results/drive/a)" = "$expected" ]
check "  ... the same medseg calls as reproduce.sh" cmp -s "$FAKE_LOG" "$tmp/by-reproduce.log"
check "  ... the same files, time.txt aside" \
    diff -r -x time.txt "$tmp/by-reproduce" results/drive/a
check "  ... THREADS reaches the time.txt line" has "with 1 thread(s)" results/drive/a/time.txt

: > "$FAKE_LOG"
check "EVAL_VARIANTS=0: exit 0" exits 0 env EVAL_VARIANTS=0 scripts/reproduce.sh data configs/drive/a.toml
check "  ... last/ and the top level, no --tta folders" \
    [ "$(cd results/drive/a && ls -d last last-tta tta 2> /dev/null)" = last ]
check "  ... no --tta evaluation" [ "$(grep -c -- --tta "$FAKE_LOG")" = 0 ]

: > "$FAKE_LOG"
check "RESUME=1 with a checkpoint: exit 0" exits 0 env RESUME=1 scripts/run-parallel.sh data 1 configs/drive/a.toml
check "  ... trains with --resume" has "^train --resume runs/drive/a --quiet$" "$FAKE_LOG"
check "  ... time.txt gains a segment" [ "$(grep -c "^train exit 0" results/drive/a/time.txt)" = 2 ]

check "TRAIN_TIMEOUT=1 on a 5 s training: exit 0" \
    exits 0 env TRAIN_TIMEOUT=1 FAKE_TRAIN_SLEEP=5 scripts/reproduce.sh data configs/drive/b.toml
check "  ... marked in time.txt" has "^stopped at timeout" results/drive/b/time.txt
check "  ... scored with its best checkpoint so far" [ "$(pooled results/drive/b/metrics.json)" = 0.8000 ]
check "  ... and no last-epoch scores (no model_final)" [ ! -e results/drive/b/last ]
check "  ... says so" has "no last-epoch scores" "$tmp/out"
check "RESUME=1 stopped by TRAIN_TIMEOUT: exit 0" \
    exits 0 env RESUME=1 TRAIN_TIMEOUT=1 FAKE_TRAIN_SLEEP=5 scripts/run-parallel.sh data 1 configs/drive/a.toml
check "  ... no last-epoch scores, although an older model_final is there" \
    stale_final_not_scored

rm -rf runs/drive/b results/drive/b
check "a failing training: exit 1" exits 1 env FAKE_TRAIN_FAIL=1 scripts/run-parallel.sh data 1 configs/drive/b.toml
check "  ... names the config" has "failed: configs/drive/b.toml" "$tmp/out"
check "  ... no metrics" [ ! -f results/drive/b/metrics.json ]

check "a config whose dataset is missing (no PH2/) is skipped: exit 0" exits 0 scripts/reproduce.sh data configs/ph2/c.toml
check "  ... says so" has "skipping configs/ph2/c.toml: data/PH2 is missing" "$tmp/out"
check "a config that does not exist: exit 1" exits 1 scripts/reproduce.sh data configs/drive/none.toml
check "  ... says so" has "config configs/drive/none.toml does not exist" "$tmp/out"

rm -rf runs results
check "JOBS=2, two configs at once: exit 0" exits 0 env JOBS=2 FAKE_TRAIN_SLEEP=1 scripts/run-parallel.sh data 1 configs/drive/a.toml configs/drive/b.toml
check "  ... a complete" [ "$(listing results/drive/a)" = "$expected" ]
check "  ... b complete" [ "$(listing results/drive/b)" = "$expected" ]

rm -rf runs results
check "reproduce.sh DATA_ROOT, every config: exit 0" exits 0 scripts/reproduce.sh data
check "  ... drive/a and drive/b run" [ "$(listing results/drive/a)" = "$expected" ]
check "  ... drive/b too" [ "$(listing results/drive/b)" = "$expected" ]
check "  ... ph2/c skipped (no PH2/), no STARE reports (no STARE/)" [ ! -e results/ph2 ]
mkdir -p data/STARE configs/stare-cv
for f in 0 1 2 3; do printf 'name = "fold%s"\n' "$f" > "configs/stare-cv/fold$f.toml"; done
: > "$FAKE_LOG"
check "  ... with STARE/ and configs/stare-cv/: exit 0" exits 0 scripts/reproduce.sh data
check "  ... the folds' results" [ "$(listing results/stare-cv/fold3)" = "$expected" ]
check "  ... the pooled report from the folds' last epochs" \
    has "^eval --last --run runs/stare-cv/fold0 --run runs/stare-cv/fold1 --run runs/stare-cv/fold2 --run runs/stare-cv/fold3 --root data/STARE --split test --out runs/stare-cv/eval-pooled$" "$FAKE_LOG"
check "  ... pooled/" [ -f results/stare-cv/pooled/metrics.json ]
check "  ... pooled-tta/" [ -f results/stare-cv/pooled-tta/metrics.json ]
check "  ... the cross-dataset table" [ -f results/cross/drive-on-stare/metrics.json ]
rm -rf configs/stare-cv data/STARE

rm -rf results/drive/a/last
check "eval-variants.sh, VARIANTS=last: exit 0" exits 0 env VARIANTS=last scripts/eval-variants.sh runs/drive/a data/DRIVE results/drive/a
check "  ... writes last/ from --last" [ "$(pooled results/drive/a/last/metrics.json)" = 0.8100 ]
check "eval-variants.sh, an unknown variant: exit 1" exits 1 env VARIANTS=bogus scripts/eval-variants.sh runs/drive/a data/DRIVE results/drive/a

check "claims.sh with an unknown comparison: exit 2" exits 2 scripts/claims.sh bogus
check "claims.sh with no results: exit 0" exits 0 scripts/claims.sh ph2-msssim drive-msac
check "  ... lists them as missing" [ "$(scripts/claims.sh | grep -c '^missing: ')" = 13 ]
for s in "" -seed1 -seed2; do
    for arm in drive-plain-units drive-default; do
        mkdir -p "results/drive-ablation/$arm$s/last"
        echo '{}' > "results/drive-ablation/$arm$s/last/metrics.json"
    done
done
: > "$FAKE_LOG"
check "claims.sh with the runs of one comparison: exit 0" exits 0 scripts/claims.sh drive-msac
check "  ... compares the three seeds of each arm" has "^compare --metric f1 --aggregate pooled --name-a plain-units --name-b msac --a results/drive-ablation/drive-plain-units results/drive-ablation/drive-plain-units-seed1 results/drive-ablation/drive-plain-units-seed2 --b results/drive-ablation/drive-default results/drive-ablation/drive-default-seed1 results/drive-ablation/drive-default-seed2 --json results/claims/drive-msac.json$" "$FAKE_LOG"

check "kill-resume.sh with no arguments: usage, exit 2" exits 2 scripts/kill-resume.sh
check "kill-resume.sh with N=0: exit 2" exits 2 scripts/kill-resume.sh 0
check "fuzz.sh with no arguments: usage, exit 2" exits 2 scripts/fuzz.sh
check "fuzz.sh with SECONDS=x: exit 2" exits 2 scripts/fuzz.sh x

if [ "$fails" != 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
