#!/usr/bin/env bash
# A resumable Kodak sweep of our methods on a lent GPU machine (the `device` tool), time-boxed
# so that each call ends inside the tool's 10-minute limit, with the new cache records packed
# into $OUT/cache.tgz (unpack it in the repo root; the records land in bench/results/kodak/cache).
#
#   bench/gpu_sweep.sh SECONDS <inrcodec bench arguments, without --out>
#
# Kodak travels in .gpudata/ (ignored, carried), wheels missing there (constriction) in .whl/.
# Results live in /tmp/gpu while the machine stays warm and are seeded from the repo's *-cuda
# cache records otherwise, so a sweep resumes across calls either way.
set -u
secs=$1; shift
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TORCHINDUCTOR_COMPILE_THREADS=1 OMP_NUM_THREADS=1
mkdir -p /tmp/gpu/kodak/cache
for d in bench/results/kodak/cache/*-cuda; do
    [ -d "$d" ] && [ ! -d "/tmp/gpu/kodak/cache/$(basename "$d")" ] && cp -r "$d" /tmp/gpu/kodak/cache/
done
log=$OUT/sweep.log
{
    date -u
    echo "command: bench/gpu_sweep.sh $secs $* (inrcodec bench ... --out /tmp/gpu/kodak), commit $(git rev-parse --short HEAD 2>/dev/null)"
    echo "machine: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader), $(nproc --all) cores, $(python3 -c 'import torch; print("torch", torch.__version__)')"
} > "$log"
pkill -9 -f "inrcodec.cli bench"; timeout -s KILL "$secs" python3 -m inrcodec.cli bench "$@" --out /tmp/gpu/kodak >> "$log" 2>&1
pkill -9 -f "inrcodec.cli bench"; sleep 1  # the pool workers outlive a killed parent
date -u >> "$log"
(cd /tmp/gpu/kodak/.. && tar czf "$OUT/cache.tgz" --transform 's,^kodak/,bench/results/kodak/,' kodak/cache)
cat "$log"
