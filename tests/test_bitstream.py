"""The container: round trip, refusal of every kind of bad data, ranges from the field table."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inrcodec.bitstream import (HEADER_FIELDS, TENSOR_FIELDS, BitstreamError, DecodeLimits, Field, LimitError,
                                Stream, TensorRecord, overhead_bytes, pack, pack_fields, unpack, unpack_fields)

DATA = Path(__file__).resolve().parent / "data"
ONE, STEP, SCALE = 0x3F80, 0x3C00, 0x4000  # bf16 of 1.0, 2^-7, 2.0


def _stream(**over) -> Stream:
    tensors = [TensorRecord(8, 0, ONE, STEP, SCALE) for _ in range(6)]
    fields = dict(method=1, channels=3, width=7, height=5, section=b"\x02\x04\x00\x1e", tensors=tensors,
                  payload=b"\x01\x02\x03\x04" * 3)
    fields.update(over)
    return Stream(**fields)


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_round_trip_keeps_every_field_and_bytes():
    s = _stream()
    data = pack(s)
    back = unpack(data)
    assert back == s
    assert pack(back) == data
    assert sum(back.section_bytes.values()) == len(data)


@pytest.mark.parametrize("name", ["golden_v2_coin_rgb", "golden_v2_coin_grey", "golden_v2_qat", "golden_v2_qat1",
                                  "golden_v2_mcnc", "golden_v2_qat_fourier"])
def test_pack_of_unpack_is_identity_on_real_streams(name):
    data = (DATA / f"{name}.inr").read_bytes()
    assert pack(unpack(data)) == data


def test_overhead_matches_pack():
    s = _stream(payload=b"")
    assert len(pack(s)) == overhead_bytes(len(s.section), len(s.tensors))
    assert struct.calcsize("<" + "".join(f.code for f in HEADER_FIELDS)) == 10


def test_v1_stream_reads_as_the_same_stream_model():
    s = unpack((DATA / "golden_v1_coin.inr").read_bytes())
    assert s.version == 1 and s.method == 1 and len(s.tensors) == 6
    assert {t.bits for t in s.tensors} == {12}
    assert s.section == struct.pack("<BHB", 2, 8, 30)


@pytest.mark.parametrize("data, message", [
    (b"", "bad magic"),
    (b"INR", "bad magic"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "bad magic"),
    (b"INR\x03" + b"\x00" * 40, "unsupported format version 3"),
])
def test_refuses_foreign_data(data, message):
    with pytest.raises(BitstreamError, match=message):
        unpack(data)


def test_every_truncation_and_bit_flip_is_refused():
    data = pack(_stream())
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            unpack(data[:n])
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(BitstreamError):
            unpack(bytes(flipped))
    with pytest.raises(BitstreamError):
        unpack(data + b"\x00")


def test_absurd_image_size_is_refused_before_allocation():
    huge = pack(_stream(width=16384, height=16384))
    with pytest.raises(LimitError, match="exceeds the limit"):
        unpack(huge)
    assert unpack(huge, DecodeLimits(max_pixels=1 << 28)).width == 16384


def test_field_ranges_come_from_the_table():
    bits = next(f for f in TENSOR_FIELDS if f.name == "bits")
    assert (bits.lo, bits.hi) == (1, 16)
    for value in (0, 17):
        with pytest.raises(ValueError, match="invalid bits"):
            pack(_stream(tensors=[TensorRecord(value, 0, ONE, STEP, SCALE)] * 6))
    table = [Field("a", "B", "a byte", 1, 3), Field("b", "B", "one of", choices=(1, 3))]
    assert unpack_fields(table, b"\x02\x03rest", "t") == ({"a": 2, "b": 3}, b"rest")
    with pytest.raises(BitstreamError, match="invalid a 4"):
        unpack_fields(table, b"\x04\x03", "t")
    with pytest.raises(BitstreamError, match="invalid b 2"):
        unpack_fields(table, b"\x02\x02", "t")
    with pytest.raises(BitstreamError, match="truncated t"):
        unpack_fields(table, b"\x02", "t")
    assert pack_fields(table, {"a": 1, "b": 1}) == b"\x01\x01"


def _with_record(record: TensorRecord) -> bytes:
    """A valid stream whose first record is replaced after packing (the writer refuses bad ones)."""
    data = bytearray(pack(_stream()))
    start = 10 + 2 + 4 + 2  # header, section length, section, record count
    data[start:start + 8] = struct.pack("<BBHHH", record.bits, record.model, record.offset_bf16, record.step_bf16,
                                        record.scale_bf16)
    return _with_crc(bytes(data[:-4]))


@pytest.mark.parametrize("record, message", [
    (TensorRecord(8, 0, ONE, 0x7FC0, SCALE), "step is nan"),
    (TensorRecord(8, 0, ONE, 0x7F80, SCALE), "step is inf"),
    (TensorRecord(8, 0, ONE, 0x0000, SCALE), "step is 0"),
    (TensorRecord(8, 0, ONE, 0xBC00, SCALE), "step is -"),
    (TensorRecord(8, 0, 0x7FC0, STEP, SCALE), "offset is nan"),
    (TensorRecord(8, 0, ONE, STEP, 0xFF80), "scale is -inf"),
    (TensorRecord(16, 0, ONE, 0x7F00, SCALE), "overflow"),
    (TensorRecord(8, 7, ONE, STEP, SCALE), "invalid model 7"),
])
def test_quantizer_and_model_parameters_are_validated(record, message):
    with pytest.raises(BitstreamError, match=message):
        unpack(_with_record(record))


def test_counts_that_disagree_with_the_bytes_are_refused():
    data = bytearray(pack(_stream()))
    data[16:18] = struct.pack("<H", 200)  # tensor count: more records than bytes (payload read as records)
    with pytest.raises(BitstreamError):
        unpack(_with_crc(bytes(data[:-4])))
    data = bytearray(pack(_stream()))
    data[10:12] = struct.pack("<H", 5000)  # section length past the end
    with pytest.raises(BitstreamError, match="truncated method section"):
        unpack(_with_crc(bytes(data[:-4])))


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
    candidate = _with_crc(bytes(base[:-4])) if data.draw(st.booleans()) else bytes(base)
    try:
        unpack(candidate)
    except BitstreamError:
        pass
