"""``ecgemotion evaluate``: cross-validate systems under a protocol, honestly."""

from __future__ import annotations

import argparse
from typing import Any

from ecgemotion.training.recipes import PRETEXT

EPILOG = """protocols:
  paper    stratified k-fold over windows (SUBJECT-DEPENDENT, WINDOW-MIXED: the paper's setting)
  subject  k-fold grouped by subject (subject-independent: the honest figure)
  loso     leave one subject out
  trial    k-fold grouped by (subject, trial)

examples:
  ecgemotion evaluate --store STORE --init runs/pretrain-paper --task arousal --protocol subject --out eval/arousal-subject
  ecgemotion evaluate --store STORE --init runs/pretrain-fast --init-cnn runs/pretrain-cnn \\
      --task valence --protocol paper --repeats 3 --out eval/valence-paper
  ecgemotion evaluate --store STORE --init scratch --task arousal --protocol loso \\
      --systems hrv-logreg,hrv-forest --out eval/hrv-loso
  ecgemotion evaluate --store MULTIMODAL_STORE --modalities ecg,eeg,eda --task arousal \\
      --protocol subject --out eval/fusion     (each modality alone, late and early fusion, HRV)
  ecgemotion evaluate --store MULTIMODAL_STORE --modalities ecg,eeg,eda --init runs/mm-pre \\
      --systems fusion-late,fusion-late-pretrained --task arousal --protocol subject --out eval/mm-pre
"""


def add_parser(sub, common):
    from ecgemotion.cli.config import add_config_flag
    from ecgemotion.cli.finetune import add_train_flags
    from ecgemotion.cli.ui import add_command
    from ecgemotion.evaluation.splits import PROTOCOLS
    from ecgemotion.evaluation.systems import DEFAULT_SYSTEMS

    p = add_command(sub, common, "evaluate", "cross-validate systems under a protocol",
                    EPILOG, __doc__)
    p.add_argument("--store", required=True, help="labelled window store")
    from ecgemotion.cli.finetune import add_init_flag

    add_init_flag(p, "the 'transformer' system's encoder (with --modalities: a `pretrain --modalities` "
                  "run for the -pretrained systems)")
    p.add_argument("--init-cnn", help="pre-trained CNN folder for the 'cnn' system (else from scratch)")
    p.add_argument("--task", required=True, help="arousal or valence")
    p.add_argument("--protocol", required=True, choices=sorted(PROTOCOLS),
                   help="how folds are drawn (see below); subject is the honest one")
    p.add_argument("--repeats", type=int, help="repeats of the k-fold (default: the protocol's)")
    p.add_argument("--k", type=int, help="folds (default 10; capped at the number of groups)")
    p.add_argument("--val-fraction", type=float, help="training-side share held out for validation")
    p.add_argument("--max-folds", type=int, help="run only the first N folds (smoke tests)")
    p.add_argument("--systems", default=None,
                   help=f"comma-separated systems (default: {','.join(DEFAULT_SYSTEMS)}; also "
                        "hybrid, hybrid-logreg, hybrid-gbm, context, synheart, synheart-refit, "
                        "mm-MODALITY, fusion-late, fusion-early, each also -pretrained; "
                        "with --modalities: each modality alone, both fusions and hrv-logreg, "
                        "and with --init a `pretrain --modalities` run also the signal "
                        "modalities and fusion-late started from it)")
    p.add_argument("--modalities", default=None,
                   help="modalities of a multimodal store to compare and fuse, e.g. ecg,eeg,eda "
                        "(--init RUN of `pretrain --modalities`: the X-pretrained systems start "
                        "their encoders from it)")
    p.add_argument("--cnn-overrides", action="append", help=argparse.SUPPRESS)  # now --set cnn.K=V
    p.add_argument("--sarkar-overrides", action="append", help=argparse.SUPPRESS)
    p.add_argument("--ssl-store", help="unlabelled store for sarkar's pretext training "
                   "(default: each fold's training-side windows)")
    p.add_argument("--ssl-epochs", type=int, default=PRETEXT.epochs,
                   help=f"sarkar pretext epochs (default {PRETEXT.epochs})")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--metric", default="balanced_accuracy",
                   choices=("balanced_accuracy", "auroc", "accuracy", "macro_f1"),
                   help="primary metric of the paired tests (all are run; default "
                        "balanced_accuracy: fair to both classes when labels are imbalanced)")
    p.add_argument("--calibrate", metavar="unlabelled|k-shot:K",
                   help="also run a calibrated evaluation, reported beside the strict one: "
                        "'unlabelled' standardises each subject's features/embeddings with its "
                        "own windows (test labels never read); 'k-shot:K' moves K labelled "
                        "windows per test subject (from K trials, whose other windows leave "
                        "the test set) to training")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep every fold's checkpoints")
    p.add_argument("--out", required=True, help="output folder (results.json, report.md, plots/)")
    p.add_argument("--overwrite", action="store_true", help="replace an evaluation already in --out")
    add_train_flags(p)
    add_config_flag(p)
    return p


