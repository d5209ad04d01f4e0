"""One piece of bench work: a codec variant on one image (all its settings), or one of our
methods on one image at one rate.

Units are pure: they get the image's bytes and the records already cached (filled by the driver
in :mod:`inrcodec.benchmark`) and return their new records and the streams to keep, touching no
disk, so they run the same in-process, in a process pool or as Ray tasks. Our methods come from
the method registry (:mod:`inrcodec.methods`): each method module says which bench names it
answers to.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import methods as registry
from .baselines import search_quality
from .errors import OptionError
from .images import decode_image_bytes
from .metrics import ms_ssim, psnr


@dataclass
class Unit:
    """One codec variant (or our method) on one image: the smallest piece of work."""

    codec: str
    image: Path
    rates: list[float]
    out: Path
    method_tag: str = ""  # for our methods: effort or steps, part of the cache key
    steps: int | None = None
    effort: str = "fast"
    threads: int | None = None  # torch threads for our methods (1 when several jobs share the cores)
    device: str = "cpu"
    provenance: dict[str, str] = field(default_factory=dict)
    cached: dict[str, dict[str, Any]] = field(default_factory=dict)  # setting -> record, filled by the driver
    image_bytes: bytes = b""  # filled by the driver: workers need no shared filesystem
    streams_in: dict[str, bytes] = field(default_factory=dict)  # cached streams a unit re-reads (MS-SSIM backfill)

    def cache_codec(self) -> str:
        """The codec name of this unit's cache file."""
        return f"{self.codec}-{self.method_tag}" if self.method_tag else self.codec

    def label(self) -> str:
        """What progress lines call this unit."""
        rate = f" at {self.rates[0]:g} bpp" if self.method_tag and len(self.rates) == 1 else ""
        return f"{self.codec} {self.image.name}{rate}"


@dataclass
class Outcome:
    """What a unit gives back: every record of it (cached ones too), the records to append to
    the cache, and the streams to write (path relative to the output directory -> bytes)."""

    records: list[dict[str, Any]]
    new: list[dict[str, Any]] = field(default_factory=list)
    streams: dict[str, bytes] = field(default_factory=dict)


class _Pending:
    """A unit's view of its cache: the driver's records, plus what the unit adds (kept in memory)."""

    def __init__(self, unit: Unit):
        self.records, self.provenance, self.new = dict(unit.cached), unit.provenance, []

    def get(self, setting: str) -> dict[str, Any] | None:
        return self.records.get(setting)

    def put(self, record: dict[str, Any]) -> dict[str, Any]:
        record = record | self.provenance
        self.records[record["setting"]] = record
        self.new.append(record)
        return record


def _measure(image: np.ndarray, decoded: np.ndarray, nbytes: int) -> dict[str, Any]:
    pixels = image.shape[0] * image.shape[1]
    if decoded.shape != image.shape:
        raise ValueError(f"decoded shape {decoded.shape} differs from input {image.shape}")
    rgb = image if image.shape[2] == 3 else np.repeat(image, 3, axis=2)
    rgb_dec = decoded if decoded.shape[2] == 3 else np.repeat(decoded, 3, axis=2)
    return {"bytes": nbytes, "bpp": nbytes * 8 / pixels, "psnr": psnr(image, decoded), "ms_ssim": ms_ssim(rgb, rgb_dec)}


