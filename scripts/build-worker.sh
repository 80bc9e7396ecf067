#!/usr/bin/env bash
# Builds the Cloudflare Worker into build/worker/ (`lean` as the first argument: the worker
# without tract-onnx, crates/worker without its default feature `tract`, into
# build/worker-lean/, budget 1 MiB gzip): the Rust adapter (crates/worker) with
# the size profile, wasm-bindgen --target web (the CLI version Cargo.lock pins), wasm-opt -Oz
# (npm binaryen), and the ES module entry. wrangler.toml runs this as its build command.
# Prints raw and gzip sizes and fails when the wasm alone is past the worker budget
# (scripts/worker-size.sh measures the whole upload with wrangler).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

BUDGET_GZIP=$((3 * 1024 * 1024))   # Cloudflare's free plan: 3 MiB gzip per worker upload
features=worker
features_arg=
out=build/worker
if [ "${1:-}" = lean ]; then
  BUDGET_GZIP=$((1024 * 1024))
  features=worker-lean
  features_arg=--no-default-features
  out=build/worker-lean
fi
WASM_OPT=node_modules/.bin/wasm-opt
OPT="-Oz -ocimfs 0"   # as scripts/build-web.sh, which says why
FEATURES="--enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue"

# crates/worker is a plain cdylib (LTO is skipped for crates that are both cdylib and rlib).
cargo build -p edgeprice-worker --profile wasm --target wasm32-unknown-unknown $features_arg
raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm/edgeprice_worker.wasm"

# wrangler runs this before every dev/deploy: skip wasm-bindgen and wasm-opt (about a
# minute) when cargo's output is the one already processed. EDGEPRICE_WASM_OPT=0 (what
# `edgeprice demo` sets, for a shorter first start): no wasm-opt unless an optimized build
# of the same output is already there; the stamp says which it is, so a later build
# without the variable optimizes.
stamp="$(sha256sum "$raw" | cut -d' ' -f1) $(wasm-bindgen --version) $features"
optimize=${EDGEPRICE_WASM_OPT:-1}
made=$(cat "$out/.source" 2>/dev/null || true)
if [ -f "$out/edgeprice_bg.wasm" ] && { [ "$made" = "$stamp $OPT" ] || { [ "$optimize" = 0 ] && [ "$made" = "$stamp" ]; }; }; then
  before="(unchanged)"
else
  rm -rf "$out"
  wasm-bindgen --target web --out-name edgeprice --out-dir "$out" "$raw"
  before=$(stat -c %s "$out/edgeprice_bg.wasm")
  if [ "$optimize" = 0 ]; then
    echo "$stamp" > "$out/.source"
  else
    $WASM_OPT $OPT $FEATURES "$out/edgeprice_bg.wasm" -o "$out/edgeprice_bg.opt.wasm"
    mv "$out/edgeprice_bg.opt.wasm" "$out/edgeprice_bg.wasm"
    echo "$stamp $OPT" > "$out/.source"
  fi
fi
cp crates/worker/src/entry.mjs "$out/entry.mjs"

size=$(stat -c %s "$out/edgeprice_bg.wasm")
gz=$(gzip -9 -c "$out/edgeprice_bg.wasm" | wc -c)
echo "$features wasm: after wasm-bindgen ${before} B; after wasm-opt $OPT ${size} B raw, ${gz} B gzip -9 (budget ${BUDGET_GZIP} B gzip)"
if [ "$gz" -gt "$BUDGET_GZIP" ]; then
  echo "$features wasm over budget: ${gz} > ${BUDGET_GZIP} bytes gzip" >&2
  exit 1
fi
