"""Run a cross-validation protocol over several systems, honestly.

For every fold of the protocol (:mod:`ecgemotion.evaluation.splits`), every system is
trained on the fold's training rows, selects its epoch on the fold's validation rows
(training side only) and predicts the test rows **once**. Each system reaches windows
only through a :class:`~ecgemotion.evaluation.systems.TracedStore`; the runner records
every row served while fitting and while predicting, and raises
:class:`~ecgemotion.evaluation.splits.LeakageError` if a test row was served to training
or model selection, or if prediction read anything but the test rows.

What :func:`run_evaluation` returns (and ``report.write_report`` saves as results.json):
every fold's metrics for every system (and for the majority baseline, which predicts the
training majority class), aggregates (mean ± std over folds), the mean over the folds of
repeat 0 with its percentile bootstrap 95 % CI (clusters resampled within each fold:
subjects for subject/loso/trial, windows for paper), a per-subject table, paired tests between
systems on the same folds, trial-level pooled metrics (separately), the label rule, the
protocol with its ``subject_dependent``/``window_mixed`` flags, the seed and the config.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ecgemotion import __version__
from ecgemotion.evaluation.calibration import Calibration
from ecgemotion.evaluation.metrics import (METRICS, aggregate, bootstrap_ci, fold_metrics,
                                           format_mean_std, paired_permutation_test, paired_test,
                                           per_subject_table, pool_trials, trial_metrics)
from ecgemotion.evaluation.results import MAJORITY, json_number
from ecgemotion.evaluation.splits import LeakageError, get_protocol
from ecgemotion.evaluation.systems import (PRETRAINED, Context, EmbeddingCache, System, SystemSpec,
                                          TracedStore, build_systems)
from ecgemotion.subjects import subject_keys
from ecgemotion.training.data import derived_seed

# Paired tests run on each of these; the primary one (--metric) leads the reports. Balanced
# accuracy is the default: with 75/25 classes plain accuracy rewards the majority vote.
PAIRED_METRICS = ("balanced_accuracy", "auroc", "accuracy", "macro_f1")
PERMUTATION_METRICS = ("balanced_accuracy", "auroc", "accuracy")
# Trial-level metrics given a bootstrap CI (subjects as clusters, as at window level).
TRIAL_CI_METRICS = ("accuracy", "balanced_accuracy", "auroc")
PAPER_WARNING = ("SUBJECT-DEPENDENT, WINDOW-MIXED protocol: windows of the same subject and "
                 "the same trial (video) are in training and test. Comparable with the paper's "
                 "numbers, NOT an estimate of performance on new people.")


@dataclass
class EvaluationOptions:
    """How a protocol is run and reported: everything but the store, the task, the protocol
    and the systems. The defaults are ``ecgemotion evaluate``'s."""

    train_cfg: Any = None               # fine-tuning TrainConfig (default: the FINETUNE recipe)
    ssl_cfg: Any = None                 # sarkar's pretext TrainConfig (default: PRETEXT)
    seed: int = 0                       # folds, weights, bootstraps
    repeats: int | None = None          # None: the protocol's
    k: int | None = None
    val_fraction: float | None = None
    max_folds: int | None = None        # run only the first N folds (smoke runs)
    quality: str = "good"
    n_boot: int = 2000
    metric: str = "balanced_accuracy"   # the paired tests' primary metric
    keep_checkpoints: bool = False
    fold_init: Callable[[Any], dict] | None = None   # fold -> {system: pre-trained folder}
    tracer: Callable[..., None] | None = None         # tracer(event, fold=, system=)
    config: dict[str, Any] = field(default_factory=dict)   # extra facts for results.json
    ui: Any = None
    overwrite: bool = False             # replace an evaluation already in out_dir
    calibrate: str | None = None        # "unlabelled" or "k-shot:K": a second, calibrated run

    def context(self, target: str) -> Context:
        """What every system gets, with the recipes' defaults filled in and the seed set."""
        from ecgemotion.training.loop import TrainConfig
        from ecgemotion.training.recipes import FINETUNE, PRETEXT

        return Context(target=target, seed=self.seed, keep_checkpoints=self.keep_checkpoints,
                       ui=self.ui,
                       train_cfg=replace(self.train_cfg or TrainConfig.from_recipe(FINETUNE),
                                         seed=self.seed),
                       ssl_cfg=replace(self.ssl_cfg or TrainConfig.from_recipe(PRETEXT),
                                       seed=self.seed))


