"""``ecgemotion info``: describe a store, a model preset, or the available sources."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from ecgemotion.errors import ConfigError


def add_parser(sub, common):
    from ecgemotion.cli.ui import add_command
    p = add_command(sub, common, "info", "describe a store, a model or the sources",
                    "examples:\n  ecgemotion info ~/.cache/ecgemotion/stores/open-ecg-1a2b3c\n"
                    "  ecgemotion info --model fast\n  ecgemotion info --sources")
    p.add_argument("store", nargs="?", help="a store folder")
    p.add_argument("--model", help="a model preset name or a saved model folder")
    p.add_argument("--sources", action="store_true", help="list the dataset sources")
    return p


def run(args: argparse.Namespace, ui) -> dict[str, Any]:
    if args.sources:
        from ecgemotion.sources import available_sources

        names = available_sources()
        ui.say("\n".join(names))
        return {"sources": names}
    if args.model:
        from ecgemotion.models import describe_model
        from ecgemotion.models.multimodal import (describe_multimodal, is_multimodal,
                                                  is_multimodal_pretraining, load_multimodal)

        info = (describe_multimodal(load_multimodal(args.model))
                if is_multimodal(args.model) or is_multimodal_pretraining(args.model)
                else describe_model(args.model))
        ui.table(list(info.items()))
        card = _card(args.model)
        if card is not None:
            ui.say("model card:")
            ui.table(card.summary())
            info["card"] = asdict(card)
        return info
    if not args.store:
        raise ConfigError("give a store folder, --model NAME or --sources")
    from ecgemotion.store import WindowStore

    info = WindowStore.open(args.store).describe()
    for key, value in info.items():
        ui.say(f"  {key:<12} {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    return info


def _card(model: str):
    """The model card of a fine-tuned folder (``None`` for a preset or a bare encoder)."""
    from ecgemotion.io.model_files import ModelCard
    from ecgemotion.models.hub import resolve_pretrained
    from ecgemotion.models.registry import PRESETS

    if model in PRESETS:
        return None
    try:
        return ModelCard.read(resolve_pretrained(model))
    except ConfigError:     # an encoder: no task, no card
        return None
