"""The feature registry: every declared source and feature of the three tiers, in one place.

Invariant: a :class:`FeatureRegistry` holds event sources with unique names, feature specs
(``batch`` and ``stream`` tiers) whose sources are among them, and request-time features;
feature names are unique across all three tiers. :func:`default_registry` is the built-in set
(:data:`~uplift_engine.features.definitions.EVENTS` with ``CAMPAIGN_FEATURES``,
``STREAM_FEATURES`` and ``REQUEST_FEATURES``). :func:`load_registry` reads the same
declarations from YAML or JSON into the same typed objects — there is no second form — and a
wrong key, type or value fails with a :class:`ConfigError` naming its place
(``features[2].window``). A new source is a new entry under ``sources``; no engine changes.

    builtin: true              # start from the built-in definitions (default: false)
    sources:
      - {name: service_calls, dataset: raw/service_calls, values: [minutes],
         types: [call, chat], valued_types: [call]}
    features:
      - {name: calls_7d, source: service_calls, aggregation: count, window: 7d,
         event_type: call, tier: batch, owner: service-team, description: "…"}
    request_features:
      - {name: session_channel, function: channel, field: channel}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from uplift_engine.config import read_mapping
from uplift_engine.errors import ConfigError
from uplift_engine.features.definitions import (
    CAMPAIGN_FEATURES,
    EVENTS,
    STREAM_FEATURES,
    Aggregation,
    EventSource,
    FeatureSpec,
    Tier,
)
from uplift_engine.features.request_time import REQUEST_FEATURES, FunctionName, RequestFeature


@dataclass(frozen=True)
class FeatureRegistry:
    """Declared sources, batch and stream feature specs, and request-time features."""

    sources: tuple[EventSource, ...]
    features: tuple[FeatureSpec, ...]
    request: tuple[RequestFeature, ...] = ()
    _by_name: dict[str, EventSource] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        by_name: dict[str, EventSource] = {}
        for source in self.sources:
            if source.name in by_name:
                raise ConfigError(f"source {source.name!r} is declared twice", field="sources")
            by_name[source.name] = source
        seen: set[str] = set()
        for name in [s.name for s in self.features] + [r.name for r in self.request]:
            if name in seen:
                raise ConfigError(f"feature {name!r} is defined twice", field="features")
            seen.add(name)
        for spec in self.features:
            if by_name.get(spec.source.name) != spec.source:
                raise ConfigError(
                    f"feature {spec.name!r} reads source {spec.source.name!r}, which is not "
                    f"declared; sources: {', '.join(by_name) or 'none'}",
                    field="source",
                )
        object.__setattr__(self, "_by_name", by_name)

    @property
    def batch(self) -> tuple[FeatureSpec, ...]:
        """The batch-tier specs, in declaration order."""
        return tuple(s for s in self.features if s.tier == "batch")

    @property
    def stream(self) -> tuple[FeatureSpec, ...]:
        """The stream-tier specs, in declaration order."""
        return tuple(s for s in self.features if s.tier == "stream")

    @property
    def names(self) -> tuple[str, ...]:
        """Every feature name: batch, stream, then request-time, each in declaration order."""
        return (
            *(s.name for s in self.batch),
            *(s.name for s in self.stream),
            *(r.name for r in self.request),
        )

    def source(self, name: str) -> EventSource:
        """The source called ``name``; a :class:`ConfigError` lists the declared ones."""
        if name not in self._by_name:
            raise ConfigError(
                f"unknown source {name!r}; declared: {', '.join(self._by_name) or 'none'}",
                field="source",
            )
        return self._by_name[name]

    def groups(self, tier: Tier) -> dict[EventSource, tuple[FeatureSpec, ...]]:
        """The specs of ``tier`` by source (sources without any are left out)."""
        groups: dict[EventSource, list[FeatureSpec]] = {}
        for spec in self.features:
            if spec.tier == tier:
                groups.setdefault(spec.source, []).append(spec)
        return {source: tuple(specs) for source, specs in groups.items()}


def default_registry() -> FeatureRegistry:
    """The built-in definitions: the lake's events, campaign, stream and request features."""
    return FeatureRegistry((EVENTS,), (*CAMPAIGN_FEATURES, *STREAM_FEATURES), REQUEST_FEATURES)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Source(_Model):
    name: str
    dataset: str
    entity: str = "customer_id"
    timestamp: str = "ts"
    event_type: str | None = "type"
    values: tuple[str, ...] = ()
    id: str = "event_id"
    types: tuple[str, ...] = ()
    valued_types: tuple[str, ...] = ()
    description: str = ""


class _Feature(_Model):
    name: str
    source: str = EVENTS.name
    aggregation: Aggregation
    window: str
    event_type: str | None = None
    value: str | None = None
    tier: Tier = "batch"
    owner: str = ""
    description: str = ""


class _Request(_Model):
    name: str
    function: FunctionName
    field: str
    owner: str = ""
    description: str = ""


class _File(_Model):
    builtin: bool = False
    sources: tuple[_Source, ...] = ()
    features: tuple[_Feature, ...] = ()
    request_features: tuple[_Request, ...] = ()


def registry_from_dict(data: Mapping[str, Any], origin: str = "definitions") -> FeatureRegistry:
    """The registry declared by ``data`` (a YAML/JSON document already parsed)."""
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _place(first["loc"])
        raise ConfigError(f"{origin}: {where}: {first['msg']}", field=where) from None
    base = default_registry() if parsed.builtin else None
    sources = {s.name: s for s in (base.sources if base else (EVENTS,))}
    for index, src in enumerate(parsed.sources):
        item = _build(f"sources[{index}]", origin, lambda s=src: EventSource(**s.model_dump()))
        sources[item.name] = item
    features = list(base.features if base else ())
    for index, feat in enumerate(parsed.features):
        where = f"features[{index}]"
        if feat.source not in sources:
            raise ConfigError(
                f"{origin}: {where}.source: unknown source {feat.source!r}; declared: "
                f"{', '.join(sources)}",
                field=f"{where}.source",
            )
        args = feat.model_dump()
        args["source"] = sources[feat.source]
        features.append(_build(where, origin, lambda a=args: FeatureSpec(**a)))
    request = list(base.request if base else ())
    for index, req in enumerate(parsed.request_features):
        where = f"request_features[{index}]"
        request.append(_build(where, origin, lambda r=req: RequestFeature(**r.model_dump())))
    used = {s.source.name for s in features} | {s.name for s in parsed.sources}
    declared = tuple(s for s in sources.values() if s.name in used)
    return _build("", origin, lambda: FeatureRegistry(declared, tuple(features), tuple(request)))


def load_registry(path: str | Path) -> FeatureRegistry:
    """The registry declared in a YAML or JSON file (see the module docstring for the shape)."""
    loaded = read_mapping(path, "feature definitions", field="definitions")
    return registry_from_dict(loaded, origin=str(path))


def _build(where: str, origin: str, make: Any) -> Any:
    try:
        return make()
    except ConfigError as exc:
        place = ".".join(p for p in (where, exc.field) if p)
        prefix = f"{origin}: {where}: " if where else f"{origin}: "
        raise ConfigError(prefix + exc.message, field=place or exc.field) from None


def _place(loc: Iterable[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
