"""What an evaluation's results are made of and how they are saved, apart from who makes them.

The runner fills the results and the report reads them; both import from here, neither from
the other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

# The baseline that predicts the training majority class; a row in every results table.
MAJORITY = "majority"


def json_number(v):
    """A finite float, None for NaN/inf (JSON has neither), anything else unchanged."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return v
    return v if np.isfinite(v) else None


def clean(o):
    """JSON-safe copy: NaN/inf -> None, numpy -> Python."""
    if isinstance(o, dict):
        return {str(k): clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [clean(v) for v in o]
    if isinstance(o, np.ndarray):
        return [clean(v) for v in o.tolist()]
    if isinstance(o, (bool, np.bool_)):
        return bool(o)
    if isinstance(o, (int, np.integer)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        return json_number(o)
    return o


def write_json(results: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(clean(results), indent=2, default=_json_default,
                               allow_nan=False) + "\n")
    return path


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return json_number(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)
