"""Writing an evaluation: ``results.json``, ``report.md``, PNG plots and a console table.

Plots (``plots/``): confusion matrices (summed over folds), ROC curves (pooled
out-of-fold predictions), per-subject accuracy, training curves (validation loss per
epoch, every fold, every neural system). ``report.md`` references each of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecgemotion.evaluation.results import MAJORITY, write_json

# The paper's published figures (AMIGOS, window-level cross-validation).
PAPER_FIGURES = {
    ("arousal", "accuracy", "transformer"): (0.88, "known"),
    ("arousal", "accuracy", "cnn"): (0.85, "known"),
    ("arousal", "macro_f1", "transformer"): (0.87, "likely"),
    ("valence", "accuracy", "transformer"): (0.83, "likely"),
    ("valence", "macro_f1", "transformer"): (0.83, "likely"),
}


def fmt_number(v, digits=3) -> str:
    """``v`` to ``digits`` decimals; a dash for a figure that does not exist (None, NaN)."""
    return "—" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


ONE_CLASS_NOTE = ("One class: in these folds the system gave every test window the same class, "
                  "like the majority baseline; it learned nothing usable there")


def one_class_mark(row: dict[str, Any]) -> str:
    """`` (one class in 3/4 folds)`` for a system that predicted a single class, else ``""``."""
    if row["system"] == MAJORITY or not row.get("one_class_folds"):
        return ""
    return f" (one class in {row['one_class_folds']}/{row['folds']} folds)"


# The table's columns: (key in summary_rows, heading); each gets its bootstrap CI.
TABLE_METRICS = (("accuracy", "accuracy"), ("balanced_accuracy", "balanced acc."),
                 ("macro_f1", "macro-F1"), ("f1_high", "F1 high"), ("auroc", "AUROC"),
                 ("trial_accuracy", "trial-level acc."),
                 ("trial_balanced_accuracy", "trial-level bal. acc."), ("trial_auroc", "trial-level AUROC"))


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per system (majority first): mean ± std, bootstrap CI of every metric
    (``ci``; ``ci_low``/``ci_high`` are accuracy's), and in how many folds it predicted one
    class only."""
    from ecgemotion.evaluation.metrics import one_class

    rows = []
    names = [MAJORITY] + [n for n in results["systems"]]
    for name in names:
        folds = [f for f in results.get("folds", []) if f["system"] == name]
        agg = results["aggregate"][name]
        cis = results["bootstrap_ci"][name]
        ci = cis.get("accuracy", {})
        rows.append({
            "system": name,
            "accuracy": agg["accuracy"]["mean"], "accuracy_std": agg["accuracy"]["std"],
            "ci_low": ci.get("low"), "ci_high": ci.get("high"),
            "ci": {m: (cis[m].get("low"), cis[m].get("high")) for m, _ in TABLE_METRICS if m in cis},
            "balanced_accuracy": agg["balanced_accuracy"]["mean"],
            "macro_f1": agg["macro_f1"]["mean"], "f1_high": agg["f1_high"]["mean"],
            "auroc": agg["auroc"]["mean"] if name != MAJORITY else None,
            "trial_accuracy": results["trial_level"][name]["accuracy"]["mean"],
            "trial_balanced_accuracy": results["trial_level"][name]["balanced_accuracy"]["mean"],
            "trial_auroc": (results["trial_level"][name].get("auroc", {}).get("mean")
                            if name != MAJORITY else None),
            "folds": len(folds),
            "one_class_folds": sum(one_class(f.get("predicted_high_share")) for f in folds),
        })
    return rows


def _with_ci(r: dict[str, Any], metric: str) -> str:
    low, high = r.get("ci", {}).get(metric, (None, None))
    ci = f" [{fmt_number(low)}, {fmt_number(high)}]" if low is not None else ""
    return fmt_number(r[metric]) + ci


