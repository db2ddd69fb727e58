"""``save_pretrained`` / ``from_pretrained``: weights as ``model.safetensors``, architecture as
``config.json`` (the Hugging Face layout). Nothing is ever unpickled."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ecgemotion import __version__
from ecgemotion.errors import ConfigError, EcgEmotionError
from ecgemotion.io.model_files import CONFIG_NAME, WEIGHTS_NAME
from ecgemotion.models.config import ModelConfig
from ecgemotion.models.registry import create_model

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
# Heads that are task-specific: dropped when loading an encoder for a new task.
HEAD_PREFIXES = ("recon_head.", "classifier.", "transform_heads.", "mae_decoder.",
                 "contrastive_head.", "target_head.")


def _atomic_write(path: Path, write) -> None:
    from ecgemotion.paths import replace_as_created

    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    replace_as_created(tmp, path)


def save_pretrained(model: nn.Module, directory: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model.safetensors`` + ``config.json`` into ``directory`` (created), atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = getattr(model, "module", model)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    _atomic_write(directory / WEIGHTS_NAME,
                  lambda p: save_file(state, str(p), metadata={"format": "pt", "ecgemotion": __version__}))
    config = {**model.config.to_dict(), "format": "ecgemotion-model", "ecgemotion_version": __version__}
    if extra:
        config["extra"] = extra
    _atomic_write(directory / CONFIG_NAME, lambda p: p.write_text(json.dumps(config, indent=2) + "\n"))
    return directory


def available_pretrained() -> list[str]:
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / CONFIG_NAME).is_file())


def resolve_pretrained(name_or_dir: str | Path) -> Path:
    """A folder path, or the name of a folder shipped in ``ecgemotion/pretrained/``."""
    path = Path(name_or_dir).expanduser()
    if path.is_dir():
        if not (path / WEIGHTS_NAME).is_file() and (path / "best" / WEIGHTS_NAME).is_file():
            return path / "best"  # a training run's output folder: its best checkpoint
        return path
    name = str(name_or_dir)
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        shipped = PRETRAINED_DIR / name
        if (shipped / WEIGHTS_NAME).is_file():
            return shipped
        have = available_pretrained()
        raise EcgEmotionError(
            f"no pre-trained model named {name!r}: expected {shipped / WEIGHTS_NAME} (weights not "
            f"shipped with this install) or a folder of that name; shipped: {have or 'none'}")
    raise EcgEmotionError(f"{path}: expected a folder with {WEIGHTS_NAME} and {CONFIG_NAME}, "
                          f"found no such folder")


def load_state_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str,
                      ignore: Iterable[str] = (), fresh: Iterable[str] = ()) -> list[str]:
    """Copy ``state`` into ``model``; any unknown key, missing key or shape mismatch is an
    error naming the key (keys starting with a prefix in ``ignore`` are skipped both ways).
    Keys under a prefix in ``fresh`` may be absent from the file and then keep the model's
    initialisation (a head the checkpoint never had); returns those keys."""
    ignore, fresh = tuple(ignore), tuple(fresh)
    own = model.state_dict()
    keep = lambda k: not (ignore and k.startswith(ignore))  # noqa: E731
    unexpected = sorted(k for k in state if keep(k) and k not in own)
    absent = sorted(k for k in own if keep(k) and k not in state)
    kept_init = [k for k in absent if fresh and k.startswith(fresh)]
    missing = [k for k in absent if k not in kept_init]
    if unexpected:
        raise EcgEmotionError(f"{source}: unexpected weight(s) {unexpected[:5]} not in the "
                              f"model ({model.config.name or model.config.kind})")
    if missing:
        raise EcgEmotionError(f"{source}: missing weight(s) {missing[:5]} that the model needs")
    for k, v in sorted(state.items()):
        if not keep(k):
            continue
        if tuple(v.shape) != tuple(own[k].shape):
            raise EcgEmotionError(f"{source}: weight {k!r} has shape {tuple(v.shape)} in the file "
                                  f"but {tuple(own[k].shape)} in the model")
    model.load_state_dict({k: v for k, v in state.items() if keep(k)},
                          strict=not (ignore or kept_init))
    return kept_init


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise EcgEmotionError(f"{path}: cannot read safetensors weights ({exc})") from exc


def from_pretrained(name_or_dir: str | Path, *, encoder_only: bool = False,
                    fresh_heads: bool = False, map_location: str | torch.device = "cpu", **overrides: Any) -> nn.Module:
    """Load a model saved by :func:`save_pretrained` (a folder) or shipped (a name).

    ``encoder_only=True`` loads every weight except the task heads (reconstruction,
    classifier, transformation heads), which stay freshly initialised: the way to start
    fine-tuning from a pre-trained encoder. ``fresh_heads=True`` loads every weight the file
    has and leaves heads it lacks freshly initialised (listed in ``model.fresh_heads``): the
    way to continue pre-training with an objective that adds a head. ``overrides`` change config fields first
    (e.g. ``n_classes=2``, ``dropout=0.2``); changing an architecture field makes the
    load fail with the mismatching key and both shapes.
    """
    folder = resolve_pretrained(name_or_dir)
    if not (folder / CONFIG_NAME).is_file():
        raise EcgEmotionError(f"{folder}: expected {CONFIG_NAME}, found none")
    cfg = ModelConfig.load(folder / CONFIG_NAME)
    try:
        cfg = cfg.replace(**overrides)
    except TypeError as exc:
        raise ConfigError(f"{folder}: bad override ({exc})") from exc
    if not (folder / WEIGHTS_NAME).is_file():
        raise EcgEmotionError(f"{folder}: expected {WEIGHTS_NAME} beside {CONFIG_NAME}, found none")
    model = create_model(cfg)
    state = read_weights(folder / WEIGHTS_NAME)
    model.fresh_heads = load_state_strict(model, state, str(folder / WEIGHTS_NAME),
                                          ignore=HEAD_PREFIXES if encoder_only else (),
                                          fresh=HEAD_PREFIXES if fresh_heads else ())
    return model.to(map_location)
