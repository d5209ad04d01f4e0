"""Tables, plots and the Pareto front of the mlpzip studies, from their JSONL records.

Called by ``python bench/mlpzip_study.py report``; writes README.md, baselines.png, pareto.png
and pareto.json in the results folder. Every figure is stamped with the commands, machines and
dates of the records behind it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DEPTHS, WIDTHS = (2, 3, 4), (32, 64, 128, 256, 512)
TARGETS = ((8192, 98.0), (2048, 97.0), (512, 90.0))
PROVENANCE = ("command", "machine", "date")
FAMILIES = {"baseline (float32 file)": "o", "post-training quantization": "s", "QAT (alone or after others)": "^",
            "MCNC (with or without distillation)": "x", "combination study (PTQ 4-bit)": "D",
            "QAT, longer recipe (shifted images, cropped inputs)": "v"}


def _load(out: Path, name: str) -> list[dict]:
    path = out / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _stamp(fig, records: list[dict]) -> None:
    """Name the commands, machines and dates behind a figure at its foot."""
    made = sorted({tuple(r[k] for k in PROVENANCE) for r in records})
    fig.text(0.01, 0.005, "; ".join(f"{c} ({m}, {d})" for c, m, d in made)[:600], fontsize=5, wrap=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1))


def _point(method: str, r: dict, family: str) -> dict:
    return {"method": method, "bytes": r["bytes"], "accuracy": r["accuracy"], "family": family,
            **{k: r[k] for k in PROVENANCE}}


def _baselines(plt, out: Path, base: list[dict], manifold: list[dict]) -> list[str]:
    """Experiment 1's table, and its plots with experiment 2's MCNC points on the width panel."""
    lines = ["## 1. Baselines: median test accuracy over seeds", "",
             "| depth \\ width | " + " | ".join(map(str, WIDTHS)) + " |", "|---" * (len(WIDTHS) + 1) + "|"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for depth in DEPTHS:
        med = []
        for width in WIDTHS:
            accs = [r["accuracy"] for r in base if r["depth"] == depth and r["width"] == width]
            med.append((float(np.median(accs)), len(accs)) if accs else (float("nan"), 0))
        lines.append(f"| {depth} | " + " | ".join(f"{m:.2f} ({n})" if n else "–" for m, n in med) + " |")
        axes[0].plot(WIDTHS, [m for m, _ in med], marker="o", label=f"depth {depth}")
    for width in WIDTHS:
        axes[1].plot(DEPTHS, [float(np.median([r["accuracy"] for r in base if r["depth"] == d and r["width"] == width]
                                              or [np.nan])) for d in DEPTHS], marker="o", label=f"width {width}")
    for r in manifold:
        width = int(r["model"].split("x")[1])
        axes[0].scatter([width], [r["accuracy"]], marker="x", color="k", s=18)
        axes[0].annotate(f"d{r['chunk']} k{r['k']}", (width, r["accuracy"]), fontsize=5, xytext=(3, 0),
                         textcoords="offset points")
    if manifold:
        axes[0].scatter([], [], marker="x", color="k", label="MCNC, depth 2 (exp. 2)")
    axes[0].set_xscale("log", base=2)
    for ax, xl in zip(axes, ("width", "depth (hidden layers)")):
        ax.set_xlabel(xl)
        ax.set_ylabel("median test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _stamp(fig, base + manifold)
    fig.savefig(out / "baselines.png", dpi=120)
    plt.close(fig)
    return lines + ["", "(n) = seeds measured. Plot: `baselines.png` (crosses: the MCNC models of experiment 2).", ""]


def _knobs(knobs: list[dict]) -> list[str]:
    lines = ["MCNC's learning rate, theta0 and input bound L (2x32, d=512, k=16, 10 epochs; `mcnc-knobs.jsonl`):",
             "", "| Adam lr | theta0 | L | bytes | accuracy |", "|---|---|---|---|---|"]
    lines += [f"| {r['lr']:g} | {'seeded' if r['theta0'] else 'zero'} | {r.get('bound', 20.0):g} | {r['bytes']} | "
              f"{r['accuracy']:.2f} |" for r in sorted(knobs, key=lambda r: (not r["theta0"], r["lr"], -r.get("bound", 20)))]
    return lines + [""]


def _manifold(manifold: list[dict], distilled: list[dict]) -> list[str]:
    """Experiments 2 and 3: MCNC from scratch, and the same students distilled (head to head)."""
    tuned = [r for r in distilled if r["split"] == "validation"]
    heads = {(r["model"], r["chunk"], r["k"]): r for r in distilled if r["split"] == "test"}
    lines = ["## 2 and 3. MCNC from scratch, without and with distillation", "",
             "Seeded theta0, alpha at 8 bits, beta at 16, 10 epochs, Adam lr 0.1; ratio = MLP parameters / coded values.",
             "", "| MLP | d | k | coded values | ratio | bytes | accuracy | distilled bytes | distilled accuracy |",
             "|---|---|---|---|---|---|---|---|---|"]
    params = {"2x32": 26506, "2x64": 55050, "2x128": 118282}
    for r in manifold:
        h = heads.get((r["model"], r["chunk"], r["k"]))
        lines.append(f"| {r['model']} | {r['chunk']} | {r['k']} | {r['coded_values']} | "
                     f"{params.get(r['model'], 0) / r['coded_values']:.1f} | {r['bytes']} | {r['accuracy']:.2f} | "
                     + (f"{h['bytes']} | {h['accuracy']:.2f} |" if h else "– | – |"))
    if tuned:
        best = max((r for r in tuned if r["weight"] > 0), key=lambda r: r["accuracy"])
        lines += ["", f"Distillation from the best baseline ({best['teacher']}); T and weight chosen on a validation "
                  "split (the last 10k training images, the student trained on the first 50k), 2x32 at d=512, k=16:", "",
                  "| T | weight | validation accuracy |", "|---|---|---|"]
        lines += [f"| {r['T']:g} | {r['weight']:g}{' (no teacher)' if r['weight'] == 0 else ''} | {r['accuracy']:.2f} |"
                  for r in tuned]
        control = [r for r in tuned if r["weight"] == 0]
        lines += ["", f"Chosen: T = {best['T']:g}, weight = {best['weight']:g}"
                  + (f" ({best['accuracy']:.2f}%; the same student without a teacher: {control[0]['accuracy']:.2f}%)."
                     if control else ".")]
    return lines + [""]


def _rows(title: str, records: list[dict], label) -> list[str]:
    lines = [f"## {title}", "", "| model | techniques | bytes | accuracy | retraining epochs | seconds |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {label(r)} | {r['bytes']} | {r['accuracy']:.2f} | {r['epochs_retrained']:g} | "
              f"{r['seconds']:g} |" for r in records]
    return lines + [""]


def _pareto(plt, out: Path, points: list[dict]) -> list[str]:
    front = [p for p in points if not any(q["bytes"] <= p["bytes"] and q["accuracy"] > p["accuracy"] or
                                          q["bytes"] < p["bytes"] and q["accuracy"] >= p["accuracy"] for q in points)]
    front.sort(key=lambda p: p["bytes"])
    (out / "pareto.json").write_text(json.dumps([{k: v for k, v in p.items() if k != "family"} for p in front],
                                                indent=1) + "\n")
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for fam, marker in FAMILIES.items():
        mine = [p for p in points if p["family"] == fam]
        ax.scatter([p["bytes"] for p in mine], [p["accuracy"] for p in mine], s=12, alpha=0.7, marker=marker,
                   label=fam)
    ax.plot([p["bytes"] for p in front], [p["accuracy"] for p in front], "r-", lw=1, label="Pareto front")
    for b, a in TARGETS:
        ax.plot([b], [a], "k*", ms=10)
    ax.set_xscale("log")
    ax.set_ylim(80, 99)
    ax.set_xlabel(".mlpz bytes (real file)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    _stamp(fig, points)
    fig.savefig(out / "pareto.png", dpi=120)
    plt.close(fig)
    lines = ["## Pareto front (test accuracy against real bytes)", "", "| bytes | accuracy | method |", "|---|---|---|"]
    lines += [f"| {p['bytes']} | {p['accuracy']:.2f} | {p['method']} |" for p in front]
    lines += ["", "Targets (stars in `pareto.png`): 98.0% at <= 8 kB, 97.0% at <= 2 kB, 90% at <= 512 B.", "",
              "| target | best measured within the size |", "|---|---|"]
    for b, a in TARGETS:
        within = [p for p in points if p["bytes"] <= b]
        best = max(within, key=lambda p: p["accuracy"]) if within else None
        got = f"{best['accuracy']:.2f}% ({best['method']}, {best['bytes']} B)" if best else "none"
        lines.append(f"| {a:g}% at <= {b} B | {got}: {'met' if best and best['accuracy'] >= a else 'not met'} |")
    return lines + [""]


def _pooled_label(r: dict) -> str:
    rank = f" rank {r['rank']}" if "lowrank" in r["methods"] else ""
    return f"{'+'.join(r['methods'])}{rank} {r['bits']}-bit"


def _recipe_label(r: dict) -> str:
    teacher = f" (teacher {r['teacher']})" if "distill" in r["methods"] else ""
    seed = f", seed {r['seed']}" if r.get("seed") else ""
    return f"{_pooled_label(r)}, shift {r['augment']}, {r['epochs']:g}+{r['retrain_epochs']:g} epochs{teacher}{seed}"


def report(out: Path) -> None:
    """Write README.md, baselines.png, pareto.png and pareto.json under ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base, quant, manifold = _load(out, "baselines"), _load(out, "quant"), _load(out, "mcnc")
    distilled, small, combos = _load(out, "distill"), _load(out, "small"), _load(out, "combos")
    lines = ["# mlpzip studies (MNIST)", "", "Made by `python bench/mlpzip_study.py report` from the JSONL records beside",
             "this file; each record names its command, machine and date. Every accuracy is that of the decoded",
             "`.mlpz` on the 10k MNIST test images; every size is the real file's.", ""]
    if base:
        lines += _baselines(plt, out, base, manifold)
    if manifold:
        lines += _manifold(manifold, distilled)
    knobs = _load(out, "mcnc-knobs")
    if knobs:
        lines += _knobs(knobs)
    if combos:
        lines += _rows("4. Combination study (4-bit quantization, 90% sparsity in 3 rounds, rank 16, distillation)",
                       combos, lambda r: "+".join(r["methods"]) or "none (16-bit)")
    if quant:
        lines += _rows("Quantization of every baseline (seed 0): post-training, and QAT at 1-2 bits", quant,
                       lambda r: f"{r['method']} {r['bits']}-bit")
    targets = _load(out, "targets")
    if targets:
        lines += _rows("Low rank trained through a 2-3 bit quantizer (aimed at the targets)", targets,
                       lambda r: f"{'+'.join(r['methods'])} rank {r['rank']}, {r['bits']}-bit")
    if small:
        lines += _rows("One hidden layer, QAT alone, after pruning (50%) or after distillation", small,
                       lambda r: f"{'+'.join(r['methods'])} {r['bits']}-bit")
    pooled = [r for r in _load(out, "pooled") if r["methods"]]
    floats = {r["model"]: r["accuracy"] for r in _load(out, "pooled") if not r["methods"]}
    if pooled:
        lines += _rows("Pooled inputs (DxWxI: I = 196 or 49 block means of the image), float accuracy "
                       + ", ".join(f"{m} {a:.2f}%" for m, a in floats.items()), pooled,
                       _pooled_label)
    recipe_all = _load(out, "recipe")
    recipe = [r for r in recipe_all if r["methods"]]
    if recipe:
        floats = [r for r in recipe_all if not r["methods"]]
        lines += _rows("Longer recipe: float training on images shifted by up to `shift` pixels, cropped inputs "
                       "(DxWxI: I = 144 or 36, 2x2 or 4x4 means of the central 24x24; 100, 2x2 means of the central "
                       "20x20; 196 and 49 uncropped for comparison), then QAT; epochs are float + QAT. Float models: "
                       + ", ".join(f"{r['model']} shift {r['augment']}{' seed %d' % r['seed'] if r.get('seed') else ''}"
                                   f" ({r['epochs']:g} epochs, lr {r['lr']:g}) {r['accuracy']:.2f}%" for r in floats),
                       recipe, _recipe_label)
    fam = list(FAMILIES)
    points = [_point(f"baseline {r['depth']}x{r['width']} (float32 model file)", {**r, "bytes": r["model_bytes"]},
                     fam[0]) for r in base]
    points += [_point(f"{r['method']} {r['bits']}-bit of {r['model']}", r, fam[1 if r["method"] == "quant" else 2])
               for r in quant]
    points += [_point(f"mcnc d={r['chunk']} k={r['k']} of {r['model']}", r, fam[3]) for r in manifold]
    points += [_point(f"mcnc+distill d={r['chunk']} k={r['k']} of {r['model']}", r, fam[3])
               for r in distilled if r["split"] == "test"]
    points += [_point(f"{'+'.join(r['methods'])} {r['bits']}-bit of {r['model']}", r, fam[2]) for r in small]
    points += [_point(f"{'+'.join(r['methods'])} rank {r['rank']} {r['bits']}-bit of {r['model']}"
                      + (f", {r['epochs']:g} epochs" if "epochs" in r else ""), r, fam[2]) for r in targets]
    points += [_point(f"{_pooled_label(r)} of {r['model']}", r, fam[2]) for r in pooled]
    points += [_point("+".join(r["methods"]) + f" of {r['model']}", r, fam[4]) for r in combos if r["methods"]]
    points += [_point(f"{_recipe_label(r)} of {r['model']}", r, fam[5]) for r in recipe]
    if points:
        lines += _pareto(plt, out, points)
    parts = [("baselines", base), ("quant", quant), ("mcnc", manifold + knobs), ("distill", distilled), ("small", small),
             ("targets", targets), ("combos", combos), ("pooled", _load(out, "pooled")), ("recipe", recipe_all)]
    lines += ["## Time per experiment", "", "Sum of the records' `seconds` (training and compression of each point; "
              "the 2-core machine was sometimes shared, so these are upper bounds).", "",
              "| part | points | seconds |", "|---|---|---|"]
    lines += [f"| {name} | {len(rs)} | {sum(r['seconds'] for r in rs):.0f} |" for name, rs in parts if rs]
    lines.append("")
    (out / "README.md").write_text("\n".join(lines) + "\n")
    print("wrote", out / "README.md")
