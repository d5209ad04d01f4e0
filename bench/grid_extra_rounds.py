"""What the grid encoder's extra rounds cost: fit one image once, save the trained state, then
replay the rounds from it against budgets a given factor under the file it reached.

    python bench/grid_extra_rounds.py fit kodim05 0.6 --prior-gain 2.0
    python bench/grid_extra_rounds.py replay kodim05 0.6 --prior-gain 2.0 --shrink 1.03 [--extra-lr 0.01] [--soft 0|1]

The replay measures the file before and after the rounds (bpp, decoded PSNR). ``--old`` replays
the rounds as they were before commit 4c81eb7 (lambda x 1.5 x overshoot^2 a round, no
controller, a fifth of the learning rates), for comparison. The saved state lives in /tmp.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inrcodec import train  # noqa: E402
from inrcodec.datasets import kodak  # noqa: E402
from inrcodec.decoder import decode  # noqa: E402
from inrcodec.images import decode_image_bytes  # noqa: E402
from inrcodec.methods import EncodeOptions  # noqa: E402
from inrcodec.methods import grid_encode as ge  # noqa: E402


def optimizer_for(model) -> torch.optim.Adam:
    return torch.optim.Adam([{"params": list(model.grids), "lr": ge.DEFAULT_LATENT_LR},
                             {"params": list(model.syn) + list(model.arm), "lr": ge.DEFAULT_LR}])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["fit", "replay"])
    ap.add_argument("image")
    ap.add_argument("bpp", type=float)
    ap.add_argument("--prior-gain", type=float)
    ap.add_argument("--shrink", type=float, default=1.0, help="budget = the fitted file's bpp / this")
    ap.add_argument("--extra-lr", type=float, default=ge.SCHEDULE["extra_lr"])
    ap.add_argument("--soft", type=int, default=int(ge.SCHEDULE["extra_soft"]),
                    help="1: the rounds train on the soft relaxation (noise, final temperature); 0: hard rounding")
    ap.add_argument("--old", action="store_true")
    ap.add_argument("--data-dir", default="../shared/data/kodak")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    image = decode_image_bytes(kodak(args.data_dir, names=[args.image])[0].read_bytes(), args.image)
    h, w, c = image.shape
    pixels = h * w
    opts = {} if args.prior_gain is None else {"prior_gain": args.prior_gain}
    options = EncodeOptions(bpp=args.bpp, method="grid", effort="normal", method_options=opts)
    state = Path(f"/tmp/grid-extra-{args.image}-{args.bpp}-{args.prior_gain}.pt")

    def measured(data: bytes) -> tuple[float, float]:
        x = decode(data).astype(np.float64)
        return len(data) * 8 / pixels, 10 * math.log10(255 ** 2 / np.mean((x - image) ** 2))

    if args.what == "fit":
        t0 = time.perf_counter()
        run = ge._trained(image, options, None)
        fit, optimizer, result = run.fit, run.optimizer, run.result
        elapsed = time.perf_counter() - t0
        torch.save({"fit": fit, "optimizer": optimizer.state_dict(), "elapsed": elapsed}, state)
        bpp, psnr = measured(ge._choose_stream(fit.model, image, fit.lam))
        print(json.dumps({"image": args.image, "bpp": round(bpp, 4), "psnr": round(psnr, 3), "steps": result.steps,
                          "best_step": result.best_step, "seconds": round(elapsed, 1)}))
        return
    saved = torch.load(state, weights_only=False)
    fit = saved["fit"]
    optimizer = optimizer_for(fit.model)
    optimizer.load_state_dict(saved["optimizer"])
    data = ge._choose_stream(fit.model, image, fit.lam)
    start = measured(data)
    budget = start[0] / args.shrink
    left = ge.EFFORT_LIMIT["normal"] - saved["elapsed"]
    t0 = time.perf_counter()
    lrs = [ge.DEFAULT_LATENT_LR, ge.DEFAULT_LR]
    if args.old:
        extra = 0
        while len(data) * 8 > budget * pixels and extra < 3:
            extra += 1
            fit.lam *= 1.5 * (len(data) * 8 / (budget * pixels)) ** 2
            effort = ge.EFFORT_SECONDS["normal"]
            spent = time.perf_counter() - t0
            more = train.LoopOptions(budget_seconds=max(ge.EXTRA_SECONDS_MIN * effort, min(0.2 * effort, left - spent)),
                                     warmup_steps=1, eval_fractions=(1.0,))
            fit.latent_target = None
            for g, lr in zip(optimizer.param_groups, lrs):
                g["lr"] = lr / 5
            train.run(fit.model, optimizer, lambda p: fit.loss(1.0), fit.score, fit.keep, more)
            data = ge._choose_stream(fit.model, image, fit.lam)
    else:
        fit.sched = {**fit.sched, "extra_lr": args.extra_lr, "extra_soft": float(args.soft)}
        data, extra = ge._extra_rounds(fit, optimizer, lrs, image,
                                       EncodeOptions(bpp=budget, method="grid", effort="normal"), data, left)
    end = measured(data)
    print(json.dumps({"image": args.image, "old": args.old, "extra_lr": None if args.old else args.extra_lr,
                      "soft": None if args.old else args.soft,
                      "shrink": args.shrink, "start_bpp": round(start[0], 4), "start_psnr": round(start[1], 3),
                      "budget": round(budget, 4), "bpp": round(end[0], 4), "psnr": round(end[1], 3),
                      "rounds": extra, "fits": end[0] <= budget, "seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
