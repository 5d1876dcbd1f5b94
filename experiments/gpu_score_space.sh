#!/usr/bin/env bash
# Whole-space GradSign scoring on a GPU machine. Usage (from the repository root):
#   GRADSIGN_NAS_DATA=/path/to/data bash experiments/gpu_score_space.sh probe
#       timing of worker mixes on 400-800 architectures, with and without CUDA MPS
#   GRADSIGN_NAS_DATA=/path/to/data bash experiments/gpu_score_space.sh full G C mps|nomps DATASET
#       all 15,625 architectures on one DATASET (cifar10 or cifar100), G processes per GPU + C CPU processes
# Needs the CIFAR npz files in $GRADSIGN_NAS_DATA (gradsign-nas data download fetches them) and a Python
# with torch; installs this package into it (no dependencies) unless gradsign_nas already imports.
# Writes into ${OUT:-out}. Any failure stops the script with a non-zero exit code.
set -euo pipefail
PY=${PYTHON:-python3}
DATA=${GRADSIGN_NAS_DATA:?set GRADSIGN_NAS_DATA to the data directory that holds the CIFAR npz files}
OUT=${OUT:-out}
[ -d "$DATA" ] || { echo "error: GRADSIGN_NAS_DATA=$DATA is not a directory" >&2; exit 2; }
mkdir -p "$OUT"
"$PY" -c "import gradsign_nas" 2>/dev/null || "$PY" -m pip install -q --no-deps --no-build-isolation -e .
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
start_mps() {
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  if nvidia-cuda-mps-control -d; then echo "MPS started"; else echo "MPS unavailable: processes will time-slice" >&2; fi
}
score() { "$PY" -m gradsign_nas score-space --data-dir "$DATA" --gpu-procs "$1" --cpu-procs "$2" "${@:3}" --json | tail -1; }
case "${1:-}" in
probe)
  echo "gpu1 cpu0:  $(score 1 0 --limit 400 --chunk 8)"
  echo "gpu4 cpu0:  $(score 4 0 --limit 400 --chunk 8)"
  start_mps
  echo "MPS gpu4 cpu0:  $(score 4 0 --limit 400 --chunk 8)"
  echo "MPS gpu8 cpu0:  $(score 8 0 --limit 800 --chunk 8)"
  echo "MPS gpu12 cpu0: $(score 12 0 --limit 800 --chunk 8)"
  echo "MPS gpu8 cpu6:  $(score 8 6 --limit 800 --chunk 8)"
  ;;
full)
  [ $# -eq 5 ] || { echo "usage: $0 full G C mps|nomps DATASET" >&2; exit 2; }
  [ "$4" = mps ] && start_mps
  score "$2" "$3" --chunk 8 --datasets "$5" --out "$OUT/nb201_gradsign_$5.npz"
  ;;
*)
  echo "usage: $0 probe | full G C mps|nomps DATASET" >&2; exit 2
  ;;
esac
