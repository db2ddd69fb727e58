"""Does pre-training help? CinC 2017, atrial fibrillation (A) vs normal rhythm (N), few labels.

A transfer check on *clinical* ECG (not emotion data): records of the CinC 2017
*downstream pool* only (``splits.json`` of ``ecgemotion-base``: records never seen in
pre-training), each record its own subject.

- Fixed test set: downstream A/N records with sha256('cinc-fewlabel/test:' + record)[0] < 77
  (about 30 %); the rest is the training pool.
- Label budgets: 1 %, 10 %, 100 % of the training-pool records, drawn stratified by class
  (at least 2 records per class) with ``numpy.random.default_rng([seed, fraction])``;
  20 % of the drawn records (at least 1 per class) are the validation split that picks the
  best epoch (lowest class-weighted validation loss). The test set is never used for
  selection.
- Systems: ``fast`` initialised from ``ecgemotion-base`` (full fine-tuning) and ``fast``
  from scratch, same epochs / batch / learning rate / selection; HRV features
  (``baselines/hrv.py``) with logistic regression and a random forest (class-balanced,
  fitted on the same labelled records: train + validation). Optional (``--systems``):
  the hybrids of ``models/hybrid.py``: ``hybrid`` (the pre-trained run with the window's
  physiological features joined to the embedding, same recipe), ``hybrid-ctx`` (the same
  with the 60-s context HRV features of ``baselines/context.py``), ``hybrid-logreg`` /
  ``hybrid-gbm`` (frozen ``--pretrained`` embedding + the features, fitted on train +
  validation like the HRV models); the synheart peer (``baselines/synheart.py``, needs
  ``ecgemotion[peers]``): ``synheart-refit`` (its 14 HRV features over each record's RR
  intervals, up to 60 s -> ExtraTrees on train + validation) and ``synheart`` (its shipped
  WESAD stress model zero-shot, P(AF) = P(stress): a stress model, not an AF detector,
  listed because every report compares with the field's ready-made model).
- Metrics on the test set at window level (bootstrap resampling whole test records) and
  at record level (mean P(AF) over a record's windows): accuracy, balanced accuracy,
  macro-F1, AUROC; 95 % percentile bootstrap CIs; mean ± std over seeds.

Run (11 min on one core of a shared 2-core CPU machine; docs/results.md)::

    python experiments/cinc_fewlabel.py --out runs/cinc-fewlabel

Writes ``results.json`` (every run), ``table.md`` (the summary) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ecgemotion.probe import draw, is_test  # one home for the test records and the label draw
from ecgemotion.training.recipes import FEWLABEL

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ROOT / "src" / "ecgemotion" / "pretrained" / "ecgemotion-base" / "splits.json"
METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "auroc")
CHEAP_HYBRIDS = ("hybrid-logreg", "hybrid-gbm")   # frozen embedding + features, no training


def evaluate(index: pd.DataFrame, rows: np.ndarray, y: np.ndarray, prob: np.ndarray,
             y_train: np.ndarray, n_boot: int) -> dict:
    from ecgemotion.evaluation.metrics import bootstrap_ci, fold_metrics

    records = index["subject"].to_numpy()[rows]
    out = {}
    win = fold_metrics(y, prob, y_train=y_train)
    out["window"] = {m: win[m] for m in METRICS} | {"majority_baseline": win["majority_baseline"],
                                                    "n": win["n"]}
    out["window_ci"] = {m: bootstrap_ci(y, prob, m, groups=records, n_boot=n_boot, seed=0)
                        for m in METRICS}
    df = pd.DataFrame({"record": records, "y": y, "p": prob}).groupby("record").mean()
    rec_y = df["y"].to_numpy().round().astype(int)
    rec = fold_metrics(rec_y, df["p"].to_numpy(), y_train=y_train)
    out["record"] = {m: rec[m] for m in METRICS} | {"majority_baseline": rec["majority_baseline"],
                                                    "n": rec["n"]}
    out["record_ci"] = {m: bootstrap_ci(rec_y, df["p"].to_numpy(), m, n_boot=n_boot, seed=0)
                        for m in METRICS}
    return out


def synheart_probability(refit: bool, peer, lab: np.ndarray, y_lab: np.ndarray,
                         test_rows: np.ndarray, seed: int) -> np.ndarray:
    """P(AF) of a synheart system (``peer(rows)``: its features): the evaluate systems' own
    functions; 0.5 for a window whose record gives under 10 RR intervals."""
    from ecgemotion.baselines.synheart import peer_probability, refit_model

    model = refit_model(peer(lab), y_lab.astype(float), seed)[0] if refit else None
    return peer_probability(peer(test_rows), "af", model)[0]


def main(argv: list[str] | None = None) -> int:
    data = Path(os.environ.get("ECGEMOTION_DATA", "/work/data"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cinc", type=Path, default=data / "cinc2017")
    p.add_argument("--pretrained", default="ecgemotion-base")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "cinc-fewlabel")
    p.add_argument("--fractions", default="0.01,0.1,1.0")
    p.add_argument("--seeds", default="0.01:5,0.1:3,1.0:2", help="seeds per fraction")
    p.add_argument("--epochs", default="0.01:30,0.1:10,1.0:3", help="epoch cap per fraction")
    p.add_argument("--batch-size", type=int, default=FEWLABEL.batch_size)
    p.add_argument("--lr", type=float, default=FEWLABEL.lr)
    p.add_argument("--systems", default="pretrained,scratch,hrv-logreg,hrv-forest",
                   help="also: hybrid, hybrid-ctx, hybrid-logreg, hybrid-gbm, synheart, "
                        "synheart-refit")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-test-records", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from ecgemotion.baselines.hrv import HRVFeatureCache, fit_predict_features
    from ecgemotion.baselines.context import CONTEXT_FEATURES
    from ecgemotion.baselines.hrv import PHYSIO_FEATURES
    from ecgemotion.models.hybrid import (ContextFeatures, WithFeatures, fit_predict_hybrid,
                                          hybrid_table, hybridise)
    CTX_FEATURES = PHYSIO_FEATURES + CONTEXT_FEATURES
    from ecgemotion.probe import FeatureCache
    from ecgemotion.preprocess import PreprocessConfig
    from ecgemotion.sources import get_source
    from ecgemotion.store import build_store
    from ecgemotion.training.finetune import build_model, fit_classifier, predict_proba
    from ecgemotion.training.loop import TrainConfig

    t_start = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    split = json.loads(SPLITS.read_text())
    downstream, pretrain_pool = set(split["downstream"]), set(split["pretrain"])
    assert not downstream & pretrain_pool
    source = get_source("wfdb", str(args.cinc), labels=str(args.cinc / "REFERENCE.csv"))
    # label_af (1 A, 0 N, NaN otherwise) becomes y_af through the threshold:0.5 label rule
    store, _ = build_store([source], PreprocessConfig(), label_rule="threshold:0.5", workers=2)
    index = store.index
    rows = store.select(quality="all", labelled="af")
    rows = rows[index["subject"].iloc[rows].isin(downstream).to_numpy()]
    assert not set(index["subject"].iloc[rows]) & pretrain_pool
    y_all = index["y_af"].to_numpy()
    recs = (pd.DataFrame({"record": index["subject"].iloc[rows].to_numpy(), "y": y_all[rows]})
            .groupby("record")["y"].first().astype(int).reset_index())
    test_recs = sorted(r for r in recs["record"] if is_test(r))
    if args.max_test_records:
        test_recs = test_recs[: args.max_test_records]
    pool = recs[~recs["record"].isin(test_recs) & ~recs["record"].map(is_test)]
    test_rows = rows[index["subject"].iloc[rows].isin(test_recs).to_numpy()]
    y_test = y_all[test_rows].astype(int)
    design = {
        "store": str(store.path), "store_identity": store.meta.get("identity"),
        "downstream_AN_records": len(recs), "downstream_AN_windows": len(rows),
        "test_records": len(test_recs), "test_windows": len(test_rows),
        "test_AF_records": int(recs[recs["record"].isin(test_recs)]["y"].sum()),
        "pool_records": len(pool), "pool_AF_records": int(pool["y"].sum()),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    print(json.dumps(design, indent=1), flush=True)

    fractions = [float(f) for f in args.fractions.split(",")]
    seeds = {float(k): int(v) for k, v in (s.split(":") for s in args.seeds.split(","))}
    epochs = {float(k): int(v) for k, v in (s.split(":") for s in args.epochs.split(","))}
    systems = args.systems.split(",")
    hrv = HRVFeatureCache(store, cache_dir=args.out)
    t0 = time.time()
    hrv_test = hrv(test_rows) if any(s.startswith("hrv") for s in systems) else None
    print(f"HRV features of {len(test_rows)} test windows: {time.time() - t0:.1f} s", flush=True)
    embedding = None
    if set(systems) & set(CHEAP_HYBRIDS):   # frozen embeddings of every row, once
        t0 = time.time()
        emb = FeatureCache(args.out / "embeddings")(store, rows, args.pretrained)
        embedding = dict(zip(rows.tolist(), emb))
        print(f"frozen {args.pretrained} embeddings of {len(rows)} windows: "
              f"{time.time() - t0:.1f} s", flush=True)

    peer_rows: dict[int, np.ndarray] = {}

    def peer(r: np.ndarray) -> np.ndarray:
        """synheart's features of rows ``r`` (whole records: a window's context is its own
        record's windows, so computing them for any set of whole records gives the same)."""
        from ecgemotion.evaluation.systems import SynheartSystem

        new = np.array([i for i in r.tolist() if i not in peer_rows], dtype=np.int64)
        if len(new):
            t0 = time.time()
            peer_rows.update(zip(new.tolist(), SynheartSystem.features(store, new)[0]))
            print(f"synheart features of {len(new)} windows: {time.time() - t0:.1f} s", flush=True)
        return np.stack([peer_rows[i] for i in r.tolist()])

    def hybrid_rows(r):
        return hybrid_table(np.stack([embedding[i] for i in r.tolist()]), hrv(r))
    results = []
    rec_of = index["subject"].to_numpy()
    for fraction in fractions:
        for seed in range(seeds.get(fraction, 1)):
            train_recs, val_recs = draw(pool, fraction, seed)
            tr = rows[np.isin(rec_of[rows], train_recs)]
            va = rows[np.isin(rec_of[rows], val_recs)]
            y_lab = y_all[np.concatenate([tr, va])].astype(int)
            base = {"fraction": fraction, "seed": seed, "train_records": len(train_recs),
                    "val_records": len(val_recs), "train_windows": len(tr),
                    "val_windows": len(va),
                    "train_AF_records": int(pool[pool["record"].isin(train_recs)]["y"].sum()),
                    "val_AF_records": int(pool[pool["record"].isin(val_recs)]["y"].sum())}
            for system in systems:
                t0 = time.time()
                info: dict = {}
                lab = np.concatenate([tr, va])
                if system.startswith("hrv"):
                    prob = fit_predict_features(hrv(lab), y_lab, hrv_test,
                                                model=system.split("-", 1)[1], seed=seed,
                                                class_weight="balanced")
                    y_fit = y_lab
                elif system.startswith("synheart"):
                    prob = synheart_probability(system == "synheart-refit", peer, lab, y_lab,
                                                test_rows, seed)
                    y_fit = y_lab
                elif system in CHEAP_HYBRIDS:
                    prob = fit_predict_hybrid(hybrid_rows(lab), y_lab, hybrid_rows(test_rows),
                                              model=system.split("-", 1)[1], seed=seed,
                                              groups=rec_of[lab])
                    y_fit = y_lab
                else:
                    init = "scratch" if system == "scratch" else args.pretrained
                    net = build_model(init, store, "fast", seed=seed)
                    view = store
                    if system == "hybrid":
                        net = hybridise(net, hrv, tr, y_all[tr], groups=rec_of[tr])
                        view = WithFeatures(store, hrv)
                    elif system == "hybrid-ctx":     # + 60-s context features, per side
                        table = ContextFeatures(store, hrv, [lab, test_rows])
                        net = hybridise(net, table, tr, y_all[tr], groups=rec_of[tr],
                                        features=CTX_FEATURES)
                        view = WithFeatures(store, table, CTX_FEATURES)
                    cfg = TrainConfig.from_recipe(FEWLABEL, epochs=epochs[fraction],
                                                  batch_size=args.batch_size, lr=args.lr, seed=seed,
                                                  device="cpu",
                                                  validate_start=system.startswith("hybrid"))
                    run_dir = args.out / "runs" / f"{system}-f{fraction:g}-s{seed}"
                    net, summary = fit_classifier(net, view, tr, va, "af", run_dir, cfg,
                                                  keep_checkpoints=False)
                    t_fit = time.time() - t0
                    prob = predict_proba(net, view.windows, test_rows)
                    info = {"steps": summary.get("steps"), "epochs": summary.get("epochs"),
                            "best_epoch": summary["val_metrics"].get("epoch"),
                            "val_loss": summary["val_metrics"].get("loss"),
                            "fit_s": round(t_fit, 1),
                            "train_windows_per_s": summary.get("windows_per_s")}
                    y_fit = y_all[tr].astype(int)
                res = evaluate(index, test_rows, y_test, prob, y_fit, args.n_boot)
                row = {**base, "system": system, **info, "seconds": round(time.time() - t0, 1), **res}
                results.append(row)
                print(f"f={fraction:g} seed={seed} {system:11s} "
                      + " ".join(f"{m}={res['window'][m]:.3f}" for m in METRICS)
                      + " | rec " + " ".join(f"{m}={res['record'][m]:.3f}" for m in METRICS)
                      + f"  ({row['seconds']} s)", flush=True)
                (args.out / "results.json").write_text(json.dumps(
                    {"design": design, "results": results}, indent=1, default=float) + "\n")
    design["total_seconds"] = round(time.time() - t_start, 1)
    (args.out / "results.json").write_text(json.dumps(
        {"design": design, "results": results}, indent=1, default=float) + "\n")
    table = summarise(results)
    (args.out / "table.md").write_text(table)
    print(table)
    print(f"total {design['total_seconds']} s")
    return 0