def protocol_info(name: str, k: int | None, repeats: int | None, val_fraction: float | None,
                  n_folds: int, max_folds: int | None) -> dict[str, Any]:
    p = get_protocol(name)
    info = {**p.describe(), "k": k if k is not None else p.default_k,
            "repeats": repeats if repeats is not None else p.default_repeats,
            "val_fraction": val_fraction if val_fraction is not None else p.default_val_fraction,
            "folds_per_repeat": n_folds, "max_folds": max_folds,
            "paper_comparable": name == "paper",
            "validation": {"paper": "random windows of the training side (stratified)",
                           "subject": "whole subjects of the training side",
                           "loso": "whole subjects of the training side",
                           "trial": "whole trials of the training side"}[name]}
    if p.window_mixed or p.subject_dependent:
        info["warning"] = (PAPER_WARNING if name == "paper" else
                           "SUBJECT-DEPENDENT protocol: a test subject's other trials are in "
                           "training (no trial is on both sides).")
    return info


class _Recorder:
    """Rows served per (fold, system, phase)."""

    def __init__(self):
        self.phase: tuple[str, str, str] | None = None
        self.reads: dict[tuple[str, str, str], list[np.ndarray]] = {}

    def __call__(self, rows: np.ndarray) -> None:
        if self.phase is None:
            raise LeakageError("a window was read outside a fit or predict phase")
        self.reads.setdefault(self.phase, []).append(np.asarray(rows, dtype=np.int64).copy())

    def rows(self, key) -> np.ndarray:
        parts = self.reads.get(key, [])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _check_fold_reads(rec: _Recorder, fold, system: str) -> dict[str, int]:
    fit_rows = rec.rows((fold.name, system, "fit"))
    pred_rows = rec.rows((fold.name, system, "predict"))
    leaked = np.intersect1d(fit_rows, fold.test)
    if len(leaked):
        raise LeakageError(f"{system}, fold {fold.name}: {len(leaked)} test row(s) were served to "
                           f"training/model selection (e.g. row {int(leaked[0])})")
    outside = np.setdiff1d(fit_rows, np.concatenate([fold.train, fold.val]))
    if len(outside):
        raise LeakageError(f"{system}, fold {fold.name}: training read {len(outside)} row(s) "
                           "outside the fold's training side")
    if len(np.setdiff1d(pred_rows, fold.test)):
        raise LeakageError(f"{system}, fold {fold.name}: prediction read non-test rows")
    return {"fit_rows_read": int(len(np.unique(fit_rows))),
            "predict_rows_read": int(len(np.unique(pred_rows)))}


