"""The container: field tables with their ranges, pack/unpack, limits. No torch, no method.

Layout of format version 2 (all little-endian; ``docs/bitstream.md`` is the prose version of
these tables, and a change to one is a change to the other):

    common header   HEADER_FIELDS (magic, version, method id, channels, image size)
    method section  u16 length, then that many bytes; the method module reads its own fields
                    from them with :func:`unpack_fields` (fixed rows, then an optional tail)
    tensor records  u16 count, then TENSOR_FIELDS per coded tensor
    payload         u32 word count, then the range-coded words (constriction, u32 LE)
    CRC32           of every byte before it

Version 1 streams (COIN only, written before methods had their own sections) are still read:
:func:`unpack` turns them into the same :class:`Stream`, so they decode bit-exactly as before.
Everything the decoder needs to rebuild entropy models and quantizers is an integer or an exact
bfloat16 bit pattern, so entropy decoding is identical on every machine.
"""
from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field

from .errors import DataError

MAGIC = b"INR"
VERSION = 2
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Field:
    """One fixed-size field: struct code and the values a valid stream may hold (inclusive)."""

    name: str
    code: str
    doc: str
    lo: int | None = None
    hi: int | None = None
    choices: tuple[int, ...] | None = None

    def check(self, value: int) -> None:
        """Raise :class:`BitstreamError` unless ``value`` is allowed."""
        if self.choices is not None and value not in self.choices:
            raise BitstreamError(f"invalid {self.name} {value} (allowed: {', '.join(map(str, self.choices))})")
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise BitstreamError(f"invalid {self.name} {value} (allowed: {self.lo}..{self.hi})")


# Entropy model ids of a tensor record (fixed numbers).
MODEL_IDS: dict[str, int] = {"laplace": 0, "gaussian": 1, "bernoulli": 2}
MODEL_NAMES: dict[int, str] = {v: k for k, v in MODEL_IDS.items()}

HEADER_FIELDS: list[Field] = [
    Field("magic", "3s", 'b"INR"'),
    Field("version", "B", "format version", choices=READABLE_VERSIONS),
    Field("method", "B", "method id (inrcodec.methods.METHOD_IDS)", 1, 255),
    Field("channels", "B", "1 (grey) or 3 (RGB)", choices=(1, 3)),
    Field("width_minus_1", "H", "image width - 1"),
    Field("height_minus_1", "H", "image height - 1"),
]
SECTION_LENGTH_FIELDS: list[Field] = [Field("section_bytes", "H", "bytes of the method section that follow")]
TENSOR_COUNT_FIELDS: list[Field] = [Field("tensor_count", "H", "number of tensor records that follow")]
TENSOR_FIELDS: list[Field] = [
    Field("bits", "B", "symbol depth b: integers lie in [-(2^(b-1)-1), 2^(b-1)-1]; at 1 bit, -1 or +1", 1, 16),
    Field("model", "B", "entropy model id (0 Laplace, 1 Gaussian, 2 Bernoulli: 1-bit only)", choices=tuple(MODEL_NAMES)),
    Field("offset_bf16", "H", "quantizer offset, bfloat16 bits"),
    Field("step_bf16", "H", "quantizer step, bfloat16 bits"),
    Field("scale_bf16", "H", "entropy model scale in quantizer steps, bfloat16 bits"),
]
PAYLOAD_FIELDS: list[Field] = [Field("payload_words", "I", "number of u32 payload words")]
CRC_FIELDS: list[Field] = [Field("crc32", "I", "CRC32 (zlib) of all preceding bytes")]

# Version 1 (read only): COIN's section had a stream-wide symbol depth and no length prefix;
# records had no depth and one fewer byte; the record count followed from the architecture.
V1_COIN_SECTION: list[Field] = [
    Field("hidden_layers", "B", "number of sine layers", 1, 64),
    Field("width", "H", "features per hidden layer", 1),
    Field("w0", "B", "SIREN frequency w0", 1),
    Field("bits", "B", "symbol depth of every tensor", 2, 16),
]
V1_TENSOR_FIELDS: list[Field] = [f for f in TENSOR_FIELDS if f.name in ("offset_bf16", "step_bf16")] + [
    Field("model", "B", "entropy model id", choices=(0, 1)),
    Field("scale_bf16", "H", "entropy model scale, bfloat16 bits"),
]
V1_COIN_METHOD_ID = 1


class BitstreamError(DataError):
    """The data is not a valid stream this decoder can read (corrupt, truncated, unsupported)."""


class LimitError(BitstreamError):
    """The stream is valid but asks for more than the decoder's configured limits."""


@dataclass(frozen=True)
class DecodeLimits:
    """What a decoder agrees to spend, checked before any allocation.

    ``max_work`` bounds pixels x multiply-adds per pixel (about 10 s on 2 CPU cores at the
    default); ``max_parameters`` bounds the decoded network's size (its memory and the number
    of symbols the entropy decoder is asked for).
    """

    max_pixels: int = 1 << 26
    max_work: int = 1 << 38
    max_parameters: int = 1 << 24


