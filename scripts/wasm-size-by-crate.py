#!/usr/bin/env python3
"""Attributes the code of a wasm module to Rust crates, from its `name` section.

Usage: wasm-size-by-crate.py MODULE.wasm [TOP]. Reads the module cargo wrote (before
wasm-bindgen and wasm-opt strip names), sums function body bytes by the crate that the
mangled name starts with, and prints the largest crates plus data and other sections.
"""
import re
import sys
from collections import Counter

from wasm_sections import leb, sections


def crate_of(name):
    m = re.match(r"_ZN(\d+)", name)
    if m:
        n = int(m.group(1))
        start = m.end()
        crate = name[start:start + n]
        if crate.startswith("_$LT$"):  # <impl Trait for Type>: take the type's crate
            inner = re.search(r"_\$LT\$([A-Za-z0-9_]+)\.\.", crate + name[start + n:])
            return inner.group(1) if inner else "<impl>"
        return crate
    m = re.match(r"_R[a-zA-Z]*?C[s_0-9a-zA-Z]*?(\d+)([a-z_][a-z0-9_]*)", name)
    if m:
        return m.group(2)
    return "<other>"


def main():
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    buf = open(path, "rb").read()
    imports = 0
    bodies = []
    names = {}
    totals = Counter()
    for sid, body in sections(buf):
        totals[{1: "type", 2: "import", 3: "function", 7: "export", 10: "code", 11: "data", 0: "custom"}.get(sid, f"section {sid}")] += len(body)
        if sid == 2:
            count, i = leb(body, 0)
            for _ in range(count):
                for _ in range(2):
                    n, i = leb(body, i)
                    i += n
                kind = body[i]
                i += 1
                if kind == 0:
                    imports += 1
                    _, i = leb(body, i)
                elif kind == 1:
                    i += 1
                    flags, i = leb(body, i)
                    _, i = leb(body, i)
                    if flags & 1:
                        _, i = leb(body, i)
                elif kind == 2:
                    flags, i = leb(body, i)
                    _, i = leb(body, i)
                    if flags & 1:
                        _, i = leb(body, i)
                elif kind == 3:
                    i += 2
        elif sid == 10:
            count, i = leb(body, 0)
            for _ in range(count):
                size, j = leb(body, i)
                bodies.append(size + (j - i))
                i = j + size
        elif sid == 0:
            n, i = leb(body, 0)
            if body[i:i + n] == b"name":
                i += n
                while i < len(body):
                    sub = body[i]
                    size, j = leb(body, i + 1)
                    if sub == 1:
                        count, k = leb(body, j)
                        for _ in range(count):
                            idx, k = leb(body, k)
                            ln, k = leb(body, k)
                            names[idx] = body[k:k + ln].decode("utf-8", "replace")
                            k += ln
                    i = j + size
    by_crate = Counter()
    for n, size in enumerate(bodies):
        by_crate[crate_of(names.get(imports + n, ""))] += size
    code = sum(bodies)
    print(f"{path}: {len(buf):,} bytes; code {code:,}, data {totals['data']:,}, custom sections {totals['custom']:,}")
    for crate, size in by_crate.most_common(top):
        print(f"  {crate:<28} {size:>10,} bytes  {100 * size / code:5.1f}% of code")
    if not names:
        print("  (no name section: function names were stripped)")


if __name__ == "__main__":
    main()