def run_evaluation(store, target: str, protocol: str, systems: list[System], out_dir: str | Path,
                   options: EvaluationOptions | None = None,
                   notes: list[str] | None = None) -> dict[str, Any]:
    """Evaluate the built ``systems`` on ``store``'s ``target`` labels under ``protocol``.

    ``options.fold_init(fold)`` may return ``{system_name: pretrained_folder}`` per fold
    (pre-training without the fold's test subjects). ``options.tracer(event, fold=, system=)``
    is called with ``"fit"`` before a system trains on a fold, ``"predict"`` before it
    predicts, and ``"done"`` after (for instrumentation). ``options.metric`` is the primary
    metric of the paired tests (all of :data:`PAIRED_METRICS` are run). Returns the results
    dict (not yet written).
    """
    opts = options or EvaluationOptions()
    ctx = opts.context(target)
    say = opts.ui.say if opts.ui is not None else (lambda *a, **kw: None)
    if opts.metric not in PAIRED_METRICS:
        from ecgemotion.errors import ConfigError

        raise ConfigError(f"unknown --metric {opts.metric!r}; choose from {', '.join(PAIRED_METRICS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = store.select(quality=opts.quality, labelled=target)
    if len(rows) == 0:
        from ecgemotion.errors import ConfigError

        raise ConfigError(f"{getattr(store, 'path', 'store')}: no {opts.quality} windows labelled '{target}'")
    n_folds = get_protocol(protocol).n_folds(store.index, rows, opts.k)
    pinfo = protocol_info(protocol, opts.k, opts.repeats, opts.val_fraction, n_folds, opts.max_folds)
    if pinfo.get("warning"):
        say(f"NOTE: {pinfo['warning']}")

    calibration = Calibration.parse(opts.calibrate) if opts.calibrate else None
    t0 = time.time()
    tables = _run_folds(store, target, protocol, rows, systems, ctx, opts, calibration, out_dir, say)
    pred = pd.concat(tables.preds, ignore_index=True)
    names = [MAJORITY] + [s.name for s in systems]
    results = _summarise(store, target, protocol, pinfo, names, systems, tables.fold_rows,
                         tables.trial_rows, pred, store.index, ctx, opts.n_boot, opts.metric)
    results.update({
        "ecgemotion_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "elapsed_s": round(time.time() - t0, 2), "seed": ctx.seed,
        "config": {"train": asdict(ctx.train_cfg),
                   "ssl": asdict(ctx.ssl_cfg) if ctx.ssl_cfg is not None else None,
                   "quality": opts.quality, "n_boot": opts.n_boot, **opts.config},
        "notes": list(notes or []),
        "calibration": ({"option": calibration.label, "uses": calibration.uses()}
                        if calibration is not None else None),
        "leakage_check": {"passed": True, "folds": tables.leak_log,
                          "rule": "rows served to fit ∩ test rows = ∅; predict reads only test rows"},
        "training_curves": tables.curves,
    })
    pred.to_csv(out_dir / "predictions.csv", index=False)
    return results


def _run_folds(store, target: str, protocol: str, rows: np.ndarray, systems: list[System],
               ctx: Context, opts: EvaluationOptions, calibration: Calibration | None,
               out_dir: Path, say) -> "_Tables":
    """Every fold: the majority baseline and each system fitted, checked for leakage, scored."""
    from ecgemotion.baselines.hrv import HRVFeatureCache
    from ecgemotion.paths import cache_dir

    index = store.index
    y_all = index[f"y_{target}"].to_numpy(dtype=float)
    rec = _Recorder()
    # HRV features are kept on disk per store identity: a rerun (or the calibrated run)
    # reads them instead of detecting every R peak again
    caches = (HRVFeatureCache(store, cache_dir=cache_dir("features")), EmbeddingCache(store))
    fit_store = TracedStore(store, rec, *caches)
    test_store = TracedStore(store, rec, *caches, labels=False)
    for system in systems:
        system.prepare(ctx, out_dir / "runs")

    tables = _Tables()
    folds = get_protocol(protocol).folds(index, rows, target, seed=ctx.seed, repeats=opts.repeats,
                                         k=opts.k, val_fraction=opts.val_fraction)
    for i, fold in enumerate(folds):
        if opts.max_folds is not None and i >= opts.max_folds:
            break
        if calibration is not None:
            fold = calibration.fold(fold, index, y_all, derived_seed(ctx.seed, fold.repeat,
                                                                     fold.fold, 1))
        y_train = y_all[fold.train].astype(np.int64)
        y_test = y_all[fold.test].astype(np.int64)
        ctx.fold_init = opts.fold_init(fold) if opts.fold_init is not None else {}
        seed = derived_seed(ctx.seed, fold.repeat, fold.fold) % (2 ** 31)
        # the majority baseline: the training majority class for every test window
        majority = int(y_train.mean() >= 0.5)
        outputs = {MAJORITY: (np.full(len(fold.test), float(majority)), {})}
        for system in systems:
            outputs[system.name] = _run_system(system, ctx, fold, fit_store, test_store, rec,
                                               out_dir / "runs" / system.name / fold.name, seed,
                                               opts.tracer, calibration, tables.leak_log)
        accs = "  ".join(f"{name} {tables.add(name, prob, info, fold, index, y_train, y_test):.3f}"
                         for name, (prob, info) in outputs.items())
        say(f"fold {fold.name} ({len(fold.train)}/{len(fold.val)}/{len(fold.test)} windows): {accs}")
        rec.reads.clear()  # rows are checked per fold; keep memory flat
    return tables


def _run_system(system, ctx, fold, fit_store, test_store, rec, run_dir, seed, tracer,
                calibration, leak_log) -> tuple[np.ndarray, dict[str, Any]]:
    """One system on one fold: fit, predict, then check what it read (logged in
    ``leak_log``); returns (P(high) per test row, the system's info)."""
    t = time.time()
    rec.phase = (fold.name, system.name, "fit")
    if tracer:
        tracer("fit", fold=fold, system=system.name)
    # the system trains and selects on the fit store, then predicts on the test store
    prob, info = _fit_then_predict(system, ctx, fold, fit_store, test_store, rec, run_dir,
                                   seed, tracer, calibration)
    rec.phase = None
    if tracer:
        tracer("done", fold=fold, system=system.name)
    reads = _check_fold_reads(rec, fold, system.name)
    leak_log.append({"fold": fold.name, "system": system.name, **reads})
    info["seconds"] = round(time.time() - t, 2)
    return np.asarray(prob, dtype=float), info


@dataclass
class _Tables:
    """What the folds add up to: metric rows, trial rows, predictions, curves, reads."""

    fold_rows: list[dict[str, Any]] = field(default_factory=list)
    trial_rows: list[dict[str, Any]] = field(default_factory=list)
    preds: list[pd.DataFrame] = field(default_factory=list)
    curves: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    leak_log: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name, prob, info, fold, index, y_train, y_test) -> float:
        """Score one system's test probabilities on ``fold``; returns its accuracy."""
        if len(prob) != len(fold.test) or not np.isfinite(prob).all():
            raise LeakageError(f"{name}, fold {fold.name}: expected one finite probability per "
                               "test window")
        m = fold_metrics(y_test, prob, y_train=y_train)
        self.fold_rows.append({"system": name, "repeat": fold.repeat, "fold": fold.fold,
                               "n_train": len(fold.train), "n_val": len(fold.val),
                               "n_test": len(fold.test),
                               "test_subjects": sorted(set(subject_keys(index, fold.test))),
                               **m, "val_metrics": info.get("val_metrics"),
                               "seconds": info.get("seconds"), "epochs": info.get("epochs"),
                               # multimodal systems: the share of test windows with each modality
                               **({"modalities_used": info["test_share_with_modality"]}
                                  if "test_share_with_modality" in info else {}),
                               # windows a system handled specially, by reason (e.g. synheart's)
                               **({"counts": info["counts"]} if "counts" in info else {})})
        tm = trial_metrics(index, fold.test, y_test, prob, fold.train, y_train)
        self.trial_rows.append({"system": name, "repeat": fold.repeat, "fold": fold.fold,
                                **{k: v for k, v in tm.items() if k != "confusion"}})
        self.preds.append(pd.DataFrame({"system": name, "repeat": fold.repeat, "fold": fold.fold,
                                        "row": fold.test, "y": y_test, "prob": prob}))
        if info.get("history"):
            self.curves.setdefault(name, []).append({"fold": fold.name,
                                                     "history": info["history"]})
        return m["accuracy"]


