"""Feature values from the lake as of given times: the offline side of the online store.

Invariant: values come from the one offline engine —
:func:`~uplift_engine.features.offline.duckdb_engine.feature_query` over validated rows, half-open
windows ``[t − w, t)`` in UTC — for specs of any tier and any declared source, with exactly
one row per entity row. A source's rows are validated by the lake's rules (``raw/events``: the
lake's own check; any other declared source: the rules
:mod:`~uplift_engine.features.offline.source_checks` derives from its declaration). Nothing is
written to the lake here: the quarantine is the campaign-table build's to write, and the
counts are reported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from uplift_engine.config.settings import Settings
from uplift_engine.features.definitions import EventSource, FeatureSpec
from uplift_engine.features.offline.duckdb_engine import AS_OF, as_of_bounds, feature_query
from uplift_engine.features.offline.source_checks import check_name, source_check
from uplift_engine.lake.datasets import arrow_reader
from uplift_engine.lake.quality import CHECKS
from uplift_engine.lake.sessions import duckdb_session
from uplift_engine.lake.validate import LakeValidator

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

KEY = "customer_id"


class LakeFeatures:
    """A DuckDB session over a lake that computes declared features as of given times."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        lake_uri: str,
        sources: Sequence[EventSource],
        settings: Settings | None = None,
    ) -> None:
        self.con = con
        self.lake_uri = lake_uri.rstrip("/")
        checks = dict(CHECKS)
        checks.update({check_name(s): source_check(s) for s in sources})
        self.validator = LakeValidator(con, self.lake_uri, settings, checks)
        self.quarantined: dict[str, int] = {}

    def customers(self) -> str:
        """The relation of valid customers (validated once)."""
        return self._valid("customers")

    def relation(self, source: EventSource) -> str:
        """The relation of a source's valid rows (validated once)."""
        return self._valid(check_name(source))

    def latest_event_us(self, sources: Sequence[EventSource]) -> int | None:
        """The time (epoch µs) of the latest valid event of ``sources``, or None without any."""
        latest = None
        for source in sources:
            found = self.con.execute(
                f'SELECT epoch_us(max("{source.timestamp}")) FROM {self.relation(source)}'
            ).fetchall()[0][0]
            if found is not None:
                latest = int(found) if latest is None else max(latest, int(found))
        return latest

    def query(self, specs: Sequence[FeatureSpec], entities: str) -> str:
        """SQL: ``customer_id``, ``as_of`` and every spec, one row per row of ``entities``."""
        groups: dict[EventSource, list[FeatureSpec]] = {}
        for spec in specs:
            groups.setdefault(spec.source, []).append(spec)
        bounds = as_of_bounds(self.con, entities)
        parts = [
            feature_query(group, entities, {s.name: self.relation(s)}, key=KEY, bounds=bounds)
            for s, group in groups.items()
        ]
        owner = {spec.name: index for index, group in enumerate(groups.values()) for spec in group}
        columns = [f'q0."{KEY}"', f'q0."{AS_OF}"'] + [f'q{owner[s.name]}."{s.name}"' for s in specs]
        joins = " ".join(
            f'JOIN ({sql}) q{i} ON q{i}."{KEY}" = q0."{KEY}" AND q{i}."{AS_OF}" = q0."{AS_OF}"'
            for i, sql in enumerate(parts[1:], start=1)
        )
        return f"SELECT {', '.join(columns)} FROM ({parts[0]}) q0 {joins}"

    def batches(
        self, specs: Sequence[FeatureSpec], entities: str, rows: int = 50_000
    ) -> pa.RecordBatchReader:
        """The values of :meth:`query` as Arrow batches of about ``rows`` rows."""
        return arrow_reader(self.con.sql(self.query(specs, entities)), rows)

    def _valid(self, name: str) -> str:
        result = self.validator.validate(name, write_quarantine=False)
        self.quarantined[name] = result.quarantined
        return result.relation


@contextlib.contextmanager
def lake_features(
    lake_uri: str,
    sources: Sequence[EventSource],
    settings: Settings | None = None,
    *,
    threads: int = 2,
    memory_limit: str = "2GB",
) -> Iterator[LakeFeatures]:
    """A :class:`LakeFeatures` over an in-process DuckDB session, closed on exit."""
    with duckdb_session(threads, memory_limit) as con:
        yield LakeFeatures(con, lake_uri, sources, settings)
