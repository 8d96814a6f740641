"""The HTML report of a flow run: figures (matplotlib, Agg), report.html (Jinja2), report.json."""
from __future__ import annotations

from .build import summarise, write_report

__all__ = ["summarise", "write_report"]
