"""Entropy coding of quantized tensors with constriction (no torch, no training code).

Each tensor gets its own parametric model, zero-centred (the quantizer's offset is the
tensor's median): a quantized Laplace or Gaussian over the tensor's symbol range (its bit
depth), whose scale is stored as bfloat16 bits. All tensors share one range-coded stream.
The decoder builds the models only from those stored bits, so decoding is identical on
every machine. One-bit tensors (integers -1 and +1) are coded as (q + 1) / 2, with equal
probabilities (Laplace or Gaussian model id: the scale is unused) or with a Bernoulli model
whose stored scale is P(+1) (skewed tensors, such as pruning masks).
"""
from __future__ import annotations

import constriction
import numpy as np

from .bitstream import MODEL_IDS, BitstreamError
from .quantize import from_bf16_bits, max_level, to_bf16_bits

_MIN_SCALE = 0.05  # in quantizer steps; keeps the models well defined for constant tensors
_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)
_BINARY = (MODEL_IDS["laplace"], 0x3F80)  # a 1-bit record with equal probabilities: Laplace, scale 1.0 (unused)


def _model(model_id: int, scale_bf16: int, bits: int):
    levels = max_level(bits)
    scale = float(from_bf16_bits(scale_bf16))
    if not np.isfinite(scale) or scale <= 0:
        raise BitstreamError(f"invalid entropy model scale {scale}")
    if model_id == MODEL_IDS["bernoulli"]:
        if bits != 1 or not scale < 1:
            raise BitstreamError(f"a Bernoulli model needs 1-bit symbols and a probability in (0, 1), got "
                                 f"{bits} bits and {scale}")
        return constriction.stream.model.Bernoulli(scale, perfect=False)
    if bits == 1:
        return constriction.stream.model.Bernoulli(0.5, perfect=False)
    if model_id == MODEL_IDS["laplace"]:
        return constriction.stream.model.QuantizedLaplace(-levels, levels, 0.0, scale)
    if model_id == MODEL_IDS["gaussian"]:
        return constriction.stream.model.QuantizedGaussian(-levels, levels, 0.0, scale)
    raise BitstreamError(f"unknown entropy model id {model_id}")


def _coded_bits(q: np.ndarray, model) -> int:
    enc = constriction.stream.queue.RangeEncoder()
    enc.encode(q, model)
    return int(enc.num_bits())


def choose_model(q: np.ndarray, bits: int) -> tuple[int, int]:
    """Pick the entropy model (id, scale bfloat16 bits) that codes ``q`` in the fewest bits."""
    q = np.ascontiguousarray(q, dtype=np.int32)
    if bits == 1:
        # Equal probabilities, or P(+1) as a Bernoulli parameter (skewed tensors such as masks).
        p = float(np.mean(q > 0)) if q.size else 0.5
        candidates = [_BINARY, (MODEL_IDS["bernoulli"], to_bf16_bits(min(max(p, 1 / 256), 255 / 256)))]
    else:
        mean_abs = float(np.mean(np.abs(q))) if q.size else 1.0
        rms = float(np.sqrt(np.mean(q.astype(np.float64) ** 2))) if q.size else 1.0
        candidates = [
            (MODEL_IDS["laplace"], to_bf16_bits(max(mean_abs, _MIN_SCALE))),
            (MODEL_IDS["gaussian"], to_bf16_bits(max(rms, _MIN_SCALE))),
        ]
    if q.size == 0:
        return candidates[0]
    return min(candidates, key=lambda c: _coded_bits(_symbols(q, bits), _model(c[0], c[1], bits)))


def _symbols(q: np.ndarray, bits: int) -> np.ndarray:
    """What the coder sees: the integers themselves, or (q + 1) / 2 for 1-bit tensors."""
    return ((q + 1) >> 1).astype(np.int32) if bits == 1 else q


class Encoder:
    """One range-coded payload into which tensors are added in order, each with its own model."""

    def __init__(self) -> None:
        self._enc = constriction.stream.queue.RangeEncoder()

    def add(self, q: np.ndarray, bits: int) -> tuple[int, int]:
        """Code the integers ``q`` at depth ``bits``; returns the (model id, scale bits) chosen."""
        levels = max_level(bits)
        q = np.ascontiguousarray(q, dtype=np.int32).reshape(-1)
        if q.size and (q.min() < -levels or q.max() > levels):
            raise ValueError(f"symbols outside [-{levels}, {levels}] for {bits} bits")
        if bits == 1 and np.any(q == 0):
            raise ValueError("1-bit symbols must be -1 or +1")
        model_id, scale_bits = choose_model(q, bits)
        if q.size:
            self._enc.encode(_symbols(q, bits), _model(model_id, scale_bits, bits))
        return model_id, scale_bits

    def add_categorical(self, symbols: np.ndarray, frequencies: np.ndarray) -> None:
        """Code ``symbols[i]`` in 0..K-1 with row i of an (n, K) table of exact integer frequencies
        (float64; constriction's ``Categorical(perfect=False)``, deterministic for exact inputs)."""
        if len(symbols):
            self._enc.encode(np.ascontiguousarray(symbols, dtype=np.int32), _CATEGORICAL,
                             np.ascontiguousarray(frequencies, dtype=np.float64))

    def payload(self) -> bytes:
        """The coded words, little-endian u32."""
        return self._enc.get_compressed().astype("<u4").tobytes()


class Decoder:
    """Reads tensors back from a payload, in the order they were added."""

    def __init__(self, payload: bytes) -> None:
        if len(payload) % 4:
            raise BitstreamError("payload is not a whole number of 32-bit words")
        words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
        self._dec = constriction.stream.queue.RangeDecoder(words)

    def take(self, size: int, bits: int, model_id: int, scale_bits: int) -> np.ndarray:
        """The next ``size`` integers (flat int32) of a tensor with these record fields."""
        model = _model(model_id, scale_bits, bits)
        if not size:
            return np.zeros(0, np.int32)
        try:
            symbols = np.asarray(self._dec.decode(model, size), dtype=np.int32)
        except Exception as exc:  # constriction signals corrupt data with assorted exceptions
            raise BitstreamError(f"entropy decoding failed: {exc}") from exc
        return 2 * symbols - 1 if bits == 1 else symbols

    def take_categorical(self, frequencies: np.ndarray) -> np.ndarray:
        """The next ``len(frequencies)`` symbols (int64), coded by :meth:`Encoder.add_categorical`."""
        if not len(frequencies):
            return np.zeros(0, np.int64)
        try:
            return np.asarray(self._dec.decode(_CATEGORICAL, np.ascontiguousarray(frequencies, dtype=np.float64)),
                              dtype=np.int64)
        except Exception as exc:  # constriction signals corrupt data with assorted exceptions
            raise BitstreamError(f"entropy decoding failed: {exc}") from exc


def encode_tensors(qs: list[np.ndarray], bits: list[int]) -> tuple[list[tuple[int, int]], bytes]:
    """Range-code integer tensors, each at its bit depth; returns their (model id, scale bits) and the payload."""
    enc = Encoder()
    models = [enc.add(q, b) for q, b in zip(qs, bits, strict=True)]
    return models, enc.payload()


def decode_tensors(payload: bytes, sizes: list[int], bits: list[int],
                   models: list[tuple[int, int]]) -> list[np.ndarray]:
    """Inverse of :func:`encode_tensors`: flat int32 arrays of the given sizes."""
    dec = Decoder(payload)
    return [dec.take(size, b, m, s) for size, b, (m, s) in zip(sizes, bits, models, strict=True)]