def _run_classic(unit: Unit) -> Outcome:
    from .baselines import available_codecs

    codec = available_codecs()[0][unit.codec]
    image = decode_image_bytes(unit.image_bytes, unit.image.name)
    name = unit.image.stem
    base = {"image": name, "codec": unit.codec, "family": codec.family, "kind": "classic", "config": codec.config,
            "width": image.shape[1], "height": image.shape[0]}
    records = []
    cache = _Pending(unit)
    sweep: dict[int, float] = {}
    for q in codec.qualities:
        rec = _with_ms_ssim(cache, cache.get(f"q={q}"), codec, image)
        if rec is None:
            t0 = time.perf_counter()
            data = codec.encode(image, q)
            t1 = time.perf_counter()
            decoded = codec.decode_like(data, image)
            t2 = time.perf_counter()
            rec = base | {"setting": f"q={q}", "quality": q, "target": None, "encode_s": t1 - t0,
                          "decode_s": t2 - t1} | _measure(image, decoded, len(data))
            rec = cache.put(rec)
        sweep[q] = rec["bpp"]
        records.append(rec)
    for rate in unit.rates:
        if cache.get(f"target={rate}") is not None:
            records.append(_with_ms_ssim(cache, cache.get(f"target={rate}"), codec, image))
            continue
        # Bisect only inside the sweep's bracket around the target (sweep bpp grows with quality).
        below = [q for q, b in sweep.items() if b <= rate]
        above = [q for q, b in sweep.items() if b > rate]
        lo = max(below) if below else codec.knob_range[0]
        hi = min(above) if above else codec.knob_range[1]
        found = search_quality(replace(codec, knob_range=(lo, hi)), image, rate)
        if found is None and lo != codec.knob_range[0]:
            found = search_quality(codec, image, rate)
        if found is None:
            rec = base | {"setting": f"target={rate}", "quality": None, "target": rate, "bpp": None, "psnr": None,
                          "error": f"even the lowest quality exceeds {rate} bpp"}
        else:
            q, data, decoded = found
            rec = base | {"setting": f"target={rate}", "quality": q, "target": rate} | _measure(
                image, decoded, len(data))
        records.append(cache.put(rec))
    return Outcome(records, cache.new)


def _with_ms_ssim(cache: _Pending, rec: dict[str, Any] | None, codec, image: np.ndarray) -> dict[str, Any] | None:
    """A cached classic record, given its MS-SSIM if it lacks one (re-running the codec at the
    record's quality, which is deterministic)."""
    if rec is None or rec.get("ms_ssim") is not None or rec.get("quality") is None or rec.get("bpp") is None:
        return rec
    data, decoded = codec.run(image, rec["quality"])
    if len(data) != rec["bytes"]:
        return rec  # another library version: the cached point is not this codec's any more
    value = _measure(image, decoded, len(data))["ms_ssim"]
    return rec if value is None else cache.put(rec | {"ms_ssim": value})


def resolve_method(name: str, rate: float) -> tuple[str, dict[str, Any]] | None:
    """(registered method, its options with ``bpp``) for a bench name such as ``coin8``; None if no method has it."""
    for method in registry.available():
        opts = registry.get(method).bench_options(name, rate)
        if opts is not None:
            return method, opts
    return None


def describe_methods() -> str:
    """What ``inrcodec bench --methods list`` prints: every method and the bench names it takes."""
    lines = []
    for name in registry.available():
        m = registry.get(name)
        lines.append(f"{name} (id {m.ID}): {m.SUMMARY}\n    bench names: {m.VARIANTS}")
    return "\n".join(lines) + "\n"


def our_options(name: str, rate: float, effort: str, steps: int | None, device: str = "cpu"):
    """EncodeOptions for one of our bench names at a rate (OptionError if none)."""
    found = resolve_method(name, rate)
    if found is None:
        raise OptionError(f"unknown method {name!r}; `inrcodec bench --methods list` shows them")
    method, opts = found
    bpp = opts.pop("bpp")
    return registry.EncodeOptions(bpp=bpp, method=method, method_options=opts, effort=effort, steps=steps,
                                  device=device)


