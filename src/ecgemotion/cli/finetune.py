"""``ecgemotion finetune``: train one deployable arousal or valence model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ecgemotion.errors import ConfigError
from ecgemotion.training.recipes import FINETUNE, Recipe

# What --model may name for a network trained here (sarkar has its own pretext).
TRAINABLE_PRESETS = ("fast", "paper", "cnn")
NETWORK = "network"   # finetune --model: the (pre-trained or fast) network alone, no physiology

EPILOG = """examples:
  ecgemotion finetune --store STORE --task arousal --out models/arousal     # from ecgemotion-base
  ecgemotion finetune --store STORE --model hybrid --task arousal --out models/arousal
  ecgemotion finetune --store STORE --model hybrid-ctx --task arousal --out models/arousal  # + 60-s HRV context
  ecgemotion finetune --store STORE --init runs/pretrain-paper --task arousal --out models/arousal
  ecgemotion finetune --store STORE --init scratch --model fast --task valence --epochs 20 --out models/valence
  ecgemotion finetune --store STORE --init runs/pretrain-paper --task arousal --freeze --out models/probe
  ecgemotion finetune --store MULTIMODAL_STORE --modalities ecg,eeg,eda --task arousal --out models/mm

The output folder is what `ecgemotion predict --model DIR` loads; P(high) = softmax(logits)[:, 1].
Validation: whole subjects held out from the store's labelled windows (--val-fraction).
Class imbalance: class-weighted cross-entropy (weight n / (2 n_c)).
"""


def add_train_flags(p: argparse.ArgumentParser, recipe: Recipe | None = FINETUNE,
                    hybrid: bool = False) -> None:
    """The training flags, their defaults read from ``recipe`` (None: the command picks the
    recipe after parsing, as ``reproduce --quick`` does); ``hybrid``: ``--model hybrid`` is
    offered (finetune trains one model; evaluate names it as a system instead)."""
    from ecgemotion.training.finetune import HYBRIDS

    def value(field: str):
        return getattr(recipe, field) if recipe else None

    def default(field: str) -> str:
        if recipe is None:
            return "default: from the command's recipe, training/recipes.py"
        v = value(field)
        return "default " + (f"{v:.0e}".replace("e-0", "e-") if 0 < v < 1e-2 else f"{v:g}")

    g = p.add_argument_group("training")
    budget = g.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, help=f"epochs per training run ({default('epochs')})")
    budget.add_argument("--minutes", type=float, help="wall-time budget per training run")
    g.add_argument("--batch-size", type=int, default=value("batch_size"),
                   help=f"windows per training step ({default('batch_size')})")
    g.add_argument("--lr", type=float, default=value("lr"),
                   help=f"peak learning rate ({default('lr')})")
    g.add_argument("--weight-decay", type=float, default=value("weight_decay"),
                   help=f"AdamW weight decay ({default('weight_decay')})")
    g.add_argument("--warmup", type=float, default=value("warmup_fraction"),
                   help=f"warm-up fraction of the steps ({default('warmup_fraction')})")
    g.add_argument("--seed", type=int, default=0,
                   help="seed for weights, batches and the validation split (0); same seed, same model")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    g.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="auto (bf16 autocast on CUDA and on CPUs with AMX), fp32 or bf16")
    g.add_argument("--threads", type=int,
                   help="torch CPU threads (default: one per idle core, printed)")
    g.add_argument("--model", default=None,
                   choices=TRAINABLE_PRESETS + ((*HYBRIDS, NETWORK) if hybrid else ()),
                   help=("'hybrid-ctx' (default; with any --init): the encoder's embedding "
                         "joined to the window's physiological features (HRV time domain, RR "
                         "range, QRS width) and to HRV over the 60 s ending at the window, the "
                         "best measured system (docs/results.md §4e: CinC 2017 AF at 10 %%/100 %% "
                         "labels, synthetic AMIGOS); 'hybrid': window features only; 'network': "
                         "the --init network alone; fast, paper or cnn: a network preset for "
                         "--init scratch"
                         if hybrid else
                         "preset for --init scratch: fast, paper or cnn (default fast)"))
    add_set_flag(g, "(architecture fields need --init scratch)")


def add_set_flag(g, note: str = "") -> None:
    """``--set KEY=VALUE``, the one spelling of a model-config override (``--model-overrides``
    still works, unlisted, for old scripts)."""
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model config field (a JSON value; repeatable or "
                        f"comma-separated), e.g. --set d_model=32,n_layers=1 {note}".rstrip())
    g.add_argument("--model-overrides", action="append", dest="set", help=argparse.SUPPRESS)


def add_init_flag(p: argparse.ArgumentParser, what: str) -> None:
    from ecgemotion.training.finetune import DEFAULT_INIT

    p.add_argument("--init", default=None,
                   help=f"{what}: a pre-trained folder, a shipped name, or 'scratch' for random "
                        f"weights (default: the shipped encoder {DEFAULT_INIT})")


def resolve_init(args, ui, used: bool = True) -> str:
    """``--init`` or the shipped encoder, said aloud when ``used`` (a run without an encoder
    system says nothing about one); refuses architecture flags that a pre-trained encoder
    would silently ignore."""
    from ecgemotion.cli.pairs import parse_overrides
    from ecgemotion.training.finetune import DEFAULT_INIT, HEAD_FIELDS, is_scratch

    init = args.init or DEFAULT_INIT
    if not is_scratch(init):
        arch = sorted(set(parse_overrides(args.set, "--set")) - set(HEAD_FIELDS))
        if args.model or arch:
            what = f"--model {args.model}" if args.model else f"--set {','.join(arch)}"
            raise ConfigError(f"{what} builds a new network, but --init {init} loads a pre-trained "
                              "one; add --init scratch to train it from random weights")
    if args.init is None and used:
        ui.say(f"initialising from the shipped encoder {DEFAULT_INIT} (default; --init scratch "
               "for random weights)")
    args.model = args.model or "fast"
    return init


def train_config(args, recipe: Recipe = FINETUNE):
    """``recipe`` with the flags the user gave (a flag left at None keeps the recipe's value)."""
    from ecgemotion.training.loop import TrainConfig

    given = {"epochs": args.epochs, "minutes": args.minutes, "batch_size": args.batch_size,
             "lr": args.lr, "weight_decay": args.weight_decay, "warmup_fraction": args.warmup}
    return TrainConfig.from_recipe(recipe, **{k: v for k, v in given.items() if v is not None},
                                   seed=args.seed, device=args.device,
                                   precision=args.precision).validate()


def say_hybrid(ui, model: str, features, why: str = "") -> None:
    """Say what a hybrid joins to the embedding, and where its context comes from."""
    from ecgemotion.baselines.context import CONTEXT_FEATURES

    window = [f for f in features if f not in CONTEXT_FEATURES]
    context = [f for f in features if f in CONTEXT_FEATURES]
    ui.say(f"model {model}{why}: the encoder's embedding + {len(window)} physiological features "
           f"per window ({', '.join(window)})"
           + (f" + {len(context)} over the 60 s of its recording ending at the window "
              f"({', '.join(context)}; training and validation windows each their own)"
              if context else "")
           + ", normalised on the training rows")


def add_parser(sub, common):
    from ecgemotion.cli.config import add_config_flag
    from ecgemotion.cli.ui import add_command

    p = add_command(sub, common, "finetune", "fine-tune a model for arousal or valence",
                    EPILOG, __doc__)
    p.add_argument("--store", required=True, help="labelled window store (ecgemotion prepare)")
    add_init_flag(p, "weights to start from")
    p.add_argument("--task", required=True, help="label to learn: arousal or valence")
    p.add_argument("--out", required=True, help="output folder for the model")
    p.add_argument("--freeze", action="store_true",
                   help="train only the classifier head on a frozen encoder (a probe)")
    p.add_argument("--val-fraction", type=float, default=0.2,
                   help="share of subjects held out for validation (default 0.2)")
    p.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    p.add_argument("--modalities", default=None,
                   help="train a multimodal model on these modalities of a multimodal store, e.g. "
                        "ecg,eeg,eda (docs/multimodal.md; from scratch or --init a `pretrain "
                        "--modalities` run; late fusion unless --set fusion=early; lr 1e-3 "
                        "unless --lr)")
    add_train_flags(p, recipe=None, hybrid=True)  # FINETUNE, or MULTIMODAL with --modalities
    add_config_flag(p)
    return p


def run(args: argparse.Namespace, ui) -> dict[str, Any]:
    from ecgemotion.store import WindowStore
    from ecgemotion.cli.pairs import parse_overrides
    from ecgemotion.training.finetune import DEFAULT_MODEL, HYBRIDS, finetune, hybrid_inputs
    from ecgemotion.training.threads import configure_threads

    ui.say(configure_threads(args.threads))
    given_model = args.model is not None
    store = WindowStore.open(args.store)
    if args.task not in store.label_names:
        raise ConfigError(f"{store.path}: no '{args.task}' labels; the store has "
                          f"{', '.join(store.label_names) or 'none'} (prepare it with --label-rule)")
    if args.modalities:
        return _run_multimodal(args, ui, store)
    chosen = args.model or DEFAULT_MODEL
    args.model = None if chosen in (*HYBRIDS, NETWORK) else chosen  # resolve_init sees presets only
    init = resolve_init(args, ui)
    if chosen in HYBRIDS:
        args.model = chosen
    cfg = train_config(args)
    ui.say(f"fine-tuning {'(frozen encoder) ' if args.freeze else ''}from {init} for "
           f"{args.task} on {store.path} -> {args.out}")
    if args.model in HYBRIDS:
        say_hybrid(ui, args.model, hybrid_inputs(args.model),
                   "" if given_model else f" ({DEFAULT_MODEL} is the default: the best measured "
                   "system, docs/results.md §4e; --model hybrid for window features only, "
                   "--model network for the network alone)")
    summary = finetune(store, init, args.task, Path(args.out), model=args.model,
                       freeze=args.freeze, train_cfg=cfg, val_fraction=args.val_fraction,
                       overrides=parse_overrides(args.set, "--set"), ui=ui,
                       overwrite=args.overwrite)
    _say_result(ui, summary)
    return summary


def _say_result(ui, summary: dict[str, Any]) -> None:
    vm = summary["val_metrics"]
    if vm:
        start = (" (the starting feature model: no fine-tuning epoch lowered the validation "
                 "loss, so the network adds nothing)" if vm.get("epoch") == 0 else "")
        ui.say(f"best epoch {vm.get('epoch')}{start}: validation loss {vm['loss']:.4f}, accuracy "
               f"{vm['accuracy']:.3f}, balanced accuracy {vm['balanced_accuracy']:.3f} "
               f"(subjects {', '.join(summary['val_subjects'])})")
    how = " --modalities " + ",".join(summary["modalities"]) if summary.get("modalities") else ""
    ui.say(f"saved {summary['out']} (load with `ecgemotion predict{how} --model {summary['out']}`)")


def _run_multimodal(args, ui, store) -> dict[str, Any]:
    """``finetune --modalities``: a multimodal model (``models/multimodal.py``), from scratch or
    from the encoders of a ``pretrain --modalities`` run."""
    from ecgemotion.cli.pairs import parse_overrides
    from ecgemotion.models.multimodal import describe_multimodal
    from ecgemotion.recording import parse_modalities
    from ecgemotion.training.finetune import finetune, is_scratch
    from ecgemotion.training.recipes import MULTIMODAL

    modalities = parse_modalities(args.modalities)
    for m in modalities:
        store.modality_info(m)              # a modality the store lacks fails here, named
    if args.model is not None or args.freeze:
        raise ConfigError("--modalities trains a multimodal model: --model and --freeze do not "
                          "apply (its architecture fields go in --set; --init takes a "
                          "`pretrain --modalities` run)")
    init = args.init or "scratch"
    cfg = train_config(args, MULTIMODAL)    # flags left unset take the multimodal recipe's
    overrides = parse_overrides(args.set, "--set")
    ui.say(f"training a multimodal model on {', '.join(modalities)} for {args.task} on {store.path}"
           f" -> {args.out}: " + ("from scratch (--init RUN of `pretrain --modalities` to start "
                                  "from pre-trained encoders), " if is_scratch(init) else
                                  f"signal encoders from {init}, ")
           + ("early fusion (one shared Transformer)" if overrides.get("fusion") == "early" else
              "late fusion (each branch trained alone, log-odds added; --set fusion=early for one "
              "shared Transformer)")
           + f", AdamW lr {cfg.lr:g}, {cfg.epochs} epoch(s) per branch")
    summary = finetune(store, init, args.task, Path(args.out), train_cfg=cfg,
                       val_fraction=args.val_fraction, overrides=overrides, ui=ui,
                       overwrite=args.overwrite, modalities=modalities)
    from ecgemotion.models.multimodal import load_multimodal

    for key, value in describe_multimodal(load_multimodal(summary["out"])).items():
        if key.startswith("input "):
            ui.say(f"  {key[6:]}: {value}")
    _say_result(ui, summary)
    return summary