def summarise(results: list[dict]) -> str:
    """Markdown: per fraction and level, mean ± std over seeds [mean CI bounds]."""
    lines = []
    df = pd.DataFrame(results)
    for level in ("window", "record"):
        lines += [(f"\n**{level} level** (mean ± std over seeds; [95 % bootstrap CI over test "
                   "records, bounds averaged over seeds])\n"),
                  "| labels | system | seeds | " + " | ".join(METRICS) + " |",
                  "|---|---|---|" + "---|" * len(METRICS)]
        for fraction in sorted(df["fraction"].unique()):
            part = df[df["fraction"] == fraction]
            first = part.iloc[0]
            for system in part["system"].unique():
                rs = part[part["system"] == system]
                cells = []
                for m in METRICS:
                    v = np.array([r[level][m] for _, r in rs.iterrows()], dtype=float)
                    lo = np.mean([r[f"{level}_ci"][m]["low"] for _, r in rs.iterrows()])
                    hi = np.mean([r[f"{level}_ci"][m]["high"] for _, r in rs.iterrows()])
                    sd = f" ± {v.std(ddof=1):.3f}" if len(v) > 1 else ""
                    cells.append(f"{v.mean():.3f}{sd} [{lo:.3f}, {hi:.3f}]")
                lines.append(f"| {fraction:.0%} ({first['train_records']}+{first['val_records']} rec) "
                             f"| {system} | {len(rs)} | " + " | ".join(cells) + " |")
            maj = first[level]["majority_baseline"]
            lines.append(f"| {fraction:.0%} | majority class (N) | – | {maj:.3f} | 0.500 | "
                         f"{maj / (1 + maj):.3f} | 0.500 |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
