"""Command line: ``inrcodec encode | decode | info | bench``. Parses, calls the library, writes.

Exit status: 0 success, 1 data error (corrupt stream, unreadable image, existing output),
2 usage error. Errors are one line on stderr; progress goes to stderr; data or JSON to stdout.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Compress images as neural networks (COIN and friends).")


class UsageError(Exception):
    """A bad combination of options (exit 2)."""


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"inrcodec: error: {message}\n")
    raise typer.Exit(code)


def _check_device(device: str, probe: bool = True) -> None:
    """Usage error unless ``device`` is cpu or cuda[:N] and, with ``probe``, CUDA is available."""
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise UsageError(f"--device must be cpu or cuda, got {device!r}")
    if probe and device.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available")


def _run(fn):
    """Turn library exceptions into one-line errors with the documented exit codes."""
    from .bitstream import BitstreamError
    from .datasets import DatasetError
    from .images import ImageError

    try:
        return fn()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except UsageError as exc:
        _fail(str(exc), 2)
    except (BitstreamError, ImageError, FileExistsError, DatasetError) as exc:
        _fail(str(exc), 1)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        _fail(f"{exc.strerror}: {exc.filename}", 1)
    except ValueError as exc:
        _fail(str(exc), 2)
    except Exception as exc:  # noqa: BLE001 -- last resort: still one line, still non-zero
        if os.environ.get("INRCODEC_DEBUG"):
            raise
        _fail(f"{type(exc).__name__}: {exc}", 1)


def _default_output(inp: str, suffix: str) -> str:
    return "-" if inp == "-" else str(Path(inp).with_suffix(suffix))


def _parse_arch(text: str) -> tuple[int, int]:
    try:
        layers, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--arch must look like 10x28 (layers x width), got {text!r}") from None
    if not (1 <= layers <= 64 and 1 <= width <= 1024):
        raise UsageError(f"--arch {text}: layers must be 1..64 and width 1..1024")
    return layers, width


@app.command()
def encode(
    input: str = typer.Argument(..., help="Image to encode (PNG or anything Pillow reads); - for stdin."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Output .inr (default: input name with .inr; - for stdout)."),
    bpp: Optional[float] = typer.Option(None, "-b", "--bpp", help="Whole-file budget in bits per pixel (default 0.3)."),
    method: str = typer.Option("coin", "--method", help="Coding method: coin."),
    arch: Optional[str] = typer.Option(None, "--arch", help="Fixed architecture LAYERSxWIDTH, e.g. 10x28 (COIN's 0.3 bpp)."),
    bits: Optional[int] = typer.Option(None, "--bits", min=2, max=16, help="Fixed weight bit depth 2..16 (default: largest that fits); the first layer keeps 14 unless --uniform-bits."),
    uniform_bits: bool = typer.Option(False, "--uniform-bits", help="Every tensor at the same depth, as in COIN (default: first layer at 14 bits at least)."),
    effort: str = typer.Option("normal", "--effort", "-e", help="fast (~1 min), normal (~5 min) or best (~20 min) on 2 cores."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Exact number of training steps (overrides --effort)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", min=1, help="Stop training after this many seconds."),
    seed: int = typer.Option(0, "--seed", help="Random seed (initialization and pixel sampling)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the results to stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing output file."),
) -> None:
    """Fit a network to an image and write a compact .inr stream."""

    def go() -> None:
        from .encoder import EncodeOptions, check_options, encode as encode_image
        from .images import decode_image_bytes, read_input, write_output
        from .progress import fit_progress

        out = output or _default_output(input, ".inr")
        if out == "-" and sys.stdout.isatty():
            raise UsageError("refusing to write a stream to a terminal; redirect stdout or use -o FILE")
        if as_json and out == "-":
            raise UsageError("--json and -o - both use stdout; write the stream to a file")
        if arch is not None and bits is not None and bpp is not None:
            raise UsageError("give --bpp, or --arch with --bits, not all three")
        _check_device(device)
        budget = bpp if bpp is not None else (None if arch is not None else 0.3)
        opts = EncodeOptions(bpp=budget, method=method, arch=_parse_arch(arch) if arch else None, bits=bits,
                             uniform_bits=uniform_bits,
                             effort=effort, steps=steps, time_limit=time_limit, seed=seed, device=device)
        check_options(opts)
        if out != "-" and Path(out).exists() and not force:
            raise FileExistsError(f"{out} exists; use --force to overwrite")
        image = decode_image_bytes(read_input(input), name=input)
        with fit_progress(enabled=not quiet, label=Path(input).name) as report:
            opts.on_progress = report
            result = encode_image(image, opts)
        write_output(out, result.data, force=force)
        for w in result.warnings:
            sys.stderr.write(f"inrcodec: warning: {w}\n")
        summary = result.summary() | {"input": input, "output": out}
        if as_json:
            sys.stdout.write(json.dumps(summary) + "\n")
        elif not quiet:
            sys.stderr.write(f"{out}: {len(result.data)} bytes, "
                             f"{result.bpp:.4f} bpp, {result.psnr:.2f} dB, {result.architecture} at "
                             f"{result.bits} bits, {result.steps} steps, {result.seconds:.1f} s\n")

    _run(go)


@app.command()
def decode(
    input: str = typer.Argument(..., help="Stream to decode (.inr); - for stdin."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Output image (default: input name with .png; - for stdout)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    max_pixels: int = typer.Option(1 << 28, "--max-pixels", help="Refuse streams with more pixels than this."),
    max_width: int = typer.Option(1024, "--max-width", help="Refuse networks with wider layers than this."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing output file."),
) -> None:
    """Decode a .inr stream to an image (PNG unless the output name says otherwise)."""

    def go() -> None:
        from .bitstream import DecodeLimits
        from .decoder import decode as decode_stream
        from .images import encode_png, read_input, write_output

        out = output or _default_output(input, ".png")
        if out == "-" and sys.stdout.isatty():
            raise UsageError("refusing to write an image to a terminal; redirect stdout or use -o FILE")
        if out != "-" and Path(out).exists() and not force:
            raise FileExistsError(f"{out} exists; use --force to overwrite")
        fmt = "PNG"
        if out != "-" and Path(out).suffix.lower() not in (".png", ""):
            from PIL import Image
            fmt = Image.registered_extensions().get(Path(out).suffix.lower(), "PNG")
        image = decode_stream(read_input(input), DecodeLimits(max_pixels, max_width), device=device)
        write_output(out, encode_png(image, fmt), force=force)

    _run(go)


@app.command()
def info(
    input: str = typer.Argument(..., help="Stream to describe (.inr); - for stdin."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Describe a .inr stream: method, architecture, bits, size, bytes per section, bpp."""

    def go() -> None:
        from .decoder import describe
        from .images import read_input

        d = describe(read_input(input))
        if as_json:
            sys.stdout.write(json.dumps(d) + "\n")
            return
        lines = [f"{'file':<15}{input}"]
        for key in ("format_version", "method", "width", "height", "channels", "architecture", "w0", "bits",
                    "parameters", "bytes"):
            lines.append(f"{key:<15}{d[key]}")
        lines.append(f"{'bpp':<15}{d['bpp']:.4f}")
        lines.append(f"{'tensor bits':<15}{' '.join(str(b) for b in d['tensor_bits'])}")
        lines.append(f"{'entropy models':<15}{', '.join(d['entropy_models'])}")
        lines.append(f"{'sections':<15}" + ", ".join(f"{k} {v} B" for k, v in d["section_bytes"].items()))
        sys.stdout.write("\n".join(lines) + "\n")

    _run(go)


