"""The benchmark runner: codecs x images x settings, one cached JSON record per result.

A record is one (image, codec, setting): ``setting`` is ``q=<quality>`` for a sweep point or
``target=<bpp>`` for the largest quality whose file fits that budget. Records are appended to
``<out>/cache/<codec>/<image>.jsonl``; an interrupted run resumes where it stopped.
A codec that is missing or fails on an image is reported and skipped, never fatal.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .baselines import search_quality
from .images import decode_image_bytes
from .metrics import ms_ssim, psnr

CLASSIC_FAMILIES = ("jpeg", "jpeg2000", "webp", "avif", "heic", "jxl")
DEFAULT_RATES = (0.07, 0.15, 0.3, 0.6, 1.2)


@dataclass
class BenchOptions:
    """What to run. ``codecs`` are families (variants such as jpeg-444/-420 run together)."""

    images: list[Path]
    out: Path
    codecs: list[str] = field(default_factory=lambda: list(CLASSIC_FAMILIES))
    methods: list[str] = field(default_factory=list)
    rates: list[float] = field(default_factory=lambda: list(DEFAULT_RATES))
    effort: str = "fast"
    steps: int | None = None
    jobs: int = 1
    dataset: str = "kodak"
    device: str = "cpu"  # where our methods train; not "cpu" adds the device to the cache key
    provenance: dict[str, str] = field(default_factory=dict)  # command, machine, date: stamped on new records


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


class _Cache:
    """Records of one (codec, image): ``<out>/cache/<codec>/<image>.jsonl``, one line per setting.

    Appending a line is the commit point; a torn last line (a killed run) is ignored on load.
    """

    def __init__(self, out: Path, codec: str, image: str, provenance: dict[str, str] | None = None):
        self.provenance = provenance or {}
        self.path = out / "cache" / codec.replace(":", "_") / f"{image}.jsonl"
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                self.records[rec["setting"]] = rec

    def get(self, setting: str) -> dict[str, Any] | None:
        return self.records.get(setting)

    def put(self, record: dict[str, Any]) -> dict[str, Any]:
        record = record | self.provenance
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.records[record["setting"]] = record
        return record


def _measure(image: np.ndarray, decoded: np.ndarray, nbytes: int) -> dict[str, Any]:
    pixels = image.shape[0] * image.shape[1]
    if decoded.shape != image.shape:
        raise ValueError(f"decoded shape {decoded.shape} differs from input {image.shape}")
    rgb = image if image.shape[2] == 3 else np.repeat(image, 3, axis=2)
    rgb_dec = decoded if decoded.shape[2] == 3 else np.repeat(decoded, 3, axis=2)
    return {"bytes": nbytes, "bpp": nbytes * 8 / pixels, "psnr": psnr(image, decoded), "ms_ssim": ms_ssim(rgb, rgb_dec)}


def _run_classic(unit: Unit) -> list[dict[str, Any]]:
    import torch

    from .baselines import available_codecs

    torch.set_num_threads(1)
    codec = available_codecs()[0][unit.codec]
    image = decode_image_bytes(unit.image.read_bytes(), unit.image.name)
    name = unit.image.stem
    base = {"image": name, "codec": unit.codec, "family": codec.family, "kind": "classic", "config": codec.config,
            "width": image.shape[1], "height": image.shape[0]}
    records = []
    cache = _Cache(unit.out, unit.codec, name, unit.provenance)
    sweep: dict[int, float] = {}
    for q in codec.qualities:
        rec = cache.get(f"q={q}")
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
            records.append(cache.get(f"target={rate}"))
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
    return records


OUR_METHODS = "coin, coin-paper, coin<bits> (e.g. coin8), coin<bits>u (uniform depth, e.g. coin8u)"


def our_options(method: str, rate: float, effort: str, steps: int | None, device: str = "cpu"):
    """EncodeOptions for one of our bench methods at a rate.

    ``coin``: rate control (architecture and bit depth chosen for the budget);
    ``coin-paper``: COIN's architecture for the rate with 16-bit weights (the replication;
    COIN's five rates only); ``coin<N>``: rate control with N-bit weights (the first layer at
    14 bits at least); ``coin<N>u``: the same with every tensor at N bits, as in COIN.
    """
    from .encoder import EncodeOptions
    from .ratecontrol import COIN_ARCHITECTURES

    if method == "coin":
        return EncodeOptions(bpp=rate, effort=effort, steps=steps, device=device)
    if method == "coin-paper":
        if rate not in COIN_ARCHITECTURES:
            raise ValueError(f"coin-paper is defined at COIN's rates {sorted(COIN_ARCHITECTURES)}, not {rate}")
        return EncodeOptions(bpp=None, arch=COIN_ARCHITECTURES[rate], bits=16, effort=effort, steps=steps,
                             device=device)
    depth, uniform = (method[4:-1], True) if method.endswith("u") else (method[4:], False)
    if method.startswith("coin") and depth.isdigit() and 2 <= int(depth) <= 16:
        return EncodeOptions(bpp=rate, bits=int(depth), uniform_bits=uniform, effort=effort, steps=steps,
                             device=device)
    raise ValueError(f"unknown method {method!r} (have: {OUR_METHODS})")


def is_our_method(method: str) -> bool:
    """Whether ``method`` names one of our bench methods."""
    try:
        our_options(method, 0.3, "fast", None)
    except ValueError:
        return False
    return True


def _run_ours(unit: Unit) -> list[dict[str, Any]]:
    import torch

    from .decoder import decode
    from .encoder import encode

    if unit.threads:
        torch.set_num_threads(unit.threads)
    image = decode_image_bytes(unit.image.read_bytes(), unit.image.name)
    name = unit.image.stem
    codec = f"{unit.codec}-{unit.method_tag}"
    records = []
    cache = _Cache(unit.out, codec, name, unit.provenance)
    for rate in unit.rates:
        if cache.get(f"target={rate}") is not None:
            records.append(cache.get(f"target={rate}"))
            continue
        base = {"image": name, "codec": codec, "family": unit.codec, "kind": "ours", "setting": f"target={rate}",
                "target": rate, "width": image.shape[1], "height": image.shape[0]}
        try:
            res = encode(image, our_options(unit.codec, rate, unit.effort, unit.steps, unit.device))
        except ValueError as exc:
            rec = base | {"bpp": None, "psnr": None, "error": str(exc)}
        else:
            t0 = time.perf_counter()
            decoded = decode(res.data)
            rec = base | {"quality": None, "encode_s": res.seconds, "decode_s": time.perf_counter() - t0,
                          "architecture": res.architecture, "bits": res.bits, "steps": res.steps,
                          "config": f"{res.architecture} at {res.bits} bits, {res.steps} steps",
                          "device": _device_name(unit.device), "best_step": res.best_step,
                          "restarts": res.restarts} | _measure(
                image, decoded, len(res.data))
        records.append(cache.put(rec))
    return records


def _device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return "cpu"


def _run_learned(unit: Unit) -> list[dict[str, Any]]:
    from .learned import QUALITIES, run_live

    image = decode_image_bytes(unit.image.read_bytes(), unit.image.name)
    if image.shape[2] != 3:
        raise ValueError("CompressAI models take RGB images only")
    model = unit.codec.removeprefix("compressai:")
    records = []
    cache = _Cache(unit.out, unit.codec, unit.image.stem, unit.provenance)
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
    return records


def _run_unit(unit: Unit) -> list[dict[str, Any]]:
    if unit.method_tag:
        return _run_ours(unit)
    if unit.codec.startswith("compressai:"):
        return _run_learned(unit)
    return _run_classic(unit)


def plan_units(options: BenchOptions) -> tuple[list[Unit], dict[str, str]]:
    """The work to do, and the codecs skipped with the reason."""
    from .baselines import available_codecs

    have, missing = available_codecs()
    skipped = {f: missing[f] for f in options.codecs if f in missing}
    units = []
    for family in options.codecs:
        if family == "compressai":
            from .learned import MODELS, live_reason

            reason = live_reason()
            if reason is None:
                units += [Unit(f"compressai:{m}", img, [], options.out) for m in MODELS for img in options.images]
            else:
                skipped["compressai (live)"] = reason + "; using CompressAI's published Kodak results"
            continue
        variants = [n for n, c in have.items() if c.family == family]
        if not variants and family not in skipped:
            skipped[family] = "unknown codec" if family not in CLASSIC_FAMILIES else "not available"
        units += [Unit(v, img, options.rates, options.out) for v in variants for img in options.images]
    tag = f"steps{options.steps}" if options.steps else options.effort
    if options.device != "cpu":
        tag += f"-{options.device.split(':')[0]}"  # GPU runs never share a cache entry with CPU runs
    threads = 1 if options.jobs > 1 else None
    for m in options.methods:
        if not is_our_method(m):
            skipped[m] = f"unknown method (have: {OUR_METHODS})"
            continue
        units += [Unit(m, img, options.rates, options.out, tag, options.steps, options.effort, threads,
                       options.device) for img in options.images]
    for u in units:
        u.provenance = options.provenance
    return units, skipped


def run(options: BenchOptions, on_unit: Callable[[int, int, Unit, str | None], None] | None = None
        ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Run (or load from cache) every unit. Returns records and {what: why} for failures/skips."""
    units, problems = plan_units(options)
    records: list[dict[str, Any]] = []
    done = 0
    if options.jobs <= 1:
        results = ((u, _safe(u)) for u in units)
    else:
        pool = ProcessPoolExecutor(options.jobs)
        futures = {pool.submit(_safe, u): u for u in units}
        results = ((futures[f], f.result()) for f in as_completed(futures))
    for unit, (recs, error) in results:
        done += 1
        records += recs
        if error:
            problems[f"{unit.codec} on {unit.image.name}"] = error
        if on_unit:
            on_unit(done, len(units), unit, error)
    if options.jobs > 1:
        pool.shutdown()
    return records, problems


def _safe(unit: Unit) -> tuple[list[dict[str, Any]], str | None]:
    try:
        return _run_unit(unit), None
    except Exception as exc:  # noqa: BLE001 -- one codec failing on one image must not end the run
        return [], f"{type(exc).__name__}: {exc}"


def cached_records(out: Path) -> list[dict[str, Any]]:
    """Every record in ``<out>/cache`` (for reports over several runs without re-running)."""
    records: list[dict[str, Any]] = []
    for path in sorted((out / "cache").glob("*/*.jsonl")):
        codec, image = path.parent.name, path.stem
        records += list(_Cache(out, codec, image).records.values())
    return records


def default_jobs() -> int:
    """One job per core."""
    return max(1, os.cpu_count() or 1)
