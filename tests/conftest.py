"""Shared test setup: headless plotting and a per-session scratch directory."""
from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