@app.command()
def bench(
    target: str = typer.Argument(..., help="kodak, or a folder of images."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Local Kodak copy (else $INRCODEC_DATA, cache, download)."),
    images: Optional[str] = typer.Option(None, "--images", help="Comma list (kodim01,kodim05) or N for the first N."),
    rates: str = typer.Option("0.07,0.15,0.3,0.6,1.2", "--rates", help="Target bpp list."),
    codecs: str = typer.Option("jpeg,jpeg2000,webp,avif,heic,jxl,compressai", "--codecs", help="Codec families."),
    methods: str = typer.Option("", "--methods", help="Our methods too: coin (rate control), coin-paper (COIN's networks, 16-bit), coin<bits> e.g. coin8, coin<bits>u (uniform depth). Minutes per image and rate."),
    effort: str = typer.Option("fast", "--effort", help="Effort preset for our methods."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Exact training steps for our methods."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Parallel jobs (0 = one per core)."),
    device: str = typer.Option("cpu", "--device", help="Where our methods train (cpu, cuda); GPU results are cached apart."),
    out: Optional[str] = typer.Option(None, "--out", help="Output directory (default bench-results/<target name>)."),
    report_only: bool = typer.Option(False, "--report-only", help="Rebuild the reports from every cached result in --out; run nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
) -> None:
    """Rate-distortion benchmark: classic codecs live, learned and INR codecs, our methods."""

    def go() -> None:
        import datetime
        import platform
        import shlex
        import time

        from .benchmark import BenchOptions, cached_records, default_jobs, run
        from .datasets import image_folder, kodak
        from .report import write_reports

        try:
            rate_list = [float(r) for r in rates.split(",") if r]
        except ValueError:
            raise UsageError(f"--rates must be numbers separated by commas, got {rates!r}") from None
        if not rate_list or min(rate_list) <= 0:
            raise UsageError("--rates needs positive numbers")
        _check_device(device, probe=False)  # probing CUDA here could break the forked workers' CUDA
        if report_only:
            out_dir = Path(out or Path("bench-results") / Path(target).name)
            records = cached_records(out_dir)
            if not records:
                raise UsageError(f"--report-only: no cached results in {out_dir}")
            header = (f"Reports rebuilt from the cached results in `{out_dir}` (`inrcodec bench {target} --report-only`); "
                      f"rebuilt on {datetime.date.today().isoformat()}; each record in per_image.csv names its own "
                      "configuration and the command, machine and date of the run that made it.")
            write_reports(out_dir, records, len({r["image"] for r in records}), rate_list, header)
            return
        if target == "kodak":
            names = None
            if images and not images.isdigit():
                names = images.split(",")
            paths = kodak(data_dir, names=names)
        elif Path(target).is_dir():
            paths = image_folder(target)
            if images and not images.isdigit():
                wanted = set(images.split(","))
                paths = [p for p in paths if p.stem in wanted or p.name in wanted]
        else:
            raise UsageError(f"bench target must be 'kodak' or a folder of images, got {target!r}")
        if images and images.isdigit():
            paths = paths[: int(images)]
        if not paths:
            raise UsageError("no images selected")
        out_dir = Path(out or Path("bench-results") / (target if target == "kodak" else Path(target).name))
        import torch

        # No CUDA call here: the parent must not initialise CUDA before forking the workers
        # (GPU records name their device themselves).
        machine = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
        command = f"inrcodec bench {shlex.join(sys.argv[2:] if sys.argv[1:2] == ['bench'] else sys.argv[1:])}"
        provenance = {"command": command, "machine": machine, "date": datetime.date.today().isoformat()}
        opts = BenchOptions(images=paths, out=out_dir, codecs=[c for c in codecs.split(",") if c],
                            methods=[m for m in methods.split(",") if m], rates=rate_list, effort=effort,
                            steps=steps, jobs=jobs or default_jobs(), dataset=target, device=device,
                            provenance=provenance)
        t0 = time.perf_counter()

        def progress(done: int, total: int, unit, error: str | None) -> None:
            if quiet:
                return
            spent = time.perf_counter() - t0
            eta = spent / done * (total - done)
            status = f"failed: {error}" if error else "ok"
            sys.stderr.write(f"[{done}/{total}] {unit.codec} {unit.image.name} {status} "
                             f"({spent:.0f} s, eta {eta:.0f} s)\n")

        records, problems = run(opts, progress)
        for what, why in problems.items():
            sys.stderr.write(f"inrcodec: warning: skipped {what}: {why}\n")
        gpu = "" if device == "cpu" else ", " + torch.cuda.get_device_name(torch.device(device))
        header = (f"Command: `{command}`; machine: {machine}{gpu}, {opts.jobs} jobs; "
                  f"date: {datetime.date.today().isoformat()}; wall time {time.perf_counter() - t0:.0f} s.")
        write_reports(out_dir, records, len(paths), rate_list, header)
        if not quiet:
            sys.stderr.write(f"wrote {out_dir}/summary.md, summary.json, per_image.csv, rd.png, rd.svg\n")

    _run(go)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (usage errors are one line too)."""
    try:
        rc = app(args=argv, prog_name="inrcodec", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        sys.stderr.write("inrcodec: error: interrupted\n")
        return 130
    except typer.TyperException as exc:  # click's usage errors, as vendored by typer
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.stderr.write(exc.format_message() + "\n")
            return 2
        message = " ".join(exc.format_message().split())
        sys.stderr.write(f"inrcodec: error: {message}\n")
        return getattr(exc, "exit_code", 2)
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
