"""Strict JSON for reports and --json output: no NaN or Infinity tokens."""
from __future__ import annotations

import math
from typing import Any

from ..results import to_jsonable


def json_safe(obj: Any) -> Any:
    """Plain JSON types with infinities and NaNs (an exact layer's SQNR is +inf) as null."""
    obj = to_jsonable(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_safe(v) for v in obj]
    return obj
