#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each, one after the other, on one core, and
# prints one line per target: executions, crashes (files in fuzz/artifacts/TARGET/) and the
# corpus size. Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz). The working
# corpus starts from the committed seeds (fuzz/seeds/TARGET/) and grows in fuzz/corpus/TARGET/
# (not committed); logs go to fuzz/logs/. A crash exits 1; usage errors exit 2.
#
#   scripts/fuzz.sh SECONDS [TARGET...]     e.g. scripts/fuzz.sh 600
set -euo pipefail
usage() { echo "usage: scripts/fuzz.sh SECONDS [TARGET...] (targets: decode_image config weights_header score_inputs)" >&2; exit 2; }
[ $# -ge 1 ] || usage
seconds=$1
shift
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode_image config weights_header score_inputs)
cd "$(dirname "$0")/../fuzz" || exit 2
cargo +nightly fuzz --help > /dev/null 2>&1 || {
    echo "error: cargo-fuzz is not installed for the nightly toolchain (cargo install cargo-fuzz)" >&2
    exit 2
}
mkdir -p logs
crashed=0
for t in "${targets[@]}"; do
    [ -d "seeds/$t" ] || { echo "error: unknown target $t (no fuzz/seeds/$t)" >&2; exit 2; }
    mkdir -p "corpus/$t" "artifacts/$t"
    cp -n "seeds/$t"/* "corpus/$t/"
    # No sanitizer: the code under test is safe Rust, where out-of-bounds access already panics.
    # -rss_limit_mb: a decoder that allocates more than 2 GiB counts as a crash.
    rc=0
    cargo +nightly fuzz run --sanitizer none --release "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        > "logs/$t.log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -n 1)
    crashes=$(find "artifacts/$t" -type f | wc -l)
    corpus=$(find "corpus/$t" -type f | wc -l)
    echo "$t: ${execs:-?} executions in ${seconds} s, $crashes crash file(s), corpus $corpus, exit $rc"
    if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then crashed=1; fi
done
exit "$crashed"