@dataclass(frozen=True)
class TensorRecord:
    """Quantizer and entropy-model parameters of one coded tensor, as stored."""

    bits: int
    model: int
    offset_bf16: int
    step_bf16: int
    scale_bf16: int


@dataclass(frozen=True)
class Stream:
    """Everything in a stream, as integers and bytes; ``section`` is the method's, uninterpreted."""

    method: int
    channels: int
    width: int
    height: int
    section: bytes
    tensors: list[TensorRecord]
    payload: bytes
    version: int = VERSION
    section_bytes: dict[str, int] = field(default_factory=dict, compare=False)


def fmt(fields: list[Field]) -> str:
    """struct format of a field table."""
    return "<" + "".join(f.code for f in fields)


def size_of(fields: list[Field]) -> int:
    """Bytes a field table occupies."""
    return struct.calcsize(fmt(fields))


def overhead_bytes(section_size: int, n_tensors: int) -> int:
    """Bytes of a v2 stream that are not payload words: header, section, records, length, CRC."""
    return (size_of(HEADER_FIELDS) + size_of(SECTION_LENGTH_FIELDS) + section_size + size_of(TENSOR_COUNT_FIELDS)
            + n_tensors * size_of(TENSOR_FIELDS) + size_of(PAYLOAD_FIELDS) + size_of(CRC_FIELDS))


def pack_fields(fields: list[Field], values: dict[str, int]) -> bytes:
    """Serialize ``values`` by a field table, checking every range first."""
    for f in fields:
        if f.lo is not None or f.hi is not None or f.choices is not None:
            try:
                f.check(values[f.name])
            except BitstreamError as exc:
                raise ValueError(str(exc)) from None
    return struct.pack(fmt(fields), *(values[f.name] for f in fields))


def unpack_fields(fields: list[Field], data: bytes, what: str) -> tuple[dict[str, int], bytes]:
    """Read a field table from the start of ``data``, validating every range; returns (values, rest)."""
    n = size_of(fields)
    if len(data) < n:
        raise BitstreamError(f"truncated {what}: needs {n} bytes, has {len(data)}")
    values = dict(zip((f.name for f in fields), struct.unpack_from(fmt(fields), data)))
    for f in fields:
        f.check(values[f.name])
    return values, data[n:]


def bf16_value(bits: int) -> float:
    """The float value of a bfloat16 bit pattern (exact, as a Python float)."""
    return struct.unpack("<f", struct.pack("<I", bits << 16))[0]


_F32_MAX = 3.4028234663852886e38


def check_record(t: TensorRecord, k: int) -> None:
    """Refuse quantizer and model parameters that are not finite, positive where needed, or overflow."""
    offset, step, scale = bf16_value(t.offset_bf16), bf16_value(t.step_bf16), bf16_value(t.scale_bf16)
    if not math.isfinite(offset):
        raise BitstreamError(f"tensor record {k}: quantizer offset is {offset}")
    if not (math.isfinite(step) and step > 0):
        raise BitstreamError(f"tensor record {k}: quantizer step is {step} (must be finite and positive)")
    if not (math.isfinite(scale) and scale > 0):
        raise BitstreamError(f"tensor record {k}: entropy model scale is {scale} (must be finite and positive)")
    if t.model == MODEL_IDS["bernoulli"] and not (t.bits == 1 and scale < 1):
        raise BitstreamError(f"tensor record {k}: a Bernoulli model needs 1 bit and a probability below 1")
    if abs(offset) + step * max(1, (1 << (t.bits - 1)) - 1) > _F32_MAX:
        raise BitstreamError(f"tensor record {k}: offset and step overflow float32 at {t.bits} bits")


def pack(stream: Stream) -> bytes:
    """Serialize a stream in format version 2; the inverse of :func:`unpack` for v2 streams."""
    head = pack_fields(HEADER_FIELDS, {"magic": MAGIC, "version": VERSION, "method": stream.method,
                                       "channels": stream.channels, "width_minus_1": stream.width - 1,
                                       "height_minus_1": stream.height - 1})
    return seal(head + pack_body(stream.section, stream.tensors, stream.payload))


