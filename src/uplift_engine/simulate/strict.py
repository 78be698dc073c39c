"""Configuration models that fail loudly, with the field at fault named.

Unknown fields are refused, and any invalid value raises
:class:`~uplift_engine.errors.ConfigError` naming the field (``campaigns.0.arms``), never a bare
pydantic error, so that the CLI can print it in one line. Nested models let the outermost one
convert the error, so that the field's whole path is named.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from uplift_engine.errors import ConfigError

_DEPTH: ContextVar[int] = ContextVar("_DEPTH", default=0)


class StrictModel(BaseModel):
    """A frozen model that forbids unknown fields and raises :class:`ConfigError` when invalid."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **data: Any) -> None:
        depth = _DEPTH.get() + 1
        token = _DEPTH.set(depth)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            if depth > 1:  # nested: let the outer model add its path (``campaigns.0.arms``)
                raise
            raise config_error(exc) from exc
        finally:
            _DEPTH.reset(token)


def config_error(exc: ValidationError) -> ConfigError:
    """One :class:`ConfigError` naming the first field at fault, from a pydantic error."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "config"
    message = str(first["msg"]).removeprefix("Value error, ")
    received = first.get("input")
    shown = "" if isinstance(received, dict | list | BaseModel) else f" (received {received!r})"
    return ConfigError(f"simulation config field {where!r}: {message}{shown}", field=where)
