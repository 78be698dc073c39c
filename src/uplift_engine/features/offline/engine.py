"""The offline engine interface: what a campaign-table build asks of an engine.

Invariant: a build validates every raw dataset exactly once — the small ones (customers,
campaigns, assignments, outcomes) in DuckDB, the event datasets the features read by the
engine — and assembles, orders and writes the table in DuckDB whatever the engine. So two
engines differ only in where events are validated and aggregated; quarantine, schema, row
order and manifest are the same code. An engine is one of two real implementations:
:class:`~uplift_engine.features.offline.duckdb_engine.DuckDBEngine` (in process, the default) and
:class:`~uplift_engine.features.spark.SparkEngine` (the heavy tier).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from uplift_engine.features.definitions import FeatureSpec
from uplift_engine.features.offline.source_checks import source_check
from uplift_engine.lake.quality import Check

if TYPE_CHECKING:
    import duckdb

    from uplift_engine.lake.validate import LakeValidator


class OfflineEngine(Protocol):
    """Validates the event datasets and computes point-in-time features for a build."""

    name: str

    def prepare(self, validator: LakeValidator, datasets: Sequence[str]) -> dict[str, int]:
        """Validate the named event datasets (quarantine written); rows quarantined per name."""
        ...

    def features(
        self,
        con: duckdb.DuckDBPyConnection,
        specs: tuple[FeatureSpec, ...],
        entities: str,
        sources: Mapping[str, str],
        *,
        carry: tuple[str, ...],
        bounds: tuple[int, int] | None,
    ) -> str:
        """The features as a relation readable in ``con`` (a name or a parenthesised query).

        Its columns: ``customer_id``, ``as_of``, the ``carry`` columns of ``entities`` and one
        per spec, one row per row of ``entities``. ``sources`` maps each spec's source name to
        the name of its dataset's check.
        """
        ...


def source_checks(specs: Iterable[FeatureSpec]) -> dict[str, Check]:
    """Each spec source's name → the validation of its raw dataset.

    The lake's own events keep ``CHECKS["events"]``; any other declared source gets the rules
    derived from its declaration
    (:func:`~uplift_engine.features.offline.source_checks.source_check`).
    """
    return {spec.source.name: source_check(spec.source) for spec in specs}
