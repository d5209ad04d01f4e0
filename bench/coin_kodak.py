"""COIN replication table: our coin-paper / coin<bits> bench results next to COIN's published PSNRs.

The runs themselves are bench runs (one record per image and rate, cached, resumable), e.g.
    inrcodec bench kodak --data-dir ../shared/data/kodak --codecs "" --methods coin-paper \
        --rates 0.3 --steps 3000 -j 2 --out bench/results/kodak
and, on a lent GPU, bench/gpu_sweep.sh (the same bench with --device cuda).
This script only reads bench/results/kodak/cache and writes bench/results/coin-kodak.md:
    python bench/coin_kodak.py
"""
from __future__ import annotations

import datetime
import sys
from collections import defaultdict
from pathlib import Path

from inrcodec.benchmark import cached_records

RESULTS = Path(__file__).resolve().parent / "results"
COIN_PUBLISHED = {0.07: (0.0736, 23.205), 0.15: (0.1604, 24.641), 0.3: (0.3074, 26.412),
                  0.6: (0.6109, 28.408), 1.2: (1.209, 30.644)}  # COIN results.json: (bpp, mean PSNR)

records = [r for r in cached_records(RESULTS / "kodak") if r["kind"] == "ours" and r.get("bpp") is not None]
groups = defaultdict(list)
for r in records:
    groups[(r["codec"], r["target"])].append(r)
FALLBACK = "coin-paper-steps3000"
by_key = {(r["codec"], r["target"], r["image"]): r for r in records}


def reference(codec: str) -> str:
    """coin-paper with the same steps and device (``coin8-steps10000-cuda`` -> ``coin-paper-steps10000-cuda``)."""
    tag = codec.split("-", 1)[1] if "-" in codec and not codec.startswith("coin-paper") else ""
    same = f"coin-paper-{tag}"
    return same if tag and any(k[0] == same for k in by_key) else FALLBACK


lines = [f"Built by `python bench/coin_kodak.py` on {datetime.date.today().isoformat()} from the bench records in "
         "`bench/results/kodak/cache/` (each record names its configuration and device; the commands that produced "
         "them are in `bench/results/kodak/README.md`). PSNR: mean over images of RGB PSNR of the decoded 8-bit image; "
         "bpp: whole file (header included) / pixels. COIN: published `results.json` (16-bit weights, no entropy "
         "coding, 50,000 full-image steps on a GPU), a mean over all 24 images, so the difference is given only for "
         "runs over all 24. Every run of ours is also compared, image by image, with coin-paper (16-bit, COIN's "
         "networks) run with the same steps on the same device where that exists (else "
         f"`{FALLBACK}`): that column is the 8-bit-against-16-bit comparison. Encode seconds are wall time per image "
         "and rate *under sharing*: on the CPU two jobs shared two cores; on the H100 14-15 processes shared the GPU "
         "(so a lone GPU encode is several times faster than shown).", "",
         "| run | device | rate | images | arch | bits | bpp (file) | PSNR dB | COIN bpp | COIN PSNR | diff dB | "
         "coin-paper on the same images: bpp, PSNR (ours - it) | encode s/image |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
for (codec, rate), rs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    mean = lambda k: sum(r[k] for r in rs) / len(rs)  # noqa: E731
    archs = sorted({r["architecture"] for r in rs})
    devices = ", ".join(sorted({r.get("device", "cpu").replace("NVIDIA ", "").replace(" 80GB HBM3", "")
                                for r in rs}))
    pub_bpp, pub_psnr = COIN_PUBLISHED.get(rate, (None, None))
    diff = f"{mean('psnr') - pub_psnr:+.2f}" if pub_psnr and len(rs) == 24 else "–"
    ref = reference(codec)
    refs = [by_key.get((ref, rate, r["image"])) for r in rs]
    same = "–"
    if ref != codec and all(refs):
        ref_psnr = sum(r["psnr"] for r in refs) / len(refs)
        ref_bpp = sum(r["bpp"] for r in refs) / len(refs)
        same = f"{ref}: {ref_bpp:.4f}, {ref_psnr:.2f} dB ({mean('psnr') - ref_psnr:+.2f})"
    lines.append(f"| {codec} | {devices} | {rate} | {len(rs)} | {', '.join(archs)} | {mean('bits'):.1f} | "
                 f"{mean('bpp'):.4f} | {mean('psnr'):.2f} | {pub_bpp or '–'} | {pub_psnr or '–'} | {diff} | {same} | "
                 f"{mean('encode_s'):.0f} |")
(RESULTS / "coin-kodak.md").write_text("\n".join(lines) + "\n")
sys.stdout.write("\n".join(lines) + "\n")
