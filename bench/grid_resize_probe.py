"""Probe (issue 14): would the sub-pixel grids (upsampling 2 and 3) do better with bicubic than
bilinear interpolation of the coarse grids? Bilinear interpolation of a 1/64 grid to half size
is piecewise linear with kinks every 32 positions, which the finer grids must spend bits to
smooth on flat photos; bicubic is smooth across them (Cool-chic 1 used it, later versions learn
the filters).

The format has no such mode yet, so this patches the interpolation mode inside this process
(training, the stream's decode in the study and JPEG2000's comparison are unchanged otherwise)
and runs :mod:`grid_study` with the variant ``resize-bicubic``; its records go to the same
JSONL, comparable with that study's records of the same defaults, steps and images.

  python bench/grid_resize_probe.py run --images kodim23 --bpp 0.6 --steps 3300 --data-dir ../shared/data/kodak
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grid_study  # noqa: E402

from inrcodec.methods import grid  # noqa: E402

VARIANT = "resize-bicubic"


def main() -> None:
    grid._RESIZE[2] = grid._RESIZE[3] = "bicubic"  # the coarse grids of both sub-pixel modes
    grid_study.VARIANTS[VARIANT] = {}
    if "--variants" not in sys.argv:
        sys.argv[2:2] = ["--variants", VARIANT]
    grid_study.main()


if __name__ == "__main__":
    main()
