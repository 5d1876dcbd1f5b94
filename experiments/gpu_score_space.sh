#!/usr/bin/env bash
# Whole-space GradSign scoring on the GPU machine (device tool). Usage:
#   bash experiments/gpu_score_space.sh probe   # timing of worker mixes on 400 archs, with and without MPS
#   bash experiments/gpu_score_space.sh full G C mps|nomps DATASET  # all 15,625 on one dataset, G procs/GPU + C CPU procs
# Needs the CIFAR npz files under $DATA (default .devcarry/data); writes to ${OUT:-out}.
set -u
DATA=${DATA:-.devcarry/data}
OUT=${OUT:-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1 || python3 -m pip install --no-deps --no-build-isolation -e . | tail -2
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
start_mps() {
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log
  mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
  if nvidia-cuda-mps-control -d; then echo "MPS started"; else echo "MPS unavailable"; fi
}
score() { python3 -m gradsign_nas score-space --data-dir "$DATA" --gpu-procs "$1" --cpu-procs "$2" "${@:3}" 2>/dev/null | tail -1; }
case "$1" in
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
  [ "${4:-}" = mps ] && start_mps
  python3 -m gradsign_nas score-space --data-dir "$DATA" --gpu-procs "$2" --cpu-procs "$3" --chunk 8 \
    --datasets "$5" --out "$OUT/nb201_gradsign_$5.npz" 2>"$OUT/score_$5.log" | tail -1
  ;;
esac
