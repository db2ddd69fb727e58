"""``ecgemotion pretrain``: masked-signal pre-training of a model on a window store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ecgemotion.cli.pairs import parse_overrides
from ecgemotion.cli.ui import add_command
from ecgemotion.errors import ConfigError
from ecgemotion.cli.config import add_config_flag
from ecgemotion.cli.finetune import TRAINABLE_PRESETS, add_set_flag
from ecgemotion.training.loop import TrainConfig
from ecgemotion.training.objectives import OBJECTIVES
from ecgemotion.training.recipes import PRETRAIN

EPILOG = """examples:
  ecgemotion pretrain --model fast --minutes 30                 # open-ECG store, built on first use
  ecgemotion pretrain --store STORE --model paper --epochs 20 --out runs/paper
  ecgemotion pretrain --store STORE --out runs/paper --epochs 20 --resume
  torchrun --nproc_per_node=4 -m ecgemotion pretrain --store STORE --model paper --epochs 20
  ecgemotion pretrain --store MULTIMODAL_STORE --modalities ecg,eeg,eda --epochs 20 --out runs/mm
      (the fusion model's signal encoders; then finetune/evaluate --modalities ... --init runs/mm)
"""


def add_parser(sub, common):
    p = add_command(sub, common, "pretrain", "self-supervised masked pre-training",
                    EPILOG, __doc__)
    p.add_argument("--store", help="window store folder (default: the open-ECG store, built first)")
    p.add_argument("--model", default="fast", choices=TRAINABLE_PRESETS,
                   help="preset: paper, fast or cnn (default: fast)")
    p.add_argument("--out", help="output folder (default: runs/pretrain-MODEL)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float,
                        help=f"wall-time budget (default: {PRETRAIN.minutes:g} when no --epochs)")
    budget.add_argument("--epochs", type=int, help="number of epochs")
    budget.add_argument("--steps", type=int, help="number of optimizer steps (an exact compute budget)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    p.add_argument("--init", help="start from saved weights (a folder or 'ecgemotion-base') "
                   "instead of a random initialisation; --model is then taken from them")
    p.add_argument("--checkpoint-every", type=float, default=TrainConfig.checkpoint_every_s,
                   metavar="SECONDS", help="also save the last checkpoint this often within an "
                   f"epoch ({TrainConfig.checkpoint_every_s:g})")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for weights, masks, batches and the validation split (0)")
    p.add_argument("--batch-size", type=int, default=PRETRAIN.batch_size,
                   help=f"windows per step ({PRETRAIN.batch_size})")
    p.add_argument("--lr", type=float, default=PRETRAIN.lr,
                   help=f"peak learning rate ({PRETRAIN.lr:g})")
    p.add_argument("--weight-decay", type=float, default=PRETRAIN.weight_decay,
                   help=f"AdamW weight decay ({PRETRAIN.weight_decay:g})")
    p.add_argument("--warmup", type=float, default=PRETRAIN.warmup_fraction,
                   help="warm-up fraction of the steps")
    p.add_argument("--objective", choices=sorted(OBJECTIVES), default="paper",
                   help="self-supervised objective (docs/models.md): paper = masked reconstruction "
                   "of 15%% in 0.5-s spans; mae = 75%% of tokens hidden, encoder on the rest; "
                   "contrastive = InfoNCE on two crops of a recording; X+contrastive = both")
    p.add_argument("--objective-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of the objective (a JSON value; repeatable or "
                        "comma-separated), e.g. --objective-set contrastive_weight=0.5,beat_share=0.8")
    p.add_argument("--dropout", type=float,
                   help="dropout while pre-training (default: the model's, 0.1; the saved config "
                        "keeps it for fine-tuning); 0 skips the dropout masks, a quarter of a CPU step")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: chosen and printed)")
    p.add_argument("--mask-ratio", type=float,
                   help="fraction hidden (default: the objective's, 0.15 for paper)")
    p.add_argument("--mask-span-s", type=float, default=0.5, help="masked span length in seconds")
    p.add_argument("--mask-mode", choices=["input", "embedding"], help="default: the preset's")
    p.add_argument("--val-fraction", type=float, default=0.2, help="subjects held out for validation")
    p.add_argument("--val-max-windows", type=int, default=TrainConfig.val_max_windows,
                   help=f"validation windows scored per epoch, at most ({TrainConfig.val_max_windows})")
    p.add_argument("--datasets", help="comma-separated datasets of the store to use (default: all)")
    p.add_argument("--quality", choices=["good", "usable", "all"], default="usable",
                   help="windows to train on: usable (default) keeps clipped R peaks, good drops them")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="auto: bf16 autocast on CUDA and on CPUs with AMX (faster there), else fp32")
    p.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=None,
                   help="deterministic kernels (default: on for CPU, off for CUDA)")
    p.add_argument("--modalities", default=None,
                   help="multimodal masked pre-training of the fusion model's encoders for these "
                        "modalities of a multimodal store, e.g. ecg,eeg,eda (docs/multimodal.md)")
    add_set_flag(p)
    p.add_argument("--stop-after-steps", type=int, help=argparse.SUPPRESS)
    add_config_flag(p)
    return p


def _open_store(args, ui):
    if args.store:
        from ecgemotion.store import WindowStore

        return WindowStore.open(args.store)
    try:
        from ecgemotion.store.recipes import open_ecg_store
    except ImportError as exc:  # pragma: no cover - wiring
        raise ConfigError("no --store given and the default open-ECG store is not available "
                          f"in this install ({exc}); pass --store") from exc
    ui.say("no --store: using the open-ECG store (built on first use)")
    store, _ = open_ecg_store(progress=ui.progress)
    return store


def run(args: argparse.Namespace, ui) -> dict[str, Any]:
    from ecgemotion.training import dist_env, pretrain

    overrides = parse_overrides(args.set, "--set")
    if args.mask_mode:
        overrides["mask_mode"] = args.mask_mode
    cfg = TrainConfig.from_recipe(
        PRETRAIN, epochs=args.epochs, minutes=args.minutes, steps=args.steps,
        batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        warmup_fraction=args.warmup, seed=args.seed, device=args.device, precision=args.precision,
        deterministic=args.deterministic, val_max_windows=args.val_max_windows,
        resume=args.resume, stop_after_steps=args.stop_after_steps,
        checkpoint_every_s=args.checkpoint_every)
    out = Path(args.out or (f"runs/pretrain-{'-'.join(args.modalities.split(','))}" if args.modalities
                            else f"runs/pretrain-{args.model}"))
    env = dist_env()
    if not env.is_main:
        ui.quiet = True
        args.json = False  # one summary line on stdout, from rank 0
    store = _open_store(args, ui)
    if args.modalities:
        return _run_multimodal(args, ui, store, cfg, out, overrides)
    ui.say(f"pre-training {args.model} on {store.path} ({len(store)} windows) -> {out}"
           + (f" on {env.world_size} processes" if env.distributed else ""))
    from ecgemotion.training.threads import configure_threads

    ui.say(configure_threads(args.threads, args.device))
    summary = pretrain(store, args.model, out, cfg, mask_ratio=args.mask_ratio,
                       objective=args.objective,
                       objective_settings=parse_overrides(args.objective_set, "--objective-set"),
                       dropout=args.dropout,
                       mask_span_s=args.mask_span_s, val_fraction=args.val_fraction,
                       datasets=args.datasets.split(",") if args.datasets else None,
                       quality=args.quality, ui=ui, init=args.init, **overrides)
    from ecgemotion.training.distributed import cleanup_distributed

    cleanup_distributed()
    if env.is_main and summary.get("objective") != "paper" and summary.get("val_metrics"):
        ui.say("validation " + "  ".join(f"{k} {v:.4f}" for k, v in summary["val_metrics"].items()))
    elif env.is_main and summary.get("val_mse") is not None:
        val = summary
        ui.say(f"validation masked MSE {val['val_mse']:.4f}  (zeros {val['val_mse_zeros']:.4f}, "
               f"linear interpolation {val['val_mse_interp']:.4f}): "
               f"{'beats' if val['beats_zeros'] and val['beats_interp'] else 'does NOT beat'} both")
    if env.is_main:
        if summary.get("stopped"):
            ui.say(f"stopped early ({summary['stopped']}) at step {summary['steps']}: "
                   "continue with --resume")
        ui.say(f"best model: {summary['best']}  (load with from_pretrained)")
    return {"out": str(out), **summary}


def _run_multimodal(args, ui, store, cfg, out: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """``pretrain --modalities``: the fusion model's signal encoders, by masked reconstruction
    of every modality (``training/pretrain.py: pretrain_multimodal``)."""
    from ecgemotion.models.multimodal import signal_layout
    from ecgemotion.recording import parse_modalities
    from ecgemotion.training.pretrain import pretrain_multimodal
    from ecgemotion.training.threads import configure_threads

    modalities = parse_modalities(args.modalities)
    for m in modalities:
        store.modality_info(m)              # a modality the store lacks fails here, named
    if (args.init or args.objective != "paper" or overrides.get("mask_mode") or args.objective_set
            or args.dropout is not None):
        raise ConfigError("--modalities pre-trains the multimodal model from scratch by masked "
                          "reconstruction: --init, --objective, --objective-set, --dropout and "
                          "--mask-mode do not apply")
    ratio = 0.15 if args.mask_ratio is None else args.mask_ratio
    ui.say(f"pre-training the multimodal model's encoders on {store.path} ({len(store)} windows) "
           f"-> {out}: in each modality {ratio:.0%} of the window hidden in {args.mask_span_s:g}-s "
           "spans and reconstructed; loss the mean over modalities of each one's masked MSE "
           "relative to predicting 0")
    for m in signal_layout(store, modalities):
        ui.say(f"  {m['modality']}: {len(m['channels'])} channel(s) at {m['fs']:g} Hz, "
               f"spans of {max(1, round(args.mask_span_s * m['fs']))} samples")
    if "ecg" in modalities:
        ui.say("  ecg: not pre-trained (the fusion model reads the ECG as its window's HRV "
               "features, through a logistic regression fitted at fine-tuning)")
    ui.say(configure_threads(args.threads, args.device))
    summary = pretrain_multimodal(store, modalities, out, cfg, mask_ratio=args.mask_ratio,
                                  mask_span_s=args.mask_span_s, val_fraction=args.val_fraction,
                                  datasets=args.datasets.split(",") if args.datasets else None,
                                  quality=args.quality, ui=ui, **overrides)
    val = summary["val_metrics"]
    for m in summary["modalities"]:
        if f"mse_{m}" in val:
            ui.say(f"validation {m}: masked MSE {val[f'mse_{m}']:.4g} (predicting 0: "
                   f"{val[f'zeros_{m}']:.4g})")
    ui.say(f"best model: {summary['best']}  (start a fusion model from it with "
           f"`finetune --modalities {args.modalities} --init {out}`)")
    return {"out": str(out), **summary}
