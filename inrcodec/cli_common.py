"""What every command shares: one-line errors with the documented exit codes, batches of
inputs with JSON lines and a summary, output paths, plain-text values."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Callable

import typer

from .errors import DataError, OptionError


def fail(message: str, code: int) -> None:
    """Print ``inrcodec: error: message`` on stderr and exit with ``code``."""
    sys.stderr.write(f"inrcodec: error: {message}\n")
    raise typer.Exit(code)


def error_code(exc: BaseException) -> tuple[str, int] | None:
    """(one-line message, exit status) for the errors the library raises on purpose."""
    if isinstance(exc, OptionError):
        return str(exc), 2
    if isinstance(exc, DataError):
        return str(exc), 1
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError)):
        return f"{exc.filename}: {exc.strerror}", 1
    return None


def run(fn: Callable[[], None]) -> None:
    """Turn library exceptions into one-line errors with the documented exit codes."""
    try:
        fn()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 -- still one line, still non-zero
        known = error_code(exc)
        if known is None:
            import os
            if os.environ.get("INRCODEC_DEBUG"):
                raise
            known = (f"{type(exc).__name__}: {exc}", 1)
        fail(*known)


def outputs(inputs: list[str], output: str | None, suffix: str, as_json: bool) -> list[str]:
    """Every input's output path (see images.output_paths); creates an ``-o folder/`` that is asked for."""
    from .images import output_paths

    outputs = output_paths(inputs, output, suffix)
    if as_json and "-" in outputs:
        raise OptionError("--json and data on stdout both use stdout; give -o FILE")
    if output and output.endswith("/"):
        Path(output).mkdir(parents=True, exist_ok=True)
    return outputs


def each(inputs: list[str], outputs: list[str] | None, force: bool, quiet: bool, as_json: bool, verb: str,
          work: Callable[[str, str], dict[str, Any]]) -> None:
    """Run ``work(input, output)`` on every input: one error line per failure, a summary line for
    several inputs, JSON lines with ``--json``; exit 1 if any input failed. Every output is
    checked before any work starts (None: nothing is written)."""
    from .images import check_output

    for out in outputs or []:
        check_output(out, force)
    outputs = outputs or ["-"] * len(inputs)
    failed = 0
    for inp, out in zip(inputs, outputs):
        try:
            summary = work(inp, out)
        except Exception as exc:  # noqa: BLE001 -- report this input, go on with the others
            known = error_code(exc)
            if known is None or len(inputs) == 1:
                raise
            failed += 1
            sys.stderr.write(f"inrcodec: error: {inp}: {known[0]}\n")
            if as_json:
                sys.stdout.write(json.dumps({"input": inp, "output": out, "error": known[0]}) + "\n")
            continue
        if as_json:
            sys.stdout.write(json_line(summary))
    if len(inputs) > 1 and not quiet:
        sys.stderr.write(f"{verb} {len(inputs) - failed} of {len(inputs)} inputs" +
                         (f"; {failed} failed\n" if failed else "\n"))
    if failed:
        raise typer.Exit(1)


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def json_line(summary: dict[str, Any]) -> str:
    """One line of strict JSON; a value that is not a finite number (the PSNR of an image decoded
    without error is infinite) is null."""
    return json.dumps(_finite(summary), allow_nan=False) + "\n"


def text(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, list):
        return " ".join(map(str, v))
    if isinstance(v, dict):
        return ", ".join(f"{k} {x} B" for k, x in v.items())
    return str(v)
