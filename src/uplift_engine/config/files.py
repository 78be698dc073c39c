"""Reading a YAML or JSON file that must hold a mapping: one place, one set of messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from uplift_engine.errors import ConfigError


def read_mapping(
    path: str | Path, what: str, *, field: str, empty_ok: bool = False
) -> dict[str, Any]:
    """The mapping in a YAML (or JSON, a subset of YAML) file, or a :class:`ConfigError`.

    ``what`` names the file for messages ("settings file", "simulation config" …) and
    ``field`` is the option the error points at. An empty file is ``{}`` when ``empty_ok``.
    """
    file = Path(path)
    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {str(file)!r}: {exc.strerror}", field=field) from exc
    except UnicodeDecodeError:
        raise ConfigError(
            f"{what} {str(file)!r} is not UTF-8 text (is it a YAML or JSON file?)", field=field
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{what} {str(file)!r} is not valid YAML or JSON: {exc}", field=field
        ) from exc
    if loaded is None and empty_ok:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"{what} {str(file)!r} must hold a mapping of fields, got {type(loaded).__name__}",
            field=field,
        )
    return loaded