def pack_body(section: bytes, tensors: list[TensorRecord], payload: bytes) -> bytes:
    """Section, tensor records and payload, as every container after its own header lays them out."""
    if len(payload) % 4:
        raise ValueError("payload must be whole u32 words")
    out = bytearray(pack_fields(SECTION_LENGTH_FIELDS, {"section_bytes": len(section)}))
    out += section
    out += pack_fields(TENSOR_COUNT_FIELDS, {"tensor_count": len(tensors)})
    for k, t in enumerate(tensors):
        out += pack_fields(TENSOR_FIELDS, t.__dict__)
        check_record(t, k)
    out += pack_fields(PAYLOAD_FIELDS, {"payload_words": len(payload) // 4})
    return bytes(out + payload)


def seal(data: bytes) -> bytes:
    """``data`` followed by its CRC32."""
    return data + struct.pack(fmt(CRC_FIELDS), zlib.crc32(data))


def check_crc(data: bytes, header_size: int, what: str = "stream") -> bytes:
    """The bytes before the CRC32, if the CRC matches (covers any truncation or corruption)."""
    if len(data) < header_size + size_of(CRC_FIELDS):
        raise BitstreamError(f"truncated {what}: shorter than the header")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise BitstreamError(f"checksum mismatch: the {what} is corrupt or truncated")
    return data[:-4]


def unpack_body(rest: bytes) -> tuple[bytes, list[TensorRecord], bytes, dict[str, int]]:
    """Inverse of :func:`pack_body` (every field validated): section, records, payload, bytes per part."""
    n_section = unpack_fields(SECTION_LENGTH_FIELDS, rest, "method section length")[0]["section_bytes"]
    rest = rest[size_of(SECTION_LENGTH_FIELDS):]
    if len(rest) < n_section:
        raise BitstreamError(f"truncated method section: needs {n_section} bytes, has {len(rest)}")
    section, rest = bytes(rest[:n_section]), rest[n_section:]
    count, rest = unpack_fields(TENSOR_COUNT_FIELDS, rest, "tensor count")
    tensors = []
    for k in range(count["tensor_count"]):
        values, rest = unpack_fields(TENSOR_FIELDS, rest, f"tensor record {k}")
        tensors.append(TensorRecord(**values))
    sizes = {"method_section": size_of(SECTION_LENGTH_FIELDS) + n_section,
             "tensor_records": size_of(TENSOR_COUNT_FIELDS) + len(tensors) * size_of(TENSOR_FIELDS)}
    payload, sizes["payload"] = _payload(tensors, rest)
    return section, tensors, payload, sizes


def _payload(tensors: list[TensorRecord], rest: bytes) -> tuple[bytes, int]:
    for k, t in enumerate(tensors):
        check_record(t, k)
    words = unpack_fields(PAYLOAD_FIELDS, rest, "payload length")[0]["payload_words"]
    rest = rest[size_of(PAYLOAD_FIELDS):]
    if 4 * words != len(rest):
        raise BitstreamError(f"payload length mismatch: header says {4 * words} bytes, stream has {len(rest)}")
    return bytes(rest), size_of(PAYLOAD_FIELDS) + 4 * words


def unpack(data: bytes, limits: DecodeLimits = DecodeLimits()) -> Stream:
    """Parse and validate a stream (v1 or v2). Raises :class:`BitstreamError` on anything invalid.

    The method section is returned as bytes: the method module validates its own fields.
    """
    if len(data) < 4 or data[:3] != MAGIC:
        raise BitstreamError("not an inrcodec stream (bad magic)")
    if data[3] not in READABLE_VERSIONS:
        raise BitstreamError(f"unsupported format version {data[3]} (this decoder reads versions "
                             f"{', '.join(map(str, READABLE_VERSIONS))})")
    body = check_crc(data, size_of(HEADER_FIELDS))
    head, rest = unpack_fields(HEADER_FIELDS, body, "header")
    width, height = head["width_minus_1"] + 1, head["height_minus_1"] + 1
    if width * height > limits.max_pixels:
        raise LimitError(f"image of {width}x{height} exceeds the limit of {limits.max_pixels} pixels "
                         "(raise it with --max-pixels)")
    sizes = {"header": size_of(HEADER_FIELDS)}
    if head["version"] == 1:
        section, tensors, rest = _v1_section_and_records(head["method"], rest)
        sizes["method_section"] = size_of(V1_COIN_SECTION)
        sizes["tensor_records"] = len(tensors) * size_of(V1_TENSOR_FIELDS)
        payload, sizes["payload"] = _payload(tensors, rest)
    else:
        section, tensors, payload, body_sizes = unpack_body(rest)
        sizes |= body_sizes
    sizes["crc"] = size_of(CRC_FIELDS)
    return Stream(method=head["method"], channels=head["channels"], width=width, height=height, section=section,
                  tensors=tensors, payload=payload, version=head["version"], section_bytes=sizes)


def _v1_section_and_records(method: int, rest: bytes) -> tuple[bytes, list[TensorRecord], bytes]:
    """Version 1: the COIN section and records, rewritten as the v2 COIN section and records."""
    if method != V1_COIN_METHOD_ID:
        raise BitstreamError(f"unsupported method id {method} in format version 1 (only COIN, id 1)")
    p, rest = unpack_fields(V1_COIN_SECTION, rest, "method section")
    tensors = []
    for k in range(2 * (p["hidden_layers"] + 1)):  # weight and bias per layer, v1's fixed SIREN layout
        values, rest = unpack_fields(V1_TENSOR_FIELDS, rest, f"tensor record {k}")
        tensors.append(TensorRecord(bits=p["bits"], **values))
    # The v2 COIN section (methods/coin.py) is hidden_layers u8, width u16, w0 u8.
    section = struct.pack("<BHB", p["hidden_layers"], p["width"], p["w0"])
    return section, tensors, rest
