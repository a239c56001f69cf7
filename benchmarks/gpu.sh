#!/usr/bin/env bash
# GPU benchmark: CUDA-vs-CPU correctness, then epoch timings of convnet4 and fastnet on 50,000
# 32x32 images (data on the device, bf16 autocast, channels_last; eager and torch.compile).
# Installs nothing heavy: uses the machine's torch; the toolkit itself goes, without its
# dependencies, into a private folder when it is not installed already.
#   bash benchmarks/gpu.sh [extra args for benchmarks/gpu.py, e.g. --peak-tflops 990]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import toolkit_plugins" 2>/dev/null; then
    site=$(mktemp -d)
    "$PY" -m pip install -q --no-deps --no-build-isolation --no-index --target "$site" . >&2
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec "$PY" benchmarks/gpu.py --compile "$@"
