#!/usr/bin/env bash
# Installs what edgeprice needs on a fresh machine of this kind (Rust toolchain, Node and
# Python present), by purpose:
#   setup.sh demo   what `edgeprice demo` needs: the wasm target, wasm-bindgen-cli at the
#                   version Cargo.lock pins, and the npm packages that build and run the
#                   worker (binaryen's wasm-opt, wrangler with workerd).
#   setup.sh        everything the tests need too: nightly Rust and cargo-fuzz, the npm test
#                   tools (playwright-core, tsc, miniflare, onnxruntime), Debian's Chromium
#                   (browser tests), PostgreSQL (origin tests) and wrk (load runs), and the
#                   Python test packages.
# Idempotent and quick when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-all}
case "$purpose" in demo | all) ;; *) echo "usage: scripts/setup.sh [demo]" >&2; exit 2 ;; esac

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

pinned=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$pinned" ]; then
  # Without --locked: a yanked transitive dependency once broke the locked install. Only the
  # `wasm-bindgen` binary, without TLS (its test runner's downloads), at opt-level 1: the
  # scripts need no more, and the install is part of a newcomer's first wait.
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo install wasm-bindgen-cli --version "$pinned" --no-default-features --bin wasm-bindgen
fi

# npm packages exactly as package-lock.json pins them: `dependencies` (binaryen, wrangler)
# for the demo, `devDependencies` (the test tools) too for everything; reinstalled when the
# lock or the purpose changes (a full install also serves the demo).
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
installed=$(cat node_modules/.edgeprice-lock 2>/dev/null || true)
if [ "$installed" != "$lock all" ] && { [ "$purpose" = all ] || [ "$installed" != "$lock demo" ]; }; then
  omit=()
  [ "$purpose" = demo ] && omit=(--omit=dev)
  # onnxruntime-node's install script would download binaries it already carries (CPU).
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund "${omit[@]}"
  echo "$lock $purpose" > node_modules/.edgeprice-lock
fi
[ "$purpose" = demo ] && exit 0

# Fuzzing (scripts/fuzz.sh): cargo-fuzz runs libFuzzer builds on the nightly toolchain.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
[ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" = 0.13.2 ] || cargo install cargo-fuzz --version 0.13.2 --locked

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r tests/requirements.txt
