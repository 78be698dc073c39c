"""A lake that grows day by day, as a bank's does: campaigns' partitions land in its raw folders.

:func:`source` simulates a bank with three randomised campaigns (strong effects, so that a
model's quality shows on a few thousand customers); :func:`land` drops one campaign's rows of
``raw/campaigns``, ``raw/campaign_assignments`` and ``raw/campaign_outcomes`` into the pipeline's
lake as new untagged part files — what a Firehose delivery or a hand-dropped file is — and the
customers and events on the first day.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from uplift_engine.config.settings import Settings
from uplift_engine.features.offline import simulate_lake
from uplift_engine.lake import layout, read_table
from uplift_engine.simulate import SimulationConfig

CAMPAIGNS = ("c1", "c2", "c3")
ECONOMICS = {
    "control": "control",
    "offers": {
        "cashback": {"contact_cost": 0.5, "redemption_cost": 10.0},
        "fee_waiver": {"contact_cost": 0.3, "redemption_cost": 4.0},
        "bonus_points": {"contact_cost": 0.2, "redemption_cost": 2.0},
    },
}
STATIC = [f.name for f in layout.CUSTOMERS_SCHEMA if f.name != "customer_id"]


def source(folder: Path, customers: int, campaigns: tuple[str, ...] = CAMPAIGNS) -> Path:
    """A simulated bank's lake with ``campaigns``, every customer in each."""
    spec = {"effect_threshold": 0.08, "sure_thing_threshold": 0.15,
            "type_shares": {"persuadable": 0.35, "sure_thing": 0.1, "lost_cause": 0.4,
                            "sleeping_dog": 0.15}}  # fmt: skip
    config = SimulationConfig(
        customers=customers, seed=7, campaigns=[{"campaign_id": c, **spec} for c in campaigns]
    )
    simulate_lake(config, str(folder), Settings())
    return folder


def _write(lake: Path, dataset: str, table: pa.Table, name: str) -> None:
    where = lake / dataset
    where.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, where / f".{name}.tmp")
    (where / f".{name}.tmp").rename(where / f"part-{name}.parquet")  # lands whole


def land(
    src: Path,
    lake: Path,
    campaign: str,
    *,
    first: bool = False,
    change: Callable[[str, pa.Table], pa.Table] | None = None,
) -> None:
    """Land ``campaign``'s partitions from ``src`` into ``lake`` (and customers and events).

    ``change(dataset, table)`` edits a partition before it lands (plant drift, bad rows).
    """
    datasets = [layout.CAMPAIGNS, layout.ASSIGNMENTS, layout.OUTCOMES]
    if first:
        datasets = [layout.CUSTOMERS, layout.EVENTS, *datasets]
    for dataset in datasets:
        table = read_table(str(src / dataset))
        if "campaign_id" in table.column_names:
            table = table.filter(pc.equal(table.column("campaign_id"), campaign))
        if change is not None:
            table = change(dataset, table)
        _write(lake, dataset, table, campaign)


def config(lake: Path, releases: Path, **overrides: object) -> dict[str, object]:
    """A pipeline config for the lake (a T-learner: quick and deterministic)."""
    return {
        "lake": str(lake), "releases": str(releases), "economics": ECONOMICS, "value": 40.0,
        "budget_per_customer": 0.5, "learner": "t_learner", **overrides,
    }  # fmt: skip


def only(keep: list[str], table_columns: list[str]) -> list[str]:
    """The ``exclude`` list that leaves a candidate only the columns ``keep``."""
    roles = {"customer_id", "arm", "converted", "revenue"}
    return [c for c in table_columns if c not in roles and c not in keep]
