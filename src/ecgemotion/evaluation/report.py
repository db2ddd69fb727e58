"""Writing an evaluation: ``results.json``, ``plots/*.png``, and one report rendered twice,
``report.md`` and a self-contained ``report.html`` (:mod:`ecgemotion.evaluation.document`, the
writer the demo uses too), plus a console table.

Plots: ROC curves (the mean over test folds), confusion matrices (summed over folds),
per-subject accuracy (one row per subject), training curves (loss per epoch, every fold,
every neural system). Every figure in a table is the mean over test folds with its bootstrap
CI (see :data:`FIGURE_DEFINITION`).
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

# One definition of every figure, said in every report: AUROC as a fold mean in the table and
# pooled over folds in the ROC plot once disagreed (0.765 vs 0.671 on the same run).
FIGURE_DEFINITION = (
    "Every value is the **mean over the test folds** of the first repeat of the metric computed "
    "within each fold (each fold weighted by its number of test {unit_plural}; every test "
    "window is scored once, by a model that never saw it); 95 % CI: percentile bootstrap, "
    "resampling unit: **{unit}**. The ROC plot shows the mean of the folds' ROC curves, whose "
    "area is the table's AUROC. Folds are averaged, not pooled: pooled, a classifier whose "
    "constant changes from fold to fold would look better (AUROC) or worse (balanced accuracy) "
    "than chance. The last column is accuracy's mean ± SD over all folds and repeats. The "
    "majority baseline predicts the training majority class for every test window (no AUROC: "
    "one score for all). Trial-level accuracy averages P(high) over each trial's windows (not "
    "comparable with window figures).")


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per system (majority first): every metric of :data:`TABLE_METRICS` as its
    mean over test folds with a bootstrap CI (``ci[metric] = (low, high)``; ``ci_low``/``ci_high`` are
    accuracy's), accuracy's fold mean ± SD, and in how many folds it predicted one class."""
    from ecgemotion.evaluation.metrics import one_class

    rows = []
    for name in [MAJORITY, *results["systems"]]:
        folds = [f for f in results.get("folds", []) if f["system"] == name]
        cis = results["bootstrap_ci"][name]
        fold_acc = results["aggregate"][name]["accuracy"]
        row = {"system": name, "fold_mean": fold_acc["mean"], "fold_std": fold_acc["std"],
               "ci": {}, "folds": len(folds),
               "one_class_folds": sum(one_class(f.get("predicted_high_share")) for f in folds)}
        for metric, _ in TABLE_METRICS:
            ci = cis.get(metric) or {}
            row[metric] = ci.get("point")
            row["ci"][metric] = (ci.get("low"), ci.get("high"))
        row["ci_low"], row["ci_high"] = row["ci"]["accuracy"]
        rows.append(row)
    return rows


def with_ci(r: dict[str, Any], metric: str) -> str:
    """``0.712 [0.650, 0.780]``; the value alone where no CI exists."""
    low, high = r["ci"].get(metric, (None, None))
    ci = f" [{fmt_number(low)}, {fmt_number(high)}]" if low is not None else ""
    return fmt_number(r[metric]) + ci


