"""Helpers for tests that look at a lake's files: names without their generation tag."""

from __future__ import annotations

import re
from pathlib import Path

_TAG = re.compile(r"\.g[0-9a-f]{12}(\.[A-Za-z]+)$")


def untag(name: str) -> str:
    """``part-00000.g1a2b3c4d5e6f.parquet`` → ``part-00000.parquet``."""
    return _TAG.sub(r"\1", name)


def names(folder: Path) -> list[str]:
    """The files of a dataset folder, sorted, without their generation tags.

    Hidden temporaries and the ``_lake`` folder of a dataset that is its own lake are left out.
    """
    return sorted(
        untag(p.name) for p in folder.iterdir() if not p.name.startswith(".") and p.name != "_lake"
    )
