"""The HTML report of a flow run: figures (matplotlib, Agg), report.html (Jinja2), report.json.

`write_report` and `summarise` are imported lazily: `json_safe` users need not load matplotlib.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["summarise", "write_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(f"{__name__}.build"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