def _fit_then_predict(system, ctx, fold, fit_store, test_store, rec, run_dir, seed, tracer,
                      calibration=None):
    """Run ``system.fit_predict`` with the recorder switched to the predict phase the moment
    the system first touches the test store (through the calibration's views, if any)."""

    class _PredictPhase:
        def __init__(self, inner):
            self._inner = inner

        def _enter(self):
            if rec.phase != (fold.name, system.name, "predict"):
                rec.phase = (fold.name, system.name, "predict")
                if tracer:
                    tracer("predict", fold=fold, system=system.name)

        def __getattr__(self, name):
            if name in TracedStore.SERVES:
                self._enter()
            return getattr(self._inner, name)

    test_store = _PredictPhase(test_store)
    if calibration is not None:
        fit_store, test_store = calibration.stores(fold, fit_store, test_store)
    return system.fit_predict(ctx, fold, fit_store, test_store, run_dir, seed)


def _summarise(store, target, protocol, pinfo, names, systems, fold_rows, trial_rows, pred, index,
               ctx, n_boot, metric: str = "balanced_accuracy") -> dict[str, Any]:
    folds_df = pd.DataFrame(fold_rows)
    trials_df = pd.DataFrame(trial_rows)
    group_by_subject = pinfo["grouping"] != "window"
    agg, agg_fmt, cis, per_subject, trial_agg = {}, {}, {}, {}, {}
    pred0 = pred[pred["repeat"] == pred["repeat"].min()]
    for name in names:
        table = aggregate(folds_df[folds_df["system"] == name],
                          list(METRICS) + ["majority_baseline", "test_majority_share"])
        agg[name] = {m: {k2: json_number(v) for k2, v in r.items()} for m, r in table.iterrows()}
        agg_fmt[name] = format_mean_std(table)
        p = pred0[pred0["system"] == name]
        cis[name] = _bootstrap_cis(name, p, index, group_by_subject, n_boot, ctx.seed)
        per_subject[name] = per_subject_table(index, p["row"], p["y"], p["prob"]).to_dict("records")
        t = trials_df[trials_df["system"] == name]
        ttab = aggregate(t, [c for c in (*METRICS, "majority_baseline") if c in t.columns])
        trial_agg[name] = {m: {k2: json_number(v) for k2, v in r.items()}
                           for m, r in ttab.iterrows()}
    pairs = _paired_tests(names, [s.name for s in systems], folds_df, pred0, index, protocol,
                          group_by_subject, ctx.seed)
    fold_records = []
    for r in fold_rows:
        fold_records.append({k2: (json_number(v) if isinstance(v, (float, np.floating)) else v)
                             for k2, v in r.items()})
    return {
        "store": {"path": str(getattr(store, "path", "")), "identity": store.meta.get("identity"),
                  "windows": int(len(store)), "fs": float(store.fs),
                  "window_s": float(store.window_len / store.fs)},
        "task": target, "classes": ["low", "high"],
        "label_rule": store.meta.get("label_rule"),
        "preprocess": store.meta.get("preprocess"),
        "protocol": pinfo,
        "systems": {s.name: s.describe() for s in systems},
        "majority_baseline_definition": "the majority class of the fold's training labels, "
                                        "predicted for every test window",
        "n_windows": int(pred0[pred0["system"] == MAJORITY].shape[0]),
        "n_subjects": int(len(set(subject_keys(index, pred0["row"].unique())))),
        "folds": fold_records,
        "aggregate": agg, "summary": agg_fmt,
        "bootstrap_ci": cis,
        "bootstrap_unit": "subject (cluster bootstrap)" if group_by_subject else "window",
        "bootstrap_on": "each fold's test predictions, first repeat: the mean over folds, "
                        "resampled within each fold",
        "per_subject": per_subject,
        "primary_metric": metric,
        "paired_tests": pairs,
        "trial_level": trial_agg,
    }


