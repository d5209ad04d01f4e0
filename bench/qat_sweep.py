"""One QAT setting on a few Kodak images through the codec's own encoder (issue 9): the learning
rate (``--lr``, ``--qat-lr-scale``), the pixels per step (``--batch``: qat.BATCH_PIXELS),
torch.compile (``--compile 0|1``), the weights' depth (``--bits``) and a fixed network (``--arch``,
e.g. 4x80, with Fourier features), the L1 penalty's weight per step (``--l1``) or the planner's
coded bits per 8-bit weight under the L1 penalty (``--l1-bits-saved``: qat.L1_BITS_SAVED), at an
effort preset or ``--steps``; ``--seed`` for the spread. Run one process per setting and compare
the JSON lines per image (same images, same preset, same threads).

    python bench/qat_sweep.py --images kodim01,kodim05 --rate 0.3 --effort normal --lr 2e-3 \
        --label lr2e-3 --out bench/results/qat-sweep.jsonl

Each line: the setting, the file's bpp and decoded PSNR, steps and seconds.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inrcodec.datasets import kodak  # noqa: E402
from inrcodec.encoder import encode  # noqa: E402
from inrcodec.images import decode_image_bytes  # noqa: E402
from inrcodec.methods import EncodeOptions, qat  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True)
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--effort", default="normal")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--qat-lr-scale", type=float, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--compile", type=int, choices=(0, 1), default=None)
    ap.add_argument("--bf16", type=int, choices=(0, 1), default=None, help="method option bf16 (mixed precision)")
    ap.add_argument("--seed", type=int, default=0, help="the encoder's seed (run-to-run spread)")
    ap.add_argument("--steps", type=int, default=None, help="a fixed step count instead of the effort's time")
    ap.add_argument("--l1-bits-saved", type=float, default=None)
    ap.add_argument("--l1", type=float, default=None, help="the L1 weight per step (method option l1)")
    ap.add_argument("--bits", type=int, default=None, help="the weights' depth (method option bits; rate control "
                    "sizes the network for it)")
    ap.add_argument("--arch", default=None, help="a fixed DEPTHxWIDTH network instead of rate control's")
    ap.add_argument("--label", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default="../shared/data/kodak")
    ap.add_argument("--out", default="bench/results/qat-sweep.jsonl")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.batch:
        qat.BATCH_PIXELS = args.batch
    if args.l1_bits_saved is not None:
        qat.L1_BITS_SAVED = args.l1_bits_saved
    knobs = {k: v for k, v in (("lr", args.lr), ("qat_lr_scale", args.qat_lr_scale), ("l1", args.l1),
                               ("bits", args.bits)) if v is not None}
    if args.arch:
        knobs["arch"] = tuple(int(n) for n in args.arch.lower().split("x"))
    if args.compile is not None:
        knobs["compile"] = bool(args.compile)
    if args.bf16 is not None:
        knobs["bf16"] = bool(args.bf16)
    for name in args.images.split(","):
        image = decode_image_bytes(kodak(args.data_dir, names=[name])[0].read_bytes(), name)
        t0 = time.perf_counter()
        res = encode(image, EncodeOptions(bpp=args.rate, method="qat", effort=args.effort, seed=args.seed,
                                          steps=args.steps, method_options=knobs))
        record = {"image": name, "label": args.label, "rate": args.rate, "effort": args.effort, "seed": args.seed, **knobs,
                  "fixed_steps": args.steps, "l1_bits_saved": qat.L1_BITS_SAVED,
                  "batch": qat.BATCH_PIXELS, "bpp": round(res.bpp, 4), "psnr": round(res.psnr, 3),
                  "steps": res.steps, "best_step": res.best_step, "config": res.config,
                  "seconds": round(time.perf_counter() - t0, 1), "command": " ".join(["python"] + sys.argv),
                  "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}",
                  "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
        line = json.dumps(record)
        print(line, flush=True)
        with open(args.out, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
