#!/usr/bin/env bash
# The v2 objective study (docs/results.md §3): four objectives, the same store, the same
# wall-time budget and seed, one torch thread each; then the probe suite on each.
#   STORE=... MINUTES=8 bash experiments/objective_study.sh runs/study
set -euo pipefail
OUT="${1:-runs/study}"
MINUTES="${MINUTES:-8}"
: "${STORE:?set STORE to the pre-training store (experiments/release_base.py --step prepare)}"
mkdir -p "$OUT"
for obj in paper mae contrastive mae+contrastive; do
    batch=128; [ "$obj" = paper ] && batch=64     # paper: the v1 recipe's batch
    [ -f "$OUT/$obj/summary.json" ] || OMP_NUM_THREADS=1 ecgemotion pretrain --store "$STORE" \
        --model fast --objective "$obj" --minutes "$MINUTES" --batch-size "$batch" --seed 0 \
        --out "$OUT/$obj" --json > "$OUT/$obj.log" 2>&1
done
