"""Progress display on stderr for long fits (rich when stderr is a terminal, plain lines otherwise).

While a time budget is being turned into a step count the total and the ETA are unknown and
shown as such, never guessed.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

from .train import Progress


@contextlib.contextmanager
def fit_progress(enabled: bool, label: str) -> Iterator[Callable[[Progress], None] | None]:
    """Yield a callback that shows step, loss in dB and ETA on stderr (None when disabled)."""
    if not enabled:
        yield None
        return
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeRemainingColumn

        with Bar(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.fields[steps]}"),
                 TextColumn("{task.fields[db]}"), TimeRemainingColumn(),
                 console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(label, total=None, db="", steps="?")

            def report(p: Progress) -> None:
                bar.update(task, completed=p.step, total=p.total_steps, db=f"~{p.loss_db:.2f} dB",
                           steps="?" if p.total_steps is None else p.total_steps)

            yield report
        return
    last = [-10.0]

    def report_plain(p: Progress) -> None:
        if p.elapsed - last[0] >= 10 or p.step == p.total_steps:
            last[0] = p.elapsed
            total = "?" if p.total_steps is None else p.total_steps
            eta = "eta ?" if p.eta is None else f"eta {p.eta:.0f} s"
            sys.stderr.write(f"{label}: step {p.step}/{total} ~{p.loss_db:.2f} dB {p.elapsed:.0f} s, {eta}\n")

    yield report_plain
