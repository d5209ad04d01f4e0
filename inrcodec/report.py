"""Benchmark reports: mean RD curves, CompressAI-schema JSON, CSV, Markdown, plots, BD-rates.

Means are over images, per setting, as CompressAI does (mean of per-image PSNR and bpp).
A sweep point enters a curve only if every image has it, so curves compare like with like.
"""
from __future__ import annotations

import csv
import json
import textwrap
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

from .metrics import bd_psnr, bd_rate, interpolate_psnr

Curve = dict[str, Any]  # {"name", "kind", "source", "description", "results": {"bpp": [...], "psnr-rgb": [...]}}


def published_curves() -> list[Curve]:
    """Published Kodak curves shipped with the package (CompressAI's files and INR papers)."""
    text = resources.files("inrcodec").joinpath("data/published_kodak.json").read_text()
    curves = json.loads(text)["curves"]
    for c in curves:
        c["measured"] = False
    return curves


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals and len(vals) == len(values) else None


def mean_curves(records: list[dict[str, Any]], n_images: int) -> tuple[list[Curve], list[Curve]]:
    """(sweep curves, target curves) per codec, averaged over images."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[(r["codec"], r["setting"])].append(r)
    sweep: dict[str, list[tuple]] = defaultdict(list)
    target: dict[str, list[tuple]] = defaultdict(list)
    meta: dict[str, dict[str, Any]] = {}
    for (codec, setting), rs in groups.items():
        ok = [r for r in rs if r.get("bpp") is not None]
        meta.setdefault(codec, {"family": rs[0]["family"], "kind": rs[0]["kind"], "config": rs[0].get("config", "")})
        if setting.startswith("q="):
            if len(ok) == n_images:
                sweep[codec].append((_mean([r["bpp"] for r in ok]), _mean([r["psnr"] for r in ok]),
                                     _mean([r.get("ms_ssim") for r in ok]), _mean([r.get("encode_s") for r in ok]),
                                     _mean([r.get("decode_s") for r in ok]), int(setting[2:])))
        elif ok:
            target[codec].append((_mean([r["bpp"] for r in ok]), _mean([r["psnr"] for r in ok]),
                                  _mean([r.get("ms_ssim") for r in ok]), _mean([r.get("encode_s") for r in ok]),
                                  _mean([r.get("decode_s") for r in ok]), float(setting[7:]), len(ok)))

    def build(codec: str, pts: list[tuple], extra: dict[str, Any]) -> Curve:
        pts.sort()
        res = {"bpp": [p[0] for p in pts], "psnr-rgb": [p[1] for p in pts]}
        if all(p[2] is not None for p in pts):
            res["ms-ssim-rgb"] = [p[2] for p in pts]
        if all(p[3] is not None for p in pts):
            res["encoding_time"] = [p[3] for p in pts]
            res["decoding_time"] = [p[4] for p in pts]
        m = meta[codec]
        return {"name": codec, "kind": m["kind"], "family": m["family"], "description": m["config"],
                "measured": True, "results": res} | extra

    sweeps = [build(c, p, {"qualities": [x[5] for x in sorted(p)]}) for c, p in sweep.items() if p]
    targets = [build(c, p, {"targets": [x[5] for x in sorted(p)], "images": [x[6] for x in sorted(p)]})
               for c, p in target.items() if p]
    return sweeps, targets


def pick_variants(sweeps: list[Curve]) -> tuple[list[Curve], dict[str, str]]:
    """Keep the better variant of each family (by BD-PSNR over the common range); say why."""
    by_family: dict[str, list[Curve]] = defaultdict(list)
    for c in sweeps:
        by_family[c["family"]].append(c)
    kept, notes = [], {}
    for family, cs in by_family.items():
        if len(cs) == 1:
            kept.append(cs[0])
            continue
        best = cs[0]
        for other in cs[1:]:
            d = bd_psnr(best["results"]["bpp"], best["results"]["psnr-rgb"], other["results"]["bpp"],
                        other["results"]["psnr-rgb"])
            if d is not None and d > 0:
                best = other
        others = [c for c in cs if c is not best]
        deltas = [bd_psnr(o["results"]["bpp"], o["results"]["psnr-rgb"], best["results"]["bpp"],
                          best["results"]["psnr-rgb"]) for o in others]
        notes[family] = f"kept {best['name']}: " + ", ".join(
            f"{d:+.2f} dB BD-PSNR over {o['name']}" if d is not None else f"no overlap with {o['name']}"
            for o, d in zip(others, deltas))
        kept.append(best)
    return kept, notes


def bd_table(curves: list[Curve], anchors: list[Curve]) -> list[dict[str, Any]]:
    """BD-rate (%) and BD-PSNR (dB) of every curve against each anchor."""
    rows = []
    for c in curves:
        row: dict[str, Any] = {"curve": c["name"], "measured": c["measured"]}
        for a in anchors:
            args = (a["results"]["bpp"], a["results"]["psnr-rgb"], c["results"]["bpp"], c["results"]["psnr-rgb"])
            row[f"bd_rate_vs_{a['name']}"] = bd_rate(*args)
            row[f"bd_psnr_vs_{a['name']}"] = bd_psnr(*args)
        rows.append(row)
    return rows


def _fmt(v: float | None, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def write_reports(out: Path, records: list[dict[str, Any]], rates: list[float], header: str) -> list[Path]:
    """Write per-image CSV, summary JSON (CompressAI schema per curve), Markdown, plot and BD tables.

    Returns the files written (the plot only when matplotlib could draw it). Measured curves
    are means over the records' images; the reports say how many, next to published curves
    that average all 24 Kodak images.
    """
    out.mkdir(parents=True, exist_ok=True)
    image_names = sorted({r["image"] for r in records})
    n_images = len(image_names)
    fields = ["image", "codec", "family", "kind", "setting", "quality", "target", "bpp", "psnr", "ms_ssim",
              "encode_s", "decode_s", "bytes", "width", "height", "config", "device", "error", "command",
              "machine", "date"]
    with (out / "per_image.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in sorted(records, key=lambda r: (r["codec"], r["image"], r["setting"])):
            w.writerow(r)
    sweeps, targets = mean_curves(records, n_images)
    kept, variant_notes = pick_variants([c for c in sweeps if c["kind"] == "classic"])
    ours_all = [c for c in targets if c["kind"] == "ours"]
    # Means over a subset of the images are not comparable with the others: table only.
    ours = [c for c in ours_all if all(n == n_images for n in c["images"])]
    learned = [c for c in sweeps if c["kind"] == "learned"]
    published = published_curves()
    plotted = kept + learned + ours + published
    anchors = [c for c in sweeps if c["name"] == "jpeg2000"] + [c for c in published if c["name"] == "BPG 4:4:4"]
    bd_rows = bd_table(plotted, anchors)
    summary = {"header": header, "images": n_images, "variant_choice": variant_notes, "curves": plotted,
               "all_sweeps": sweeps, "targets": targets, "bd": bd_rows}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    shown = ", ".join(image_names) if n_images <= 8 else f"{image_names[0]} .. {image_names[-1]}"
    md = [header, "", f"Measured rows: mean over {n_images} image{'s' if n_images != 1 else ''} ({shown}) of per-image "
          "RGB PSNR (dB); rate = whole-file bits / pixels. Published rows: the papers' own means (all 24 Kodak "
          "images for Kodak curves)" + (", so they are not measured on the same images as the rows above."
                                        if n_images != 24 else "."), ""]
    md += ["## PSNR at the target rates", "",
           "Measured rows: each image at the largest setting whose file fits the rate (mean bpp in brackets). "
           "Published rows: linear in log-rate between the two nearest published points.", ""]
    md.append("| curve | source | " + " | ".join(f"{r} bpp" for r in rates) + " | configuration |")
    md.append("|---|---|" + "---|" * len(rates) + "---|")
    tgt = {c["name"]: c for c in targets}
    for c in kept + learned + ours_all:
        t = tgt.get(c["name"], {"results": {"bpp": [], "psnr-rgb": []}, "targets": []})
        cells = []
        for rate in rates:
            if rate in t.get("targets", []):
                i = t["targets"].index(rate)
                n = t["images"][i]
                cells.append(f"{t['results']['psnr-rgb'][i]:.2f} ({t['results']['bpp'][i]:.3f})"
                             + ("" if n == n_images else f" [{n} img]"))
            else:
                cells.append("–")
        md.append(f"| {c['name']} | measured | " + " | ".join(cells) + f" | {c['description']} |")
    for c in published:
        cells = [_fmt(interpolate_psnr(c["results"]["bpp"], c["results"]["psnr-rgb"], r), ".2f") for r in rates]
        md.append(f"| {c['name']} | published ({c['kind']}) | " + " | ".join(cells) + f" | {c['source']} |")
    if variant_notes:
        md += ["", "Variant choice: " + "; ".join(f"{k}: {v}" for k, v in variant_notes.items()) + "."]
    md += ["", "## BD-rate against JPEG2000 (measured here) and BPG 4:4:4 (published)", "",
           "Negative BD-rate = fewer bits for the same PSNR. PCHIP Bjontegaard over the common range; – = no overlap.",
           ""]
    anchor_names = [a["name"] for a in anchors]
    md.append("| curve | " + " | ".join(f"BD-rate vs {a} | BD-PSNR vs {a}" for a in anchor_names) + " |")
    md.append("|---|" + "---|---|" * len(anchor_names))
    for row in bd_rows:
        cells = []
        for a in anchor_names:
            cells += [_fmt(row[f"bd_rate_vs_{a}"], "+.1f") + ("%" if row[f"bd_rate_vs_{a}"] is not None else ""),
                      _fmt(row[f"bd_psnr_vs_{a}"], "+.2f")]
        md.append(f"| {row['curve']}{'' if row['measured'] else ' (published)'} | " + " | ".join(cells) + " |")
    (out / "summary.md").write_text("\n".join(md) + "\n")
    written = [out / "per_image.csv", out / "summary.json", out / "summary.md"]
    for c in kept + ours:
        (out / f"{c['name']}.json").write_text(json.dumps(
            {"name": c["name"], "description": f"{c['description']}. Mean over {n_images} images. {header}",
             "results": c["results"]}, indent=1) + "\n")  # CompressAI's schema has no other place for these
        written.append(out / f"{c['name']}.json")
    if plot(out, kept + learned, ours, published, header, n_images):
        written += [out / "rd.png", out / "rd.svg"]
    return written


def plot(out: Path, classic: list[Curve], ours: list[Curve], published: list[Curve], header: str = "",
         n_images: int = 24) -> bool:
    """RD plot, log-bpp axis: ours solid, classic dashed, published dotted (PNG and SVG); False if not drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(13, 7.5))
    colours = plt.get_cmap("tab20").colors
    k = 0
    for curves, style, width, marker, size in ((ours, "-", 2.4, "*", 11), (classic, "--", 1.4, "o", 3),
                                               (published, ":", 1.4, "o", 3)):
        for c in curves:
            label = c["name"] + (f" ({n_images} img)" if c["measured"] else " (published, 24 img)")
            ax.plot(c["results"]["bpp"], c["results"]["psnr-rgb"], style, marker=marker, markersize=size,
                    linewidth=width, label=label, color=colours[k % len(colours)])
            k += 1
    ax.set_xscale("log")
    ax.set_xlim(0.03, 3)
    ax.set_ylim(20, 42)
    ax.set_xlabel("bits per pixel (whole file, log scale)")
    ax.set_ylabel("RGB PSNR (dB), mean over images")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="solid: ours, dashed: classic "
              "(measured here), dotted: published", title_fontsize=7)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.text(0.01, 0.005, "\n".join(textwrap.wrap(header, 230)), fontsize=6, va="bottom")  # command, machine, date
    for ext in ("png", "svg"):
        fig.savefig(out / f"rd.{ext}", dpi=130)
    plt.close(fig)
    return True
