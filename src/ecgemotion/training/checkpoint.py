"""Atomic training checkpoints, in safetensors + JSON (nothing is ever pickled).

A checkpoint is a folder::

    model.safetensors      the weights (loadable by ``from_pretrained``)
    config.json            the model config
    optimizer.safetensors  AdamW moment tensors, keyed ``state.<param>.<name>``
    state.json             step, epoch, best validation loss, schedule, optimizer hyper-
                           parameters, logged sums: everything else needed to resume

It is written to a hidden temporary folder and swapped in with two renames
(``last`` -> ``.last.old``, ``.last.tmp`` -> ``last``), so a kill at any instant leaves
either the previous or the new checkpoint complete (:func:`find_checkpoint` looks at both).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ecgemotion.errors import EcgEmotionError
from ecgemotion.models.hub import load_state_strict, read_weights, save_pretrained

STATE_FILE = "state.json"
OPTIMIZER_FILE = "optimizer.safetensors"


def _optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for name, value in st.items():
            if torch.is_tensor(value):
                tensors[f"state.{pid}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{pid}.{name}"] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
              for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _optimizer_from_flat(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = value
    for key, value in meta.get("scalars", {}).items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()}
              for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def _swap_in(tmp: Path, folder: Path) -> None:
    old = folder.with_name(f".{folder.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def _fresh_tmp(folder: Path) -> Path:
    tmp = folder.with_name(f".{folder.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def save_checkpoint(folder: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                    state: dict[str, Any]) -> Path:
    """Write model (+ optimizer + state) into ``folder`` atomically."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = _fresh_tmp(folder)
    save_pretrained(model, tmp)
    state = dict(state)
    if optimizer is not None:
        tensors, meta = _optimizer_to_flat(optimizer)
        save_file(tensors, str(tmp / OPTIMIZER_FILE))
        state["optimizer"] = meta
    state["rng_torch_cpu"] = torch.get_rng_state().tolist()
    (tmp / STATE_FILE).write_text(json.dumps(state, indent=1) + "\n")
    _swap_in(tmp, folder)
    return folder


def find_checkpoint(folder: str | Path) -> Path | None:
    """``folder`` if it holds a complete checkpoint, else its ``.old`` twin, else None."""
    folder = Path(folder)
    for candidate in (folder, folder.with_name(f".{folder.name}.old")):
        if (candidate / STATE_FILE).is_file() and (candidate / "model.safetensors").is_file():
            return candidate
    return None


def load_checkpoint(folder: str | Path, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None) -> dict[str, Any]:
    """Restore weights (strictly) and optimizer state; return the state dict."""
    found = find_checkpoint(folder)
    if found is None:
        raise EcgEmotionError(f"{folder}: no complete checkpoint to resume from")
    try:
        state = json.loads((found / STATE_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise EcgEmotionError(f"{found / STATE_FILE}: unreadable training state ({exc})") from exc
    target = getattr(model, "module", model)
    device = next(target.parameters()).device
    weights = read_weights(found / "model.safetensors")
    load_state_strict(target, weights, str(found / "model.safetensors"))
    target.to(device)
    if optimizer is not None:
        if "optimizer" not in state or not (found / OPTIMIZER_FILE).is_file():
            raise EcgEmotionError(f"{found}: checkpoint has no optimizer state")
        tensors = load_file(str(found / OPTIMIZER_FILE))
        optimizer.load_state_dict(_optimizer_from_flat(tensors, state["optimizer"]))
    if "rng_torch_cpu" in state:
        torch.set_rng_state(torch.tensor(state["rng_torch_cpu"], dtype=torch.uint8))
    return state
