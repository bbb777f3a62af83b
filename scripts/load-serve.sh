#!/usr/bin/env bash
# Load test of `medseg serve`: starts a server on 127.0.0.1, sends REQUESTS segmentations
# CONCURRENCY at a time with curl (each bounded by --max-time, the whole run by RUN_TIMEOUT), and
# reports throughput, p50/p95/p99 latency, errors and the server's peak memory (VmHWM). Exits 1
# when a request failed or got no answer; 503 answers (queue full, deliberate) are counted apart.
#
#   scripts/load-serve.sh                       # 500 requests, 16 at a time, PH2 model
#   REQUESTS=100 CONCURRENCY=4 MODEL=drive IMAGE=eye.png scripts/load-serve.sh
#   MEDSEG=target/debug/medseg SERVE_ARGS="--queue 8" scripts/load-serve.sh
#
# IMAGE defaults to a 384x288 synthetic skin lesion (medseg synth).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh
requests=${REQUESTS:-500}
concurrency=${CONCURRENCY:-16}
model=${MODEL:-ph2}
run_timeout=${RUN_TIMEOUT:-1800}
request_timeout=${REQUEST_TIMEOUT:-120}
medseg=$(medseg_binary) || exit 2
tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2> /dev/null || true
        wait "$server_pid" 2> /dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

image=${IMAGE:-}
if [ -z "$image" ]; then
    "$medseg" synth --kind lesions --count 1 --size 384 --out "$tmp/synth" > /dev/null
    image=$(find "$tmp/synth" -name 'ISIC_*.jpg' | head -n 1)
fi
[ -f "$image" ] || { echo "error: IMAGE=$image is not a file" >&2; exit 2; }

# shellcheck disable=SC2086 # SERVE_ARGS is a list of flags
"$medseg" serve --pretrained "$model" --addr 127.0.0.1:0 ${SERVE_ARGS:-} > "$tmp/serve.out" 2> "$tmp/serve.err" &
server_pid=$!
for _ in $(seq 600); do
    grep -q 'listening on' "$tmp/serve.out" 2> /dev/null && break
    kill -0 "$server_pid" 2> /dev/null || { cat "$tmp/serve.err" >&2; exit 2; }
    sleep 0.1
done
url=$(grep -o 'http://[0-9.:]*' "$tmp/serve.out" | head -n 1)
[ -n "$url" ] || { echo "error: the server did not start" >&2; exit 2; }
echo "server $url (pid $server_pid), model $model, image $image ($(wc -c < "$image") bytes)"
echo "sending $requests requests, $concurrency at a time"

# One line per request: HTTP status and seconds (000 when curl got no answer).
start=$(date +%s.%N)
seq "$requests" | timeout "$run_timeout" xargs -P "$concurrency" -I{} \
    curl -s -o /dev/null --max-time "$request_timeout" -w '%{http_code} %{time_total}\n' \
    -H 'Content-Type: application/octet-stream' --data-binary "@$image" \
    "$url/v1/segment?model=$model" > "$tmp/results.txt" || true
end=$(date +%s.%N)
peak_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status" 2> /dev/null || echo 0)

answered=$(wc -l < "$tmp/results.txt")
ok=$(awk '$1 == 200' "$tmp/results.txt" | wc -l)
busy=$(awk '$1 == 503' "$tmp/results.txt" | wc -l)
failed=$(awk '$1 != 200 && $1 != 503' "$tmp/results.txt" | wc -l)
lost=$((requests - answered))
awk '$1 == 200 { print $2 * 1000 }' "$tmp/results.txt" | sort -n > "$tmp/latency.txt"
percentile() {
    awk -v p="$1" '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
        printf "%.0f", v[i] }' "$tmp/latency.txt"
}
awk -v s="$start" -v e="$end" -v n="$ok" -v all="$answered" 'BEGIN {
    printf "wall %.1f s, throughput %.2f images/s (%.2f answers/s)\n", e - s, n / (e - s), all / (e - s) }'
echo "latency of 200s (ms): p50 $(percentile 50), p95 $(percentile 95), p99 $(percentile 99), max $(tail -n 1 "$tmp/latency.txt" 2> /dev/null || echo n/a)"
echo "answers: $ok ok, $busy busy (503), $failed failed, $lost lost"
awk -v k="$peak_kib" 'BEGIN { printf "server peak memory (VmHWM): %.0f MiB\n", k / 1024 }'
if [ "$failed" -gt 0 ]; then
    echo "failed statuses:" >&2
    awk '$1 != 200 && $1 != 503 { print $1 }' "$tmp/results.txt" | sort | uniq -c >&2
fi
[ "$failed" -eq 0 ] && [ "$lost" -eq 0 ]
