#!/usr/bin/env bash
# The test suite: Rust unit and integration tests (native), the core built for
# wasm32-unknown-unknown, and the onnxruntime cross-check of the shipped ONNX models.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh

echo "== cargo fmt and clippy (unwrap and expect are denied outside tests)"
cargo fmt --check
cargo clippy --release --all-targets -- -D warnings

echo "== cargo test (native)"
cargo test --release --all-targets 2>&1 | tee "${TMPDIR:-/tmp}/edgeprice-cargo-test.log"

echo "== core for wasm32-unknown-unknown"
cargo build --release --lib --no-default-features --target wasm32-unknown-unknown

echo "== onnxruntime cross-check of models/"
cargo build --release --bin edgeprice
EDGEPRICE_BIN="$CARGO_TARGET_DIR/release/edgeprice" python3 -m pytest -q -s tests/onnx_crosscheck_test.py
