"""Arrows point down the layers of DESIGN.md: a layer imports only the layers before it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import uplift_engine

ORDER = [
    "errors",
    "config",
    "lake",
    "simulate",
    "features",
    "learn",
    "evaluate",
    "decide",
    "serve",
    "pipeline",
    "report",
    "cli",
]
ROOT = Path(uplift_engine.__file__).parent
IMPORT = re.compile(r"^\s*(?:from|import) uplift_engine\.(\w+)", re.M)


@pytest.mark.parametrize("layer", ORDER[1:], ids=ORDER[1:])
def test_layer_imports_only_layers_before_it(layer):
    rank = ORDER.index(layer)
    wrong = []
    for path in (ROOT / layer).rglob("*.py"):
        for target in IMPORT.findall(path.read_text()):
            if target in ORDER and ORDER.index(target) > rank:
                wrong.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not wrong, wrong
