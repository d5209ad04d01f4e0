"""The method-agnostic rate search."""
from __future__ import annotations

from inrcodec.ratecontrol import largest_fitting


def test_largest_fitting_takes_the_first_candidate_within_budget():
    sizes = {b: 100 * b for b in range(2, 17)}
    calls: list[int] = []

    def size_of(b: int) -> int:
        calls.append(b)
        return sizes[b]

    assert largest_fitting(range(16, 1, -1), size_of, 1000) == 10
    assert calls == list(range(16, 9, -1))  # stops at the first that fits
    assert largest_fitting(range(16, 1, -1), sizes.__getitem__, 150) is None
    assert largest_fitting(["big", "small"], {"big": 9, "small": 3}.__getitem__, 5) == "small"
