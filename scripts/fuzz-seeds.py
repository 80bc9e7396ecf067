"""Writes the seed corpus of each fuzz target (fuzz/corpus/<target>/seed-*) from the
repository's own valid inputs: the shipped bundle, the golden sessions, the catalog, the
rules, a feedback batch and a visit cookie. Run once by scripts/fuzz.sh when a corpus is
missing; the corpora (with anything the fuzzer adds and keeps) are committed."""
import json
import os
import struct
import sys

root = os.path.join(os.path.dirname(__file__), "..")
out = os.path.join(root, "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"seed-{name}"), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def parts(bundle):
    """The manifest bytes and model bytes of a framed bundle."""
    at = 4 + 2
    key_len = bundle[at]
    at += 1 + key_len
    (mlen,) = struct.unpack_from("<I", bundle, at)
    manifest = bundle[at + 4 : at + 4 + mlen]
    at += 4 + mlen
    (model_len,) = struct.unpack_from("<I", bundle, at)
    return manifest, bundle[at + 4 : at + 4 + model_len]


def signed(mode, manifest, model):
    """Input of the target's mode 1 (format 1) or 2 (format 2): re-signed by its fuzz key."""
    assert len(manifest) < 65536
    return bytes([mode]) + struct.pack("<H", len(manifest)) + manifest + model


bundle = open(os.path.join(root, "models/default.epb"), "rb").read()
write("bundle", "default", b"\x00" + bundle)
# The default bundle's binary manifest (format 2) with the fuzz key's id: policy version
# u64, then the key id as a u32 length and its bytes.
binary, model = parts(bundle)
(key_len,) = struct.unpack_from("<I", binary, 8)
fuzz_id = b"fuzz"
binary = binary[:8] + struct.pack("<I", len(fuzz_id)) + fuzz_id + binary[12 + key_len :]
write("bundle", "binary", signed(2, binary, model))
# The same policy in format 1 (JSON manifest), kept as a test fixture of the core.
old = open(os.path.join(root, "crates/core/tests/fixtures/default-format1.epb"), "rb").read()
json_manifest, model = parts(old)
manifest = json.loads(json_manifest)
manifest["key_id"] = "fuzz"
write("bundle", "resigned", signed(1, json.dumps(manifest).encode(), model))
write("bundle", "no-plan", signed(1, json.dumps(dict(manifest, plan=None)).encode(), model))

cases = json.load(open(os.path.join(root, "tests/golden/cases.json")))["cases"]
for i, c in enumerate(cases):
    write("session", f"golden-{i}", json.dumps(c["session"]))
write("session", "events", json.dumps({"session_id": "e-1", "visitor_type": "New_Visitor", "traffic_type": 2,
                                       "events": [{"page": "product", "seconds": 30, "page_id": "product/sku-1001"},
                                                  {"page": "cart", "seconds": 5, "exit": True}]}))
for i, p in enumerate(json.load(open(os.path.join(root, "www/catalog.json")))["products"][:6]):
    write("product", f"catalog-{i}", json.dumps(p))
write("product", "demo", open(os.path.join(root, "models/demo_product.json")).read())
write("rules", "shipped", open(os.path.join(root, "models/rules.toml")).read())
decision = {"event_id": "d-1", "type": "decision", "decision_id": "dec-1", "session_id": "s", "sku": "sku-1001",
            "policy_version": 1, "arm": "model", "price": 44.99, "propensity": 0.86, "time": 1795867200}
outcome = {"event_id": "o-1", "type": "outcome", "decision_id": "dec-1", "purchased": True, "revenue": 44.99, "time": 1795867300}
write("feedback", "array", json.dumps([decision, outcome]))
write("feedback", "ndjson", json.dumps(decision) + "\n" + json.dumps(outcome) + "\n")
visit = {"i": "s-1", "s": 1795867200, "l": 1795867260, "r": False, "t": "2",
         "a": {"counts": [1, 0, 3], "seconds": [20, 0, 95], "pages": 4, "bounces": 0, "exits": 1, "page_value_sum": 42.5}}
write("cookie", "payload", b"\x01" + json.dumps(visit).encode())
write("cookie", "header", b"\x00" + b"theme=dark; ep_visit=v1.eyJpIjoicyJ9.AAAAAAAAAAAAAAAAAAAAAA; other=1")
print(f"seeds written under {out}", file=sys.stderr)
