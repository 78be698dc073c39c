"""Feature declarations from a YAML or JSON file, into the registry's own records.

    builtin: true              # start from the built-in definitions (default: false)
    sources:
      - {name: service_calls, dataset: raw/service_calls, values: [minutes],
         types: [call, chat], valued_types: [call]}
    features:
      - {name: calls_7d, source: service_calls, aggregation: count, window: 7d,
         event_type: call, tier: batch, owner: service-team, description: "…"}
    request_features:
      - {name: session_channel, function: channel, field: channel}

Invariant: a source, a feature and a request-time feature are each declared once, as the
records of :mod:`.definitions` and :mod:`.request_time`; this module validates a file's
entries against those very records (pydantic, imported when a file is read), so a wrong key,
type or value fails with a :class:`ConfigError` naming its place (``features[2].window``). A
feature names its source; a new source is a new entry under ``sources``, and no engine changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from uplift_engine.errors import ConfigError
from uplift_engine.features.definitions import EVENTS, EventSource, FeatureSpec
from uplift_engine.features.registry import FeatureRegistry, default_registry
from uplift_engine.features.request_time import RequestFeature

SECTIONS = ("builtin", "sources", "features", "request_features")
T = TypeVar("T")


def registry_from_dict(data: Mapping[str, Any], origin: str = "definitions") -> FeatureRegistry:
    """The registry declared by ``data`` (a YAML/JSON document already parsed)."""
    unknown = [k for k in data if k not in SECTIONS]
    if unknown:
        raise ConfigError(
            f"{origin}: {unknown[0]}: Extra inputs are not permitted (sections: "
            f"{', '.join(SECTIONS)})",
            field=str(unknown[0]),
        )
    builtin = _section(data, "builtin", False, origin)
    if not isinstance(builtin, bool):
        raise ConfigError(
            f"{origin}: builtin: must be true or false, got {builtin!r}", field="builtin"
        )
    base = default_registry() if builtin else None
    sources = {s.name: s for s in (base.sources if base else (EVENTS,))}
    declared = []
    for index, raw in enumerate(_section(data, "sources", [], origin)):
        source = _record(EventSource, raw, f"sources[{index}]", origin)
        sources[source.name] = source
        declared.append(source.name)
    features = list(base.features if base else ())
    for index, raw in enumerate(_section(data, "features", [], origin)):
        where = f"features[{index}]"
        name = str(raw.get("source", EVENTS.name)) if isinstance(raw, Mapping) else ""
        if isinstance(raw, Mapping) and name not in sources:
            raise ConfigError(
                f"{origin}: {where}.source: unknown source {name!r}; declared: "
                f"{', '.join(sources)}",
                field=f"{where}.source",
            )
        entry = {**raw, "source": sources[name]} if isinstance(raw, Mapping) else raw
        features.append(_record(FeatureSpec, entry, where, origin))
    request = list(base.request if base else ())
    for index, raw in enumerate(_section(data, "request_features", [], origin)):
        request.append(_record(RequestFeature, raw, f"request_features[{index}]", origin))
    used = {s.source.name for s in features} | set(declared)
    kept = tuple(s for s in sources.values() if s.name in used)
    return _built("", origin, lambda: FeatureRegistry(kept, tuple(features), tuple(request)))


def load_registry(path: str | Path) -> FeatureRegistry:
    """The registry declared in a YAML or JSON file (see the module docstring for the shape)."""
    from uplift_engine.config.files import read_mapping

    loaded = read_mapping(path, "feature definitions", field="definitions")
    return registry_from_dict(loaded, origin=str(path))


def _section(data: Mapping[str, Any], name: str, default: Any, origin: str) -> Any:
    value = data.get(name, default)
    if name != "builtin" and not isinstance(value, list | tuple):
        raise ConfigError(
            f"{origin}: {name}: Input should be a valid list, got {type(value).__name__}",
            field=name,
        )
    return value


def _record(cls: type[T], raw: Any, where: str, origin: str) -> T:
    """``raw`` validated as the record ``cls``; errors name ``where`` in the file."""
    from uplift_engine.config.strict import validate_record

    return validate_record(cls, raw, origin, brackets=True, at=where)


def _built(where: str, origin: str, make: Callable[[], T]) -> T:
    try:
        return make()
    except ConfigError as exc:
        if exc.message.startswith(f"{origin}:"):
            raise
        place = ".".join(p for p in (where, exc.field) if p)
        prefix = f"{origin}: {where}: " if where else f"{origin}: "
        raise ConfigError(prefix + exc.message, field=place or exc.field) from None
