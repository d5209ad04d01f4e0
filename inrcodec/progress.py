"""Progress display on stderr for long fits (rich when stderr is a terminal, plain lines otherwise)."""
from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

from .fit import FitProgress


@contextlib.contextmanager
def fit_progress(enabled: bool, label: str) -> Iterator[Callable[[FitProgress], None] | None]:
    """Yield a callback that shows step, PSNR and ETA on stderr (None when disabled)."""
    if not enabled:
        yield None
        return
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TextColumn("{task.fields[psnr]}"), TimeRemainingColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(label, total=None, psnr="")

            def report(p: FitProgress) -> None:
                bar.update(task, completed=p.step, total=p.total_steps, psnr=f"~{p.psnr:.2f} dB")

            yield report
        return
    last = [-10.0]

    def report_plain(p: FitProgress) -> None:
        if p.elapsed - last[0] >= 10 or p.step == p.total_steps:
            last[0] = p.elapsed
            sys.stderr.write(f"{label}: step {p.step}/{p.total_steps} ~{p.psnr:.2f} dB "
                             f"{p.elapsed:.0f} s, eta {p.eta:.0f} s\n")

    yield report_plain
