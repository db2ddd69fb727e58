"""Every training default has one home (training/recipes.py): each command's parsed defaults
and the Python API's configs are the recipes'."""

from __future__ import annotations

import argparse

import pytest

from ecgemotion.cli import build_parser
from ecgemotion.cli.finetune import train_config
from ecgemotion.training.loop import TrainConfig
from ecgemotion.training.recipes import (FINETUNE, PRETEXT, PRETRAIN, QUICK_FINETUNE,
                                         REPRODUCE_PRETRAIN, RECIPES)

OPTIMISER = ("batch_size", "lr", "weight_decay", "warmup_fraction")
FLAG = {"batch_size": "batch_size", "lr": "lr", "weight_decay": "weight_decay",
        "warmup_fraction": "warmup"}
REQUIRED = {
    "pretrain": [],
    "finetune": ["--store", "S", "--task", "arousal", "--out", "O"],
    "evaluate": ["--store", "S", "--task", "arousal", "--protocol", "subject", "--out", "O"],
    "reproduce": ["--amigos", "A", "--out", "O"],
}


def parse(command: str, *extra: str) -> argparse.Namespace:
    return build_parser().parse_args([command, *REQUIRED[command], *extra])


@pytest.mark.parametrize("command, recipe", [("pretrain", PRETRAIN), ("evaluate", FINETUNE)])
def test_parsed_defaults_are_the_recipe(command, recipe):
    args = parse(command)
    assert {f: getattr(args, FLAG[f]) for f in OPTIMISER} == \
        {f: getattr(recipe, f) for f in OPTIMISER}
    assert args.epochs is None and args.minutes is None   # the budget comes from the recipe


def test_finetune_and_evaluate_build_the_finetune_recipe():
    for command in ("finetune", "evaluate"):
        cfg = train_config(parse(command))
        assert cfg == TrainConfig.from_recipe(FINETUNE), command
        assert cfg.epochs == FINETUNE.epochs
    assert parse("evaluate").ssl_epochs == PRETEXT.epochs


def test_pretrain_budget_defaults_to_the_recipe_minutes():
    args = parse("pretrain")
    cfg = TrainConfig.from_recipe(PRETRAIN, epochs=args.epochs, minutes=args.minutes,
                                  steps=args.steps)
    assert cfg.minutes == PRETRAIN.minutes and cfg.epochs is None
    steps = TrainConfig.from_recipe(PRETRAIN, steps=7, minutes=None)
    assert (steps.steps, steps.minutes, steps.epochs) == (7, None, None)
    assert parse("pretrain").checkpoint_every == TrainConfig.checkpoint_every_s


def test_reproduce_fills_from_the_recipe_not_from_a_guess():
    """--quick raised the rate only when --lr looked like the default: an explicit
    --lr 1e-4 was silently replaced. Defaults are now None and filled from the recipe."""
    args = parse("reproduce")
    assert all(getattr(args, FLAG[f]) is None for f in OPTIMISER)
    assert train_config(args, FINETUNE) == TrainConfig.from_recipe(FINETUNE)
    assert train_config(args, QUICK_FINETUNE).lr == QUICK_FINETUNE.lr == 1e-3
    assert train_config(parse("reproduce", "--quick", "--lr", "1e-4"), QUICK_FINETUNE).lr == 1e-4
    assert REPRODUCE_PRETRAIN.minutes == 60.0


def test_a_bare_train_config_is_the_pretrain_recipe():
    bare = TrainConfig()
    assert {f: getattr(bare, f) for f in OPTIMISER} == {f: getattr(PRETRAIN, f) for f in OPTIMISER}
    assert set(RECIPES) >= {"pretrain", "finetune", "sarkar-pretext"}


@pytest.mark.parametrize("command", ["pretrain", "finetune", "evaluate", "reproduce"])
def test_model_presets_are_argparse_choices(command, capsys):
    with pytest.raises(SystemExit) as exc:
        parse(command, "--model", "sarkar")
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def literal_settings(source) -> list[str]:
    """``TrainConfig(...)`` calls that spell an optimiser setting as a number (a second home
    for a training default); ``TrainConfig.from_recipe(RECIPE, ...)`` is the way. ``source``
    is code or its parsed tree."""
    import ast

    tree = ast.parse(source) if isinstance(source, str) else source
    return [f"line {node.lineno}: {kw.arg}={ast.unparse(kw.value)}"
            for node in ast.walk(tree) if isinstance(node, ast.Call)
            and (getattr(node.func, "id", None) or getattr(node.func, "attr", None)) == "TrainConfig"
            for kw in node.keywords if kw.arg in OPTIMISER and isinstance(kw.value, ast.Constant)]


def test_no_training_default_outside_the_recipes():
    from tests.source_trees import PACKAGE, package_trees

    assert literal_settings("cfg = TrainConfig(epochs=3, lr=3e-4, seed=seed)") == ["line 1: lr=0.0003"]
    assert not literal_settings("cfg = TrainConfig.from_recipe(FINETUNE, epochs=3, lr=args.lr)")
    hits = {str(p.relative_to(PACKAGE)): h for p, tree in package_trees()
            if (h := literal_settings(tree))}
    assert not hits, f"name these settings in training/recipes.py: {hits}"


def test_finetune_flags_left_unset_take_the_recipe_of_what_is_trained():
    """finetune trains an encoder (FINETUNE) or, with --modalities, a multimodal model from
    scratch (MULTIMODAL): an unset flag takes that recipe's value and a given one is kept,
    even when it equals the other recipe's default (a guess by value replaced --lr 1e-4)."""
    from ecgemotion.training.recipes import MULTIMODAL

    args = parse("finetune")
    assert all(getattr(args, FLAG[f]) is None for f in OPTIMISER)
    assert train_config(args, MULTIMODAL).lr == MULTIMODAL.lr
    assert train_config(parse("finetune", "--lr", str(FINETUNE.lr)), MULTIMODAL).lr == FINETUNE.lr
