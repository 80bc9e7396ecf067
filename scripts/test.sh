#!/usr/bin/env bash
# The test suite: Rust unit and integration tests (native), the core without tract-onnx,
# the onnxruntime cross-check of the shipped ONNX models, the wasm packages (size budget
# enforced) with their Node tests and TypeScript check, the playground and the merchant
# console in headless Chromium, the edge worker on workerd (miniflare) with its upload size
# checked by wrangler, and a smoke test of `edgeprice demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# The whole run's output is kept (worker logs included) for the secrets check at the end.
RUN_LOG="${TMPDIR:-/tmp}/edgeprice-test-run.log"
MARKER=$(mktemp)
exec > >(tee "$RUN_LOG") 2>&1
bash scripts/setup.sh

echo "[${SECONDS}s] == cargo fmt and clippy (unwrap and expect are denied outside tests), every feature set CI builds"
cargo fmt --all --check
cargo clippy --release --all-targets -- -D warnings
# The demo's build (`cargo demo`): the CLI, origin and learner without tract-onnx and training.
cargo clippy --release -p edgeprice-cli -p edgeprice-learn -p edgeprice-origin --no-default-features --all-targets -- -D warnings
# The wasm crates with and without tract-onnx, and the core and edge alone (lean).
for set in "-p edgeprice-web" "-p edgeprice-web --no-default-features" \
  "-p edgeprice-worker" "-p edgeprice-worker --no-default-features" \
  "-p edgeprice-core -p edgeprice-edge" "-p edgeprice-core --features tract"; do
  cargo clippy --release $set --target wasm32-unknown-unknown -- -D warnings
done
echo "[${SECONDS}s] == the layering: core imports no other crate of the workspace, edge only core"
python3 scripts/layers-check.py

echo "[${SECONDS}s] == PostgreSQL for the origin tests (SQLite needs no server)"
service postgresql start >/dev/null
for _ in $(seq 1 30); do su postgres -c "pg_isready -q" && break; sleep 1; done
su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'edgeprice-test'\"" >/dev/null
export EDGEPRICE_TEST_POSTGRES="postgres://postgres:edgeprice-test@127.0.0.1:5432" EDGEPRICE_REQUIRE_POSTGRES=1

echo "[${SECONDS}s] == cargo test (native)"
cargo test --release --all-targets 2>&1 | tee "${TMPDIR:-/tmp}/edgeprice-cargo-test.log"

echo "[${SECONDS}s] == the core without tract-onnx (the lean build: fast-path plans only), natively"
# For wasm32 the same crates are linted above and built by the lean packages and worker below.
cargo test --release -p edgeprice-core -p edgeprice-edge --lib

echo "[${SECONDS}s] == onnxruntime cross-check of models/,"
cargo build --release --bin edgeprice
echo "   and the origin's crash test (SIGKILL while feedback streams in)"
EDGEPRICE_BIN="$CARGO_TARGET_DIR/release/edgeprice" python3 -m pytest -q -s tests/onnx_crosscheck_test.py tests/origin_crash_test.py tests/origin_e2e_test.py tests/origin_load_test.py tests/openapi_test.py

echo "[${SECONDS}s] == the learning loop on loopback: origin, simulated traffic, evaluation, retraining, gate (3 rounds)"
CHECK=1 bash scripts/learning-loop.sh 3 2>"${TMPDIR:-/tmp}/edgeprice-learning-loop.log"

echo "[${SECONDS}s] == wasm packages (pkg/web, pkg/node) and their size"
bash scripts/build-web.sh

echo "[${SECONDS}s] == TypeScript declarations type a real use of the API"
node_modules/.bin/tsc -p tests/node/tsconfig.json

echo "[${SECONDS}s] == wasm under Node: golden vectors and the JS API; the playground and the merchant console in Chromium"
node --test tests/node/ tests/browser/ tests/console/
echo "[${SECONDS}s] == the lean wasm package (no tract-onnx): size and the same Node tests"
bash scripts/build-web.sh lean
EDGEPRICE_PKG=pkg/node-lean node --test tests/node/

echo "[${SECONDS}s] == the edge worker: build, upload size (wrangler), tests on workerd against the origin binary"
bash scripts/build-worker.sh
bash scripts/worker-size.sh
# The queue, push, disclosure and catalog paths are the same code with and without
# tract-onnx: their tests run once, on the lean worker below; the golden vectors and the
# faults run on both.
node --test tests/worker/worker.test.mjs tests/worker/faults.test.mjs
echo "[${SECONDS}s] == the lean worker (no tract-onnx: the bundles' fast-path plans): size and the same tests"
bash scripts/build-worker.sh lean
bash scripts/worker-size.sh lean
EDGEPRICE_WORKER_BUILD=build/worker-lean node --test tests/worker/

echo "[${SECONDS}s] == the demo (README's first command, \`cargo demo\`): pages priced through the worker, their decisions at the origin, nothing left running"
# The binary `cargo demo` builds (no training, no tract-onnx, profile demo: target/demo/).
cargo build --profile demo -p edgeprice-cli --no-default-features
node --test tests/demo/

echo "[${SECONDS}s] == the benchmarks, quick (the scripts keep working; figures in BENCHMARKS.md come from a full run)"
bash scripts/bench.sh quick

echo "[${SECONDS}s] == fuzzing: every corpus input (regression), then 10 s of each target (CI's time budget: a change to the core rebuilds every wasm target first; longer runs: bash scripts/fuzz.sh SECONDS)"
bash scripts/fuzz.sh 10

echo "[${SECONDS}s] == no token, session secret or private key in any log of this run"
python3 scripts/secrets-check.py "$MARKER" "$RUN_LOG" "${TMPDIR:-/tmp}/edgeprice-cargo-test.log" "${TMPDIR:-/tmp}/edgeprice-learning-loop.log"
