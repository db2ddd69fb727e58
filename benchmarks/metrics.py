"""Our AUROC and confusion counts vs scikit-learn's, on the sizes an evaluation scores.

    python benchmarks/metrics.py [--repeat 200]

The bootstrap CIs and permutation tests call these 500-2000 times per system, so the
per-call cost decides whether scikit-learn can do the job (docs/performance.md). Labels are
random 0/1, probabilities rounded to 2 decimals (ties, as real model outputs have). Checks
that both give the same numbers, then prints one JSON object: microseconds per call and
sklearn / ours for each size; and for the AUROC permutation test's null, 256 permutations
scored in one batch (``_auroc_rows``) vs one ``auroc`` call each (loop / batch).
"""

from __future__ import annotations

import argparse
import json
import timeit

import numpy as np
from sklearn.metrics import confusion_matrix, roc_auc_score

from ecgemotion.evaluation.metrics import _auroc_rows, auroc, confusion_counts


def _us(fn, repeat: int) -> float:
    return min(timeit.repeat(fn, number=repeat, repeat=5)) / repeat * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200, help="calls per timing (best of 5)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for n in (240, 2000, 20000):
        y = rng.integers(0, 2, n)
        prob = np.round(rng.random(n), 2)
        pred = (prob >= 0.5).astype(np.int64)
        assert abs(auroc(y, prob) - roc_auc_score(y, prob)) < 1e-12
        assert (confusion_counts(y, pred) == confusion_matrix(y, pred, labels=[0, 1])).all()
        batch = np.where(rng.random((256, n)) < 0.5, prob, 1 - prob)
        assert np.allclose(_auroc_rows(y, batch), [auroc(y, b) for b in batch], rtol=1e-12)
        perm_repeat = max(1, args.repeat // 100)
        t = {"auroc_ours": _us(lambda: auroc(y, prob), args.repeat),
             "auroc_sklearn": _us(lambda: roc_auc_score(y, prob), args.repeat),
             "confusion_ours": _us(lambda: confusion_counts(y, pred), args.repeat),
             "confusion_sklearn": _us(lambda: confusion_matrix(y, pred, labels=[0, 1]),
                                      args.repeat),
             "null256_loop": _us(lambda: [auroc(y, b) for b in batch], perm_repeat),
             "null256_batched": _us(lambda: _auroc_rows(y, batch), perm_repeat)}
        rows.append({"n": n, **{k: round(v, 1) for k, v in t.items()},
                     "auroc_sklearn_over_ours": round(t["auroc_sklearn"] / t["auroc_ours"], 1),
                     "confusion_sklearn_over_ours": round(t["confusion_sklearn"]
                                                          / t["confusion_ours"], 1),
                     "null256_loop_over_batched": round(t["null256_loop"] / t["null256_batched"], 1)})
    print(json.dumps({"benchmark": "metrics", "same_values": True, "sizes": rows}))


if __name__ == "__main__":
    main()
