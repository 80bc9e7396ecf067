#!/usr/bin/env bash
# Installs what building and testing edgeprice needs on a fresh machine of this kind
# (Rust toolchain present): the wasm target and the Python test packages. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r tests/requirements.txt
