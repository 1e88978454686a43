#!/usr/bin/env bash
# The GPU measurements of issue 5 on one CUDA device, in under 5 minutes: training through the worker's code
# path against a hand loop (fp32, then bf16 autocast with channels_last, in-memory data resident on the
# device), the range test against torch-lr-finder, and the host synchronizations per batch while recording.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
export PYTHONUNBUFFERED=1

"$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else "no CUDA device visible to torch")'
"$PY" -c 'import torch; print(torch.cuda.get_device_name(0), "torch", torch.__version__)'

run() {
    echo
    echo "== $* =="
    local start=$SECONDS
    timeout 120 "$PY" -m "$@"
    echo "($((SECONDS - start)) s)"
}

run benchmarks.train_speed --device cuda --pairs 6 --samples 16384
run benchmarks.train_speed --device cuda --pairs 6 --samples 16384 --amp bf16 --channels-last
run benchmarks.gpu_syncs
