"""Build inrcodec/data/published_kodak.json from ../shared/reference (run once; provenance kept).

Usage: python bench/make_published.py [--reference ../shared/reference]
Each entry keeps CompressAI's result schema plus "kind" (learned | classic | inr) and the
source it was copied from. Nothing here is measured by us: the bench labels it "published".
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

COMPRESSAI = {  # file in compressai-kodak/ -> (name, kind)
    "compressai-bmshj2018-factorized_mse_cpu.json": ("bmshj2018-factorized", "learned"),
    "compressai-bmshj2018-hyperprior_mse_cpu.json": ("bmshj2018-hyperprior", "learned"),
    "compressai-mbt2018-mean_mse_cpu.json": ("mbt2018-mean", "learned"),
    "compressai-mbt2018_mse_cpu.json": ("mbt2018", "learned"),
    "compressai-cheng2020-anchor_mse_cpu.json": ("cheng2020-anchor", "learned"),
    "jpeg.json": ("JPEG (CompressAI run)", "classic"),
    "jpeg2000.json": ("JPEG2000 (CompressAI run)", "classic"),
    "webp.json": ("WebP (CompressAI run)", "classic"),
    "bpg_444_x265_ycbcr.json": ("BPG 4:4:4", "classic"),
    "vtm.json": ("VTM", "classic"),
}
ANCHORS = {  # key in kodak-anchors.json -> name
    "COIN (Dupont et al. 2021)": "COIN",
    "COIN++ (Dupont et al. 2022)": "COIN++",
    "Struempler et al. ECCV2022 - basic (random init, 8-bit)": "Struempler basic",
    "Struempler et al. ECCV2022 - meta-learned (MAML init, 7-bit)": "Struempler meta-learned",
    "Cool-chic v2 (Leguay et al. 2023) [via C3 file]": "Cool-chic v2",
    "Cool-chic 5.0": "Cool-chic 5.0",
    "C3 (Kim et al. CVPR2024)": "C3",
}

ap = argparse.ArgumentParser()
ap.add_argument("--reference", default=str(Path(__file__).resolve().parents[2] / "shared" / "reference"))
args = ap.parse_args()
ref = Path(args.reference)
out = []
for fname, (name, kind) in COMPRESSAI.items():
    d = json.loads((ref / "compressai-kodak" / fname).read_text())
    r = d["results"]
    results = {k: r[k] for k in ("bpp", "psnr-rgb", "ms-ssim-rgb") if k in r}
    out.append({"name": name, "kind": kind, "description": d.get("description", ""),
                "source": f"CompressAI@869a9f5 results/image/kodak/{fname}", "results": results})
anchors = json.loads((ref / "kodak-anchors.json").read_text())
for key, name in ANCHORS.items():
    a = anchors[key]
    pts = a["points"] if isinstance(a["points"], list) else json.loads(a["points"])
    out.append({"name": name, "kind": "inr", "description": a.get("kind", ""), "source": a["source"],
                "results": {"bpp": [p[0] for p in pts], "psnr-rgb": [p[1] for p in pts]}})
target = Path(__file__).resolve().parent.parent / "inrcodec" / "data" / "published_kodak.json"
target.write_text(json.dumps({"note": "Published Kodak results (mean of per-image metrics), not measured by "
                              "inrcodec; built by bench/make_published.py", "curves": out}, indent=1) + "\n")
print(f"{len(out)} curves -> {target}")