def _bootstrap_cis(name: str, p: pd.DataFrame, index, group_by_subject: bool, n_boot: int,
                   seed: int) -> dict[str, Any]:
    """Percentile bootstrap CIs of one system's first-repeat predictions ``p``, at window
    level and at trial level (mean P(high) over each trial's windows), clusters resampled
    within each fold."""
    def boots(m):  # AUROC's resamples are the costly ones
        return n_boot if m != "auroc" else min(n_boot, 500)

    groups = subject_keys(index, p["row"]) if group_by_subject else None
    cis = {m: bootstrap_ci(p["y"], p["prob"], m, groups=groups, folds=p["fold"], n_boot=boots(m),
                           seed=seed)
           for m in METRICS if not (m == "auroc" and name == MAJORITY)}
    trials = pd.concat([pool_trials(index, g["row"], g["y"], g["prob"]).assign(fold=f)
                        for f, g in p.groupby("fold")], ignore_index=True)
    trial_groups = subject_keys(trials) if group_by_subject else None
    for m in TRIAL_CI_METRICS:
        if not (m == "auroc" and name == MAJORITY):
            cis[f"trial_{m}"] = bootstrap_ci(trials["y"], trials["prob"], m, n_boot=boots(m),
                                             seed=seed, folds=trials["fold"], groups=trial_groups)
    return cis


