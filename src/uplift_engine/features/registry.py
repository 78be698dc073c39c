"""The feature registry: every declared source and feature of the three tiers, in one place.

Invariant: a :class:`FeatureRegistry` holds event sources with unique names, feature specs
(``batch`` and ``stream`` tiers) whose sources are among them, and request-time features;
feature names are unique across all three tiers. :func:`default_registry` is the built-in set
(:data:`~uplift_engine.features.definitions.EVENTS` with ``CAMPAIGN_FEATURES``,
``STREAM_FEATURES`` and ``REQUEST_FEATURES``); :mod:`.declarations` reads the same
declarations from a YAML or JSON file. Standard library only: the request corridor reads
features through a registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from uplift_engine.errors import ConfigError
from uplift_engine.features.definitions import (
    CAMPAIGN_FEATURES,
    EVENTS,
    STREAM_FEATURES,
    EventSource,
    FeatureSpec,
    Tier,
)
from uplift_engine.features.request_time import REQUEST_FEATURES, RequestFeature


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
