"""Writing the metrics of an evaluation as ``metrics.json``: pretty JSON, NaN and infinities as ``null``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["METRICS_FILE", "json_value", "write_metrics_json"]

METRICS_FILE = "metrics.json"


def json_value(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays turned into Python ones and non-finite floats into ``None``.

    Args:
        value: a metrics value: mappings (keys become ``str``), sequences, arrays, NumPy or Python scalars.

    Returns:
        a value ``json.dumps(..., allow_nan=False)`` accepts.

    Raises:
        TypeError: for a value of another type, naming the type.
    """
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_value(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"cannot write a {type(value).__name__} to {METRICS_FILE}: {value!r}")


def write_metrics_json(metrics: Mapping[str, Any], out_dir: str | Path) -> Path:
    """Write ``out_dir/metrics.json`` (the folder is created).

    Args:
        metrics: the metrics of an evaluation.
        out_dir: the output folder.

    Returns:
        the path written.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / METRICS_FILE
    path.write_text(json.dumps(json_value(metrics), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path
