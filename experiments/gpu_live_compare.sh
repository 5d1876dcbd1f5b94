#!/usr/bin/env bash
# Live comparison (vanilla vs GradSign-assisted RS and REA, really training NB201-cell networks on the
# CIFAR-10 images) on the GPUs of one host, without Ray: searches run at once in local processes
# (compare --live --no-ray --workers W), GPUs taken round-robin. Usage, from the repository root:
#   GRADSIGN_NAS_DATA=/path/to/data bash experiments/gpu_live_compare.sh GPUS RUNS WORKERS OUT [extra options]
#     GPUS: a CUDA_VISIBLE_DEVICES list (0 or 0,1); RUNS: seeds per algorithm and variant;
#     WORKERS: search processes in all (spread over the GPUs); OUT: the output folder.
# Samples GPU utilisation every second into OUT/gpu_util.csv and prints the comparison's JSON line,
# searches per hour and the mean utilisation of each GPU. Needs a Python with torch (no Ray); installs
# this package into it (no dependencies) unless it is installed there. Options after OUT go to
# compare and override the ones below; DEVICE=cpu runs the same on the CPU (the tests do, small).
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 GPUS RUNS WORKERS OUT [extra compare options]" >&2; exit 2; }
GPUS=$1 RUNS=$2 WORKERS=$3 OUT=$4
shift 4
PY=${PYTHON:-python3}
DATA=${GRADSIGN_NAS_DATA:?set GRADSIGN_NAS_DATA to the data directory that holds the CIFAR-10 npz}
# the installed package, not the source folder: from the repository root `import gradsign_nas` finds the
# folder even when nothing is installed, but gradsign_nas.algorithms exists only in an install
"$PY" -c "import importlib.metadata as m, gradsign_nas.algorithms; m.version('gradsign-nas')" 2>/dev/null ||
  "$PY" -m pip install -q --no-deps --no-build-isolation -e .
mkdir -p "$OUT"
nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader,nounits -l 1 >"$OUT/gpu_util.csv" &
SMI=$!
trap 'kill $SMI 2>/dev/null || true' EXIT
t0=$(date +%s.%N)
# LIMIT_S=N stops the comparison after N seconds like Ctrl-C (finished trials are kept; the same command
# resumes), exit code 3
if ! CUDA_VISIBLE_DEVICES=$GPUS ${LIMIT_S:+timeout -s INT "$LIMIT_S"} "$PY" -m gradsign_nas compare --live --no-ray \
  --device "${DEVICE:-cuda}" --data cifar10 --data-dir "$DATA" --algorithms rs,rea --runs "$RUNS" --workers "$WORKERS" \
  --C 16 --N 1 --epochs 3 --trials 20 --train-batch-size 128 --no-progress \
  --out "$OUT/compare" --json "$@" | tail -1 | tee "$OUT/line.json"; then
  echo "stopped before the end (time limit or error): run the same command again to resume" >&2
  exit 3
fi
t1=$(date +%s.%N)
kill $SMI 2>/dev/null || true
"$PY" - "$OUT" "$t0" "$t1" "$GPUS" <<'PY'
import csv, json, sys
out, t0, t1, gpus = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4].split(",")
s = json.load(open(f"{out}/compare/summary.json"))
runs = json.load(open(f"{out}/compare/runs.json"))["runs"]
util = {}
for row in csv.reader(open(f"{out}/gpu_util.csv")):
    if len(row) >= 2 and row[0].strip() in [str(i) for i in range(len(gpus))]:
        util.setdefault(row[0].strip(), []).append(float(row[1]))
wall = t1 - t0
print(json.dumps({
    "gpus": len(gpus), "searches": len(runs), "wall_s": round(wall, 1),
    "searches_per_hour": round(len(runs) / wall * 3600, 1),
    "trials": sum(r["trials"] for r in runs),
    "gpu_util_mean": {k: round(sum(v) / len(v), 1) for k, v in util.items() if v},
}))
PY