def markdown_table(results: dict[str, Any]) -> str:
    lines = ["| system | accuracy (mean ± std over folds) | 95 % CI | "
             + " | ".join(f"{head} [95 % CI]" for _, head in TABLE_METRICS[1:]) + " |",
             "|---|---|---|" + "---|" * (len(TABLE_METRICS) - 1)]
    for r in summary_rows(results):
        name = r["system"] + (" (baseline)" if r["system"] == MAJORITY else one_class_mark(r))
        lines.append(f"| {name} | {fmt_number(r['accuracy'])} ± {fmt_number(r['accuracy_std'])} | "
                     f"[{fmt_number(r['ci_low'])}, {fmt_number(r['ci_high'])}] | "
                     + " | ".join(_with_ci(r, m) for m, _ in TABLE_METRICS[1:]) + " |")
    return "\n".join(lines)


def console_table(results: dict[str, Any]) -> str:
    p = results["protocol"]
    head = (f"{results['task']} / protocol {p['protocol']} "
            f"(subject_dependent={p['subject_dependent']}, window_mixed={p['window_mixed']}), "
            f"label rule {results['label_rule']}, {results['n_windows']} windows, "
            f"{results['n_subjects']} subjects, seed {results['seed']}")
    lines = [head, f"{'system':<13} {'accuracy':>15} {'95% CI':>16} {'bal.acc [95% CI]':>22} "
                   f"{'macroF1':>8} {'AUROC [95% CI]':>22}"]
    rows = summary_rows(results)
    for r in rows:
        lines.append(f"{r['system']:<13} {fmt_number(r['accuracy'])} ± {fmt_number(r['accuracy_std'])}"
                     f"  [{fmt_number(r['ci_low'])}, {fmt_number(r['ci_high'])}] "
                     f"{_with_ci(r, 'balanced_accuracy'):>22} {fmt_number(r['macro_f1']):>8} "
                     f"{_with_ci(r, 'auroc'):>22}{one_class_mark(r)}")
    if any(one_class_mark(r) for r in rows):
        lines.append("NOTE: " + ONE_CLASS_NOTE)
    lines.append(f"CI: percentile bootstrap, unit = {results['bootstrap_unit']}; "
                 "majority = training-majority class for every test window")
    if p.get("warning"):
        lines.append("NOTE: " + p["warning"])
    cal = results.get("calibrated")
    if cal:
        lines.append(f"calibrated ({cal['calibration']['option']}: {cal['calibration']['uses']}):")
        lines += [f"{r['system']:<13} bal.acc {_with_ci(r, 'balanced_accuracy')}  AUROC "
                  f"{_with_ci(r, 'auroc')}" for r in summary_rows(cal)]
    return "\n".join(lines)


# -- plots -------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusions(results, path: Path) -> Path:
    plt = _plt()
    names = [MAJORITY] + list(results["systems"])
    folds = results["folds"]
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        cm = np.sum([np.asarray(f["confusion"]) for f in folds if f["system"] == name], axis=0)
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, int(v), ha="center", va="center", fontsize=9)
        ax.set_xticks([0, 1], ["low", "high"])
        ax.set_yticks([0, 1], ["low", "high"])
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("predicted")
    axes[0, 0].set_ylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def _roc(y, p):
    order = np.argsort(-p, kind="mergesort")
    y = y[order]
    tp = np.concatenate([[0], np.cumsum(y)])
    fp = np.concatenate([[0], np.cumsum(1 - y)])
    return fp / max(1, fp[-1]), tp / max(1, tp[-1])


