"""A simulated bank in a lake: raw data and truth, then every campaign's table, in one commit.

Invariant: readers of the lake see its previous generation until the simulation *and* its
campaign tables are written, then the new one whole (see :mod:`uplift_engine.lake.generations`):
never the raw data of one seed beside the campaign table of another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uplift_engine.config.settings import Settings
from uplift_engine.features.offline.campaign_table import (
    CampaignTableSummary,
    build_campaign_tables,
)
from uplift_engine.lake import check_folder_target, resolve, writing
from uplift_engine.simulate import SimulationConfig, SimulationSummary, simulate_bank


@dataclass(frozen=True)
class SimulatedLake:
    """Where the lake is, what the simulation wrote, and the campaign tables built from it."""

    lake: str
    simulation: SimulationSummary
    campaign_tables: list[CampaignTableSummary]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "lake": self.lake,
            "simulation": dict(self.simulation.to_dict()),
            "campaign_tables": [t.to_dict() for t in self.campaign_tables],
        }


def simulate_lake(
    config: SimulationConfig,
    out: str,
    settings: Settings,
    *,
    chunk_size: int = 100_000,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> SimulatedLake:
    """Simulate ``config``'s bank into the lake at ``out`` and build its campaign tables.

    ``progress(done, total)`` follows the customers simulated; ``say`` the steps.
    """
    check_folder_target(resolve(out, settings))
    with writing(out, settings, command="uplift simulate") as generation:
        result = simulate_bank(
            config,
            out,
            settings,
            chunk_size=chunk_size,
            workers=workers,
            progress=progress,
            generation=generation,
        )
        if say is not None:
            say("validating the lake and building the campaign tables")
        built = build_campaign_tables(
            out,
            [c.campaign_id for c in config.campaigns],
            settings,
            threads=settings.threads,
            generation=generation,
        )
    return SimulatedLake(out, result, built)
