"""Rate control helpers that know no method: search a knob for the largest file within a budget.

A method sizes its network before training from an estimate, then, after training, measures
real files (cheap for post-training quantization) and keeps the best setting that fits.
"""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

K = TypeVar("K")


def largest_fitting(candidates: Sequence[K], size_of: Callable[[K], int], budget_bytes: float) -> K | None:
    """The first of ``candidates`` (in order of preference) whose file is within ``budget_bytes``.

    ``size_of`` builds the real file for a candidate and returns its size; it is called in
    order until one fits, so callers list the richest setting first. None if none fits.
    """
    for c in candidates:
        if size_of(c) <= budget_bytes:
            return c
    return None
