"""Benchmark reports: mean RD curves, CompressAI-schema JSON, CSV, Markdown, plots, BD-rates.

Means are over images, per setting, as CompressAI does (mean of per-image PSNR and bpp).
A sweep point enters a curve only if every image has it, so curves compare like with like.
Every table and plot names the image set behind each curve; a BD-rate between curves of
different image sets (ours on a subset, or any run against the papers' Kodak means) is marked.
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
# Published curves drawn by default (the others with all_anchors): the strongest classic
# reference and the INR papers each of our methods is measured against.
DEFAULT_ANCHORS = ("BPG 4:4:4", "COIN", "Struempler basic", "Cool-chic v2")
KODAK = {f"kodim{i:02d}" for i in range(1, 25)}


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


def outliers(records: list[dict[str, Any]], reference: str = "jpeg2000", worst: int = 3) -> list[dict[str, Any]]:
    """Per curve of ours and target rate: the images furthest below ``reference`` at the same
    target (PSNR difference, dB), worst first."""
    ref = {(r["image"], r["setting"]): r for r in records if r["codec"] == reference and r.get("psnr") is not None}
    groups: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for r in records:
        other = ref.get((r["image"], r["setting"]))
        if r["kind"] == "ours" and r.get("psnr") is not None and other is not None:
            groups[(r["codec"], r["setting"])].append((r["psnr"] - other["psnr"], r["image"]))
    return [{"curve": codec, "target": float(setting[7:]), "images": len(ds), "mean_delta_db": sum(d for d, _ in ds) / len(ds),
             "worst": [{"image": i, "delta_db": d} for d, i in sorted(ds)[:worst]]}
            for (codec, setting), ds in sorted(groups.items())]


def write_reports(out: Path, records: list[dict[str, Any]], rates: list[float], header: str,
                  dataset: str | None = None, all_anchors: bool = False) -> list[Path]:
    """Write per-image CSV, summary JSON (CompressAI schema per curve), Markdown, plot and BD tables.

    Returns the files written (the plot only when matplotlib could draw it). Measured curves
    are means over the records' images (``dataset`` names them; Kodak when every image is a
    kodimNN); the reports say which, next to published curves that average all 24 Kodak
    images. The plot shows DEFAULT_ANCHORS of the published curves unless ``all_anchors``.
    """
    out.mkdir(parents=True, exist_ok=True)
    image_names = sorted({r["image"] for r in records})
    n_images = len(image_names)
    named = {"kodak": "Kodak", "bsds500-test": "BSDS500 test"}
    if dataset in named:
        dataset = named[dataset]
    elif dataset:
        dataset = Path(dataset).name or dataset  # a folder
    else:
        dataset = "Kodak" if set(image_names) <= KODAK else "images"
    same_as_papers = set(image_names) == KODAK
    image_set = f"{dataset}, {n_images} image{'s' if n_images != 1 else ''}"
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
    for row in bd_rows:  # a BD-rate across different image sets is marked, never silently mixed
        row["same_images"] = {a["name"]: a["measured"] == row["measured"] or same_as_papers for a in anchors}
    worst = outliers(records)
    summary = {"header": header, "images": n_images, "image_set": image_set, "image_names": image_names,
               "variant_choice": variant_notes, "curves": plotted, "all_sweeps": sweeps, "targets": targets,
               "bd": bd_rows, "outliers": worst}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    shown = ", ".join(image_names) if n_images <= 8 else f"{image_names[0]} .. {image_names[-1]}"
    md = [header, "", f"Measured rows: mean over {image_set} ({shown}) of per-image "
          "RGB PSNR (dB); rate = whole-file bits / pixels. Published rows: the papers' own means (all 24 Kodak "
          "images for Kodak curves)" + (", so they are not measured on the same images as the rows above."
                                        if not same_as_papers else "."), ""]
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
           "Negative BD-rate = fewer bits for the same PSNR. PCHIP Bjontegaard over the common range; – = no overlap; "
           f"† = the two curves average different image sets ({image_set} here, the papers' 24 Kodak images), "
           "so the number is indicative only.", ""]
    anchor_names = [a["name"] for a in anchors]
    md.append("| curve | " + " | ".join(f"BD-rate vs {a} | BD-PSNR vs {a}" for a in anchor_names) + " |")
    md.append("|---|" + "---|---|" * len(anchor_names))
    for row in bd_rows:
        cells = []
        for a in anchor_names:
            mark = "" if row["same_images"][a] or row[f"bd_rate_vs_{a}"] is None else " †"
            cells += [_fmt(row[f"bd_rate_vs_{a}"], "+.1f") + ("%" if row[f"bd_rate_vs_{a}"] is not None else "") + mark,
                      _fmt(row[f"bd_psnr_vs_{a}"], "+.2f") + mark]
        md.append(f"| {row['curve']}{'' if row['measured'] else ' (published)'} | " + " | ".join(cells) + " |")
    if worst:
        md += ["", "## Per-image outliers against JPEG2000", "",
               "Our PSNR minus JPEG2000's at the same target, per image: the mean and the three worst images.", "",
               "| curve | target bpp | images | mean dB | worst images (dB) |", "|---|---|---|---|---|"]
        md += [f"| {o['curve']} | {o['target']:g} | {o['images']} | {o['mean_delta_db']:+.2f} | "
               + ", ".join(f"{w['image']} {w['delta_db']:+.2f}" for w in o["worst"]) + " |" for o in worst]
    (out / "summary.md").write_text("\n".join(md) + "\n")
    written = [out / "per_image.csv", out / "summary.json", out / "summary.md"]
    for c in kept + ours:
        (out / f"{c['name']}.json").write_text(json.dumps(
            {"name": c["name"], "description": f"{c['description']}. Mean over {n_images} images. {header}",
             "results": c["results"]}, indent=1) + "\n")  # CompressAI's schema has no other place for these
        written.append(out / f"{c['name']}.json")
    shown_published = published if all_anchors else [c for c in published if c["name"] in DEFAULT_ANCHORS]
    if plot(out, kept + learned, ours, shown_published, header, image_set):
        written += [out / "rd.png", out / "rd.svg"]
    return written


def plot(out: Path, classic: list[Curve], ours: list[Curve], published: list[Curve], header: str = "",
         image_set: str = "Kodak, 24 images") -> bool:
    """RD plot, log-bpp axis: ours solid, classic dashed, published dotted, every curve its own
    colour and marker, axes fitted to the measured curves (PNG and SVG); False if not drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(12, 7))
    colours = plt.get_cmap("tab10").colors
    markers = ("o", "s", "^", "D", "v", "P", "X")  # 7 markers x 10 colours: 70 distinct pairs
    k = 0
    for curves, style, width in ((ours, "-", 2.4), (classic, "--", 1.4), (published, ":", 1.4)):
        for c in curves:
            label = c["name"] + (f" ({image_set})" if c["measured"] else " (published, Kodak 24)")
            ax.plot(c["results"]["bpp"], c["results"]["psnr-rgb"], style, marker=markers[k % len(markers)],
                    markersize=7 if style == "-" else 4, linewidth=width, label=label, color=colours[k % len(colours)])
            k += 1
    fitted = ours + classic or published
    xs = [b for c in fitted for b in c["results"]["bpp"]]
    ys = [p for c in fitted for p in c["results"]["psnr-rgb"]]
    if xs:
        ax.set_xlim(min(xs) / 1.25, max(xs) * 1.25)
        ax.set_ylim(min(ys) - 1, max(ys) + 1)
    ax.set_xscale("log")
    ax.set_xlabel("bits per pixel (whole file, log scale)")
    ax.set_ylabel("RGB PSNR (dB), mean over the curve's images")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="solid: ours, dashed: classic "
              "(measured here), dotted: published", title_fontsize=7)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.text(0.01, 0.005, "\n".join(textwrap.wrap(header, 230)), fontsize=6, va="bottom")  # command, machine, date
    for ext in ("png", "svg"):
        fig.savefig(out / f"rd.{ext}", dpi=130)
    plt.close(fig)
    return True
