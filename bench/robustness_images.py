"""Photos unlike Kodak for the latent-grid method's robustness check (issue 14).

Writes a handful of PNGs, each made the same way on every machine from the shared data or from
a seeded drawing, into ``--out`` (not committed: rerun to make them):

- ``grey``: a BSDS500 test photo as 8-bit greyscale (one channel, coded as one);
- ``texture``: the BSDS500 test photo on which JPEG2000 at 0.3 bpp scores lowest (strongest
  texture; chosen once from all 200 test photos, 2026-12-07, see the log of the check);
- ``flat``: a drawing of flat colour regions, a smooth gradient and hard edges (640x480), the
  kind of content photos lack;
- ``large``: a Kodak photo upscaled twice (1536x1024: four times the pixels, so about a quarter
  of the steps in the same time);
- ``mosaic``: four Kodak photos side by side (1536x1024: as large, with a photo's detail);
- ``small``: a 160x120 crop (the networks take a large share of any budget);
- ``odd``: a 333x517 crop of a portrait Kodak photo (odd sizes on both sides).

  python bench/robustness_images.py [--kodak DIR] [--bsds DIR] [--out DIR]
  python bench/grid_study.py run --variants base-1207b --folder DIR --images grey,texture,flat,large,mosaic,small,odd \
      --bpp 0.3 --effort normal --threads 2
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

GREY = "100007"  # BSDS500 test: a smooth sky over a building (the first test photo by name)
TEXTURE = "134067"  # 20.17 dB for JPEG2000 at 0.3 bpp, the lowest of the 200 (median about 26)


def flat(seed: int = 0) -> Image.Image:
    """640x480: a smooth diagonal gradient under flat rectangles, discs and lines of random colours."""
    rng = np.random.default_rng(seed)
    h, w = 480, 640
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([40 + 150 * x / w, 60 + 120 * y / h, 200 - 120 * (x + y) / (w + h)], axis=-1)
    img = Image.fromarray(base.round().astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(14):
        x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
        x1, y1 = x0 + int(rng.integers(30, 220)), y0 + int(rng.integers(30, 160))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    for _ in range(10):
        pts = [(int(rng.integers(0, w)), int(rng.integers(0, h))) for _ in range(2)]
        draw.line(pts, fill=tuple(int(c) for c in rng.integers(0, 256, 3)), width=int(rng.integers(1, 4)))
    return img


def mosaic(kodak: Path, names: tuple[str, ...]) -> Image.Image:
    """Four landscape Kodak photos (768x512) in a 2x2 mosaic, 1536x1024."""
    out = Image.new("RGB", (1536, 1024))
    for i, name in enumerate(names):
        out.paste(Image.open(kodak / f"{name}.png").convert("RGB"), (768 * (i % 2), 512 * (i // 2)))
    return out


def make(kodak: Path, bsds: Path, out: Path) -> list[Path]:
    """Write the set into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    images = {
        "grey": Image.open(bsds / f"{GREY}.jpg").convert("L"),
        "texture": Image.open(bsds / f"{TEXTURE}.jpg").convert("RGB"),
        "flat": flat(),
        "large": Image.open(kodak / "kodim23.png").convert("RGB").resize((1536, 1024), Image.LANCZOS),
        "mosaic": mosaic(kodak, ("kodim05", "kodim14", "kodim21", "kodim22")),
        "small": Image.open(kodak / "kodim03.png").convert("RGB").crop((300, 200, 460, 320)),
        "odd": Image.open(kodak / "kodim04.png").convert("RGB").crop((90, 120, 423, 637)),
    }
    paths = []
    for name, img in images.items():
        path = out / f"{name}.png"
        img.save(path)
        paths.append(path)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kodak", default="../shared/data/kodak")
    ap.add_argument("--bsds", default="../shared/data/bsds500/test")
    ap.add_argument("--out", default="bench/cache/robustness")
    a = ap.parse_args()
    for path in make(Path(a.kodak), Path(a.bsds), Path(a.out)):
        with Image.open(path) as img:
            print(path, img.size, img.mode)


if __name__ == "__main__":
    main()
