#!/usr/bin/env bash
# Whole-space GradSign scoring on a GPU machine. Usage (from the repository root):
#   GRADSIGN_NAS_DATA=/path/to/data bash experiments/gpu_score_space.sh probe
#       throughput on 4,000 architectures on one GPU and on every GPU of the host (no CUDA MPS)
#   GRADSIGN_NAS_DATA=/path/to/data bash experiments/gpu_score_space.sh full GPUS DATASET [OPTIONS]
#       all 15,625 architectures on one DATASET (cifar10 or cifar100) on the GPUs listed (e.g. 0 or 0,1);
#       OPTIONS go to score-space (e.g. --compile: the compiled stacked pass, table name ..._compiled)
# Needs the CIFAR npz files in $GRADSIGN_NAS_DATA (gradsign-nas data download fetches them) and a Python
# with torch; installs this package into it (no dependencies) unless it is installed there.
# Writes into ${OUT:-out}. Any failure stops the script with a non-zero exit code.
set -euo pipefail
PY=${PYTHON:-python3}
DATA=${GRADSIGN_NAS_DATA:?set GRADSIGN_NAS_DATA to the data directory that holds the CIFAR npz files}
OUT=${OUT:-out}
[ -d "$DATA" ] || { echo "error: GRADSIGN_NAS_DATA=$DATA is not a directory" >&2; exit 2; }
mkdir -p "$OUT"
# the installed package, not the source folder: from the repository root `import gradsign_nas` finds the
# folder even when nothing is installed, but gradsign_nas.algorithms exists only in an install
"$PY" -c "import importlib.metadata as m, gradsign_nas.algorithms; m.version('gradsign-nas')" 2>/dev/null ||
  "$PY" -m pip install -q --no-deps --no-build-isolation -e .
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
score() { "$PY" -m gradsign_nas score-space --data-dir "$DATA" --gpu-procs 1 --cpu-procs 0 "$@" --json | tail -1; }
case "${1:-}" in
probe)
  echo "1 GPU:    $(CUDA_VISIBLE_DEVICES=0 score --first 4000 --datasets cifar10)"
  echo "all GPUs: $(score --first 4000 --datasets cifar10)"
  ;;
full)
  [ $# -ge 3 ] || { echo "usage: $0 full GPUS DATASET [OPTIONS]   (GPUS: a CUDA_VISIBLE_DEVICES list, e.g. 0 or 0,1)" >&2; exit 2; }
  gpus=$2 dataset=$3
  shift 3
  suffix=""
  case " $* " in *" --compile "*) suffix="_compiled" ;; esac
  CUDA_VISIBLE_DEVICES="$gpus" score --datasets "$dataset" --out "$OUT/nb201_gradsign_${dataset}_gpus${gpus//,/}$suffix.npz" "$@"
  ;;
*)
  echo "usage: $0 probe | full GPUS DATASET [OPTIONS]" >&2; exit 2
  ;;
esac
