#!/usr/bin/env bash
# ONNX export verified by ONNX Runtime (docs/onnx.md): writes every preset's deploy network as
# ONNX with random inputs and medseg's logits, plus the shipped DRIVE and STARE models on a real
# DRIVE test image when DATA_ROOT holds DRIVE (the ignored test `write_ort_fixtures`), then checks
# them with ONNX Runtime (tools/onnx/check_ort.py, versions pinned in tools/requirements.txt) and
# writes results/onnx/ort-check.json. tract, the other runtime, checks the same graphs in
# `cargo test` (crates/medseg/tests/onnx.rs).
#
#   scripts/onnx-check.sh [DATA_ROOT]      PYTHON=.venv/bin/python by default
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
if [ ! -x "$python" ]; then
    echo "no Python at $python: python3 -m venv .venv && .venv/bin/pip install -r tools/requirements.txt (or set PYTHON)" >&2
    exit 2
fi
if [ $# -gt 0 ] && [ ! -d "$1" ]; then
    echo "data root $1 does not exist" >&2
    exit 2
fi
# Absolute paths: cargo runs the test in the crate's folder.
out=$(pwd)/${OUT:-target/onnx-check}
data=""
if [ $# -gt 0 ]; then data=$(cd "$1" && pwd); fi
rm -rf "$out"
mkdir -p "$out" results/onnx
MEDSEG_ONNX_OUT=$out MEDSEG_DATA_ROOT=$data \
    cargo test -p medseg --test onnx -- --ignored write_ort_fixtures
"$python" tools/onnx/check_ort.py "$out" --json results/onnx/ort-check.json
