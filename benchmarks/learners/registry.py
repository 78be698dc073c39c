"""Every cell of the benchmark for one dataset: our learners first, then the other libraries.

Invariant: the list depends only on the dataset's ``meta.json`` and on what
``uplift_engine.learn.LEARNERS`` holds when it is called, so the parent that plans the run and
the child that fits one cell find the same cell under the same key.
"""

from __future__ import annotations

from typing import Any

from learners import competitors, ours
from learners.contender import Cell


def cells(ds_meta: dict[str, Any]) -> list[Cell]:
    """Ours (every LEARNERS entry, then auto), causalml, EconML, scikit-uplift."""
    found = ours.cells(ds_meta) + competitors.cells(ds_meta)
    keys = [c.key for c in found]
    if len(set(keys)) != len(keys):
        raise RuntimeError(f"two cells share a key: {sorted(keys)}")
    return found


def cell(ds_meta: dict[str, Any], key: str) -> Cell:
    """The cell with ``key``."""
    for c in cells(ds_meta):
        if c.key == key:
            return c
    raise KeyError(f"no cell {key!r} for dataset {ds_meta['id']}")
