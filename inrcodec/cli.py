"""Command line: ``inrcodec encode | decode | info | bench`` (and ``mlpzip``, in cli_mlpzip.py).
Parses, calls the library, writes.

Exit status: 0 success, 1 data error (corrupt stream, unreadable image, existing output, an
image that cannot be coded as asked; with several inputs: any of them), 2 usage error, 130 interrupted
(SIGTERM keeps its default action; a signal during a write acts after it, so no partial output
or temp file is ever left). Errors are one line on stderr; progress goes to stderr; data or JSON to stdout.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List, Optional

import typer

from .cli_common import each as _each
from .cli_mlpzip import app as mlpzip_app
from .cli_common import outputs as _outputs
from .cli_common import run as _run
from .cli_common import text as _text
from .errors import DataError, OptionError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Compress images as neural networks (latent grids, COIN and friends).")
_ARGV: list[str] = []  # the command line, for the provenance the bench stamps on its records


def _check_device(device: str, probe: bool = True) -> None:
    """Usage error unless ``device`` is cpu or cuda[:N] and, with ``probe``, CUDA is there."""
    if device not in ("cpu", "cuda") and not (device.startswith("cuda:") and device[5:].isdigit()):
        raise OptionError(f"--device must be cpu or cuda, got {device!r}")
    if probe and device.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            raise OptionError("--device cuda: no CUDA device is available")


def _parse_arch(text: str) -> tuple[int, int]:
    try:
        layers, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise OptionError(f"--arch must look like 10x28 (layers x width), got {text!r}") from None
    return layers, width


@app.command()
def encode(
    inputs: List[str] = typer.Argument(..., metavar="IMAGE...", help="Images to encode (PNG or anything Pillow reads); - for stdin."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Output .inr, a folder for several inputs (ends in /), or - for stdout (default: beside each input, .inr)."),
    bpp: Optional[float] = typer.Option(None, "-b", "--bpp", help="Whole-file budget in bits per pixel (default 0.3)."),
    method: str = typer.Option("auto", "--method", help="Coding method: grid, coin, qat or mcnc; auto (default): grid, or coin where the image is too small for the grid's networks within the budget."),
    arch: Optional[str] = typer.Option(None, "--arch", help="coin: fixed architecture LAYERSxWIDTH, e.g. 10x28 (COIN's 0.3 bpp)."),
    bits: Optional[int] = typer.Option(None, "--bits", help="Weight bit depth (coin 2..16, default 8, the first layer keeps 14 unless --uniform-bits; qat 1..16, default 8)."),
    uniform_bits: bool = typer.Option(False, "--uniform-bits", help="coin: every tensor at the same depth, as in COIN."),
    quantize_biases: Optional[bool] = typer.Option(None, "--quantize-biases/--no-quantize-biases", help="qat: train biases through the quantizer too (default) or keep them at 16 bits."),
    first_layer_bits: Optional[int] = typer.Option(None, "--first-layer-bits", help="qat: depth of the first layer (default: the others' depth; 14 with --fourier 0)."),
    fourier: Optional[int] = typer.Option(None, "--fourier", help="coin, qat: Fourier frequencies of the coordinates, 0..32 (qat default 16, coin 0; 0 is the plain SIREN)."),
    l1: Optional[float] = typer.Option(None, "--l1", help="coin, qat: L1 penalty on the parameters (default 2.5e-6 with Fourier features, else 0)."),
    bf16: Optional[bool] = typer.Option(None, "--bf16/--no-bf16", help="qat: train with bfloat16 products (default: where the CPU or GPU has them natively; decoding is float32 either way)."),
    chunk: Optional[int] = typer.Option(None, "--chunk", help="mcnc: chunk size d (default: rate control)."),
    k: Optional[int] = typer.Option(None, "--k", help="mcnc: manifold dimension k (default 8)."),
    bound: Optional[float] = typer.Option(None, "--L", help="mcnc: input bound L (default 0.3)."),
    lam: Optional[float] = typer.Option(None, "--lambda", help="grid: fixed rate-distortion lambda instead of a bpp budget."),
    effort: str = typer.Option("normal", "--effort", "-e", help="fast (~1 min), normal (~3 min; coin, qat, mcnc ~5) or best (~10 min; coin, qat, mcnc ~20) on 2 cores."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Exact number of training steps (overrides --effort; --json reports the count a timed run used)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Stop training after this many seconds."),
    seed: int = typer.Option(0, "--seed", help="Random seed 0..2^32-1 (initialization and pixel sampling)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    max_pixels: int = typer.Option(1 << 24, "--max-pixels", help="Refuse larger images (fitting time and memory grow with pixels)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per input to stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary on stderr."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing output files."),
) -> None:
    """Fit a network to each image and write a compact .inr stream."""

    def go() -> None:
        from .encoder import check_options, encode as encode_image
        from .images import decode_image_bytes, read_input, write_output
        from .methods import EncodeOptions
        from .progress import fit_progress

        method_options: dict[str, Any] = {}
        if arch is not None:
            method_options["arch"] = _parse_arch(arch)
        if bits is not None:
            method_options["bits"] = bits
        if uniform_bits:
            method_options["uniform_bits"] = True
        if quantize_biases is not None:
            method_options["quantize_biases"] = quantize_biases
        if first_layer_bits is not None:
            method_options["first_layer_bits"] = first_layer_bits
        for key, value in (("chunk", chunk), ("k", k), ("bound", bound), ("lam", lam), ("fourier", fourier),
                           ("l1", l1), ("bf16", bf16)):
            if value is not None:
                method_options[key] = value
        if arch is not None and bits is not None and bpp is not None:
            raise OptionError("give --bpp, or --arch with --bits, not all three")
        budget = bpp if bpp is not None else (None if arch is not None or lam is not None else 0.3)
        opts = EncodeOptions(bpp=budget, method=method, method_options=method_options, effort=effort, steps=steps,
                             time_limit=time_limit, seed=seed, device=device, max_pixels=max_pixels)
        check_options(opts)
        _check_device(device)
        outputs = _outputs(inputs, output, ".inr", as_json)

        def one(inp: str, out: str) -> dict[str, Any]:
            image = decode_image_bytes(read_input(inp), name=inp, max_pixels=max_pixels)
            with fit_progress(enabled=not quiet, label=Path(inp).name) as report:
                opts.on_progress = report
                result = encode_image(image, opts)
            write_output(out, result.data, force=force)
            for w in result.warnings:
                sys.stderr.write(f"inrcodec: warning: {inp}: {w}\n")
            if not quiet and not as_json:
                sys.stderr.write(f"{out}: {len(result.data)} bytes, {result.bpp:.4f} bpp, {result.psnr:.2f} dB, "
                                 f"{result.config}, {result.steps} steps, {result.seconds:.1f} s\n")
            return result.summary() | {"input": inp, "output": out}

        _each(inputs, outputs, force, quiet, as_json, "encoded", one)

    _run(go)


@app.command()
def decode(
    inputs: List[str] = typer.Argument(..., metavar="STREAM...", help="Streams to decode (.inr); - for stdin."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Output image, a folder for several inputs (ends in /), or - for stdout (default: NAME.inr.png beside each input)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    max_pixels: int = typer.Option(1 << 26, "--max-pixels", help="Refuse streams with more pixels than this."),
    max_work: int = typer.Option(1 << 38, "--max-work", help="Refuse streams whose decoding needs more multiply-adds than this (~10 s on 2 cores)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per input to stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary on stderr."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing output files."),
) -> None:
    """Decode .inr streams to images (PNG unless the output name says otherwise)."""

    def go() -> None:
        from .bitstream import DecodeLimits
        from .decoder import decode as decode_stream
        from .images import encode_png, read_input, write_output

        if max_pixels < 1 or max_work < 1:
            raise OptionError("--max-pixels and --max-work must be positive")
        _check_device(device)
        outputs = _outputs(inputs, output, ".inr.png", as_json)
        limits = DecodeLimits(max_pixels=max_pixels, max_work=max_work)

        def one(inp: str, out: str) -> dict[str, Any]:
            fmt = "PNG"
            if out != "-" and Path(out).suffix.lower() not in (".png", ""):
                from PIL import Image
                fmt = Image.registered_extensions().get(Path(out).suffix.lower(), "PNG")
            image = decode_stream(read_input(inp), limits, device=device)
            write_output(out, encode_png(image, fmt), force=force)
            return {"input": inp, "output": out, "width": image.shape[1], "height": image.shape[0],
                    "channels": image.shape[2]}

        _each(inputs, outputs, force, quiet, as_json, "decoded", one)

    _run(go)


@app.command()
def info(
    inputs: List[str] = typer.Argument(..., metavar="STREAM...", help="Streams to describe (.inr); - for stdin."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per stream instead of text."),
) -> None:
    """Describe .inr streams: method, network, bits, size, bytes per section, bpp (no decoding)."""

    def go() -> None:
        from .decoder import describe
        from .images import read_input

        def one(inp: str, _: str) -> dict[str, Any]:
            d = {"file": inp} | describe(read_input(inp))
            if not as_json:
                lines = [f"{k.replace('_', ' '):<14} {_text(v)}" for k, v in d.items() if k != "step_sizes"]
                sys.stdout.write("\n".join(lines) + "\n" + ("\n" if len(inputs) > 1 else ""))
            return d

        _each(inputs, None, True, True, as_json, "described", one)

    _run(go)


@app.command()
def bench(
    target: Optional[str] = typer.Argument(None, help="kodak, bsds500-test (the 200 BSDS500 test photos), or a folder of images."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Local copy of the dataset (else $INRCODEC_DATA, cache, download)."),
    images: Optional[str] = typer.Option(None, "--images", help="Comma list (kodim01,kodim05) or N for the first N."),
    rates: str = typer.Option("0.07,0.15,0.3,0.6,1.2", "--rates", help="Target bpp list."),
    codecs: str = typer.Option("jpeg,jpeg2000,webp,avif,heic,jxl,compressai", "--codecs", help="Codec families (empty for none)."),
    methods: str = typer.Option("", "--methods", help="Our methods too, e.g. coin,coin-paper,coin8 ('--methods list' shows every method and variant). Minutes per image and rate."),
    effort: str = typer.Option("fast", "--effort", help="Effort preset for our methods."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Exact training steps for our methods."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Parallel jobs (0 = one per core; with ray and no --address: the local instance's CPUs)."),
    executor: str = typer.Option("local", "--executor", help="local (a process pool) or ray (a Ray cluster, or a local Ray instance without --address)."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to join (else $RAY_ADDRESS; else a local instance)."),
    device: str = typer.Option("cpu", "--device", help="Where our methods train (cpu, cuda); GPU results are cached apart."),
    out: Optional[str] = typer.Option(None, "--out", help="Output directory (default bench-results/<target name>)."),
    all_anchors: bool = typer.Option(False, "--all-anchors", help="Plot every published curve (default: BPG 4:4:4, COIN, Struempler basic, Cool-chic v2)."),
    report_only: bool = typer.Option(False, "--report-only", help="Rebuild the reports from every cached result in --out; run nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
) -> None:
    """Rate-distortion benchmark: classic codecs live, learned and INR codecs, our methods."""

    def go() -> None:
        import time

        from . import benchmark
        from .bench_units import describe_methods
        from .report import write_reports

        if methods.strip() == "list":
            sys.stdout.write(describe_methods())
            return
        if target is None:
            raise OptionError("bench needs a target: kodak, bsds500-test, or a folder of images")
        try:
            rate_list = [float(r) for r in rates.split(",") if r]
        except ValueError:
            raise OptionError(f"--rates must be numbers separated by commas, got {rates!r}") from None
        if not rate_list or min(rate_list) <= 0 or not all(r < float("inf") for r in rate_list):
            raise OptionError("--rates needs positive numbers")
        _check_device(device, probe=False)  # no CUDA call in the parent: the workers fork
        command = "inrcodec " + " ".join(_ARGV)
        out_dir = Path(out or Path("bench-results") / Path(target).name)
        if report_only:
            records = benchmark.cached_records(out_dir)
            if not records:
                raise OptionError(f"--report-only: no cached results in {out_dir}")
            header = benchmark.report_header(command, out_dir)
            written = write_reports(out_dir, records, rate_list, header, target, all_anchors)
        else:
            codec_list, method_list = [c for c in codecs.split(",") if c], [m for m in methods.split(",") if m]
            benchmark.check_names(codec_list, method_list, rate_list)
            benchmark.check_executor(executor)
            paths = benchmark.select_images(target, data_dir, images)
            opts = benchmark.BenchOptions(
                images=paths, out=out_dir, codecs=codec_list, methods=method_list, rates=rate_list, effort=effort,
                steps=steps, jobs=jobs or benchmark.default_jobs(), dataset=target, device=device,
                provenance=benchmark.provenance(command), executor=executor, address=address)
            t0 = time.perf_counter()

            def progress(done: int, total: int, unit, error: str | None) -> None:
                if not quiet:
                    spent = time.perf_counter() - t0
                    status = f"failed: {error}" if error else "ok"
                    sys.stderr.write(f"[{done}/{total}] {unit.label()} {status} "
                                     f"({spent:.0f} s, eta {spent / done * (total - done):.0f} s)\n")

            records, problems = benchmark.run(opts, progress)
            for what, why in problems.items():
                sys.stderr.write(f"inrcodec: warning: skipped {what}: {why}\n")
            header = benchmark.run_header(opts, time.perf_counter() - t0)
            written = write_reports(out_dir, records, rate_list, header, target, all_anchors)
            if not records:
                raise DataError("nothing was measured (every codec was skipped or failed; see the warnings)")
        if not quiet:
            sys.stderr.write(f"wrote {', '.join(str(p) for p in written)}\n")

    _run(go)


app.add_typer(mlpzip_app, name="mlpzip")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (usage errors are one line too)."""
    global _ARGV
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[-1] == "--methods":  # `inrcodec bench --methods` alone lists them
        argv.append("list")
    _ARGV = argv
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
