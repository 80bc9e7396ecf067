#!/usr/bin/env python3
"""Copies a wasm module without "multivalue" in its `target_features` section, so that
wasm-bindgen keeps return pointers instead of turning them into multi-value returns.

Why: wasm-bindgen makes a multi-value export of every function that returns a `Result` or
a string when the module lists the feature, which rustc does by default. V8 11 (Node 20)
runs a multi-value export only through a per-signature JS-to-wasm wrapper, which it
compiles with TurboFan for every such export when the module is compiled, used or not.
Measured 2026-12-02, lean Node package, 20 fresh processes each: `require` (read, compile,
instantiate) 8.69 -> 5.63 ms median, bytes to first decision 16.83 -> 13.18 ms.

Only the section changes. The code is not touched: rustc's wasm32 ABI returns aggregates
through memory whether or not the feature is listed, and wasm-bindgen's multi-value form
is its own rewrite of the exports, done after this.

Usage: wasm-no-multivalue.py IN OUT
"""
import sys

from wasm_sections import leb, spans, uleb


def without_multivalue(name, body):
    """The target_features section body (after its name) without the multivalue entry."""
    count, i = leb(body, 0)
    kept = []
    for _ in range(count):
        prefix = body[i]
        length, j = leb(body, i + 1)
        feature = body[j : j + length]
        i = j + length
        if feature != b"multivalue":
            kept.append(bytes([prefix]) + uleb(length) + feature)
    return uleb(len(name)) + name + uleb(len(kept)) + b"".join(kept), len(kept) < count


def main(src, dst):
    data = open(src, "rb").read()
    if data[:8] != b"\0asm\1\0\0\0":
        sys.exit(f"{src}: not a wasm module (version 1)")
    out, dropped = bytearray(data[:8]), False
    for section, start, body, end in spans(data):
        if section == 0:
            length, at = leb(data, body)
            name = data[at : at + length]
            if name == b"target_features":
                kept, dropped = without_multivalue(name, data[at + length : end])
                out += bytes([0]) + uleb(len(kept)) + kept
                continue
        out += data[start:end]
    open(dst, "wb").write(out)
    print(f"{dst}: {'multivalue dropped from' if dropped else 'no multivalue in'} target_features")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(sys.argv[1], sys.argv[2])