def table_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The results table (header, rows), the same in markdown, HTML and the demo."""
    header = ["system", *(f"{head} [95 % CI]" for _, head in TABLE_METRICS),
              "accuracy per fold (mean ± SD)"]
    rows = []
    for r in summary_rows(results):
        name = r["system"] + (" (baseline)" if r["system"] == MAJORITY else one_class_mark(r))
        rows.append([name, *(with_ci(r, m) for m, _ in TABLE_METRICS),
                     f"{fmt_number(r['fold_mean'])} ± {fmt_number(r['fold_std'])}"])
    return header, rows


def markdown_table(results: dict[str, Any]) -> str:
    header, rows = table_rows(results)
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                     + ["| " + " | ".join(r) + " |" for r in rows])


def console_table(results: dict[str, Any]) -> str:
    p = results["protocol"]
    head = (f"{results['task']} / protocol {p['protocol']} "
            f"(subject_dependent={p['subject_dependent']}, window_mixed={p['window_mixed']}), "
            f"label rule {results['label_rule']}, {results['n_windows']} windows, "
            f"{results['n_subjects']} subjects, seed {results['seed']}")
    lines = [head, f"{'system':<13} {'accuracy [95% CI]':>22} {'bal.acc [95% CI]':>22} "
                   f"{'AUROC [95% CI]':>22} {'acc. per fold':>15}"]
    rows = summary_rows(results)
    for r in rows:
        lines.append(f"{r['system']:<13} {with_ci(r, 'accuracy'):>22} "
                     f"{with_ci(r, 'balanced_accuracy'):>22} {with_ci(r, 'auroc'):>22} "
                     f"{fmt_number(r['fold_mean']):>7} ± {fmt_number(r['fold_std'])}"
                     f"{one_class_mark(r)}")
    if any(one_class_mark(r) for r in rows):
        lines.append("NOTE: " + ONE_CLASS_NOTE)
    lines.append(f"Values: mean over the test folds of the first repeat; CIs: percentile "
                 f"bootstrap, unit = {results['bootstrap_unit']}; majority = training-majority "
                 "class for every test window")
    if p.get("warning"):
        lines.append("NOTE: " + p["warning"])
    cal = results.get("calibrated")
    if cal:
        lines.append(f"calibrated ({cal['calibration']['option']}: {cal['calibration']['uses']}):")
        lines += [f"{r['system']:<13} bal.acc {with_ci(r, 'balanced_accuracy')}  AUROC "
                  f"{with_ci(r, 'auroc')}" for r in summary_rows(cal)]
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


FPR_GRID = np.linspace(0, 1, 201)


def mean_roc(y, p, fold, weight=None) -> np.ndarray:
    """The folds' ROC curves averaged vertically (TPR at each false positive rate of
    :data:`FPR_GRID`; folds with one class are left out). Its area is the folds' mean AUROC."""
    curves, weights = [], []
    for f in np.unique(fold):
        yf, pf = y[fold == f], p[fold == f]
        if yf.min() == yf.max():
            continue
        order = np.argsort(-pf, kind="mergesort")
        # one point per distinct score: tied windows move together (ties count half)
        last = np.r_[np.flatnonzero(np.diff(pf[order])), len(pf) - 1]
        tp = np.r_[0, np.cumsum(yf[order])[last]] / yf.sum()
        fp = np.r_[0, np.cumsum(1 - yf[order])[last]] / (1 - yf).sum()
        curves.append(np.interp(FPR_GRID, fp, tp))
        weights.append(1.0 if weight is None else weight[f])
    return np.average(curves, axis=0, weights=weights) if curves else np.full_like(FPR_GRID, np.nan)


