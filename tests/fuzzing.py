"""Shared by the decoders' fuzz tests: damage a valid file the way storage and networks do."""
from __future__ import annotations

import zlib

from hypothesis import strategies as st


def damaged(raw: bytes, data: st.DataObject) -> bytes:
    """``raw`` (ending in its CRC32) maybe truncated, with 1 to 3 bytes changed, CRC fixed up so
    that the parsers behind the checksum see the damage."""
    out = bytearray(raw)
    if data.draw(st.booleans()):
        out = out[:data.draw(st.integers(0, len(out) - 5))] + out[-4:]
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, max(0, len(out) - 5)))
        if i < len(out):
            out[i] = data.draw(st.integers(0, 255))
    if len(out) >= 4:
        out[-4:] = zlib.crc32(bytes(out[:-4])).to_bytes(4, "little")
    return bytes(out)
