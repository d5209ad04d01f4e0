"""The mlpzip studies of issue 11, with a resumable cache (one JSON line per measured point).

  baselines  depth 2, 3, 4 x width 32..512 x seeds: test accuracy of plain MLPs (models kept
             under --models for the other parts; not committed)
  quant      every cached baseline model quantized after training at 1..8 bits (cheap points
             for the Pareto front), and QAT at the lowest depths for the smaller models
  mcnc       experiment 2: MLPs trained from scratch on MCNC manifolds (seeded theta0) at several
             chunk sizes d and dimensions k, alpha at 8 bits
  distill    experiment 3: T and weight chosen on a validation split (last 10k training images)
             for one MCNC student, then every MCNC model of part mcnc retrained with the best
             baseline as teacher (a head-to-head table with part mcnc)
  small      one-hidden-layer MLPs (width 8..32) with QAT at 1..4 bits, alone and after pruning
             or distillation: points for the small-file targets
  targets    low-rank factors trained through a 2-3 bit quantizer (and distilled), aimed at the
             issue's small-file targets
  pooled     MLPs on 2x2 or 4x4 block means of the image (196 or 49 inputs), then QAT, low rank
             and distillation: the first layer shrinks 4x or 16x for the small-file targets
  recipe     40 epochs of float training on randomly shifted images and cropped inputs (central
             24x24 or 20x20), then 15 epochs of QAT: the three targets, and what each ingredient buys
  combos     the seed combination study: every subset of distill, prune, low rank and
             quantization applied to one model (--base DxW), the best baseline as teacher
  all        every part above in order, then the report (the whole study, resumable: points
             already in the records are skipped; about 1.5 h on 2 cores from nothing)
  report     tables and plots in bench/results/mnist/, and pareto.json (the front of test
             accuracy against real .mlpz bytes over every point measured)

Usage: python bench/mlpzip_study.py all|baselines|quant|mcnc|distill|small|combos|targets|pooled|recipe|report [--data-dir DIR] [--seeds 0,1,2]
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


def _compressed_point(name: str, key: dict, config, tensors, options, data, extra: dict | None = None,
                      seed: int | None = None) -> None:
    """Compress, decode and measure one point, unless a record of ``name`` already has ``key``'s
    values (and, where ``seed`` is given, that seed: records without one are seed 0's)."""
    from inrcodec import mlp, mlpzip

    if any(all(r.get(k) == v for k, v in key.items() if k != "teacher") and (seed is None or r.get("seed", 0) == seed)
           for r in load(name)):
        return
    t0 = time.time()
    result = mlpzip.compress(config, tensors, options, data[0])
    append(name, {**key, **(extra or {}), "bytes": len(result.data), "accuracy": mlp.accuracy(result.tensors, *data[1]),
                  "epochs_retrained": result.epochs, "seconds": round(time.time() - t0, 1), **stamp()})


def quant(args, data) -> None:
    from inrcodec import mlp, mlpzip

    for r in load("baselines"):
        path = model_path(args, r["depth"], r["width"], r["seed"])
        if r["seed"] != args.seeds[0] or not path.exists():
            continue
        config, tensors = mlp.from_bytes(path.read_bytes(), str(path))
        for bits in (1, 2, 3, 4, 6, 8):
            key = {"model": f"{r['depth']}x{r['width']}", "method": "quant", "bits": bits}
            _compressed_point("quant", key, config, tensors, mlpzip.CompressOptions(["quant"], bits=bits), data)
        if r["width"] <= 128:
            for bits in (1, 2):
                key = {"model": f"{r['depth']}x{r['width']}", "method": "qat", "bits": bits}
                options = mlpzip.CompressOptions(["qat"], bits=bits, epochs=args.retrain_epochs, lr=1e-3)
                _compressed_point("quant", key, config, tensors, options, data)


MCNC_NETS = ("2x32", "2x64", "2x128")
MCNC_GRID = ((128, 8), (128, 16), (512, 8), (512, 16), (512, 32))  # (chunk d, k): d / (k+1) from 14 to 57
MCNC_EPOCHS, MCNC_LR = 10, 0.1


def _teacher(args):
    from inrcodec import mlp

    best = max((r for r in load("baselines") if model_path(args, r["depth"], r["width"], r["seed"]).exists()),
               key=lambda r: r["accuracy"])
    path = model_path(args, best["depth"], best["width"], best["seed"])
    return f"{best['depth']}x{best['width']}", mlp.from_bytes(path.read_bytes())[1]


def _kd() -> tuple[float, float]:
    """The distillation (T, weight) part distill chose on its validation split (else 4, 0.9); the
    no-teacher control (weight 0) is measured beside them, not chosen."""
    tuned = [r for r in load("distill") if r["split"] == "validation" and r["weight"] > 0]
    best = max(tuned, key=lambda r: r["accuracy"]) if tuned else {"T": 4.0, "weight": 0.9}
    return best["T"], best["weight"]


def _mcnc_options(d: int, k: int, **extra):
    from inrcodec import mlpzip

    extra.setdefault("theta0", True)
    return mlpzip.CompressOptions(["mcnc", "quant"] + extra.pop("methods", []), bits=8, epochs=MCNC_EPOCHS,
                                  lr=MCNC_LR, chunk=d, k=k, **extra)


def mcnc(args, data) -> None:
    from inrcodec import mlp

    for net in MCNC_NETS:
        config = mlp.MLPConfig(*(int(v) for v in net.split("x")))
        for d, k in MCNC_GRID:
            key = {"model": net, "chunk": d, "k": k}
            _compressed_point("mcnc", key, config, None, _mcnc_options(d, k), data,
                              {"coded_values": -(-config.num_params() // d) * (k + 1)})
    # the knobs behind the defaults: learning rate, and theta0 zero vs seeded (2x32, d=512, k=16)
    config = mlp.MLPConfig(2, 32)
    for lr, theta0 in ((0.001, True), (0.01, True), (0.3, True), (MCNC_LR, True), (MCNC_LR, False)):
        options = _mcnc_options(512, 16, theta0=theta0)
        options.lr = lr
        _compressed_point("mcnc-knobs", {"model": "2x32", "chunk": 512, "k": 16, "lr": lr, "theta0": theta0},
                          config, None, options, data)
    for bound in (0.3, 1.0):  # the rows above ran at L = 20
        _compressed_point("mcnc-knobs", {"model": "2x32", "chunk": 512, "k": 16, "lr": MCNC_LR, "theta0": True,
                                         "bound": bound}, config, None, _mcnc_options(512, 16, bound=bound), data)


def distill(args, data) -> None:
    """Tune (T, weight) on a validation split for one student, then retrain every MCNC model of part mcnc."""
    from inrcodec import mlp

    teacher_name, teacher = _teacher(args)
    (x, y), test = data
    tune = ((x[:50000], y[:50000]), (x[50000:], y[50000:]))  # validation: the last 10k training images
    config = mlp.MLPConfig(2, 32)
    for t, w in [(1.0, 0.0)] + list(itertools.product((1.0, 2.0, 4.0, 8.0), (0.5, 0.9))):  # weight 0: no teacher
        key = {"model": "2x32", "chunk": 512, "k": 16, "T": t, "weight": w, "split": "validation",
               "teacher": teacher_name}
        options = _mcnc_options(512, 16, methods=["distill"], teacher=teacher, kd_temperature=t, kd_weight=w)
        _compressed_point("distill", key, config, None, options, tune)
    tuned = [r for r in load("distill") if r["split"] == "validation"]
    best = max(tuned, key=lambda r: r["accuracy"])
    for net in MCNC_NETS:
        config = mlp.MLPConfig(*(int(v) for v in net.split("x")))
        for d, k in MCNC_GRID:
            key = {"model": net, "chunk": d, "k": k, "T": best["T"], "weight": best["weight"], "split": "test",
                   "teacher": teacher_name}
            options = _mcnc_options(d, k, methods=["distill"], teacher=teacher, kd_temperature=best["T"],
                                    kd_weight=best["weight"])
            _compressed_point("distill", key, config, None, options, (data[0], test))


def small(args, data) -> None:
    """One hidden layer of 8..32 units, trained 10 epochs, then QAT (alone, after pruning, after distillation)."""
    from inrcodec import mlp, mlpzip

    teacher_name, teacher = _teacher(args)
    t, w = _kd()
    for width in (8, 16, 32):
        config = mlp.MLPConfig(1, width)
        tensors = mlpzip.train_model(config, *data[0], 10, args.seeds[0], lr=args.lr)
        for methods in (["qat"], ["prune", "qat"], ["distill", "qat"]):
            for bits in (1, 2, 3, 4):
                key = {"model": f"1x{width}", "methods": methods, "bits": bits}
                options = mlpzip.CompressOptions(methods, bits=bits, epochs=args.retrain_epochs, lr=1e-3, sparsity=0.5,
                                                 prune_rounds=2, teacher=teacher, kd_temperature=t, kd_weight=w)
                _compressed_point("small", {**key, "teacher": teacher_name}, config, tensors, options, data)


# Pipelines aimed at the targets (98% <= 8 kB, 97% <= 2 kB, 90% <= 512 B): factor the
# best-accuracy models to a low rank and train through a 2-3 bit quantizer, with the tuned
# distillation, where the combination study and the quantization points left the gaps.
TARGET_RUNS = (("2x256", 32, 3), ("2x256", 16, 3), ("2x256", 16, 2), ("2x128", 16, 2), ("2x128", 8, 2),
               ("2x64", 8, 2), ("2x64", 4, 2), ("2x32", 4, 2), ("2x32", 2, 2))
LONG_RUNS = (("2x256", 24, 3), ("2x256", 32, 2), ("2x128", 8, 3), ("2x64", 4, 3))  # 10 epochs, after the above


def targets(args, data) -> None:
    from inrcodec import mlp, mlpzip

    teacher_name, teacher = _teacher(args)
    t, w = _kd()
    runs = [(*r, args.retrain_epochs) for r in TARGET_RUNS] + [(*r, 10.0) for r in LONG_RUNS]
    for net, rank, bits, epochs in runs:
        depth, width = (int(v) for v in net.split("x"))
        config, tensors = mlp.from_bytes(model_path(args, depth, width, args.seeds[0]).read_bytes())
        for methods in (["lowrank", "qat"], ["distill", "lowrank", "qat"]):
            key = {"model": net, "methods": methods, "rank": rank, "bits": bits, "teacher": teacher_name}
            if epochs != args.retrain_epochs:
                key["epochs"] = epochs
            options = mlpzip.CompressOptions(methods, bits=bits, epochs=epochs, lr=1e-3, rank=rank,
                                             teacher=teacher, kd_temperature=t, kd_weight=w)
            _compressed_point("targets", key, config, tensors, options, data)


# Pooled inputs (mlp.INPUT_LAYOUTS): the first layer of a 784-input MLP is most of its file; the
# means of 2x2 (196 inputs) or 4x4 (49) pixel blocks cut it 4x or 16x for a little accuracy.
# (depth, width, inputs, methods, bits, rank); every model trains 10 epochs in float first.
POOLED_RUNS = ((1, 16, 49, ["qat"], 2, 0), (1, 16, 49, ["qat"], 3, 0), (1, 24, 49, ["qat"], 2, 0),
               (1, 32, 49, ["qat"], 2, 0), (1, 32, 49, ["distill", "qat"], 2, 0), (2, 32, 49, ["qat"], 2, 0),
               (1, 32, 196, ["qat"], 2, 0), (1, 64, 196, ["qat"], 2, 0), (2, 64, 196, ["qat"], 2, 0),
               (2, 64, 196, ["distill", "qat"], 2, 0), (2, 64, 196, ["lowrank", "qat"], 2, 16),
               (2, 128, 196, ["lowrank", "qat"], 2, 16), (2, 128, 196, ["distill", "lowrank", "qat"], 3, 16),
               (2, 256, 196, ["lowrank", "qat"], 3, 24), (2, 256, 196, ["distill", "lowrank", "qat"], 3, 24),
               # after the first pass: 3 bits kept 98% of a 49-input model's accuracy where 2 bits lost 12%
               (1, 20, 49, ["qat"], 3, 0), (1, 24, 49, ["qat"], 3, 0), (1, 32, 49, ["qat"], 3, 0),
               (1, 24, 49, ["distill", "qat"], 3, 0), (1, 32, 196, ["qat"], 3, 0), (1, 48, 196, ["qat"], 3, 0),
               (2, 256, 196, ["lowrank", "qat"], 3, 28), (2, 256, 196, ["distill", "lowrank", "qat"], 3, 28),
               (2, 96, 196, ["distill", "lowrank", "qat"], 3, 12))


def pooled(args, data) -> None:
    from inrcodec import mlp, mlpzip

    teacher_name, teacher = _teacher(args)
    t, w = _kd()
    (x, y), (xt, yt) = data
    models: dict[tuple[int, int, int], list] = {}
    for depth, width, inputs, methods, bits, rank in POOLED_RUNS:
        config = mlp.MLPConfig(depth, width, inputs=inputs)
        name = f"{depth}x{width}x{inputs}"
        if not any(r.get("model") == name and r.get("methods") == [] for r in load("pooled")):
            t0 = time.time()
            models[(depth, width, inputs)] = tensors = mlpzip.train_model(config, x, y, args.epochs, args.seeds[0],
                                                                          lr=3e-3)
            append("pooled", {"model": name, "methods": [], "parameters": config.num_params(), "epochs": args.epochs,
                              "accuracy": mlp.accuracy(tensors, xt, yt), "float_bytes": 4 * config.num_params(),
                              "seconds": round(time.time() - t0, 1), **stamp()})
        key = {"model": name, "methods": methods, "bits": bits, "rank": rank, "teacher": teacher_name}
        if any(all(r.get(k) == v for k, v in key.items() if k != "teacher") for r in load("pooled")):
            continue
        if (depth, width, inputs) not in models:
            models[(depth, width, inputs)] = mlpzip.train_model(config, x, y, args.epochs, args.seeds[0], lr=3e-3)
        options = mlpzip.CompressOptions(methods, bits=bits, epochs=args.retrain_epochs, lr=1e-3, rank=rank or 16,
                                         teacher=teacher, kd_temperature=t, kd_weight=w)
        _compressed_point("pooled", key, config, models[(depth, width, inputs)], options, data)


# The longer recipe (2026-12-01): the float model trains 40 epochs (Adam, lr 3e-3, cosine) with
# every image moved by a random offset of up to `augment` pixels, on cropped inputs
# (mlp.INPUT_LAYOUTS: 144 = 2x2 means of the central 24x24, 100 = of the central 20x20, 36 = 4x4
# means of the central 24x24), then 15 epochs of QAT (shifted alike). Rows: (depth, width,
# inputs, augment, methods, bits, rank); the first rows take one ingredient away at a time.
RECIPE_EPOCHS, RECIPE_RETRAIN = 40.0, 15.0
RECIPE_RUNS = ((2, 96, 144, 1, ["qat"], 3, 0), (2, 96, 144, 0, ["qat"], 3, 0), (2, 96, 196, 1, ["qat"], 3, 0),
               (2, 96, 144, 1, ["distill", "qat"], 3, 0),
               (1, 64, 100, 1, ["qat"], 3, 0), (1, 48, 100, 1, ["qat"], 3, 0), (2, 40, 100, 1, ["qat"], 3, 0),
               (1, 48, 100, 0, ["qat"], 3, 0), (1, 24, 36, 0, ["qat"], 3, 0), (1, 24, 36, 1, ["qat"], 3, 0),
               (1, 32, 36, 0, ["qat"], 3, 0), (1, 24, 49, 0, ["qat"], 3, 0),
               (1, 64, 100, 1, ["distill", "qat"], 3, 0), (1, 24, 36, 1, ["distill", "qat"], 3, 0))
RECIPE_TEACHER = (2, 512, 784, 2, 30.0)  # depth, width, inputs, augment, epochs: 99.07% when first measured


def _recipe_model(args, depth: int, width: int, inputs: int, augment: int, epochs: float, lr: float, seed: int):
    """A float model of the recipe, from --models if trained before (its record is then in recipe.jsonl)."""
    from inrcodec import mlp, mlpzip

    name = f"{depth}x{width}x{inputs}"
    path = Path(args.models) / f"recipe-{name}-a{augment}-e{epochs:g}-lr{lr:g}-s{seed}.pt"
    if path.exists():
        return mlp.from_bytes(path.read_bytes(), str(path))
    recorded = any(r["model"] == name and not r["methods"] and r["augment"] == augment and r["epochs"] == epochs
                   and r["lr"] == lr and r.get("seed", 0) == seed for r in load("recipe"))
    (x, y), (xt, yt) = args.data
    config = mlp.MLPConfig(depth, width, inputs=inputs)
    t0 = time.time()
    tensors = mlpzip.train_model(config, x, y, epochs, seed, lr=lr, augment=augment)
    Path(args.models).mkdir(parents=True, exist_ok=True)
    path.write_bytes(mlp.to_bytes(config, tensors))
    if not recorded:  # a model retrained after its file was lost is the same run (training is deterministic)
        append("recipe", {"model": name, "methods": [], "augment": augment, "epochs": epochs, "lr": lr,
                          **({"seed": seed} if seed else {}),
                          "parameters": config.num_params(), "accuracy": mlp.accuracy(tensors, xt, yt),
                          "seconds": round(time.time() - t0, 1), **stamp()})
    return config, tensors


def recipe(args, data) -> None:
    """Longer training, shifted images, cropped inputs and longer QAT, for every seed of --seeds:
    the issue's three targets."""
    from inrcodec import mlpzip

    args.data = data
    t, w = _kd()
    teacher = None  # trained (seed 0, for every seed) only when a distilled point is still missing
    teacher_name = "{}x{}x{} shifted".format(*RECIPE_TEACHER[:3])
    for seed in args.seeds:
        for depth, width, inputs, augment, methods, bits, rank in RECIPE_RUNS:
            key = {"model": f"{depth}x{width}x{inputs}", "methods": methods, "bits": bits, "rank": rank,
                   "augment": augment, "epochs": RECIPE_EPOCHS, "retrain_epochs": RECIPE_RETRAIN,
                   "teacher": teacher_name}
            if seed:  # seed 0's records carry no seed field
                key["seed"] = seed
            if any(all(r.get(k) == v for k, v in key.items() if k != "teacher") and r.get("seed", 0) == seed
                   for r in load("recipe")):
                continue
            if "distill" in methods and teacher is None:
                d, wd, i, a, e = RECIPE_TEACHER
                teacher = _recipe_model(args, d, wd, i, a, e, 1e-3, 0)[1]
            config, tensors = _recipe_model(args, depth, width, inputs, augment, RECIPE_EPOCHS, 3e-3, seed)
            options = mlpzip.CompressOptions(methods, bits=bits, epochs=RECIPE_RETRAIN, lr=1e-3, rank=rank or 16,
                                             teacher=teacher, kd_temperature=t, kd_weight=w, augment=augment,
                                             seed=seed)
            _compressed_point("recipe", key, config, tensors, options, data, seed=seed)


def combos(args, data) -> None:
    from inrcodec import mlp, mlpzip

    teacher_name, teacher = _teacher(args)
    depth, width = (int(v) for v in args.base.split("x"))
    config, tensors = mlp.from_bytes(model_path(args, depth, width, args.seeds[0]).read_bytes())
    t, w = _kd()
    steps = ["distill", "prune", "lowrank", "quant"]
    for n in range(len(steps) + 1):
        for subset in itertools.combinations(steps, n):
            key = {"model": args.base, "methods": list(subset)}
            options = mlpzip.CompressOptions(list(subset), bits=4, epochs=args.retrain_epochs, lr=1e-3,
                                             sparsity=0.9, prune_rounds=3, rank=16, teacher=teacher,
                                             kd_temperature=t, kd_weight=w)
            if not subset:
                options = mlpzip.CompressOptions([], bits=16)
            key["teacher"] = teacher_name
            _compressed_point("combos", key, config, tensors, options, data)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("part", choices=["all", "baselines", "quant", "mcnc", "distill", "small", "combos", "targets",
                                     "pooled", "recipe", "report"])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=float, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--retrain-epochs", type=float, default=3)
    ap.add_argument("--base", default="2x64")
    ap.add_argument("--models", default="bench-cache/mnist-models")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    a.seeds = [int(s) for s in a.seeds.split(",")]
    OUT = Path(a.out)
    if a.part == "report":
        from mlpzip_report import report

        report(OUT)
    else:
        import torch

        from inrcodec.datasets import mnist

        torch.set_num_threads(a.threads)
        d = (mnist("train", a.data_dir), mnist("test", a.data_dir))
        parts = {"baselines": baselines, "quant": quant, "mcnc": mcnc, "distill": distill, "small": small,
                 "combos": combos, "targets": targets, "pooled": pooled, "recipe": recipe}
        for name in parts if a.part == "all" else [a.part]:  # all: every part in order (cached points skipped)
            parts[name](a, d)
        if a.part == "all":
            from mlpzip_report import report

            report(OUT)
