"""``ecgemotion demo``: the whole method on a laptop, nothing to download but PyPI wheels.

1. build the open-ECG store (real ECG shipped inside PyPI wheels);
2. pre-train the ``fast`` Transformer on it by masked reconstruction, time-boxed;
3. write a SYNTHETIC emotion data set in the AMIGOS file layout and read it with the
   real ``amigos`` source;
4. evaluate the hybrid (``finetune``'s default) vs pre-trained vs from-scratch vs the HRV
   baseline, subject-independent, at window and trial level (with ``--modalities``, each
   modality alone and their fusions too, on the same folds); then the hybrid and HRV again
   calibrated to each test person (``CALIBRATE``), reported beside the strict figures;
5. write ``report.html`` (self-contained) and ``report.md``.

On 2 shared CPU cores the full plan takes about 20 minutes, ``--quick`` under 2
(docs/performance.md).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ecgemotion import __version__


@dataclass(frozen=True)
class DemoPlan:
    pretrain_minutes: float
    subjects: int
    trials: int
    seconds: float
    folds: int
    epochs: int
    tasks: tuple[str, ...]
    n_boot: int
    open_ecg_packages: tuple[str, ...] | None = None   # None: every wheel of the corpus
    modalities: tuple[str, ...] = ("ecg",)   # more: each modality alone and fused join the systems


FULL = DemoPlan(pretrain_minutes=2.5, subjects=12, trials=16, seconds=60.0, folds=4, epochs=6,
                tasks=("arousal", "valence"), n_boot=1000)
QUICK = DemoPlan(pretrain_minutes=0.25, subjects=8, trials=8, seconds=30.0, folds=3, epochs=3,
                 tasks=("arousal",), n_boot=300)
# hybrid-ctx first: finetune's default, the best measured system (docs/results.md §4e).
SYSTEMS = "hybrid-ctx,transformer,scratch,hrv-logreg"
# The calibrated run repeats only the hybrid and the better baseline: it costs a second evaluation.
CALIBRATED_SYSTEMS = "hybrid-ctx,hrv-logreg"
CALIBRATE = "k-shot:2"
# The open corpus is 2.5 h: on its own it overfits within minutes. The demo continues from the
# released encoder (62.8 h of MIT-BIH, CinC 2017 and permissive open-ECG, see its model card).
BASE_WEIGHTS = "ecgemotion-base"
SYNTHETIC_MODALITIES = ("ecg", "eeg", "eda")   # what write_synthetic_amigos records


def run_demo(out_dir: str | Path = "ecgemotion-demo", quick: bool = False, ui=None,
             seed: int = 0, plan: DemoPlan | None = None, overwrite: bool = False,
             modalities: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Run the demo into ``out_dir``; return the summary (with the report's path).
    ``modalities`` (e.g. ``("ecg", "eeg", "eda")``): the synthetic set's other signals too."""
    from ecgemotion.demo.synthetic_amigos import write_synthetic_amigos
    from ecgemotion.paths import claim_output
    from ecgemotion.preprocess import PreprocessConfig
    from ecgemotion.sources import get_source
    from ecgemotion.store import build_store
    from ecgemotion.store.recipes import open_ecg_store
    from ecgemotion.training.loop import TrainConfig
    from ecgemotion.training.pretrain import pretrain
    from ecgemotion.training.recipes import DEMO_PRETRAIN

    plan = plan or (QUICK if quick else FULL)
    if modalities:
        plan = replace(plan, modalities=tuple(modalities))
    if plan.modalities[0] != "ecg" or set(plan.modalities) - set(SYNTHETIC_MODALITIES):
        from ecgemotion.errors import ConfigError

        raise ConfigError(f"--modalities: the demo's synthetic set has {', '.join(SYNTHETIC_MODALITIES)} "
                          f"(ecg first); found {', '.join(plan.modalities)}")
    out = claim_output(Path(out_dir).expanduser(), "report.html", "a demo report", overwrite,
                       remove=("report.md", "summary.json", "pretrain", "evaluation-*",
                               "synthetic-amigos"))   # stores/ is reused by its identity
    out.mkdir(parents=True, exist_ok=True)
    say = ui.say if ui else (lambda *_: None)
    progress = ui.progress if ui else None
    started = time.time()
    timings: dict[str, float] = {}

    def step(name: str) -> None:
        timings[name] = round(time.time() - started - sum(timings.values()), 1)

    say("[1/5] open-ECG store: real ECG from PyPI wheels")
    options = {"packages": list(plan.open_ecg_packages)} if plan.open_ecg_packages else {}
    open_store, open_summary = open_ecg_store(progress=progress, out_dir=out / "stores", **options)
    step("open_ecg_store")

    say(f"[2/5] pre-training the fast Transformer for {plan.pretrain_minutes:g} min "
        "(masked-signal reconstruction), continuing from the shipped ecgemotion-base")
    pre_dir = out / "pretrain"
    pre = pretrain(open_store, "fast", pre_dir,
                   TrainConfig.from_recipe(DEMO_PRETRAIN, minutes=plan.pretrain_minutes, seed=seed),
                   ui=ui, init=BASE_WEIGHTS)
    step("pretrain")

    say(f"[3/5] writing a SYNTHETIC emotion data set in the AMIGOS layout "
        f"({plan.subjects} subjects x {plan.trials} trials x {plan.seconds:g} s)")
    synth = write_synthetic_amigos(out / "synthetic-amigos", subjects=plan.subjects,
                                   trials=plan.trials, seconds=plan.seconds, seed=seed)
    emo_store, emo_summary = build_store(
        [get_source("amigos", out / "synthetic-amigos")], PreprocessConfig(modalities=plan.modalities),
        out_dir=out / "stores", label_rule="threshold:5", progress=progress)
    step("synthetic_data")

    evaluations = _evaluate_tasks(plan, emo_store, pre_dir, out, seed, ui, step)

    say("[5/5] writing the report")
    from ecgemotion.demo.report import build_report

    facts = {"plan": asdict(plan), "seed": seed, "version": __version__, "timings_s": timings,
             "open_store": open_store.describe(), "open_summary": open_summary,
             "pretrain": pre, "pretrain_dir": str(pre_dir), "synthetic": synth,
             "emotion_store": emo_store.describe(), "emotion_summary": emo_summary}
    md, page = build_report(facts, evaluations, out)
    step("report")
    summary = {"report_html": str(page), "report_md": str(md), "out": str(out),
               "elapsed_s": round(time.time() - started, 1), "timings_s": timings,
               "pretrain_val_mse": pre.get("val_mse"), "pretrain_val_mse_zeros": pre.get("val_mse_zeros"),
               "results": {task: _headline(res) for task, res in evaluations.items()},
               "calibrated": {task: {**res["calibrated"]["calibration"],
                                     "systems": _headline(res["calibrated"])}
                              for task, res in evaluations.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _evaluate_tasks(plan: DemoPlan, emo_store, pre_dir: Path, out: Path, seed: int, ui,
                    step) -> dict[str, Any]:
    """Per task: the strict subject-independent evaluation of :data:`SYSTEMS`, then
    :data:`CALIBRATED_SYSTEMS` calibrated to each test person, kept beside it."""
    from ecgemotion.evaluation.runner import EvaluationOptions, calibrated_run, evaluate
    from ecgemotion.evaluation.systems import SystemSpec
    from ecgemotion.training.loop import TrainConfig
    from ecgemotion.training.recipes import DEMO_FINETUNE

    say = ui.say if ui else (lambda *_: None)
    evaluations = {}
    systems = demo_systems(plan.modalities)
    for i, task in enumerate(plan.tasks, 1):
        say(f"[4/5] evaluating {task} ({i}/{len(plan.tasks)}): {systems.replace(',', ', ')}, "
            f"{plan.folds}-fold by subject")
        options = EvaluationOptions(
            train_cfg=TrainConfig.from_recipe(DEMO_FINETUNE, epochs=plan.epochs),
            k=plan.folds, n_boot=plan.n_boot, seed=seed, ui=ui)
        evaluations[task] = evaluate(
            emo_store, task, "subject", SystemSpec(systems, init=str(pre_dir), model="fast",
                                                   modalities=plan.modalities),
            out / f"evaluation-{task}", options)
        step(f"evaluate_{task}")
        say(f"[4/5] {task}: {CALIBRATED_SYSTEMS.replace(',', ', ')} calibrated to each test "
            f"person ({CALIBRATE}), beside the strict figures")
        evaluations[task]["calibrated"] = calibrated_run(
            emo_store, task, "subject", SystemSpec(CALIBRATED_SYSTEMS, init=str(pre_dir), model="fast"),
            out / f"evaluation-{task}", replace(options, calibrate=CALIBRATE))
        step(f"calibrated_{task}")
    return evaluations


def demo_systems(modalities: tuple[str, ...]) -> str:
    """:data:`SYSTEMS`, then with more modalities than the ECG each one alone and their
    fusions (``evaluate --modalities``' list), all on the same folds."""
    from ecgemotion.evaluation.systems import modality_systems

    more = [n for n in modality_systems(modalities) if n not in SYSTEMS] if len(modalities) > 1 else []
    return ",".join([SYSTEMS, *more])


def _headline(results: dict[str, Any]) -> dict[str, Any]:
    """Accuracy with its CI, balanced accuracy, and trial-level balanced accuracy with its CI
    per system, majority baseline included."""
    from ecgemotion.evaluation.report import summary_rows

    return {r["system"]: {"accuracy": _round(r["accuracy"]), "ci": [_round(r["ci_low"]),
                                                                   _round(r["ci_high"])],
                          "balanced_accuracy": _round(r["balanced_accuracy"]),
                          "trial_balanced_accuracy": _round(r["trial_balanced_accuracy"]),
                          "trial_ci": [_round(v) for v in r["ci"]["trial_balanced_accuracy"]]}
            for r in summary_rows(results)}


def _round(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else round(float(v), 3)


def one_screen(summary: dict[str, Any]) -> str:
    """The closing summary printed by the CLI."""
    lines = ["", "ecgemotion demo — done in {:.0f} s".format(summary["elapsed_s"]),
             f"pre-training: masked MSE {summary['pretrain_val_mse']:.3f} "
             f"(predicting zeros: {summary['pretrain_val_mse_zeros']:.3f})"]
    for task, rows in summary["results"].items():
        lines.append(f"{task} on SYNTHETIC AMIGOS-layout data, subject-independent:")
        lines += [_screen_row(name, r) for name, r in rows.items()]
        cal = summary["calibrated"][task]
        lines.append(f"{task} calibrated ({cal['option']}: {cal['uses']}):")
        lines += [_screen_row(name, r) for name, r in cal["systems"].items()]
    lines += [f"report: {summary['report_html']}", ""]
    return "\n".join(lines)


def _screen_row(name: str, r: dict[str, Any]) -> str:
    from ecgemotion.evaluation.report import fmt_number

    ci = r["ci"]
    return (f"  {name:<12} accuracy {r['accuracy']:.3f}"
            + (f"  95% CI [{ci[0]:.3f}, {ci[1]:.3f}]" if ci[0] is not None else "")
            + f"  balanced {r['balanced_accuracy']:.3f}"
            + f"  trial-level balanced {fmt_number(r['trial_balanced_accuracy'])}")
