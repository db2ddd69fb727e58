#!/usr/bin/env bash
# The v2 objective study (docs/results.md §3): four objectives on the same store, seed and
# batch, each given the same compute: steps = budget / its step time, the step times measured
# interleaved in one process (benchmarks/pretrain.py --objectives), so machine load falls on
# all four alike. Then the probe suite on each.
#   STORE=... bash experiments/objective_study.sh runs/study
set -euo pipefail
OUT="${1:-runs/study}"
: "${STORE:?set STORE to the pre-training store (experiments/release_base.py --step prepare)}"
# seconds per step at batch 64 (benchmarks/pretrain.py --objectives ... --batch-size 64 --rounds 6):
# paper 1.682, mae 0.855, contrastive 3.537, mae+contrastive 2.508 -> the steps of 400 paper steps
declare -A STEPS=([paper]=400 [mae]=787 [contrastive]=190 [mae+contrastive]=268 [paper+contrastive]=190)
mkdir -p "$OUT"
for obj in paper mae contrastive mae+contrastive paper+contrastive; do
    [ -f "$OUT/$obj/summary.json" ] || OMP_NUM_THREADS=1 ecgemotion pretrain --store "$STORE" \
        --model fast --objective "$obj" --steps "${STEPS[$obj]}" --batch-size 64 --seed 0 \
        --out "$OUT/$obj" --json > "$OUT/$obj.log" 2>&1
done
# paper@mean: the paper arm read by its token mean (its CLS token is never trained)
ecgemotion probe --model "$(printf "$OUT/%s," paper paper@mean mae contrastive mae+contrastive \
    paper+contrastive)random" --probes rhythm,identity,physiology --out "$OUT/probe"
