"""The benchmark runner: codecs x images x settings, one cached JSON record per result.

A record is one (image, codec, setting): ``setting`` is ``q=<quality>`` for a sweep point or
``target=<bpp>`` for the largest quality whose file fits that budget. Records are appended to
``<out>/cache/<codec>/<image>.jsonl``; an interrupted run resumes where it stopped.
This module is the driver: it plans the units (:mod:`inrcodec.bench_units`: one codec on one
image; one of our methods on one image at one rate), hands each what it needs from disk, and
alone writes what they return, so units run the same in-process, in a local process pool or on a
Ray cluster without a shared filesystem (``executor``).
A codec that is missing or fails on an image is reported and skipped, never fatal; a name
that is no codec or method at all is a usage error.
Streams our methods write are kept under ``<out>/streams`` so metrics can be added later.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .bench_units import Outcome, Unit, device_name, resolve_method, run_safely
from .errors import OptionError

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
            collect(u, *run_safely(_load_unit(u)))
    else:
        with ProcessPoolExecutor(options.jobs) as pool:
            futures = {pool.submit(run_safely, _load_unit(u)): u for u in units}
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
        task = ray.remote(run_safely)
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
    gpu = "" if options.device == "cpu" else ", " + device_name(options.device)
    return (f"Command: `{p.get('command', '')}`; machine: {p.get('machine', _machine())}{gpu}, {options.jobs} jobs; "
            f"date: {p.get('date', '')}; wall time {seconds:.0f} s.")


def report_header(command: str, out: Path) -> str:
    """The header of reports rebuilt from a cache (each record names its own run)."""
    import datetime

    return (f"Reports rebuilt from the cached results in `{out}` (`{command}`); rebuilt on "
            f"{datetime.date.today().isoformat()} ({_machine()}); each record in per_image.csv names its own configuration and "
            "the command, machine and date of the run that made it.")
