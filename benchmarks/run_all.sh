#!/usr/bin/env bash
# Every benchmark, one after another, each writing its JSON into OUT. Run it on a quiet
# machine: a second busy process on the same cores changes every timing.
#   bash benchmarks/run_all.sh COMPETITION [OUT]     # e.g. ../shared/data/cifar10-dev
# COMPETITION needs an answer key (test_labels.csv) for the accuracy benchmarks. The data,
# tuning and start-up benchmarks make their own data. Takes about 70 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
COMP=${1:?usage: bash benchmarks/run_all.sh COMPETITION [OUT]}
OUT=${2:-/tmp/toolkit-bench-$(date +%Y%m%d-%H%M)}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
git rev-parse --short HEAD > "$OUT/commit.txt" 2>/dev/null || true
{ date -u; nproc; lscpu | grep -i 'model name' || true; } > "$OUT/machine.txt"
"$PY" benchmarks/startup.py --json "$OUT/startup.json"
"$PY" benchmarks/raw_pixels.py "$COMP" --json "$OUT/raw_pixels.json"
# The binary case on the first two classes (sorted), as the assignment's problem 1.
TWO=$("$PY" -c 'import csv, sys; rows = list(csv.reader(open(sys.argv[1])))[1:]
print(",".join(sorted({r[1] for r in rows})[:2]))' "$COMP/train.csv")
"$PY" benchmarks/raw_pixels.py "$COMP" --classes "$TWO" --json "$OUT/raw_pixels_binary.json"
"$PY" benchmarks/throughput.py "$COMP" --json "$OUT/throughput.json"
"$PY" benchmarks/autosize_probe.py "$COMP" --budget 600 --json "$OUT/autosize_probe.json"
"$PY" benchmarks/budget.py "$COMP" --budgets 300,600 --json "$OUT/budget.json"
"$PY" benchmarks/data_load.py --json "$OUT/data_load.json"
"$PY" benchmarks/tuning.py --json "$OUT/tuning.json"
"$PY" benchmarks/large_test.py --json "$OUT/large_test.json"
echo "results in $OUT"
