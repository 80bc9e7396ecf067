"""The wasm binary format's framing, for the build scripts that read modules
(`wasm-size-by-crate.py`, `wasm-no-multivalue.py`): LEB128 integers and sections."""


def leb(buf, i):
    """The unsigned LEB128 integer at buf[i]: (value, index after it)."""
    result = shift = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, i


def uleb(n):
    """n as unsigned LEB128 bytes."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def spans(buf):
    """Each section of a module (after its 8-byte header): (id, where the section starts,
    where its body starts, where it ends)."""
    i = 8
    while i < len(buf):
        size, j = leb(buf, i + 1)
        yield buf[i], i, j, j + size
        i = j + size


def sections(buf):
    """Each section of a module: (id, body bytes)."""
    for sid, _, body, end in spans(buf):
        yield sid, buf[body:end]
