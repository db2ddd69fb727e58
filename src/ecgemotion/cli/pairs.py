"""``KEY=VALUE`` arguments, parsed one way for every command.

``--set n_layers=6`` (model config fields; prepare: source options such as ``--set
lead=right``) and ``--pretrain dreamer=PATH,pspm=PATH`` go through :func:`split_pairs`: repeated
flags and comma-separated lists both work, and commas inside ``[]``/``{}`` do not split.
"""

from __future__ import annotations

import json
from typing import Any

from ecgemotion.errors import ConfigError


def split_pairs(items: str | list[str] | None, flag: str) -> list[tuple[str, str]]:
    """``[("key", "raw value"), ...]`` in order; a part without ``=`` is a ConfigError."""
    texts = [items] if isinstance(items, str) else list(items or [])
    pairs = []
    for text in texts:
        for part in _split_top_level(text):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise ConfigError(f"{flag} expects KEY=VALUE, found {part!r}")
            key, value = part.split("=", 1)
            pairs.append((key.strip(), value.strip()))
    return pairs


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch in "[{"
        depth -= ch in "]}"
        current += ch
    parts.append(current)
    return parts


def parse_value(text: str) -> Any:
    """JSON when it parses (numbers, lists, booleans), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_overrides(items: str | list[str] | None, flag: str = "--set") -> dict[str, Any]:
    """Model-config overrides: ``"d_model=32,conv_channels=[8,16]"`` → ``{"d_model": 32, ...}``."""
    return {key: parse_value(value) for key, value in split_pairs(items, flag)}


def parse_options(items: str | list[str] | None, flag: str = "--option") -> dict[str, Any]:
    """Source options; values stay strings and ``a-b`` keys become ``a_b``."""
    return {key.replace("-", "_"): value for key, value in split_pairs(items, flag)}


def by_system(overrides: dict[str, Any], systems: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``{"cnn.d_model": 8, "n_layers": 1}`` → ``{"": {"n_layers": 1}, "cnn": {"d_model": 8}}``:
    a ``SYSTEM.`` prefix aims an override at that system; no prefix, the transformer."""
    out: dict[str, dict[str, Any]] = {"": {}, **{s: {} for s in systems}}
    for key, value in overrides.items():
        system, dot, field = key.partition(".")
        if dot and system not in systems:
            raise ConfigError(f"--set {key}: no system {system!r} takes overrides; "
                              f"prefixes: {', '.join(s + '.' for s in systems)}")
        out[system if dot else ""][field if dot else key] = value
    return out
