"""Data derived from a layer's raw weights (float32/narrow copies, onnxruntime sessions), kept
while the weights live, so a repeated call does not convert or prepack them again.

An entry is keyed on the identity of the array owning the weights' memory plus the view's
shape, strides and address; a weak reference confirms the owner is still that object (ids are
reused after an array dies), and its death drops the entry.  The owner (and the view) are made
read-only when first cached: an in-place edit then raises instead of meeting stale derived
data.  Replacing the array (`qparams[node]["weight"] = new`) simply starts a new entry.
"""
from __future__ import annotations

import weakref
from collections import OrderedDict
from threading import RLock
from typing import Any

import numpy as np

MAX_ENTRIES = 64
_ENTRIES: "OrderedDict[tuple, tuple[weakref.ref, dict[Any, Any]]]" = OrderedDict()
_LOCK = RLock()          # re-entrant: a weakref callback may run inside the locked section (GC)


def _owner(w: np.ndarray) -> np.ndarray | None:
    o = w
    while isinstance(o.base, np.ndarray):
        o = o.base
    return o if o.base is None and o.flags.owndata else None


def derived(w: np.ndarray) -> dict[Any, Any] | None:
    """The dict of data derived from w (callers store under their own keys), or None when w
    does not own its memory through a numpy array (then nothing is cached)."""
    owner = _owner(w)
    if owner is None:
        return None
    key = (id(owner), w.shape, w.strides, w.__array_interface__["data"][0], w.dtype.str)
    with _LOCK:
        hit = _ENTRIES.get(key)
        if hit is not None and hit[0]() is owner:
            _ENTRIES.move_to_end(key)
            return hit[1]
        owner.flags.writeable = False
        w.flags.writeable = False
        entry: dict[Any, Any] = {}
        _ENTRIES[key] = (weakref.ref(owner, lambda _, k=key: _drop(k)), entry)
        while len(_ENTRIES) > MAX_ENTRIES:
            _ENTRIES.popitem(last=False)
        return entry


def _drop(key: tuple) -> None:
    with _LOCK:
        _ENTRIES.pop(key, None)
