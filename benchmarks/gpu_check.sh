#!/usr/bin/env bash
# Everything snnbench checks on a CUDA machine, in one go (CI has no GPU):
#   1. the triton backend's tests (tests/neurons/test_fused_triton.py) on the device,
#   2. the digits preset end to end on CUDA (one seed),
#   3. benchmarks/gpu_speed.py, writing its table to OUTDIR/performance_gpu.md.
# Usage: bash benchmarks/gpu_check.sh OUTDIR   (snnbench importable, e.g. PYTHONPATH=src)
set -uo pipefail
out=${1:?usage: gpu_check.sh OUTDIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
python3 -m pytest -p no:cacheprovider -p no:warnings tests/neurons/test_fused_triton.py \
    tests/neurons/test_fused.py 2>&1 | tee "$out/tests.log" | tail -15
python3 -m snnbench.cli run digits --set device=cuda --set 'seeds=[0]' --no-progress \
    --no-report --out /tmp/snnbench-digits-cuda 2>&1 | tee "$out/digits.log" | tail -8
python3 benchmarks/gpu_speed.py --out "$out/performance_gpu.md" 2>&1 | tee "$out/bench.log" \
    | grep -v '^|' | tail -40
