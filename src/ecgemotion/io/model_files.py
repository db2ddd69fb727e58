"""A saved model folder's file names, and reading its ``config.json`` without importing
torch (the ONNX path needs none). Weights are read by ``models.hub.from_pretrained``, the
one loader of a saved model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ecgemotion.errors import ConfigError

CONFIG_NAME = "config.json"             # architecture fields + the model card (``extra``)
WEIGHTS_NAME = "model.safetensors"


def read_config_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a saved ``config.json``: (architecture fields, the ``extra`` task facts)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read model config ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, found {type(data).__name__}")
    data.pop("format", None)
    data.pop("ecgemotion_version", None)
    extra = data.pop("extra", None) or {}
    return data, extra
