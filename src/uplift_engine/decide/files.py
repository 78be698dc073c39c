"""Reading the decide layer's YAML/JSON files (economics, policy) with one-line errors.

Invariant: a file is read through the lake (local or s3://), must hold a mapping, and a
validation failure is reported as ``<file>: <dotted.field>: <reason>, got <value>``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from uplift_engine.config import Settings
from uplift_engine.errors import ConfigError
from uplift_engine.lake import resolve


def load_mapping(source: str | Path, settings: Settings | None, where: str) -> dict[str, Any]:
    """The mapping held by a YAML or JSON file."""
    loc = resolve(source, settings)
    if loc.is_dir():
        raise ConfigError(f"{where} is a folder, not a file")
    try:
        text = loc.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{where} is not UTF-8 text (is it a YAML or JSON file?)"
        ) from None
    try:
        data = json.loads(text) if str(source).endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{where} is not valid YAML/JSON: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must hold a mapping, got {type(data).__name__}")
    return data


def validation_message(where: str, exc: ValidationError) -> str:
    """The first validation error as one line naming the file and the field."""
    first = exc.errors()[0]
    path = ".".join(str(p) for p in first["loc"]) or "(top)"
    got = first.get("input")
    shown = "" if isinstance(got, dict | list) else f", got {got!r}"
    return f"{where}: {path}: {first['msg']}{shown}"
