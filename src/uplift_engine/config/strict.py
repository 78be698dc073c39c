"""Validation that fails loudly, in one sentence naming the field: the one strict base.

Invariant: every configuration this program validates with pydantic — the settings, the
simulation config, the economics and policy files, the feature definitions — refuses unknown
fields and turns the first validation error into one :class:`~uplift_engine.errors.ConfigError`
whose message is ``"<what>: <field>: <problem>, got <value>"`` and whose ``field`` is the
field's path, through :func:`config_error`. Models derive from :class:`StrictModel`; records
(:mod:`.records`) are validated by :func:`validate_record`. A nested model lets the outermost
one convert the error, so the whole path is named (``campaigns.0.arms``).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from functools import cache
from typing import Any, ClassVar, TypeVar, cast

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from uplift_engine.errors import ConfigError

_DEPTH: ContextVar[int] = ContextVar("_DEPTH", default=0)
_PLAIN = {
    "unexpected_keyword_argument": "Extra inputs are not permitted",
    "extra_forbidden": "Extra inputs are not permitted",
}
T = TypeVar("T")


class StrictModel(BaseModel):
    """A frozen model that forbids unknown fields and raises :class:`ConfigError` when invalid.

    ``what`` names the model in messages ("simulation config").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    what: ClassVar[str] = "configuration"

    def __init__(self, **data: Any) -> None:
        depth = _DEPTH.get() + 1
        token = _DEPTH.set(depth)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            if depth > 1:  # nested: let the outer model add its path (``campaigns.0.arms``)
                raise
            raise config_error(exc, type(self).what) from exc
        finally:
            _DEPTH.reset(token)


def config_error(
    exc: ValidationError, what: str, *, brackets: bool = False, at: str = ""
) -> ConfigError:
    """One :class:`ConfigError` naming the first field at fault, from a pydantic error.

    ``brackets`` writes list positions as ``features[2].window`` instead of ``features.2.window``;
    ``at`` is the validated value's own place in a larger document (``features[2]``).
    """
    first = exc.errors()[0]
    inner = place(first["loc"], brackets=brackets)
    where = ".".join(p for p in (at, inner) if p) or "(top)"
    message = _PLAIN.get(first["type"], str(first["msg"]).removeprefix("Value error, "))
    received = first.get("input")
    shown = "" if isinstance(received, dict | list | tuple | BaseModel) else f", got {received!r}"
    return ConfigError(f"{what}: {where}: {message}{shown}".replace("\n", " "), field=where)


def validate_record(
    cls: type[T], data: Any, what: str, *, brackets: bool = False, at: str = ""
) -> T:
    """``data`` validated as the record (dataclass) or model ``cls``, or a :class:`ConfigError`.

    A record's own rules (``__post_init__``) raise :class:`ConfigError` or ``ValueError``; both
    come out as a :class:`ConfigError` placed at ``at``.
    """
    try:
        return cast(T, _adapter(cast(Any, cls)).validate_python(data))
    except ValidationError as exc:
        raise config_error(exc, what, brackets=brackets, at=at) from None
    except ConfigError as exc:
        where = ".".join(p for p in (at, exc.field or "") if p)
        raise ConfigError(f"{what}: {at + ': ' if at else ''}{exc.message}", field=where) from None


def place(loc: Iterable[int | str], *, brackets: bool = False) -> str:
    """A pydantic location as a field path: ``a.0.b``, or ``a[0].b`` with ``brackets``."""
    text = ""
    for part in loc:
        if brackets and isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@cache
def _adapter(cls: Any) -> TypeAdapter[Any]:
    return TypeAdapter(cls)