def plot_roc(results, pred: pd.DataFrame, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    first = pred[pred["repeat"] == pred["repeat"].min()]
    for name in results["systems"]:
        p = first[first["system"] == name]
        if p["y"].nunique() < 2:
            continue
        fpr, tpr = _roc(p["y"].to_numpy(), p["prob"].to_numpy())
        auc = results["bootstrap_ci"][name].get("auroc", {}).get("point")
        ax.plot(fpr, tpr, label=f"{name} (AUROC {fmt_number(auc)})")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"ROC, {results['task']}, {results['protocol']['protocol']} (pooled)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_per_subject(results, path: Path) -> Path:
    plt = _plt()
    names = list(results["systems"])
    tables = {n: pd.DataFrame(results["per_subject"][n]) for n in [MAJORITY] + names}
    subjects = tables[MAJORITY]["subject"].astype(str).tolist()
    x = np.arange(len(subjects))
    width = 0.8 / max(1, len(tables))
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(subjects) * max(1, len(tables)) / 2), 3.4))
    for i, (n, t) in enumerate(tables.items()):
        ax.bar(x + i * width, t["accuracy"], width, label=n)
    ax.set_xticks(x + 0.4 - width / 2, subjects, rotation=90, fontsize=7)
    ax.set_ylim(0, 1)
    ax.axhline(0.5, color="grey", lw=0.6, ls="--")
    ax.set_ylabel("accuracy")
    ax.set_title("per-subject accuracy (pooled test windows)", fontsize=9)
    ax.legend(fontsize=6, ncol=min(4, len(tables)))
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_training_curves(results, path: Path) -> Path | None:
    curves = results.get("training_curves") or {}
    if not curves:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(curves), figsize=(3.4 * len(curves), 2.8), squeeze=False)
    for ax, (name, runs) in zip(axes[0], curves.items()):
        for run in runs:
            h = pd.DataFrame(run["history"])
            if "val_loss" in h:
                ax.plot(h["epoch"], h["val_loss"], lw=0.8, alpha=0.7)
            if "train_loss" in h:
                ax.plot(h["epoch"], h["train_loss"], lw=0.6, alpha=0.4, ls=":")
        ax.set_title(f"{name}: val (solid) / train (dotted) loss", fontsize=8)
        ax.set_xlabel("epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


# -- report --------------------------------------------------------------------------------
def write_report(results: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write results.json, report.md and plots/*.png into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    pred = pd.read_csv(out_dir / "predictions.csv")
    paths: dict[str, Path] = {}
    paths["confusion"] = plot_confusions(results, plots / "confusion.png")
    paths["roc"] = plot_roc(results, pred, plots / "roc.png")
    paths["per_subject"] = plot_per_subject(results, plots / "per_subject.png")
    curves = plot_training_curves(results, plots / "training_curves.png")
    if curves is not None:
        paths["training_curves"] = curves
    results = {**results, "plots": {k: str(v.relative_to(out_dir)) for k, v in paths.items()}}
    paths["results"] = write_json(results, out_dir / "results.json")
    paths["report"] = out_dir / "report.md"
    paths["report"].write_text(report_markdown(results))
    return paths


def paired_markdown(results: dict[str, Any]) -> list[str]:
    """The paired tests: every test on the primary metric, then the other metrics' mean
    differences with their corrected t-test and permutation p-values."""
    primary = results.get("primary_metric", "accuracy")
    pairs = results["paired_tests"]
    lines = [f"## Paired comparisons (same folds), primary metric: {primary}", "",
             f"| a | b | mean diff ({primary}) | p t-test | p corrected (Nadeau–Bengio) | "
             "p Wilcoxon | p permutation (pooled) |", "|---|---|---|---|---|---|---|"]
    for t in pairs:
        a, perm = t[primary], t.get("permutation", {}).get(primary, {})
        lines.append(f"| {t['a']} | {t['b']} | {fmt_number(a['mean_diff'])} | {fmt_number(a['p_ttest'])} | "
                     f"{fmt_number(a['p_ttest_corrected'])} | {fmt_number(a['p_wilcoxon'])} | "
                     f"{fmt_number(perm.get('p'))} |")
    others = [m for m in ("balanced_accuracy", "auroc", "accuracy", "macro_f1")
              if m != primary and pairs and m in pairs[0]]
    if others:
        lines += ["", "Other metrics: mean diff (p corrected / p permutation, where run)", "",
                  "| a | b | " + " | ".join(others) + " |", "|---|---|" + "---|" * len(others)]
        for t in pairs:
            cells = [f"{fmt_number(t[m]['mean_diff'])} ({fmt_number(t[m]['p_ttest_corrected'])} / "
                     f"{fmt_number(t.get('permutation', {}).get(m, {}).get('p'))})" for m in others]
            lines.append(f"| {t['a']} | {t['b']} | " + " | ".join(cells) + " |")
    return lines


def calibrated_markdown(results: dict[str, Any]) -> list[str]:
    """The calibrated run (``evaluate --calibrate``), beside the strict table, never instead."""
    cal = results.get("calibrated")
    if not cal:
        return []
    c = cal["calibration"]
    return [f"## Calibrated to each test subject: `{c['option']}` (beside the strict figures "
            "above, not instead)", "",
            f"Data used from each test subject: {c['uses']}. Same folds and seeds, "
            f"{cal['n_windows']} test windows; full results in `calibrated/`.", "",
            markdown_table(cal), ""]


def report_markdown(results: dict[str, Any]) -> str:
    p = results["protocol"]
    lines = [f"# Evaluation: {results['task']}, protocol `{p['protocol']}`", ""]
    if p.get("warning"):
        lines += [f"> **{p['warning']}**", ""]
    lines += [
        f"- protocol: {p['description']}",
        f"- subject_dependent: **{p['subject_dependent']}**, window_mixed: **{p['window_mixed']}**, "
        f"k = {p['k']}, repeats = {p['repeats']}, folds per repeat = {p['folds_per_repeat']}"
        + (f" (only the first {p['max_folds']} run)" if p.get("max_folds") else ""),
        f"- validation (early stopping / best epoch): {p['validation']}; the test fold is used once",
        f"- label rule: `{results['label_rule']}`; classes {results['classes']}",
        f"- store: `{results['store']['path']}` (identity {str(results['store']['identity'])[:12]}), "
        f"{results['n_windows']} labelled windows from {results['n_subjects']} subjects",
        f"- seed {results['seed']}, ecgemotion {results['ecgemotion_version']}, "
        f"{results['elapsed_s']} s",
        "",
        "## Results (window level)", "",
        markdown_table(results), "",
        f"Mean ± std over folds (other columns: the fold mean); 95 % CI: percentile bootstrap "
        f"of the pooled out-of-fold predictions (whose own value can differ from the fold "
        f"mean, AUROC most), resampling unit: **{results['bootstrap_unit']}**. The majority baseline predicts "
        "the training majority class for every test window. Trial-level accuracy averages "
        "P(high) over each trial's windows (reported separately, not comparable with window "
        "figures).", "",
        *([f"**{ONE_CLASS_NOTE}.**", ""]
          if any(one_class_mark(r) for r in summary_rows(results)) else []),
        *calibrated_markdown(results),
        "## Systems", "",
    ]
    for name, d in results["systems"].items():
        lines.append(f"- **{name}**: {d['description']}")
    if results.get("notes"):
        lines += ["", "Notes:", ""] + [f"- {n}" for n in results["notes"]]
    lines += ["", *paired_markdown(results)]
    lines += ["", "## Plots", ""]
    titles = {"confusion": "Confusion matrices (summed over folds)", "roc": "ROC curves",
              "per_subject": "Per-subject accuracy", "training_curves": "Training curves"}
    for key, rel in results.get("plots", {}).items():
        lines += [f"### {titles.get(key, key)}", "", f"![{key}]({rel})", ""]
    lines += ["## Per-fold accuracy", "", "| fold | " + " | ".join(
        [MAJORITY] + list(results["systems"])) + " |",
        "|---|" + "---|" * (1 + len(results["systems"]))]
    folds = pd.DataFrame(results["folds"])
    for (r, f), g in folds.groupby(["repeat", "fold"]):
        acc = dict(zip(g["system"], g["accuracy"]))
        lines.append(f"| r{r}f{f} | " + " | ".join(fmt_number(acc.get(n)) for n in
                                                   [MAJORITY] + list(results["systems"])) + " |")
    lines += ["", f"Leakage check: {results['leakage_check']['rule']} — passed for every fold "
              "and system.", ""]
    return "\n".join(lines)