def run(args: argparse.Namespace, ui) -> dict[str, Any]:
    from ecgemotion.cli.finetune import resolve_init, train_config
    from ecgemotion.evaluation.report import console_table
    from ecgemotion.evaluation.runner import EvaluationOptions, evaluate
    from ecgemotion.evaluation.systems import SystemSpec
    from ecgemotion.store import WindowStore
    from ecgemotion.cli.pairs import by_system, parse_overrides
    from ecgemotion.training.loop import TrainConfig
    from ecgemotion.training.threads import configure_threads
    from ecgemotion.evaluation.systems import DEFAULT_SYSTEMS, ENCODER_SYSTEMS, modality_systems
    from ecgemotion.models.multimodal import is_multimodal_pretraining
    from ecgemotion.recording import parse_modalities

    ui.say(configure_threads(args.threads))
    store = WindowStore.open(args.store)
    ssl_store = WindowStore.open(args.ssl_store) if args.ssl_store else None
    cfg = train_config(args)
    modalities = parse_modalities(args.modalities or "ecg")
    for m in modalities:
        store.modality_info(m)              # a modality the store lacks fails here, named
    names = args.systems or (",".join(modality_systems(modalities, is_multimodal_pretraining(args.init)))
                             if args.modalities else ",".join(DEFAULT_SYSTEMS))
    ui.say(f"systems: {names}" + (f"; modalities: {', '.join(modalities)}" if args.modalities else ""))
    init = resolve_init(args, ui, used=bool({n.strip() for n in names.split(",")} & set(ENCODER_SYSTEMS)))
    overrides = by_system(parse_overrides(args.set, "--set"), ("cnn", "sarkar"))
    ssl_cfg = TrainConfig.from_recipe(PRETEXT, epochs=args.ssl_epochs, batch_size=args.batch_size,
                                      device=args.device, precision=args.precision, seed=args.seed)
    systems = SystemSpec(names, init=init, model=args.model, modalities=tuple(modalities),
                         overrides=overrides[""], init_cnn=args.init_cnn,
                         cnn_overrides={**parse_overrides(args.cnn_overrides), **overrides["cnn"]},
                         sarkar_overrides={**parse_overrides(args.sarkar_overrides),
                                           **overrides["sarkar"]},
                         ssl_store=ssl_store)
    options = EvaluationOptions(train_cfg=cfg, ssl_cfg=ssl_cfg, seed=args.seed,
                                repeats=args.repeats, k=args.k, val_fraction=args.val_fraction,
                                max_folds=args.max_folds, n_boot=args.n_boot, metric=args.metric,
                                keep_checkpoints=args.keep_checkpoints,
                                calibrate=args.calibrate,
                                config={"command": "evaluate"}, ui=ui, overwrite=args.overwrite)
    results = evaluate(store, args.task, args.protocol, systems, args.out, options)
    ui.say(console_table(results))
    ui.say(f"wrote {results['files']['results']}, {results['files']['report']} and "
           f"{results['files']['report_html']}")
    from ecgemotion.evaluation.report import summary_rows

    return {"out": args.out, "task": args.task, "protocol": results["protocol"],
            "label_rule": results["label_rule"], "seed": results["seed"],
            "summary": summary_rows(results), "files": results["files"]}
