"""Probe: seconds per SIREN training step on this machine, by batch size, compile, threads,
for the float fit or the straight-through QAT phase (the codec's quantizer on every tensor).

Usage: python bench/probe_step_time.py [--arch 10x28] [--fourier 0] [--qat] [--steps 60]
       [--threads 1,2] [--batches 8192,16384,32768] [--bf16 0,1] [--compiled 0,1]
Prints one line per configuration; used to choose the fitting defaults of COIN and QAT
(inrcodec/methods/coin.py, inrcodec/siren_fit.py: worth_compiling).
"""
from __future__ import annotations

import argparse
import time

import torch

from inrcodec.methods.qat import quantized_body
from inrcodec.siren import Siren, SirenConfig
from inrcodec.softquant import SoftQuantizer


def probe(config: SirenConfig, batch: int, compiled: bool, threads: int, steps: int, qat: bool,
          bf16: bool = False) -> float:
    torch.set_num_threads(threads)
    model = Siren(config, torch.Generator().manual_seed(0))
    quantizers = torch.nn.ModuleList(SoftQuantizer(t, 8) for t in model.tensors())

    def quantized(h: torch.Tensor) -> torch.Tensor:  # qat.fine_tune's straight-through forward
        return quantized_body(h, model.tensors(), quantizers, config.w0, None, bf16)

    def plain(h: torch.Tensor) -> torch.Tensor:
        return model.body(h, bf16)

    body = quantized if qat else plain
    fwd = torch.compile(body) if compiled else body
    opt = torch.optim.Adam(list(model.parameters()) + list(quantizers.parameters()), lr=1e-3)
    x = torch.rand(batch, config.inputs) * 2 - 1
    y = torch.rand(batch, 3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((fwd(x) - y) ** 2)
        loss.backward()
        opt.step()

    t0 = time.perf_counter()
    for _ in range(3):
        step()
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t0) / steps
    print(f"arch={config.describe()} {'qat' if qat else 'float'} batch={batch} compiled={compiled} threads={threads} "
          f"bf16={int(bf16)} s/step={dt:.4f} us/pixel={dt / batch * 1e6:.3f} warmup_s={warm:.1f}", flush=True)
    return dt


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="10x28")
    ap.add_argument("--fourier", type=int, default=0, help="Fourier frequencies (the qat default: 16)")
    ap.add_argument("--qat", action="store_true", help="time the straight-through QAT step")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", default="2,1")
    ap.add_argument("--batches", default="8192,16384,32768")
    ap.add_argument("--bf16", default="0", help="mixed precision off/on (siren.linear), e.g. 0,1")
    ap.add_argument("--compiled", default="0,1")
    args = ap.parse_args()
    layers, width = (int(v) for v in args.arch.split("x"))
    cfg = SirenConfig(layers, width, frequencies=args.fourier)
    for threads in (int(t) for t in args.threads.split(",")):
        for compiled in (bool(int(c)) for c in args.compiled.split(",")):
            for batch in (int(b) for b in args.batches.split(",")):
                for bf16 in (bool(int(b)) for b in args.bf16.split(",")):
                    probe(cfg, batch, compiled, threads, args.steps, args.qat, bf16)