def _run_ours(unit: Unit) -> Outcome:
    import torch

    from .decoder import decode
    from .encoder import encode
    from .errors import DataError

    image = decode_image_bytes(unit.image_bytes, unit.image.name)
    name = unit.image.stem
    codec = unit.cache_codec()
    records = []
    streams: dict[str, bytes] = {}
    cache = _Pending(unit)
    for rate in unit.rates:
        if cache.get(f"target={rate}") is not None:
            records.append(_ours_with_ms_ssim(cache, cache.get(f"target={rate}"), unit.streams_in, image))
            continue
        base = {"image": name, "codec": codec, "family": unit.codec, "kind": "ours", "setting": f"target={rate}",
                "target": rate, "width": image.shape[1], "height": image.shape[0]}
        try:
            res = encode(image, our_options(unit.codec, rate, unit.effort, unit.steps, unit.device))
        except DataError as exc:
            rec = base | {"bpp": None, "psnr": None, "error": str(exc)}
        else:
            stream = f"streams/{codec}/{name}-{rate}.inr"
            streams[stream] = res.data
            t0 = time.perf_counter()
            decoded = decode(res.data)
            rec = base | {"quality": None, "encode_s": res.seconds, "decode_s": time.perf_counter() - t0,
                          "steps": res.steps, "config": f"{res.config}, {res.steps} steps",
                          "device": device_name(unit.device), "threads": torch.get_num_threads(),
                          "best_step": res.best_step,
                          "restarts": res.restarts, "warnings": res.warnings,
                          "stream": stream,
                          # the method's scalar diagnostics (lambda, fit before quantization, ...)
                          "details": {k: v for k, v in res.details.items() if isinstance(v, (int, float, str))}} | {
                k: res.details[k] for k in ("architecture", "bits") if k in res.details} | _measure(
                image, decoded, len(res.data))
        records.append(cache.put(rec))
    return Outcome(records, cache.new, streams)


def _ours_with_ms_ssim(cache: _Pending, rec: dict[str, Any], streams: dict[str, bytes], image: np.ndarray
                       ) -> dict[str, Any]:
    """A cached record of ours, given its MS-SSIM from its stored stream when it lacks one
    (records made before streams were kept have none, and stay without)."""
    from .decoder import decode

    if rec.get("ms_ssim") is not None or rec.get("stream") not in streams:
        return rec
    value = _measure(image, decode(streams[rec["stream"]]), rec["bytes"])["ms_ssim"]
    return rec if value is None else cache.put(rec | {"ms_ssim": value})


def device_name(device: str) -> str:
    """What records and report headers call a device: the GPU's name, or "cpu"."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return "cpu"


def _run_learned(unit: Unit) -> Outcome:
    from .learned import QUALITIES, run_live

    image = decode_image_bytes(unit.image_bytes, unit.image.name)
    if image.shape[2] != 3:
        raise ValueError("CompressAI models take RGB images only")
    model = unit.codec.removeprefix("compressai:")
    records = []
    cache = _Pending(unit)
    for q in QUALITIES[model]:
        if cache.get(f"q={q}") is None:
            t0 = time.perf_counter()
            nbytes, decoded = run_live(model, q, image)
            rec = {"image": unit.image.stem, "codec": unit.codec, "family": "compressai", "kind": "learned",
                   "setting": f"q={q}", "quality": q, "target": None, "encode_s": time.perf_counter() - t0,
                   "config": f"compressai.zoo {model} mse q{q}, run live", "width": image.shape[1],
                   "height": image.shape[0]} | _measure(image, decoded, nbytes)
            cache.put(rec)
        records.append(cache.get(f"q={q}"))
    return Outcome(records, cache.new)


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch threads (None: as they are), then restore the count. Units share a
    process (in-process runs, pools): a classic unit's one thread once carried over to the grid
    units after it in a ``-j 1`` run, which then trained on one core of two (2026-12-07)."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_unit(unit: Unit) -> Outcome:
    """The unit's work, by its kind (ours, CompressAI, or a classic codec); our methods get
    ``unit.threads`` torch threads (None: the process's), the classic codecs' metrics one."""
    if unit.method_tag:
        with _torch_threads(unit.threads):
            return _run_ours(unit)
    if unit.codec.startswith("compressai:"):
        return _run_learned(unit)
    with _torch_threads(1):
        return _run_classic(unit)


def run_safely(unit: Unit) -> tuple[Outcome | None, str | None]:
    """(outcome, None), or (None, the error in a line) when the unit failed."""
    try:
        return run_unit(unit), None
    except Exception as exc:  # noqa: BLE001 -- one codec failing on one image must not end the run
        return None, f"{type(exc).__name__}: {exc}"
