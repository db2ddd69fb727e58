"""``ecgemotion reproduce``: the paper end to end, and the honest figure beside it.

1. prepare the AMIGOS store (left-arm ECG, label rule ``threshold:5``);
2. prepare the unlabelled pre-training store: the ``--pretrain`` datasets + AMIGOS without
   labels + the open-ECG recordings (unless ``--no-open-ecg``);
3. pre-train the Transformer and the 1-D CNN the same way (masked reconstruction);
4. evaluate arousal and valence under the ``paper`` protocol (window-mixed k-fold, the
   paper's setting) and the ``subject`` protocol (subject-independent, the honest one),
   with every baseline;
5. write ``table.md``: our numbers beside the paper's published figures.

``--exclude-test-subjects-from-pretraining`` pre-trains once per subject fold without
that fold's test subjects (AMIGOS is otherwise part of the pre-training data, so a test
subject's unlabelled ECG has been seen during pre-training, as in the paper).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ecgemotion.training.recipes import (FINETUNE, PRETEXT, QUICK_FINETUNE, QUICK_PRETEXT,
                                        QUICK_PRETRAIN, REPRODUCE_PRETRAIN)

EPILOG = """examples:
  ecgemotion reproduce --amigos ~/data/amigos --pretrain dreamer=~/data/DREAMER.mat,ascertain=~/data/ascertain --out repro
  ecgemotion reproduce --amigos ~/data/amigos --quick --no-open-ecg --out repro-quick
  ecgemotion reproduce --amigos ~/data/amigos --pretrain-minutes 120 --model paper \\
      --exclude-test-subjects-from-pretraining --out repro-strict
