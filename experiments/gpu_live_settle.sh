#!/usr/bin/env bash
# The live measurement that settles whether assistance helps real training, on the GPUs of one host:
#   1. calibrate: CELLS random NB201 cells (C=16, N=1, CIFAR-10 images) trained at 3 and 9 epochs, each
#      reward's Spearman against NAS-Bench-201's test accuracy of the cells; the cheapest epoch count
#      whose agreement is >= 0.75 becomes the search reward (else the largest);
#   2. compare --live: RS and REA, vanilla vs assisted (best of 10) vs warm-up, RUNS seeds, TRIALS
#      trials per search at that reward, each search's best network trained again for twice the
#      epochs on training + validation images and tested on held-out images (final_test_acc), and the
#      found cells' NB201 test accuracies (nb201_cifar10_test), through experiments/gpu_live_compare.sh.
# Both steps resume: run the same command again (e.g. after a time limit) and finished work is kept.
# Usage, from the repository root:
#   GRADSIGN_NAS_DATA=/path/to/data bash experiments/gpu_live_settle.sh GPUS RUNS WORKERS OUT [CELLS [TRIALS [SECONDS]]]
#     SECONDS: stop the comparison after about this many seconds (exit 3; the same command resumes; default: none)
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 GPUS RUNS WORKERS OUT [CELLS [TRIALS [SECONDS]]]" >&2; exit 2; }
GPUS=$1 RUNS=$2 WORKERS=$3 OUT=$4 CELLS=${5:-24} TRIALS=${6:-10} SECONDS_LIMIT=${7:-0}
PY=${PYTHON:-python3}
DATA=${GRADSIGN_NAS_DATA:?set GRADSIGN_NAS_DATA to the data directory (CIFAR-10 npz and the NB201 tables)}
"$PY" -c "import importlib.metadata as m, gradsign_nas.algorithms; m.version('gradsign-nas')" 2>/dev/null ||
  "$PY" -m pip install -q --no-deps --no-build-isolation -e .
mkdir -p "$OUT"
if [ ! -f "$OUT/calibrate/summary.json" ]; then
  t0=$(date +%s)
  CUDA_VISIBLE_DEVICES=${GPUS%%,*} "$PY" -m gradsign_nas calibrate --data cifar10 --data-dir "$DATA" --device "${DEVICE:-cuda}" \
    --C 16 --N 1 --train-batch-size 128 --cells "$CELLS" --epoch-counts 3,9 --no-ray --no-progress \
    --out "$OUT/calibrate" | tee "$OUT/calibrate.txt"
  echo "calibrate wall s: $(( $(date +%s) - t0 ))" | tee -a "$OUT/calibrate.txt"
fi
EPOCHS=$("$PY" -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['recommended_epochs'] or max(r['epochs'] for r in s['rows']))" "$OUT/calibrate/summary.json")
echo "search reward: $EPOCHS epochs; final evaluation: $(( 2 * EPOCHS )) epochs"
LIMIT_S=$([ "$SECONDS_LIMIT" -gt 0 ] && echo "$SECONDS_LIMIT" || true) \
  bash experiments/gpu_live_compare.sh "$GPUS" "$RUNS" "$WORKERS" "$OUT/live" --algorithms rs,rea \
  --strategies warmup --epochs "$EPOCHS" --trials "$TRIALS" --final-epochs $(( 2 * EPOCHS ))
