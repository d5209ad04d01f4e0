"""The method registry: fixed ids, dispatch by id, and the interface every method module has."""
from __future__ import annotations

import pytest

from inrcodec import methods
from inrcodec.bitstream import BitstreamError, Field, Stream, TensorRecord, pack
from inrcodec.decoder import decode, describe

INTERFACE = ("ID", "NAME", "SUMMARY", "SECTION", "VARIANTS", "read_section", "layout", "work_per_pixel",
             "reconstruct", "describe", "encode", "check_options", "bench_options")


def test_method_ids_are_fixed_numbers():
    assert methods.METHOD_IDS == {"coin": 1, "qat": 2, "mcnc": 3, "coinpp": 4, "grid": 5}


@pytest.mark.parametrize("name", methods.available())
def test_every_method_implements_the_interface(name):
    m = methods.get(name)
    assert all(hasattr(m, attr) for attr in INTERFACE), [a for a in INTERFACE if not hasattr(m, a)]
    assert m.NAME == name and methods.get(m.ID) is m
    assert all(isinstance(f, Field) for f in m.SECTION)


def test_streams_of_a_reserved_or_unknown_method_are_refused_clearly():
    for method_id, needle in ((methods.METHOD_IDS["coinpp"], r"method id 4 \(coinpp\)"), (200, "method id 200")):
        data = pack(Stream(method_id, 3, 4, 4, b"", [], b""))
        with pytest.raises(BitstreamError, match=needle):
            decode(data)
        with pytest.raises(BitstreamError, match=needle):
            describe(data)


def test_a_section_that_disagrees_with_the_records_is_refused():
    coin = methods.get("coin")
    section = b"\x02\x04\x00\x1e"  # 2 layers of 4: six tensors
    records = [TensorRecord(8, 0, 0, 0x3C00, 0x3F80)] * 5
    with pytest.raises(BitstreamError, match="5 tensor records, its section implies 6"):
        decode(pack(Stream(coin.ID, 3, 4, 4, section, records, b"")))
    with pytest.raises(BitstreamError, match="unexpected bytes"):  # Fourier fields, then one byte too many
        decode(pack(Stream(coin.ID, 3, 4, 4, section + b"\x02\xb3\x3f\x00", records + records[:1], b"")))
    with pytest.raises(BitstreamError, match="truncated COIN Fourier fields"):
        decode(pack(Stream(coin.ID, 3, 4, 4, section + b"\x00", records + records[:1], b"")))
    with pytest.raises(BitstreamError, match="invalid hidden_layers 0"):
        decode(pack(Stream(coin.ID, 3, 4, 4, b"\x00\x04\x00\x1e", records, b"")))
