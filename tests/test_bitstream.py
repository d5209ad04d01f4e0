"""The container: round trip, refusal of every kind of bad data, limits before allocation."""
from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inrcodec.bitstream import (HEADER_FIELDS, METHOD_IDS, BitstreamError, DecodeLimits, LimitError, Stream,
                                TensorRecord, pack, unpack)


def _stream(**over) -> Stream:
    params = {"hidden_layers": 2, "width": 4, "w0": 30, "bits": 8}
    tensors = [TensorRecord(0x3F80, 0x3C00, 0, 0x4000) for _ in range(6)]
    fields = dict(method=METHOD_IDS["coin"], channels=3, width=7, height=5, params=params, tensors=tensors,
                  payload=b"\x01\x02\x03\x04" * 3)
    fields.update(over)
    return Stream(**fields)


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_round_trip_keeps_every_field():
    s = _stream()
    data = pack(s)
    back = unpack(data)
    assert back == s
    assert sum(back.section_bytes.values()) == len(data)


def test_method_ids_are_fixed_numbers():
    assert METHOD_IDS == {"coin": 1, "qat": 2, "mcnc": 3, "coinpp": 4}


def test_header_is_small():
    # 10 common + 5 COIN bytes + 7 per tensor + 4 length + 4 CRC: 165 bytes for COIN's 10x28.
    assert struct.calcsize("<" + "".join(c for _, c, _ in HEADER_FIELDS)) == 10
    assert len(pack(_stream(payload=b""))) == 10 + 5 + 6 * 7 + 4 + 4


@pytest.mark.parametrize("data, message", [
    (b"", "bad magic"),
    (b"INR", "bad magic"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "bad magic"),
    (b"INR\x02" + b"\x00" * 40, "unsupported format version 2"),
])
def test_refuses_foreign_data(data, message):
    with pytest.raises(BitstreamError, match=message):
        unpack(data)


def test_every_truncation_is_refused():
    data = pack(_stream())
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            unpack(data[:n])


def test_every_single_bit_flip_is_refused():
    data = pack(_stream())
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(BitstreamError):
            unpack(bytes(flipped))


def test_trailing_bytes_are_refused():
    data = pack(_stream())
    with pytest.raises(BitstreamError):
        unpack(data + b"\x00")


def test_unknown_method_is_refused_clearly():
    data = bytearray(pack(_stream()))
    data[4] = METHOD_IDS["mcnc"]
    with pytest.raises(BitstreamError, match=r"unsupported method id 3 \(mcnc\)"):
        unpack(_with_crc(bytes(data[:-4])))
    data[4] = 200
    with pytest.raises(BitstreamError, match="unsupported method id 200"):
        unpack(_with_crc(bytes(data[:-4])))


def test_absurd_sizes_are_refused_before_allocation():
    huge = pack(_stream(width=65536, height=65536))  # 2^32 pixels, a valid header
    with pytest.raises(LimitError, match="exceeds the limit"):
        unpack(huge)
    assert unpack(huge, DecodeLimits(max_pixels=1 << 32)).width == 65536
    wide = pack(_stream(params={"hidden_layers": 2, "width": 60000, "w0": 30, "bits": 8}))
    with pytest.raises(LimitError, match="layer width 60000"):
        unpack(wide)
    assert unpack(wide, DecodeLimits(max_width=60000)).params["width"] == 60000


@pytest.mark.parametrize("field, value, message", [
    ("bits", 17, "invalid bit depth"), ("bits", 1, "invalid bit depth"),
    ("hidden_layers", 0, "invalid layer count"), ("w0", 0, "invalid w0"),
])
def test_out_of_range_fields_are_refused(field, value, message):
    params = {"hidden_layers": 2, "width": 4, "w0": 30, "bits": 8} | {field: value}
    n = 2 * (params["hidden_layers"] + 1)
    s = _stream(params=params, tensors=[TensorRecord(0, 0x3C00, 0, 0x4000)] * n)
    with pytest.raises(BitstreamError, match=message):
        unpack(pack(s))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_parser_fuzz_random_bytes(data):
    try:
        unpack(data)
    except BitstreamError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_parser_fuzz_mutated_valid_stream(data):
    base = bytearray(pack(_stream()))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(base) - 5))
        base[i] = data.draw(st.integers(0, 255))
    fix_crc = data.draw(st.booleans())
    candidate = _with_crc(bytes(base[:-4])) if fix_crc else bytes(base)
    try:
        unpack(candidate)
    except BitstreamError:
        pass
