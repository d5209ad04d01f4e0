"""The bitstream container: fields, limits and validation. Knows nothing of training or torch.

Layout (all little-endian; ``docs/bitstream.md`` is the prose version of these tables):

    common header   HEADER_FIELDS
    method section  METHOD_SECTIONS[method] (COIN: architecture and bit depth)
    tensor records  TENSOR_FIELDS, one per parameter tensor, in network order
    payload         u32 word count, then the range-coded words (constriction, u32 LE)
    CRC32           of every byte before it

Every number the decoder needs to rebuild the entropy model and the network is here as an
integer or as an exact bfloat16 bit pattern, so entropy decoding is identical on any machine.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

MAGIC = b"INR"
VERSION = 1

# Fixed numbers, never derived from an ordering. Only COIN is decodable in format version 1;
# the others are reserved so that files from later versions get a clear refusal.
METHOD_IDS: dict[str, int] = {"coin": 1, "qat": 2, "mcnc": 3, "coinpp": 4}
METHOD_NAMES: dict[int, str] = {v: k for k, v in METHOD_IDS.items()}

# Entropy model ids of a tensor record.
MODEL_IDS: dict[str, int] = {"laplace": 0, "gaussian": 1}
MODEL_NAMES: dict[int, str] = {v: k for k, v in MODEL_IDS.items()}

# (name, struct code, description) -- the single field table mirrored by docs/bitstream.md.
HEADER_FIELDS: list[tuple[str, str, str]] = [
    ("magic", "3s", 'b"INR"'),
    ("version", "B", "format version, 1"),
    ("method", "B", "method id (1 COIN, 2 QAT, 3 MCNC, 4 COIN++)"),
    ("channels", "B", "1 (grey) or 3 (RGB)"),
    ("width_minus_1", "H", "image width - 1"),
    ("height_minus_1", "H", "image height - 1"),
]
METHOD_SECTIONS: dict[int, list[tuple[str, str, str]]] = {
    METHOD_IDS["coin"]: [
        ("hidden_layers", "B", "number of sine layers (COIN's num_layers), 1..64"),
        ("width", "H", "features per hidden layer, 1..limit (default 1024)"),
        ("w0", "B", "SIREN frequency w0 (integer)"),
        ("bits", "B", "quantizer bit depth, 2..16"),
    ],
}
TENSOR_FIELDS: list[tuple[str, str, str]] = [
    ("offset_bf16", "H", "quantizer offset, bfloat16 bits"),
    ("step_bf16", "H", "quantizer step, bfloat16 bits"),
    ("model", "B", "entropy model id (0 Laplace, 1 Gaussian)"),
    ("scale_bf16", "H", "entropy model scale in quantizer steps, bfloat16 bits"),
]
PAYLOAD_FIELDS: list[tuple[str, str, str]] = [("payload_words", "I", "number of u32 payload words")]
CRC_FIELDS: list[tuple[str, str, str]] = [("crc32", "I", "CRC32 (zlib) of all preceding bytes")]

MAX_HIDDEN_LAYERS = 64


class BitstreamError(ValueError):
    """The data is not a valid stream this decoder can read (corrupt, truncated, unsupported)."""


class LimitError(BitstreamError):
    """The stream is valid but asks for more than the decoder's configured limits."""


@dataclass(frozen=True)
class DecodeLimits:
    """What a decoder agrees to allocate; checked before any allocation."""

    max_pixels: int = 1 << 28
    max_width: int = 1024  # features per hidden layer


@dataclass(frozen=True)
class TensorRecord:
    """Quantizer and entropy-model parameters of one tensor, as stored."""

    offset_bf16: int
    step_bf16: int
    model: int
    scale_bf16: int


@dataclass(frozen=True)
class Stream:
    """Everything in a stream, as integers and bytes (no floats computed here)."""

    method: int
    channels: int
    width: int
    height: int
    params: dict[str, int]
    tensors: list[TensorRecord]
    payload: bytes
    version: int = VERSION
    section_bytes: dict[str, int] = field(default_factory=dict, compare=False)


def _fmt(fields: list[tuple[str, str, str]]) -> str:
    return "<" + "".join(code for _, code, _ in fields)


def num_tensors(method: int, params: dict[str, int]) -> int:
    """Number of tensor records a method section implies."""
    if method == METHOD_IDS["coin"]:
        return 2 * (params["hidden_layers"] + 1)
    raise BitstreamError(f"no tensor layout for method {method}")


