#!/usr/bin/env bash
# The prepared GPU benchmark (issue 30, part 8; benchmarks/gpu.py says what it measures). One GPU,
# under 8 minutes: the script stops starting rows after --budget-s (420 s by default) and this
# wrapper stops it at 8 minutes whatever happens. Run from anywhere; extra arguments go to gpu.py
# (--tiny checks it on a CPU at tiny sizes).
#
#   benchmarks/gpu.sh --json benchmarks/out/gpu.json
#   PYTHON=python3 benchmarks/gpu.sh --tiny
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
exec timeout -k 30 480 "$PYTHON" benchmarks/gpu.py "$@"
