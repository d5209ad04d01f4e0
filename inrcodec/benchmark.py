"""The benchmark runner: codecs x images x settings, one cached JSON record per result.

A record is one (image, codec, setting): ``setting`` is ``q=<quality>`` for a sweep point or
``target=<bpp>`` for the largest quality whose file fits that budget. Records are appended to
``<out>/cache/<codec>/<image>.jsonl``; an interrupted run resumes where it stopped.
Units (one codec on one image; one of our methods on one image at one rate) are pure work:
they get the image's bytes and the records already cached, and return their new records and
streams, which the driver alone writes. So units run the same in-process, in a local process
pool or on a Ray cluster without a shared filesystem (``executor``).
A codec that is missing or fails on an image is reported and skipped, never fatal; a name
that is no codec or method at all is a usage error. Our methods come from the method registry
(:mod:`inrcodec.methods`): each method module says which bench names it answers to.
Streams our methods write are kept under ``<out>/streams`` so metrics can be added later.
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

from . import methods as registry
from .baselines import search_quality
from .errors import OptionError
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
    executor: str = "local"  # local (process pool) or ray
    address: str | None = None  # Ray cluster to join (else $RAY_ADDRESS, else a local Ray instance)


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


class _Cache:
    """Records of one (codec, image): ``<out>/cache/<codec>/<image>.jsonl``, one line per setting.

    Appending a line is the commit point; a torn last line (a killed run) is ignored on load.
    """

    def __init__(self, out: Path, codec: str, image: str):
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
        """Append ``record`` as it is (units stamp the provenance)."""
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


def _run_classic(unit: Unit) -> Outcome:
    import torch

    from .baselines import available_codecs

    torch.set_num_threads(1)
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

    if unit.threads:
        torch.set_num_threads(unit.threads)
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
                          "device": _device_name(unit.device), "best_step": res.best_step,
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


def _device_name(device: str) -> str:
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


def _run_unit(unit: Unit) -> Outcome:
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
            skipped[family] = "not available"
        units += [Unit(v, img, options.rates, options.out) for v in variants for img in options.images]
    tag = f"steps{options.steps}" if options.steps else options.effort
    if options.device != "cpu":
        tag += f"-{options.device.split(':')[0]}"  # GPU runs never share a cache entry with CPU runs
    threads = 1 if options.jobs > 1 or options.executor == "ray" else None
    for m in options.methods:  # one unit per rate: a unit is minutes, and the driver saves each as it ends
        units += [Unit(m, img, [rate], options.out, tag, options.steps, options.effort, threads, options.device)
                  for img in options.images for rate in options.rates]
    for u in units:
        u.provenance = options.provenance
    return units, skipped


def _load_unit(unit: Unit) -> Unit:
    """The unit with what its worker needs from the driver's disk: image bytes, cached records,
    and the stored streams of cached records of ours that still lack an MS-SSIM."""
    unit.image_bytes = unit.image.read_bytes()
    unit.cached = dict(_Cache(unit.out, unit.cache_codec(), unit.image.stem).records)
    for rate in unit.rates if unit.method_tag else []:  # only this unit's settings re-read a stream
        rec = unit.cached.get(f"target={rate}", {})
        path = unit.out / rec["stream"] if rec.get("stream") else None
        if rec.get("ms_ssim") is None and path is not None and path.exists():
            unit.streams_in[rec["stream"]] = path.read_bytes()
    return unit


def _save(unit: Unit, outcome: Outcome) -> None:
    """Write a unit's streams (atomically) and then append its new records: a record never names
    a stream that is not on disk."""
    for rel, data in outcome.streams.items():
        path = unit.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    cache = _Cache(unit.out, unit.cache_codec(), unit.image.stem)
    for rec in outcome.new:
        cache.put(rec)


def run(options: BenchOptions, on_unit: Callable[[int, int, Unit, str | None], None] | None = None
        ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Run (or load from cache) every unit. Returns records and {what: why} for failures/skips."""
    check_names(options.codecs, options.methods, options.rates)
    check_executor(options.executor)
    units, problems = plan_units(options)
    records: list[dict[str, Any]] = []
    done = 0

    def collect(unit: Unit, outcome: Outcome | None, error: str | None) -> None:
        nonlocal done
        done += 1
        if outcome is not None:
            _save(unit, outcome)
            records.extend(outcome.records)
        if error:
            problems[f"{unit.codec} on {unit.image.name}"] = error
        if on_unit:
            on_unit(done, len(units), unit, error)

    if options.executor == "ray":
        _run_on_ray(units, options, collect)
    elif options.jobs <= 1:
        for u in units:
            collect(u, *_safe(_load_unit(u)))
    else:
        with ProcessPoolExecutor(options.jobs) as pool:
            futures = {pool.submit(_safe, _load_unit(u)): u for u in units}
            for f in as_completed(futures):
                collect(futures[f], *f.result())
    return records, problems