def plot_roc(results, pred: pd.DataFrame, path: Path) -> Path:
    """The mean of the folds' ROC curves (first repeat), each fold weighted as in the table;
    the legend's AUROC is the table's."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    first = pred[pred["repeat"] == pred["repeat"].min()]
    by_window = results["bootstrap_unit"] == "window"
    weight = {f["fold"]: f["n_test"] if by_window else len(f["test_subjects"])
              for f in results["folds"] if f["system"] == MAJORITY and f["repeat"] == 0}
    for name in results["systems"]:
        p = first[first["system"] == name]
        if p["y"].nunique() < 2:
            continue
        tpr = mean_roc(p["y"].to_numpy(), p["prob"].to_numpy(), p["fold"].to_numpy(), weight)
        auc = results["bootstrap_ci"][name].get("auroc", {}).get("point")
        ax.plot(FPR_GRID, tpr, label=f"{name} (AUROC {fmt_number(auc)})")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8, label="chance")
    ax.set_xlabel("false positive rate (low called high)")
    ax.set_ylabel("true positive rate (high called high)")
    ax.set_title(f"ROC, {results['task']}, {results['protocol']['protocol']}: "
                 "mean over test folds", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_per_subject(results, path: Path) -> Path:
    """One row per subject, sorted by the systems' mean accuracy; one marker per system.
    Readable at 40 subjects, where grouped bars were not."""
    plt = _plt()
    names = [MAJORITY, *results["systems"]]
    frame = pd.DataFrame({n: pd.DataFrame(results["per_subject"][n])
                          .set_index(["dataset", "subject"])["accuracy"] for n in names})
    learned = list(results["systems"]) or [MAJORITY]
    frame = frame.loc[frame[learned].mean(axis=1).sort_values(kind="mergesort").index]
    several = frame.index.get_level_values(0).nunique() > 1
    labels = [f"{d}/{s}" if several else str(s) for d, s in frame.index]
    y = np.arange(len(frame))
    fig, ax = plt.subplots(figsize=(6.5, 1.3 + 0.2 * len(frame)))
    ax.axvline(0.5, color="grey", lw=0.6, ls="--")
    for name, marker in zip(names, "|osD^v<>px*"):
        style = dict(color="0.45", ms=9, mew=1.5) if name == MAJORITY else dict(ms=5, alpha=0.85)
        ax.plot(frame[name], y, ls="none", marker=marker, label=name, **style)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_ylim(-0.7, len(frame) - 0.3)
    ax.set_xlim(-0.02, 1.02)
    ax.grid(axis="y", color="0.92", lw=0.6)
    ax.set_xlabel("accuracy on the subject's test windows")
    ax.set_ylabel("test subject (sorted)")
    ax.legend(fontsize=7, ncol=min(4, len(names)), loc="lower center", bbox_to_anchor=(0.5, 1.0),
              frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_training_curves(results, path: Path) -> Path | None:
    """Validation and training loss per epoch; markers, so one epoch is a visible point."""
    curves = results.get("training_curves") or {}
    if not curves:
        return None
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(curves), figsize=(3.4 * len(curves), 2.8), squeeze=False)
    for ax, (name, runs) in zip(axes[0], curves.items()):
        for run in runs:
            h = pd.DataFrame(run["history"])
            if "val_loss" in h:
                ax.plot(h["epoch"], h["val_loss"], lw=0.8, alpha=0.7, marker="o", ms=3)
            if "train_loss" in h:
                ax.plot(h["epoch"], h["train_loss"], lw=0.6, alpha=0.4, ls=":", marker=".")
        ax.set_title(f"{name}: val (solid) / train (dotted) loss", fontsize=8)
        ax.set_xlabel("epoch")
        ax.set_ylabel("class-weighted cross-entropy", fontsize=7)
        last = max(max(run["history"], key=lambda row: row["epoch"])["epoch"] for run in runs)
        ax.set_xlim(0.5, last + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


# -- report --------------------------------------------------------------------------------
INSTALL = ("# from a checkout of the ecgemotion source (there is no package-index release):\n"
           "pip install torch && pip install -e .")


def write_report(results: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write results.json, plots/*.png and the report as report.md and a self-contained
    report.html (the demo's writer); return their paths. ``results["plots"]`` gets the
    plots' paths relative to ``out_dir``."""
    from ecgemotion.evaluation.document import Document

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
    results["plots"] = {k: str(v.relative_to(out_dir)) for k, v in paths.items()}
    paths["results"] = write_json(results, out_dir / "results.json")
    p = results["protocol"]
    doc = Document(f"Evaluation: {results['task']}, protocol {p['protocol']}")
    add_evaluation(doc, results, out_dir)
    doc.heading("Reproduce")
    doc.pre(INSTALL + ("\n" + results["config"]["argv"] if results.get("config", {}).get("argv")
                       else ""))
    paths["report"], paths["report_html"] = doc.write(out_dir)
    return paths


