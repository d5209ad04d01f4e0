"""The mlpzip studies of issue 11, with a resumable cache (one JSON line per measured point).

  baselines  depth 2, 3, 4 x width 32..512 x seeds: test accuracy of plain MLPs (models kept
             under --models for the other parts; not committed)
  quant      every cached baseline model quantized after training at 1..8 bits (cheap points
             for the Pareto front), and QAT at the lowest depths for the smaller models
  combos     the seed combination study: every subset of distill, prune, low rank and
             quantization applied to one model (--base DxW), the best baseline as teacher
  report     tables and plots in bench/results/mnist/, and pareto.json (the front of test
             accuracy against real .mlpz bytes over every point measured)

Usage: python bench/mlpzip_study.py baselines|quant|combos|report [--data-dir DIR] [--seeds 0,1,2]
           [--epochs 10] [--base 2x64] [--models bench-cache/mnist-models] [--out bench/results/mnist]
Every point is measured on the decoded .mlpz (accuracy on the 10k MNIST test images, bytes of
the real file); the records carry the command, the machine and the date.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "results" / "mnist"
DEPTHS, WIDTHS = (2, 3, 4), (32, 64, 128, 256, 512)


def stamp() -> dict:
    import torch

    return {"command": "python " + " ".join(sys.argv), "date": datetime.date.today().isoformat(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"}


def load(name: str) -> list[dict]:
    path = OUT / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def append(name: str, record: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / f"{name}.jsonl").open("a") as f:
        f.write(json.dumps(record) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k not in ("command", "machine")}), flush=True)


def model_path(args, depth: int, width: int, seed: int) -> Path:
    return Path(args.models) / f"mlp-{depth}x{width}-s{seed}-e{args.epochs:g}.pt"


def baselines(args, data) -> None:
    from inrcodec import mlp, mlpzip

    (x, y), (xt, yt) = data
    done = {(r["depth"], r["width"], r["seed"], r["epochs"]) for r in load("baselines")}
    Path(args.models).mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:  # one seed of every model first, so a partial run covers the grid
        for depth in DEPTHS:
            for width in WIDTHS:
                if (depth, width, seed, args.epochs) in done:
                    continue
                config = mlp.MLPConfig(depth, width)
                t0 = time.time()
                tensors = mlpzip.train_model(config, x, y, args.epochs, seed, lr=args.lr)
                seconds = time.time() - t0
                data_bytes = mlp.to_bytes(config, tensors)
                model_path(args, depth, width, seed).write_bytes(data_bytes)
                append("baselines", {"depth": depth, "width": width, "seed": seed, "epochs": args.epochs,
                                     "lr": args.lr, "parameters": config.num_params(),
                                     "accuracy": mlp.accuracy(tensors, xt, yt), "model_bytes": len(data_bytes),
                                     "seconds": round(seconds, 1), **stamp()})


def _compressed_point(name: str, key: dict, config, tensors, options, data, done: set) -> None:
    from inrcodec import mlp, mlpzip

    if json.dumps(key, sort_keys=True) in done:
        return
    t0 = time.time()
    result = mlpzip.compress(config, tensors, options, data[0])
    append(name, {**key, "bytes": len(result.data), "accuracy": mlp.accuracy(result.tensors, *data[1]),
                  "epochs_retrained": result.epochs, "seconds": round(time.time() - t0, 1), **stamp()})


def quant(args, data) -> None:
    from inrcodec import mlp, mlpzip

    done = {json.dumps({k: r[k] for k in ("model", "method", "bits")}, sort_keys=True) for r in load("quant")}
    for r in load("baselines"):
        path = model_path(args, r["depth"], r["width"], r["seed"])
        if r["seed"] != args.seeds[0] or not path.exists():
            continue
        config, tensors = mlp.from_bytes(path.read_bytes(), str(path))
        for bits in (1, 2, 3, 4, 6, 8):
            key = {"model": f"{r['depth']}x{r['width']}", "method": "quant", "bits": bits}
            _compressed_point("quant", key, config, tensors, mlpzip.CompressOptions(["quant"], bits=bits), data, done)
        if r["width"] <= 128:
            for bits in (1, 2):
                key = {"model": f"{r['depth']}x{r['width']}", "method": "qat", "bits": bits}
                options = mlpzip.CompressOptions(["qat"], bits=bits, epochs=args.retrain_epochs, lr=1e-3)
                _compressed_point("quant", key, config, tensors, options, data, done)


def combos(args, data) -> None:
    from inrcodec import mlp, mlpzip

    base = load("baselines")
    best = max((r for r in base if model_path(args, r["depth"], r["width"], r["seed"]).exists()),
               key=lambda r: r["accuracy"])
    teacher = mlp.from_bytes(model_path(args, best["depth"], best["width"], best["seed"]).read_bytes())[1]
    depth, width = (int(v) for v in args.base.split("x"))
    config, tensors = mlp.from_bytes(model_path(args, depth, width, args.seeds[0]).read_bytes())
    done = {json.dumps({k: r[k] for k in ("model", "methods")}, sort_keys=True) for r in load("combos")}
    steps = ["distill", "prune", "lowrank", "quant"]
    for n in range(len(steps) + 1):
        for subset in itertools.combinations(steps, n):
            key = {"model": args.base, "methods": list(subset)}
            options = mlpzip.CompressOptions(list(subset), bits=4, epochs=args.retrain_epochs, lr=1e-3,
                                             sparsity=0.9, prune_rounds=3, rank=16, teacher=teacher,
                                             kd_temperature=4.0, kd_weight=0.9)
            if not subset:
                options = mlpzip.CompressOptions([], bits=16)
            key["teacher"] = f"{best['depth']}x{best['width']}"
            _compressed_point("combos", key, config, tensors, options, data, done)


def _stamp(fig, records: list[dict]) -> None:
    """Name the commands, machines and dates behind a figure at its foot."""
    made = sorted({(r["command"], r["machine"], r["date"]) for r in records})
    fig.text(0.01, 0.005, "; ".join(f"{c} ({m}, {d})" for c, m, d in made)[:400], fontsize=5)
    fig.tight_layout(rect=(0, 0.03, 1, 1))


def report(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = load("baselines")
    lines = ["# mlpzip studies (MNIST)", "", "Made by `python bench/mlpzip_study.py report` from the JSONL records beside",
             "this file; each record names its command, machine and date.", ""]
    if base:
        lines += ["## Baselines: median test accuracy over seeds", "",
                  "| depth \\ width | " + " | ".join(map(str, WIDTHS)) + " |", "|---" * (len(WIDTHS) + 1) + "|"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
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
        axes[0].set_xscale("log", base=2)
        for ax, xl in zip(axes, ("width", "depth (hidden layers)")):
            ax.set_xlabel(xl)
            ax.set_ylabel("median test accuracy (%)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        _stamp(fig, base)
        fig.savefig(OUT / "baselines.png", dpi=120)
        lines += ["", "(n) = seeds measured. Plot: `baselines.png`.", ""]
    points = [{"method": f"baseline {r['depth']}x{r['width']} (float32 model file)", "bytes": r["model_bytes"],
               "accuracy": r["accuracy"], **{k: r[k] for k in ("command", "machine", "date")}} for r in base]
    points += [{"method": f"{r['method']} {r['bits']}-bit of {r['model']}", "bytes": r["bytes"], "accuracy": r["accuracy"],
                **{k: r[k] for k in ("command", "machine", "date")}} for r in load("quant")]
    combo = load("combos")
    if combo:
        lines += ["## Combination study", "", "| techniques | bytes | accuracy | retraining epochs |", "|---|---|---|---|"]
        for r in combo:
            lines.append(f"| {'+'.join(r['methods']) or 'none (16-bit)'} | {r['bytes']} | {r['accuracy']:.2f} | "
                         f"{r['epochs_retrained']:g} |")
        lines.append("")
        points += [{"method": "+".join(r["methods"]) + f" of {r['model']}", "bytes": r["bytes"], "accuracy": r["accuracy"],
                    **{k: r[k] for k in ("command", "machine", "date")}} for r in combo if r["methods"]]
    front = [p for p in points if not any(q["bytes"] <= p["bytes"] and q["accuracy"] > p["accuracy"] or
                                          q["bytes"] < p["bytes"] and q["accuracy"] >= p["accuracy"] for q in points)]
    front.sort(key=lambda p: p["bytes"])
    (OUT / "pareto.json").write_text(json.dumps(front, indent=1) + "\n")
    if points:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        ax.scatter([p["bytes"] for p in points], [p["accuracy"] for p in points], s=8, alpha=0.4, label="all points")
        ax.plot([p["bytes"] for p in front], [p["accuracy"] for p in front], "r-o", ms=3, label="Pareto front")
        for b, a in ((8192, 98.0), (2048, 97.0), (512, 90.0)):
            ax.plot([b], [a], "k*", ms=10)
        ax.set_xscale("log")
        ax.set_ylim(max(0, min(p["accuracy"] for p in front) - 5), 100)
        ax.set_xlabel(".mlpz bytes (real file)")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        _stamp(fig, points)
        fig.savefig(OUT / "pareto.png", dpi=120)
        lines += ["## Pareto front (test accuracy against real bytes)", "", "| bytes | accuracy | method |", "|---|---|---|"]
        lines += [f"| {p['bytes']} | {p['accuracy']:.2f} | {p['method']} |" for p in front]
        lines += ["", "Targets (stars in `pareto.png`): 98.0% at <= 8 kB, 97.0% at <= 2 kB, 90% at <= 512 B.", ""]
    (OUT / "README.md").write_text("\n".join(lines) + "\n")
    print("wrote", OUT / "README.md")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("part", choices=["baselines", "quant", "combos", "report"])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=float, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--retrain-epochs", type=float, default=3)
    ap.add_argument("--base", default="2x64")
    ap.add_argument("--models", default="bench-cache/mnist-models")
    a = ap.parse_args()
    a.seeds = [int(s) for s in a.seeds.split(",")]
    OUT = Path(a.out)
    if a.part == "report":
        report(a)
    else:
        import torch

        from inrcodec.datasets import mnist

        torch.set_num_threads(os.cpu_count() or 1)
        d = (mnist("train", a.data_dir), mnist("test", a.data_dir))
        {"baselines": baselines, "quant": quant, "combos": combos}[a.part](a, d)
