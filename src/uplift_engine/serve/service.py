"""What a running service holds: the served model's core, where it comes from, and its reloads.

A service serves either a fixed bundle (with a plan, economics or neither: ``fixed`` loads it)
or a release root,
whose pointer it watches: :meth:`ServiceState.reload` loads a release whose pointer changed and
swaps the core in one assignment, so a request in flight finishes on the core it started with
and the next one takes the new core — no request fails for a reload. A release that fails to
load (missing, tampered, a plan for another model) leaves the current core serving and is
reported once; with no core at all the service is not ready. Beside the release it follows, a
service on a release root serves the ``challenger`` release when ``traffic.json`` says so
(:mod:`.challenger`: shadow, or a share of traffic), reloaded with the pointers. Standard
library only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from uplift_engine.errors import BundleError, UpliftError
from uplift_engine.features import FeatureReader
from uplift_engine.serve.challenger import CHALLENGER, Challenger, Traffic, read_traffic
from uplift_engine.serve.corridor import DecisionCore
from uplift_engine.serve.payload import RequestSchema
from uplift_engine.serve.release import Served, load_release, read_pointer

log = logging.getLogger("uplift_engine.serve")


@dataclass(frozen=True)
class Loaded:
    """One served model, ready: its core and the request schema it accepts."""

    core: DecisionCore
    schema: RequestSchema
    challenger: Challenger | None = None


def request_fields(served: Served, reader: FeatureReader) -> set[str]:
    """The request's own fields a served model reads (request-time inputs, the rules' columns)."""
    fields = {feature.field for feature in reader.registry.request}
    decider = served.decider
    if decider is not None:
        if decider.policy is not None:
            fields |= set(decider.policy.columns())
        if decider.value_col is not None:
            fields.add(decider.value_col)
        if decider.economics.segments is not None:
            fields.add(decider.economics.segments.column)
    return fields


def request_schema(core: DecisionCore) -> RequestSchema:
    """What a request to ``core`` may carry."""
    categorical = [s.name for s in core.bundle.encoder.specs if s.kind == "categorical"]
    fields = request_fields(core.served, core.reader)
    return RequestSchema.of(core.features, fields, categorical)


class ServiceState:
    """The current core of a service, loaded from a fixed bundle or a release pointer."""

    def __init__(
        self,
        reader: FeatureReader,
        *,
        fixed: Callable[[], Served] | None = None,
        release_root: Path | None = None,
        alias: str = "current",
        threads: int = 1,
        on_store_error: Callable[[Exception], None] | None = None,
        budget_ms: float | None = None,
    ) -> None:
        if (fixed is None) == (release_root is None):
            raise ValueError("serve either a fixed bundle or a release root")
        self.reader = reader
        self.fixed = fixed
        self.release_root = release_root
        self.alias = alias
        self.threads = threads
        self.on_store_error = on_store_error
        self.budget_ms = budget_ms
        self.loaded: Loaded | None = None
        self.release: str | None = None
        self.problem: str | None = None
        """Why the service is not ready, or why the last reload failed."""
        self.reloads = 0
        self.reload_failures = 0
        self.challenger: str | None = None
        self.traffic = Traffic()
        self._lock = threading.Lock()

    def _core(self, served: Served, *, live: bool = True) -> DecisionCore:
        return DecisionCore(
            served,
            self.reader,
            on_store_error=self.on_store_error,
            budget_ms=self.budget_ms,
            record_contacts=live,
        )

    def _load(self, served: Served) -> Loaded:
        core = self._core(served)
        return Loaded(core, request_schema(core))

    def _challenger(self, root: Path, release: str | None, traffic: Traffic) -> Challenger | None:
        if release is None or traffic.mode == "off":
            return None
        served = load_release(root, release, threads=self.threads)
        return Challenger(release, self._core(served), self._core(served, live=False), traffic)

    def start(self) -> None:
        """Load what is served (a failure leaves the service not ready, with the reason)."""
        if self.fixed is None:
            self.reload()
            return
        try:
            self.loaded = self._load(self.fixed())
        except (UpliftError, OSError) as exc:
            self.problem = str(exc).splitlines()[0]
            log.error("model not loaded: %s", self.problem)

    def reload(self) -> bool:
        """Load the release the pointer names if it changed; True when a new one is served."""
        if self.release_root is None:
            return False
        root = self.release_root
        with self._lock:
            try:
                release = read_pointer(root, self.alias)
                challenger, traffic = _challenger_release(root, self.alias, release), Traffic()
                if challenger is not None:
                    traffic = read_traffic(root)
                same = release == self.release and self.loaded is not None
                if same and (challenger, traffic) == (self.challenger, self.traffic):
                    return False
                loaded = (
                    self.loaded
                    if same and self.loaded is not None
                    else self._load(load_release(root, release, threads=self.threads))
                )
                loaded = replace(loaded, challenger=self._challenger(root, challenger, traffic))
            except (UpliftError, OSError) as exc:
                message = str(exc).splitlines()[0]
                if message != self.problem:
                    log.error("release not loaded: %s", message)
                self.problem = message
                self.reload_failures += 1
                return False
            self.loaded, self.release, self.problem = loaded, release, None
            self.challenger, self.traffic = challenger, traffic
            self.reloads += 1
            log.info("serving release %s (model %s); challenger %s, %s", release,
                     loaded.core.served.model_version, challenger, traffic.mode)  # fmt: skip
            return True

    @property
    def ready(self) -> bool:
        """A model is loaded."""
        return self.loaded is not None


def _challenger_release(root: Path, alias: str, release: str) -> str | None:
    """The challenger's release, when there is one and it is not the release followed."""
    if alias == CHALLENGER:
        return None
    try:
        challenger = read_pointer(root, CHALLENGER)
    except BundleError:
        return None
    return None if challenger == release else challenger