def add_evaluation(doc, results: dict[str, Any], folder: Path, level: int = 2) -> None:
    """An evaluation's sections (setup, results with CIs, systems, paired tests, plots, folds)
    into ``doc``; ``folder`` holds its ``plots/``. The evaluate report and the demo both use it."""
    p = results["protocol"]
    if p.get("warning"):
        doc.callout(p["warning"])
    doc.bullets([
        f"protocol `{p['protocol']}`: {p['description']}",
        f"subject_dependent: **{p['subject_dependent']}**, window_mixed: **{p['window_mixed']}**, "
        f"k = {p['k']}, repeats = {p['repeats']}, folds per repeat = {p['folds_per_repeat']}"
        + (f" (only the first {p['max_folds']} run)" if p.get("max_folds") else ""),
        f"validation (early stopping / best epoch): {p['validation']}; the test fold is used once",
        f"label rule `{results['label_rule']}`; classes {', '.join(results['classes'])}",
        f"store `{results['store']['path']}` (identity {str(results['store']['identity'])[:12]}), "
        f"{results['n_windows']} labelled windows from {results['n_subjects']} subjects",
        f"seed {results['seed']}, ecgemotion {results['ecgemotion_version']}, "
        f"{results['elapsed_s']} s"])
    doc.heading("Results (window level)", level)
    doc.table(*table_rows(results))
    doc.paragraph(FIGURE_DEFINITION.format(
        unit=results["bootstrap_unit"],
        unit_plural="windows" if results["bootstrap_unit"] == "window" else "subjects"))
    if any(one_class_mark(r) for r in summary_rows(results)):
        doc.paragraph(f"**{ONE_CLASS_NOTE}.**")
    _calibrated(doc, results, level)
    doc.heading("Systems", level)
    doc.bullets([f"**{name}**: {d['description']}" for name, d in results["systems"].items()]
                + list(results.get("notes") or []))
    _paired(doc, results, level)
    captions = {"roc": "ROC curves, mean over the test folds (AUROC as in the table)",
                "confusion": "Confusion matrices, summed over folds",
                "per_subject": "Accuracy per test subject, sorted; grey bars: the majority class",
                "training_curves": "Training curves, every fold: loss per epoch"}
    doc.heading("Plots", level)
    for key, caption in captions.items():
        if key in results.get("plots", {}):
            doc.image(Path(folder) / results["plots"][key], f"{results['task']}: {caption}")
    _per_fold(doc, results, level)
    doc.paragraph(f"Leakage check: {results['leakage_check']['rule']}: passed for every fold and "
                  "system.")


def _paired(doc, results: dict[str, Any], level: int) -> None:
    """The paired tests: every test on the primary metric, then the other metrics' mean
    differences with their corrected t-test and permutation p-values."""
    primary = results.get("primary_metric", "accuracy")
    pairs = results["paired_tests"]
    doc.heading(f"Paired comparisons (same folds), primary metric: {primary}", level)
    doc.table(["a", "b", f"mean diff ({primary}, over folds)", "p t-test",
               "p corrected (Nadeau–Bengio)", "p Wilcoxon", "p permutation (pooled)"],
              [[t["a"], t["b"], fmt_number(t[primary]["mean_diff"]),
                fmt_number(t[primary]["p_ttest"]), fmt_number(t[primary]["p_ttest_corrected"]),
                fmt_number(t[primary]["p_wilcoxon"]),
                fmt_number(t.get("permutation", {}).get(primary, {}).get("p"))] for t in pairs])
    others = [m for m in ("balanced_accuracy", "auroc", "accuracy", "macro_f1")
              if m != primary and pairs and m in pairs[0]]
    if others:
        doc.paragraph("Other metrics: mean difference over folds (p corrected / p permutation, "
                      "where run)")
        doc.table(["a", "b", *others], [
            [t["a"], t["b"], *(f"{fmt_number(t[m]['mean_diff'])} "
                               f"({fmt_number(t[m]['p_ttest_corrected'])} / "
                               f"{fmt_number(t.get('permutation', {}).get(m, {}).get('p'))})"
                               for m in others)] for t in pairs])


def _calibrated(doc, results: dict[str, Any], level: int) -> None:
    """The calibrated run (``evaluate --calibrate``), beside the strict table, never instead."""
    cal = results.get("calibrated")
    if not cal:
        return
    c = cal["calibration"]
    doc.heading(f"Calibrated to each test subject: `{c['option']}` (beside the strict figures "
                "above, not instead)", level)
    doc.paragraph(f"Data used from each test subject: {c['uses']}. Same folds and seeds, "
                  f"{cal['n_windows']} test windows; full results in `calibrated/`.")
    doc.table(*table_rows(cal))


def _per_fold(doc, results: dict[str, Any], level: int) -> None:
    primary = results.get("primary_metric", "accuracy")
    names = [MAJORITY, *results["systems"]]
    doc.heading(f"Per fold: {primary}", level)
    folds = pd.DataFrame(results["folds"])
    rows = []
    for (r, f), g in folds.groupby(["repeat", "fold"]):
        value = dict(zip(g["system"], g[primary]))
        rows.append([f"r{r}f{f}", *(fmt_number(value.get(n)) for n in names)])
    doc.table(["fold", *names], rows)
