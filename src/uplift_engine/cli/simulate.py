"""``uplift simulate``: a synthetic bank in a lake, then its campaign table(s)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from uplift_engine.cli.console import bar_and_steps, print_json
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings


@user_errors
def simulate(
    customers: Annotated[int, typer.Option(help="Number of customers to simulate.")],
    out: Annotated[str, typer.Option(help="Lake folder (or s3:// URI) to write into.")],
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same bytes.")] = 42,
    history_days: Annotated[
        int | None, typer.Option(help="Days of event history (default 30).")
    ] = None,
    sim_config: Annotated[
        str | None,
        typer.Option("--sim-config", help="Simulation config (YAML/JSON): campaigns, shares…"),
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(help="Customers held in memory at once per worker.")
    ] = 100_000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Simulate a digital bank (customers, events, randomised campaigns, ground truth).

    Then build each campaign's table (features as of assignment, arm, outcomes) in the lake.
    """
    summary = run_simulation(
        customers=customers,
        out=out,
        seed=seed,
        history_days=history_days,
        sim_config=sim_config,
        chunk_size=chunk_size,
        workers=workers,
        config=config,
        quiet=json,
    )
    if json:
        print_json(summary)
        return
    print(describe_simulation(summary))


def run_simulation(
    *,
    customers: int,
    out: str,
    seed: int = 42,
    history_days: int | None = None,
    sim_config: str | None = None,
    chunk_size: int = 100_000,
    workers: int = 2,
    config: str | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Parse the options, simulate with progress on the terminal; a JSON-ready summary."""
    from uplift_engine.features.offline import simulate_lake
    from uplift_engine.simulate import SimulationConfig, load_simulation_config

    settings = load_settings(config)
    overrides: dict[str, Any] = {"customers": customers, "seed": seed}
    if history_days is not None:
        overrides["history_days"] = history_days
    if sim_config:
        sim = load_simulation_config(sim_config, **overrides)
    else:
        sim = SimulationConfig(**overrides)
    with bar_and_steps("simulating customer blocks", enabled=not quiet) as (progress, say):
        lake = simulate_lake(
            sim, out, settings, chunk_size=chunk_size, workers=workers, progress=progress, say=say
        )
    return lake.to_dict()


def describe_simulation(summary: dict[str, Any]) -> str:
    """A few lines for a person."""
    sim = summary["simulation"]
    lines = [f"Simulated bank written to {summary['lake']}"]
    for key, value in sim.items():
        if isinstance(value, int | float | str):
            lines.append(f"  {key}: {value:,}" if isinstance(value, int) else f"  {key}: {value}")
    for table in summary["campaign_tables"]:
        lines.append(
            f"Campaign table {table.get('campaign_id')}: {table.get('rows', 0):,} rows → "
            f"{table.get('path')}"
        )
    return "\n".join(lines)
