"""Make a learned initialization for the grid encoder (issue 14): fit BSDS500 training photos
in a chain at one budget, each fit starting from the previous one's networks (the first from
random ones), and write the last stream (its networks are the initialization; nothing is
shipped yet, see :mod:`inrcodec.methods.grid_init`).

    python bench/grid_make_init.py --images 100075,100080,100098 --bpp 0.3 \
        --out /tmp/grid-init-default.inr

Never Kodak: the initialization is judged on Kodak and on photos it has not seen.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inrcodec.images import decode_image_bytes  # noqa: E402
from inrcodec.methods import EncodeOptions  # noqa: E402
from inrcodec.methods import grid_encode, grid_init  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, help="BSDS500 training photos by file stem, in order")
    ap.add_argument("--bpp", type=float, required=True)
    ap.add_argument("--folder", default="../shared/data/bsds500/train")
    ap.add_argument("--effort", default="normal")
    ap.add_argument("--options", default="{}", help="grid method options (JSON), e.g. a structure")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    start = None
    data = b""
    for i, name in enumerate(args.images.split(",")):
        path = next(Path(args.folder).glob(f"{name}.*"), None)
        if path is None:
            raise SystemExit(f"grid_make_init: no {name}.* in {args.folder}")
        image = decode_image_bytes(path.read_bytes(), name)
        opts = json.loads(args.options)
        t0 = time.perf_counter()
        fitted = grid_encode.encode_from(image, EncodeOptions(bpp=args.bpp, method="grid", effort=args.effort,
                                                              method_options=opts), start)
        data = fitted.data
        start = grid_init.networks_of(data)
        print(json.dumps({"image": name, "step": i, "init": fitted.details["init"],
                          "bpp": round(len(data) * 8 / (image.shape[0] * image.shape[1]), 4),
                          "fit_psnr": fitted.details["fit_psnr"], "seconds": round(time.perf_counter() - t0, 1)}),
              flush=True)
    Path(args.out).write_bytes(data)
    print(json.dumps({"out": args.out, "sha256": hashlib.sha256(data).hexdigest()}))


if __name__ == "__main__":
    main()