def tensor_sizes(method: int, params: dict[str, int], channels: int) -> list[int]:
    """Element count of every tensor record, in order (what the payload decodes to)."""
    if method != METHOD_IDS["coin"]:
        raise BitstreamError(f"no tensor layout for method {method}")
    w, n = params["width"], params["hidden_layers"]
    shapes = [(w, 2)] + [(w, w)] * (n - 1) + [(channels, w)]
    sizes: list[int] = []
    for o, i in shapes:
        sizes += [o * i, o]
    return sizes


def pack(stream: Stream) -> bytes:
    """Serialize a stream; the inverse of :func:`unpack`."""
    section = METHOD_SECTIONS[stream.method]
    out = bytearray()
    out += struct.pack(_fmt(HEADER_FIELDS), MAGIC, stream.version, stream.method, stream.channels,
                       stream.width - 1, stream.height - 1)
    out += struct.pack(_fmt(section), *(stream.params[name] for name, _, _ in section))
    if len(stream.tensors) != num_tensors(stream.method, stream.params):
        raise ValueError("tensor record count does not match the architecture")
    for t in stream.tensors:
        out += struct.pack(_fmt(TENSOR_FIELDS), t.offset_bf16, t.step_bf16, t.model, t.scale_bf16)
    if len(stream.payload) % 4:
        raise ValueError("payload must be whole u32 words")
    out += struct.pack(_fmt(PAYLOAD_FIELDS), len(stream.payload) // 4)
    out += stream.payload
    out += struct.pack(_fmt(CRC_FIELDS), zlib.crc32(out))
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, fields: list[tuple[str, str, str]], what: str) -> dict[str, int]:
        fmt = _fmt(fields)
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise BitstreamError(f"truncated stream: {what} needs {size} bytes at offset {self.pos}")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return {name: v for (name, _, _), v in zip(fields, values)}


def unpack(data: bytes, limits: DecodeLimits = DecodeLimits()) -> Stream:
    """Parse and validate a stream. Raises :class:`BitstreamError` on anything invalid."""
    if len(data) < 4 or data[:3] != MAGIC:
        raise BitstreamError("not an inrcodec stream (bad magic)")
    if data[3] != VERSION:
        raise BitstreamError(f"unsupported format version {data[3]} (this decoder reads version {VERSION})")
    if len(data) < struct.calcsize(_fmt(HEADER_FIELDS)) + 4:
        raise BitstreamError("truncated stream: shorter than the header")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise BitstreamError("checksum mismatch: the stream is corrupt or truncated")
    body = data[:-4]
    r = _Reader(body)
    head = r.read(HEADER_FIELDS, "header")
    method = head["method"]
    if method not in METHOD_SECTIONS:
        name = METHOD_NAMES.get(method, "unknown")
        raise BitstreamError(f"unsupported method id {method} ({name}) in format version {VERSION}")
    if head["channels"] not in (1, 3):
        raise BitstreamError(f"invalid channel count {head['channels']}")
    width, height = head["width_minus_1"] + 1, head["height_minus_1"] + 1
    if width * height > limits.max_pixels:
        raise LimitError(f"image of {width}x{height} exceeds the limit of {limits.max_pixels} pixels")
    header_end = r.pos
    params = r.read(METHOD_SECTIONS[method], "method section")
    if not 1 <= params["hidden_layers"] <= MAX_HIDDEN_LAYERS:
        raise BitstreamError(f"invalid layer count {params['hidden_layers']}")
    if params["width"] < 1:
        raise BitstreamError("invalid layer width 0")
    if params["width"] > limits.max_width:
        raise LimitError(f"layer width {params['width']} exceeds the limit of {limits.max_width}")
    if not 2 <= params["bits"] <= 16:
        raise BitstreamError(f"invalid bit depth {params['bits']}")
    if params["w0"] == 0:
        raise BitstreamError("invalid w0 of 0")
    section_end = r.pos
    tensors = []
    for k in range(num_tensors(method, params)):
        t = r.read(TENSOR_FIELDS, f"tensor record {k}")
        if t["model"] not in MODEL_NAMES:
            raise BitstreamError(f"unknown entropy model id {t['model']} in tensor record {k}")
        tensors.append(TensorRecord(**t))
    tensors_end = r.pos
    words = r.read(PAYLOAD_FIELDS, "payload length")["payload_words"]
    if r.pos + 4 * words != len(body):
        raise BitstreamError(f"payload length mismatch: header says {4 * words} bytes, "
                             f"stream has {len(body) - r.pos}")
    sizes = {"header": header_end, "method_section": section_end - header_end,
             "tensor_records": tensors_end - section_end, "payload": 4 + 4 * words, "crc": 4}
    return Stream(method=method, channels=head["channels"], width=width, height=height, params=params,
                  tensors=tensors, payload=bytes(body[r.pos:]), version=data[3], section_bytes=sizes)
