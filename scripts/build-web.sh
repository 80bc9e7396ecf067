#!/usr/bin/env bash
# Builds the wasm packages: pkg/web (ES module for browsers) and pkg/node (CommonJS for
# Node), with the size profile, wasm-bindgen (the CLI version Cargo.lock pins) and
# wasm-opt -Oz (npm binaryen). Prints raw and gzip sizes of the final _bg.wasm and fails
# past the budget. `build-web.sh lean`: the same API without tract-onnx (crates/web without
# its default feature `tract`) into pkg/web-lean and pkg/node-lean.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

if [ "${1:-}" = lean ]; then
  FEATURES_ARG=--no-default-features SUFFIX=-lean
  # The fast path alone: bundle verify, rules, kernel. 180 KB measured 2026-12-02, after
  # the TOML parser left (format-2 bundles; with it the module was 293 KB, over this), and
  # 159 KB after the adapters went to opt-level "s" (Cargo.toml).
  BUDGET_GZIP=$((256 * 1024))
else
  FEATURES_ARG= SUFFIX=
  BUDGET_GZIP=$((5 * 1024 * 1024 / 2))   # 2.5 MiB: Cloudflare's free plan allows 3 MiB per worker
fi
WEB=pkg/web$SUFFIX NODE=pkg/node$SUFFIX
WASM_OPT=node_modules/.bin/wasm-opt
# -Oz, except that a function with one caller is not merged into it (-ocimfs 0; binaryen
# merges every such function by default): V8 compiles a function whole at its first call,
# so cold branches merged into a hot function were compiled at every cold start. Measured
# 2026-12-02, lean Node package, 60 fresh processes each: bytes to first decision 14.35 ->
# 13.76 ms median, module +0.1%.
OPT="-Oz -ocimfs 0"
FEATURES="--enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue"

# crates/web is a plain cdylib (LTO is skipped for crates that are both cdylib and rlib).
cargo build -p edgeprice-web --profile wasm --target wasm32-unknown-unknown $FEATURES_ARG
raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm/edgeprice_web.wasm"

# Skip wasm-bindgen and wasm-opt (a minute or more) when cargo's output, the JS snippets,
# the tools and this script are the ones the packages were made from (`edgeprice demo`
# runs this at every start).
stamp="$(cat "$raw" crates/web/js/* "$0" scripts/wasm-no-multivalue.py scripts/wasm_sections.py | sha256sum | cut -d' ' -f1) $(wasm-bindgen --version) $($WASM_OPT --version)"
if [ -f "$WEB/.source" ] && [ "$(cat "$WEB/.source")" = "$stamp" ] && [ -f "$NODE/.source" ] && [ "$(cat "$NODE/.source")" = "$stamp" ]; then
  size=$(stat -c %s $WEB/edgeprice_bg.wasm)
  echo "wasm packages unchanged ($WEB, $NODE: ${size} B raw, $(gzip -9 -c $WEB/edgeprice_bg.wasm | wc -c) B gzip -9)"
  exit 0
fi

# Where the bytes go, by crate (from the name section, before wasm-bindgen strips it).
python3 scripts/wasm-size-by-crate.py "$raw" 12

rm -rf $WEB $NODE
# Return pointers, not multi-value returns (the script says why).
mkdir -p "$CARGO_TARGET_DIR/tmp"
input="$CARGO_TARGET_DIR/tmp/edgeprice_web$SUFFIX.wasm"
python3 scripts/wasm-no-multivalue.py "$raw" "$input"
wasm-bindgen --target web --out-name edgeprice --out-dir $WEB "$input"
wasm-bindgen --target nodejs --out-name edgeprice --out-dir $NODE "$input"
# The nodejs target require()s the crate's JS snippets (crates/web/js), which are ES modules:
# rewritten to CommonJS (they export only `export function` declarations).
for f in $(find $NODE/snippets -name '*.js' 2>/dev/null); do
  names=$(sed -n 's/^export function \([A-Za-z_0-9]*\).*/\1/p' "$f" | paste -sd, -)
  sed -i 's/^export function /function /' "$f"
  if grep -q '^export ' "$f"; then echo "$f: only 'export function' can be rewritten for Node" >&2; exit 1; fi
  echo "module.exports = { $names };" >> "$f"
done
printf '{"name": "edgeprice", "type": "module", "main": "edgeprice.js", "types": "edgeprice.d.ts"}\n' > $WEB/package.json
printf '{"name": "edgeprice", "type": "commonjs", "main": "edgeprice.js", "types": "edgeprice.d.ts"}\n' > $NODE/package.json

# Both targets get the same wasm module; optimize it once and share it.
$WASM_OPT $OPT $FEATURES $WEB/edgeprice_bg.wasm -o $WEB/edgeprice_bg.opt.wasm
if cmp -s $WEB/edgeprice_bg.wasm $NODE/edgeprice_bg.wasm; then
  cp $WEB/edgeprice_bg.opt.wasm $NODE/edgeprice_bg.wasm
else
  $WASM_OPT $OPT $FEATURES $NODE/edgeprice_bg.wasm -o $NODE/edgeprice_bg.wasm
fi
before=$(stat -c %s $WEB/edgeprice_bg.wasm)
mv $WEB/edgeprice_bg.opt.wasm $WEB/edgeprice_bg.wasm

size=$(stat -c %s $WEB/edgeprice_bg.wasm)
gz=$(gzip -9 -c $WEB/edgeprice_bg.wasm | wc -c)
echo "wasm size: after wasm-bindgen ${before} B; after wasm-opt $OPT ${size} B raw, ${gz} B gzip -9 (budget ${BUDGET_GZIP} B gzip)"
if [ "$gz" -gt "$BUDGET_GZIP" ]; then
  echo "wasm over budget: ${gz} > ${BUDGET_GZIP} bytes gzip" >&2
  exit 1
fi
echo "$stamp" > "$WEB/.source"
echo "$stamp" > "$NODE/.source"
