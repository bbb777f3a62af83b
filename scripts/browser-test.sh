#!/usr/bin/env bash
# The real-browser test of `medseg serve` (crates/medseg-cli/tests/serve.rs, ignored by a plain
# `cargo test`): a headless chromium, driven through its DevTools protocol, opens the page,
# uploads an image, waits for the overlay, moves the threshold slider with the mouse and checks
# that the overlay's pixels change. It also saves the screenshot in docs/images/serve.png.
#
#   scripts/browser-test.sh                 # chromium from PATH (Debian: apt-get install chromium)
#   MEDSEG_CHROMIUM=/path/to/chrome scripts/browser-test.sh
#   SCREENSHOT=/tmp/page.png scripts/browser-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
chromium=${MEDSEG_CHROMIUM:-chromium}
if ! command -v "$chromium" > /dev/null; then
    echo "error: $chromium not found: install it (Debian: apt-get install -y chromium) or set MEDSEG_CHROMIUM" >&2
    exit 2
fi
screenshot=${SCREENSHOT:-docs/images/serve.png}
mkdir -p "$(dirname "$screenshot")"
MEDSEG_CHROMIUM=$chromium MEDSEG_SCREENSHOT=$(realpath -m "$screenshot") \
    cargo test -p medseg-cli --test serve -- --ignored --exact \
    the_page_segments_an_upload_and_rethresholds_in_the_browser
echo "browser test passed; screenshot in $screenshot"