def check_executor(executor: str) -> None:
    """OptionError for an unknown executor, or for ray when Ray is not installed."""
    if executor not in ("local", "ray"):
        raise OptionError(f"--executor must be local or ray, got {executor!r}")
    if executor == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise OptionError("--executor ray needs Ray: pip install 'inrcodec[cluster]'")


def _run_on_ray(units: list[Unit], options: BenchOptions, collect: Callable) -> None:
    """Every unit as a Ray task: one CPU each (plus one GPU for ours with --device cuda); results
    come back to this process, which writes them. A local Ray instance is started when no
    cluster address is given (``options.address``, else ``$RAY_ADDRESS``)."""
    import ray

    address = options.address or os.environ.get("RAY_ADDRESS") or None
    started = not ray.is_initialized()
    if started:
        local = {} if address else {"num_cpus": options.jobs, "include_dashboard": False}
        ray.init(address=address, log_to_driver=False, **local)
    try:
        task = ray.remote(_safe)
        pending = {}
        for u in units:
            gpus = 1 if u.method_tag and u.device.startswith("cuda") else 0
            pending[task.options(num_cpus=u.threads or 1, num_gpus=gpus).remote(_load_unit(u))] = u
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            unit = pending.pop(ready[0])
            try:
                outcome, error = ray.get(ready[0])
            except Exception as exc:  # noqa: BLE001 -- a lost worker fails its unit, not the run
                outcome, error = None, f"{type(exc).__name__}: {exc}"
            collect(unit, outcome, error)
    finally:
        if started:
            ray.shutdown()


def _safe(unit: Unit) -> tuple[Outcome | None, str | None]:
    try:
        return _run_unit(unit), None
    except Exception as exc:  # noqa: BLE001 -- one codec failing on one image must not end the run
        return None, f"{type(exc).__name__}: {exc}"


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


def check_names(codecs: list[str], methods: list[str], rates: list[float]) -> None:
    """OptionError for a codec or method name that exists nowhere (a typo must not run nothing)."""
    for c in codecs:
        if c not in CLASSIC_FAMILIES and c != "compressai":
            raise OptionError(f"unknown codec {c!r} (have: {', '.join(CLASSIC_FAMILIES)}, compressai)")
    for m in methods:
        for rate in rates:
            if resolve_method(m, rate) is None:
                raise OptionError(f"unknown method {m!r}; `inrcodec bench --methods list` shows them")
    if not codecs and not methods:
        raise OptionError("nothing to run: give --codecs or --methods")


def select_images(target: str, data_dir: str | None, images: str | None) -> list[Path]:
    """The images of a bench target: ``kodak`` or ``bsds500-test`` (verified, see datasets) or a
    folder, filtered by ``images`` (comma list of names, or N for the first N)."""
    from .datasets import bsds500_test, image_folder, kodak

    names = images.split(",") if images and not images.isdigit() else None
    if target == "kodak":
        paths = kodak(data_dir, names=names)
    elif target in ("bsds500-test", "bsds500") or Path(target).is_dir():
        paths = bsds500_test(data_dir) if target.startswith("bsds500") else image_folder(target)
        if names:
            wanted = set(names)
            paths = [p for p in paths if p.stem in wanted or p.name in wanted]
    else:
        raise OptionError(f"bench target must be kodak, bsds500-test or a folder of images, got {target!r}")
    if images and images.isdigit():
        paths = paths[: int(images)]
    if not paths:
        raise OptionError("no images selected")
    return paths


def _machine() -> str:
    import platform

    import torch

    return f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"


def provenance(command: str) -> dict[str, str]:
    """Command, machine and date stamped on every new record (no CUDA call: workers fork later)."""
    import datetime

    return {"command": command, "machine": _machine(), "date": datetime.date.today().isoformat()}


def run_header(options: BenchOptions, seconds: float) -> str:
    """The line at the top of every report of a run: command, machine, jobs, date, wall time."""
    p = options.provenance
    gpu = "" if options.device == "cpu" else ", " + _device_name(options.device)
    return (f"Command: `{p.get('command', '')}`; machine: {p.get('machine', _machine())}{gpu}, {options.jobs} jobs; "
            f"date: {p.get('date', '')}; wall time {seconds:.0f} s.")


def report_header(command: str, out: Path) -> str:
    """The header of reports rebuilt from a cache (each record names its own run)."""
    import datetime

    return (f"Reports rebuilt from the cached results in `{out}` (`{command}`); rebuilt on "
            f"{datetime.date.today().isoformat()}; each record in per_image.csv names its own configuration and "
            "the command, machine and date of the run that made it.")