def _paired_tests(names: list[str], present: list[str], folds_df: pd.DataFrame,
                  pred0: pd.DataFrame, index, protocol: str, group_by_subject: bool,
                  seed: int) -> list[dict[str, Any]]:
    """Paired comparisons on the same folds (t-tests over folds, permutation tests over
    windows) for the pairs a reader asks about: our model vs each other system, the
    pre-training ablations, hybrids and fusions vs their parts, every system vs majority."""
    wanted = [("transformer", o) for o in present if o != "transformer"]
    wanted += [("scratch", "cnn"), ("cnn", "sarkar")]
    wanted += [(h, o) for h in present if h.startswith("hybrid") for o in present
               if not o.startswith("hybrid")]
    wanted += [(f, o) for f in present if f.startswith("fusion-") for o in present
               if o.startswith("mm-") or o.startswith("hrv")]           # fusion vs each modality
    wanted += [(p, p.removesuffix(PRETRAINED)) for p in present]        # multimodal pre-training
    wanted += [(s, MAJORITY) for s in present]
    ratio = float((folds_df["n_test"] / folds_df["n_train"]).mean()) if len(folds_df) else None
    pairs: list[dict[str, Any]] = []
    for a, b in wanted:
        if a not in names or b not in names or a == b:
            continue
        if any({p["a"], p["b"]} == {a, b} for p in pairs):
            continue
        fa = folds_df[folds_df["system"] == a].sort_values(["repeat", "fold"])
        fb = folds_df[folds_df["system"] == b].sort_values(["repeat", "fold"])
        entry = {"a": a, "b": b}
        for m in PAIRED_METRICS:
            entry[m] = paired_test(fa[m].to_numpy(), fb[m].to_numpy(),
                                   test_train_ratio=ratio if protocol != "loso" else None)
        pa = pred0[pred0["system"] == a].sort_values("row")
        pb = pred0[pred0["system"] == b].sort_values("row")
        groups = subject_keys(index, pa["row"]) if group_by_subject else None
        entry["permutation"] = {m: paired_permutation_test(
            pa["y"].to_numpy(), pa["prob"].to_numpy(), pb["prob"].to_numpy(), m, groups=groups,
            n_perm=2000 if m != "auroc" else 1000, seed=seed) for m in PERMUTATION_METRICS}
        pairs.append(entry)
    return pairs


def evaluate(store, target: str, protocol: str, systems: SystemSpec, out_dir: str | Path,
             options: EvaluationOptions | None = None) -> dict[str, Any]:
    """Build the systems, run the protocol, write results.json / report.md / plots."""
    from ecgemotion.errors import ConfigError
    from ecgemotion.evaluation.report import write_report
    from ecgemotion.paths import claim_output

    opts = options or EvaluationOptions()
    if opts.calibrate:
        Calibration.parse(opts.calibrate)     # a bad option fails before the strict run
    if target not in store.label_names:
        raise ConfigError(f"{getattr(store, 'path', 'store')}: no '{target}' labels; the store has "
                          f"{', '.join(store.label_names) or 'none'}")
    out_dir = claim_output(out_dir, "results.json", "an evaluation (results.json)", opts.overwrite,
                           remove=("report.md", "report.html", "plots", "predictions.csv", "runs"))
    system_list, notes = build_systems(systems, per_fold_init=opts.fold_init is not None)
    cfg = {"systems": [s.name for s in system_list], **systems.record(),
           "imbalance": "class-weighted cross-entropy (n / (2 n_c)); HRV models class_weight=balanced",
           "model_selection": "epoch with the lowest class-weighted validation loss",
           **opts.config}
    results = run_evaluation(store, target, protocol, system_list, out_dir,
                             replace(opts, config=cfg, calibrate=None), notes=notes)
    if opts.calibrate:
        results["calibrated"] = calibrated_run(store, target, protocol, systems, out_dir,
                                               replace(opts, config=cfg))
    paths = write_report(results, out_dir)
    results["files"] = {k2: str(v) for k2, v in paths.items()}
    return results


# What a calibrated run adds beside the strict figures (its full results stay in calibrated/).
CALIBRATED_KEYS = ("calibration", "systems", "n_windows", "n_subjects", "folds", "aggregate",
                   "summary", "bootstrap_ci", "bootstrap_unit", "trial_level", "leakage_check")


def calibrated_run(store, target: str, protocol: str, systems: SystemSpec, out_dir: Path,
                   options: EvaluationOptions) -> dict[str, Any]:
    """The same systems, folds and seeds with ``options.calibrate``: freshly built systems
    (nothing carried over from the strict run), written to ``out_dir/calibrated``."""
    from ecgemotion.evaluation.results import write_json

    say = options.ui.say if options.ui is not None else (lambda *a, **kw: None)
    calibration = Calibration.parse(options.calibrate)
    say(f"calibrated run ({calibration.label}): {calibration.uses()}")
    system_list, notes = build_systems(systems, per_fold_init=options.fold_init is not None)
    results = run_evaluation(store, target, protocol, system_list, out_dir / "calibrated",
                             options, notes=notes)
    write_json(results, out_dir / "calibrated" / "results.json")
    return {k: results[k] for k in CALIBRATED_KEYS}
