"""Plain records: frozen dataclasses that pydantic validates at the edge and code builds anywhere.

Invariant: a configuration that the request corridor needs (an online store, the economics and
policy of a plan, feature declarations) is declared once, as a frozen standard-library dataclass
whose constraints are ``typing.Annotated`` markers of ``annotated_types`` (``Ge``, ``Le``…) and
whose cross-field rules raise ``ValueError`` in ``__post_init__``. At the edge — a file, the
settings — pydantic validates data against that very class (``__pydantic_config__`` = :data:`STRICT`
refuses unknown fields), with messages naming the field; on the corridor, where pydantic is not
installed, :func:`from_mapping` builds it from JSON this program wrote itself. This module needs
the standard library only.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

STRICT: dict[str, Any] = {"extra": "forbid"}
"""The ``__pydantic_config__`` of a record: unknown fields are refused."""

R = TypeVar("R")


def from_mapping(cls: type[R], data: Mapping[str, Any]) -> R:
    """Build the record ``cls`` from parsed JSON, nested records, lists and maps included.

    For data this program wrote (a plan's metadata, a release): types are not coerced; a field
    the record does not have is a ``TypeError``, a broken rule the record's own ``ValueError``.
    """
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    return cls(**{name: _value(hints[name], value) for name, value in data.items()})


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(hint)
    if origin is typing.Annotated:
        return _value(get_args(hint)[0], value)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        records = [a for a in options if isinstance(a, type) and dataclasses.is_dataclass(a)]
        if records and isinstance(value, Mapping):
            kind = value.get("type")
            for record in records:  # a union of records is told apart by its ``type``
                fields = {f.name: f for f in dataclasses.fields(record)}
                if kind is None or fields.get("type") is None or fields["type"].default == kind:
                    return from_mapping(record, value)
        return _value(options[0], value) if len(options) == 1 else value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        return from_mapping(hint, value)
    if origin in (list, tuple) and isinstance(value, list | tuple):
        args = get_args(hint)
        inner = args[0] if args else Any
        items = [_value(inner, v) for v in value]
        return items if origin is list else tuple(items)
    if origin is dict and isinstance(value, Mapping):
        _, inner = get_args(hint) or (Any, Any)
        return {k: _value(inner, v) for k, v in value.items()}
    return value