"""

QUICK = {
    "model_overrides": dict(d_model=32, n_heads=4, n_layers=1, d_ff=64, conv_channels=[8, 16, 32],
                            conv_kernels=[15, 9, 5], conv_strides=[4, 4, 4], classifier_hidden=32,
                            dropout=0.0, conv_norm="batch"),
    "cnn_overrides": dict(conv_channels=[8, 16, 32, 32], conv_kernels=[15, 9, 9, 5],
                          conv_strides=[2, 2, 2, 2], classifier_hidden=32),
    "sarkar_overrides": dict(conv_channels=[8, 16, 16], classifier_hidden=32),
}


def add_parser(sub, common):
    from ecgemotion.cli.finetune import add_train_flags
    from ecgemotion.cli.ui import add_command
    from ecgemotion.evaluation.systems import DEFAULT_SYSTEMS

    p = add_command(sub, common, "reproduce", "reproduce the paper's AMIGOS table",
                    EPILOG, __doc__)
    p.add_argument("--amigos", required=True, help="AMIGOS pre-processed release folder")
    p.add_argument("--pretrain", metavar="NAME=PATH,...",
                   help="unlabelled pre-training datasets, e.g. dreamer=PATH,ascertain=PATH,pspm=PATH")
    p.add_argument("--no-open-ecg", action="store_true", help="leave the open-ECG recordings out")
    p.add_argument("--amigos-option", action="append", metavar="KEY=VALUE", default=[],
                   help="AMIGOS source option (e.g. skip_subjects=none)")
    p.add_argument("--quick", action="store_true",
                   help="tiny models, 1-2 epochs, 3 folds: a smoke run, numbers meaningless")
    p.add_argument("--tasks", default="arousal,valence",
                   help="comma-separated labels to evaluate (arousal,valence)")
    p.add_argument("--protocols", default="paper,subject",
                   help="comma-separated protocols (paper,subject; see `ecgemotion evaluate -h`)")
    p.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS),
                   help="comma-separated systems (default: all six)")
    p.add_argument("--k", type=int, help="folds per protocol (default 10; 3 with --quick)")
    p.add_argument("--repeats", type=int, help="repeats (default: the protocol's)")
    p.add_argument("--max-folds", type=int, help="run only the first N folds")
    p.add_argument("--pretrain-epochs", type=int, help="pre-training epochs")
    p.add_argument("--pretrain-minutes", type=float, help="pre-training wall time per model "
                   f"(default {REPRODUCE_PRETRAIN.minutes:g}; --quick: "
                   f"{QUICK_PRETRAIN.epochs} epoch)")
    p.add_argument("--cnn-model", default="cnn", help=argparse.SUPPRESS)
    p.add_argument("--ssl-epochs", type=int, help=f"sarkar pretext epochs (default {PRETEXT.epochs}; "
                   f"quick {QUICK_PRETEXT.epochs})")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for the CIs (2000)")
    p.add_argument("--exclude-test-subjects-from-pretraining", action="store_true",
                   help="pre-train once per subject fold without the fold's test subjects (costly)")
    p.add_argument("--workers", type=int, default=None, help="store-building processes")
    p.add_argument("--out", required=True,
                   help="output folder: stores, pre-training runs, evaluations and table.md")
    add_train_flags(p, recipe=None)  # FINETUNE, or QUICK_FINETUNE with --quick
    p.set_defaults(model="paper")
    return p


def run(args: argparse.Namespace, ui) -> dict[str, Any]:
    from ecgemotion.training.threads import configure_threads

    ui.say(configure_threads(args.threads))
    t0 = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plan = _Plan(args)
    store, pre_store, pre_names = _stores(args, out, ui)
    pretraining = _Pretraining(plan, store, pre_store, out)
    if args.exclude_test_subjects_from_pretraining:
        ui.say("3/5 pre-training per subject fold (test subjects excluded), during evaluation")
    else:
        ui.say(f"3/5 pre-training the transformer ({plan.model}) and the CNN on {len(pre_store)} windows")
        pretraining.shared()
    evals = _evaluations(args, plan, store, pretraining, out, ui)

    from ecgemotion.evaluation.report import PAPER_FIGURES

    ui.say("5/5 writing table.md")
    table = paper_table(evals, plan.tasks, plan.protocols, PAPER_FIGURES, quick=plan.quick,
                        excluded=args.exclude_test_subjects_from_pretraining,
                        pretrain_datasets=pre_names)
    (out / "table.md").write_text(table)
    summary = {"out": str(out), "amigos_store": str(store.path), "pretrain_store": str(pre_store.path),
               "pretrain_windows": len(pre_store), "amigos_windows": len(store),
               "pretraining": pretraining.runs, "quick": plan.quick, "table": str(out / "table.md"),
               "evaluations": {k2: {"dir": v["files"]["results"],
                                    "accuracy": {n: v["aggregate"][n]["accuracy"]["mean"]
                                                 for n in v["aggregate"]}}
                               for k2, v in evals.items()},
               "elapsed_s": round(time.time() - t0, 1)}
    (out / "reproduce.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    ui.say(table)
    return summary


class _Plan:
    """What the flags (and ``--quick``) choose: tasks, protocols, models, the three recipes."""

    def __init__(self, args: argparse.Namespace):
        from ecgemotion.cli.finetune import train_config
        from ecgemotion.cli.pairs import parse_overrides
        from ecgemotion.training import TrainConfig

        self.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        self.protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
        self.quick = quick = args.quick
        self.model = "fast" if quick and args.model == "paper" else args.model
        self.overrides = {**(QUICK["model_overrides"] if quick else {}), **parse_overrides(args.set)}
        self.cnn_overrides = QUICK["cnn_overrides"] if quick else {}
        self.sarkar_overrides = QUICK["sarkar_overrides"] if quick else {}
        self.k = args.k or (3 if quick else None)
        self.train_cfg = train_config(args, QUICK_FINETUNE if quick else FINETUNE)
        # One --batch-size for every stage; the budget flags replace the recipe's.
        same = {"batch_size": self.train_cfg.batch_size, "device": args.device,
                "precision": args.precision, "seed": args.seed}
        self.ssl_cfg = TrainConfig.from_recipe(QUICK_PRETEXT if quick else PRETEXT,
                                               epochs=args.ssl_epochs, **same)
        self.pretrain_cfg = TrainConfig.from_recipe(
            QUICK_PRETRAIN if quick else REPRODUCE_PRETRAIN, epochs=args.pretrain_epochs,
            minutes=args.pretrain_minutes if args.pretrain_epochs is None else None, **same)


def _stores(args: argparse.Namespace, out: Path, ui):
    """Steps 1-2: the labelled AMIGOS store and the unlabelled pre-training store."""
    from ecgemotion.cli.pairs import parse_options, split_pairs
    from ecgemotion.preprocess import PreprocessConfig
    from ecgemotion.sources import get_source
    from ecgemotion.store import build_store

    amigos_opts = {"lead": "left", **parse_options(args.amigos_option)}
    ui.say("1/5 preparing the AMIGOS store (left ECG, threshold:5)")
    pcfg = PreprocessConfig()
    store, _ = build_store([get_source("amigos", args.amigos, **amigos_opts)], pcfg,
                           out_dir=out / "stores", label_rule="threshold:5", workers=args.workers,
                           progress=ui.progress)
    pre_sources = [get_source(name, path) for name, path in split_pairs(args.pretrain, "--pretrain")]
    pre_sources.append(get_source("amigos", args.amigos, **amigos_opts))
    if not args.no_open_ecg:
        pre_sources.append(get_source("open-ecg", None))
    ui.say(f"2/5 preparing the pre-training store ({', '.join(s.name for s in pre_sources)})")
    pre_store, _ = build_store(pre_sources, pcfg, out_dir=out / "stores", label_rule=None,
                               workers=args.workers, progress=ui.progress)
    return store, pre_store, [s.name for s in pre_sources]


class _Pretraining:
    """Step 3: the transformer and the CNN pre-trained the same way, once on the whole
    pre-training store (:meth:`shared`) or once per subject fold without its test subjects
    (:meth:`for_fold`, an evaluation ``fold_init``); ``runs`` is what reproduce.json records."""

    def __init__(self, plan: _Plan, store, pre_store, out: Path):
        from ecgemotion.subjects import subject_keys

        self.plan, self.store, self.pre_store, self.out = plan, store, pre_store, out
        self.runs: dict[str, Any] = {}
        self.pre_keys = subject_keys(pre_store.index)
        self.folds: dict[tuple[str, ...], dict[str, str]] = {}

    def _both(self, store, folder: Path) -> dict[str, Any]:
        return {"transformer": self._one(store, self.plan.model, self.plan.overrides,
                                         folder / "transformer"),
                "cnn": self._one(store, "cnn", self.plan.cnn_overrides, folder / "cnn")}

    def _one(self, store, name: str, overrides: dict, folder: Path) -> dict[str, Any]:
        from ecgemotion.training import pretrain

        summary = pretrain(store, name, folder, self.plan.pretrain_cfg, **overrides)
        return {"dir": str(Path(folder) / "best"), "val_mse": summary.get("val_mse"),
                "val_mse_interp": summary.get("val_mse_interp"), "steps": summary.get("steps"),
                "elapsed_s": summary.get("elapsed_s")}

    def shared(self) -> tuple[str, str]:
        """The (transformer, CNN) checkpoints pre-trained on the whole store (made once)."""
        if "transformer" not in self.runs:
            self.runs.update(self._both(self.pre_store, self.out / "pretrain"))
        return self.runs["transformer"]["dir"], self.runs["cnn"]["dir"]

    def for_fold(self, fold) -> dict[str, str]:
        from ecgemotion.evaluation.systems import SubsetStore
        from ecgemotion.subjects import subject_keys

        test_subjects = tuple(sorted(set(subject_keys(self.store.index, fold.test))))
        if test_subjects not in self.folds:
            keep = np.flatnonzero(~np.isin(self.pre_keys, test_subjects))
            folder = self.out / "pretrain-folds" / f"fold{len(self.folds):02d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "excluded_subjects.json").write_text(json.dumps(list(test_subjects)) + "\n")
            runs = {**self._both(SubsetStore(self.pre_store, keep), folder),
                    "excluded": list(test_subjects)}
            self.runs.setdefault("per_fold", []).append(runs)
            self.folds[test_subjects] = {"transformer": runs["transformer"]["dir"],
                                         "scratch": runs["transformer"]["dir"],
                                         "cnn": runs["cnn"]["dir"]}
        return self.folds[test_subjects]


def _evaluations(args: argparse.Namespace, plan: _Plan, store, pretraining: _Pretraining,
                 out: Path, ui) -> dict[str, Any]:
    """Step 4: every task under every protocol, with every system."""
    from ecgemotion.evaluation.report import console_table
    from ecgemotion.evaluation.runner import EvaluationOptions, evaluate
    from ecgemotion.evaluation.systems import SystemSpec

    ui.say("4/5 evaluating " + ", ".join(f"{t}/{p}" for t in plan.tasks for p in plan.protocols))
    evals: dict[str, Any] = {}
    for task in plan.tasks:
        for protocol in plan.protocols:
            # window-mixed ("paper"): every subject is in every test fold, so one pre-training
            per_fold = args.exclude_test_subjects_from_pretraining and protocol != "paper"
            if per_fold:
                init, init_cnn = "per-fold pre-training (test subjects excluded)", "per-fold"
            else:
                init, init_cnn = pretraining.shared()
            ui.say(f"  {task} / {protocol}")
            spec = SystemSpec(args.systems, init=init, model=plan.model, overrides=plan.overrides,
                              init_cnn=init_cnn, cnn_overrides=plan.cnn_overrides,
                              sarkar_overrides=plan.sarkar_overrides)
            options = EvaluationOptions(
                train_cfg=plan.train_cfg, ssl_cfg=plan.ssl_cfg, seed=args.seed,
                repeats=args.repeats, k=plan.k, max_folds=args.max_folds, n_boot=args.n_boot,
                fold_init=pretraining.for_fold if per_fold else None, ui=ui,
                config={"command": "reproduce", "quick": plan.quick,
                        "pretraining_includes_test_subjects": not per_fold})
            res = evaluate(store, task, protocol, spec, out / "eval" / f"{task}-{protocol}", options)
            ui.say(console_table(res))
            evals[f"{task}/{protocol}"] = res
    return evals


def _cell(res, system, metric):
    if res is None or system not in res["aggregate"]:
        return "—"
    a = res["aggregate"][system][metric]
    ci = res["bootstrap_ci"].get(system, {}).get(metric)
    text = f"{a['mean']:.3f}" if a["mean"] is not None else "—"
    if a.get("std") is not None:
        text += f" ± {a['std']:.3f}"
    if ci and ci.get("low") is not None:
        text += f" [{ci['low']:.2f}, {ci['high']:.2f}]"
    return text


def paper_table(evals, tasks, protocols, figures, quick=False, excluded=False,
                pretrain_datasets=()) -> str:
    lines = ["# AMIGOS: our numbers beside the paper's", ""]
    if quick:
        lines += ["> **--quick run**: tiny models, a few epochs; these numbers test the pipeline, "
                  "they are not results.", ""]
    lines += [
        "Paper: Vazquez-Rodriguez et al., *Transformer-Based Self-Supervised Learning for "
        "Emotion Recognition*, ICPR 2022. Figures tagged [known] are from the abstract; "
        "[likely] are recalled, not confirmed.", "",
        "Cells: mean ± std over folds [95 % bootstrap CI of the pooled out-of-fold predictions; "
        "windows for `paper`, subjects for `subject`]. The majority row predicts the training "
        "majority class.", ""]
    systems = []
    for res in evals.values():
        for n in ["majority", *res["systems"]]:
            if n not in systems:
                systems.append(n)
    for task in tasks:
        for metric, label in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
            lines += [f"## {task}: {label}", "",
                      "| system | paper's figure | " + " | ".join(
                          f"ours, `{p}` protocol" + (" (paper-comparable)" if p == "paper" else
                                                     " (honest)" if p in ("subject", "loso") else "")
                          for p in protocols) + " |",
                      "|---|---|" + "---|" * len(protocols)]
            for n in systems:
                fig = figures.get((task, metric, n))
                fig_text = f"{fig[0]:.2f} [{fig[1]}]" if fig else "—"
                cells = [_cell(evals.get(f"{task}/{p}"), n, metric) for p in protocols]
                lines.append(f"| {n} | {fig_text} | " + " | ".join(cells) + " |")
            lines.append("")
    lines += [
        "## Which number to compare with what", "",
        "- **`paper` protocol** = stratified k-fold over 10-s windows: windows of the same subject "
        "and the same video are in training and test (subject-dependent, window-mixed). This is "
        "the setting the paper's figures most likely come from; it is the comparable column, "
        "and it is optimistic.",
        "- **`subject` protocol** = k-fold grouped by subject: no test subject is seen in "
        "fine-tuning. This is the **honest** figure for a new person.",
        f"- Pre-training data: {', '.join(pretrain_datasets)}. "
        + ("Test subjects were excluded from pre-training fold by fold "
           "(--exclude-test-subjects-from-pretraining) for the subject-grouped protocols."
           if excluded else
           "AMIGOS (all subjects, labels unused) is part of it, as in the paper, so a test "
           "subject's unlabelled ECG has been seen during pre-training; rerun with "
           "--exclude-test-subjects-from-pretraining to remove that."),
        "- 'cnn' is the 1-D CNN pre-trained by the same masked reconstruction (the paper's "
        "0.85 baseline); 'scratch' is the transformer without pre-training; 'sarkar' is "
        "Sarkar & Etemad's transformation-recognition CNN; 'hrv-*' are classical HRV models.",
        "- Label rule threshold:5 (rating >= 5 is high) [likely the paper's]; left-arm ECG, "
        "128 Hz, 10-s windows.",
        ""]
    return "\n".join(lines)
