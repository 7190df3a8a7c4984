#!/usr/bin/env bash
# Step 2 of the real-GPU check (tests/gpu/README.md): gpuagent against a real NVIDIA driver
# and CUDA, on a machine with one GPU, PyTorch, no docker and no network. It installs
# gpuagent from the wheels tests/gpu/build-wheels.sh made (carried in .cache/device-wheels),
# then runs each step of tests/gpu/device_check.py, timed and bounded, and writes one JSON
# report: into $OUT (device-check.json) when OUT is set, else to REPORT.
#
#   tests/gpu/device-check.sh [--rehearse] [--train-device cpu] [--budget SECONDS]
#                             [--wheels DIR] [REPORT]
#
#   --rehearse      no GPU machine: the checkout's gpuagent on this Python's packages, no
#                   wheels; the tests run it so against the simulated NVML (tests/gpu_sim)
#   --train-device cpu   run train.py and evaluate.py on the CPU (a rehearsal with torch)
#   --budget        seconds for all the steps together (300)
#
# PYTHON names the Python that has PyTorch (python3). Exits 0 when the report was
# written, whatever the steps found (the report says); 2 on bad arguments; 1 when the
# driver died before writing any report (then a report saying so is written).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { echo "usage: $0 [--rehearse] [--train-device cpu|cuda] [--budget SECONDS] [--wheels DIR] [REPORT]" >&2; exit 2; }

options=()
budget=300
report=""
while [ $# -gt 0 ]; do
    case $1 in
    --rehearse) options+=(--rehearse); shift ;;
    --train-device | --wheels)
        [ $# -ge 2 ] || usage
        options+=("$1" "$2"); shift 2 ;;
    --budget)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "device-check.sh: --budget takes a number of seconds, not '${2:-}'" >&2; exit 2; }
        budget=$2; shift 2 ;;
    -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
    -*) echo "device-check.sh: unknown option '$1'" >&2; usage ;;
    *) [ -z "$report" ] || usage; report=$1; shift ;;
    esac
done
if [ -z "$report" ]; then
    [ -n "${OUT:-}" ] || { echo "device-check.sh: give the report's path (or set OUT to a folder)" >&2; exit 2; }
    report=$OUT/device-check.json
fi
mkdir -p "$(dirname "$report")" || exit 2
rm -f "$report"

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
    echo "device-check.sh: no $python here (set PYTHON=...)" >&2
    printf '{"check": "gpuagent on a real GPU", "error": "no Python: %s is not on PATH"}\n' "$python" >"$report"
    exit 1
fi
# The driver holds every step to the budget; this outer limit only catches a driver
# that hangs outside its steps.
limit=()
if command -v timeout >/dev/null; then
    limit=(timeout --kill-after=10 $((budget + 30)))
fi
"${limit[@]}" "$python" "$here/device_check.py" --report "$report" --python "$python" --budget "$budget" "${options[@]}"
status=$?
if [ -s "$report" ]; then
    exit 0
fi
printf '{"check": "gpuagent on a real GPU", "error": "the driver (tests/gpu/device_check.py) exited %s before writing its report: see its output"}\n' "$status" >"$report"
exit 1
