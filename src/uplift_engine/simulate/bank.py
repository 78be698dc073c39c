"""Run the simulation: blocks of customers, made and written one at a time by each worker.

Determinism: the output is a function of the config alone. Customers are split into fixed
blocks of ``config.block_size``; block ``b`` draws from its own streams (:mod:`.streams`) and
is written as part file ``b`` of every per-customer dataset, so neither ``chunk_size`` (how many
blocks a worker takes per task) nor ``workers`` changes a byte. Memory: a worker holds one block
at a time. Atomicity: the datasets this writes (raw customers, events, campaigns, assignments,
outcomes and the truth) are replaced whole as one generation of the lake (see
:mod:`uplift_engine.lake.generations`): readers see the old lake until every block is written,
then the new one; other datasets in the lake are left alone. Workers die with the process that
started them, even when it is killed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import pyarrow as pa

from uplift_engine.config.settings import Settings
from uplift_engine.errors import UpliftError, UserInputError
from uplift_engine.lake import layout, resolve
from uplift_engine.lake.generations import Generation, tagged_name, writing
from uplift_engine.simulate.campaign import campaigns_table, run_campaign, truth_schema
from uplift_engine.simulate.config import SimulationConfig
from uplift_engine.simulate.events import draw_events
from uplift_engine.simulate.parts import write_part
from uplift_engine.simulate.population import customers_table, draw_population
from uplift_engine.simulate.response import Calibration, calibrate
from uplift_engine.simulate.summary import BlockStats, SimulationSummary, summarise_campaign
from uplift_engine.simulate.workers import worker_pool

DATASETS = (
    layout.CUSTOMERS,
    layout.EVENTS,
    layout.CAMPAIGNS,
    layout.ASSIGNMENTS,
    layout.OUTCOMES,
    layout.TRUTH,
)
"""The datasets the simulator writes (and replaces), relative to the lake root."""


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs, small enough to send to another process."""

    config: SimulationConfig
    calibration: dict[str, Calibration]
    targets: dict[str, str]  # dataset -> folder URI
    tag: str  # the lake generation the parts belong to
    settings: Settings | None


def simulate_bank(
    config: SimulationConfig,
    lake_uri: str,
    settings: Settings | None = None,
    *,
    chunk_size: int | None = None,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    generation: Generation | None = None,
) -> SimulationSummary:
    """Simulate the bank of ``config`` and write its raw datasets and truth into the lake.

    ``chunk_size`` customers (rounded up to whole blocks; default one block) go to a worker at
    a time; ``workers`` processes work in parallel (1 = in this process). Neither changes the
    output. ``progress(done, total)`` is called with customer counts as blocks finish. The
    datasets commit with ``generation`` (an enclosing command's), or on their own.
    """
    if workers < 1:
        raise UserInputError(f"workers must be at least 1, got {workers}")
    if chunk_size is not None and chunk_size < 1:
        raise UserInputError(f"chunk_size must be at least 1 customer, got {chunk_size}")
    started = time.perf_counter()
    root = resolve(lake_uri, settings)
    per_task = max(1, -(-(chunk_size or config.block_size) // config.block_size))
    tasks = [
        list(range(first, min(first + per_task, config.blocks)))
        for first in range(0, config.blocks, per_task)
    ]
    calibration = calibrate(config)

    with writing(root, settings, command="simulate", within=generation) as gen:
        folders = {name: gen.folder(name) for name in DATASETS}
        write_part(
            campaigns_table(config),
            folders[layout.CAMPAIGNS].child(gen.name(layout.part_name(0))).uri,
            settings,
        )
        job = _Job(config, calibration, {k: v.uri for k, v in folders.items()}, gen.tag, settings)
        stats: list[BlockStats] = []
        done = 0
        for task_stats in _run(job, tasks, workers):
            stats.extend(task_stats)
            done += sum(s.rows[layout.CUSTOMERS] for s in task_stats)
            if progress is not None:
                progress(done, config.customers)

    stats.sort(key=lambda s: s.block)
    rows = {name: sum(s.rows.get(name, 0) for s in stats) for name in DATASETS}
    rows[layout.CAMPAIGNS] = sum(len(c.arms) for c in config.campaigns)
    campaigns = []
    for campaign in config.campaigns:
        total = stats[0].campaigns[campaign.campaign_id]
        for s in stats[1:]:
            total.add(s.campaigns[campaign.campaign_id])
        campaigns.append(summarise_campaign(campaign, total))
    return SimulationSummary(
        customers=config.customers,
        blocks=config.blocks,
        seed=config.seed,
        seconds=round(time.perf_counter() - started, 3),
        rows=rows,
        paths={name: root.child(name).uri for name in DATASETS},
        campaigns=campaigns,
    )


def _run(job: _Job, tasks: list[list[int]], workers: int) -> Iterator[list[BlockStats]]:
    processes = min(workers, len(tasks))
    if processes <= 1:
        for task in tasks:
            yield _run_task(job, task)
        return
    # A worker that dies (e.g. killed for memory) breaks the pool and raises instead of hanging
    # the run; a killed run takes its workers with it.
    pool = worker_pool(processes)
    try:
        futures = [pool.submit(_run_task, job, task) for task in tasks]
        for future in as_completed(futures):
            yield future.result()
    except BrokenProcessPool as exc:
        raise UpliftError(
            "a simulation worker died (out of memory, or a script without an "
            "`if __name__ == '__main__':` guard); try fewer workers or a smaller block_size"
        ) from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_task(job: _Job, blocks: list[int]) -> list[BlockStats]:
    return [_run_block(job, block) for block in blocks]


def _run_block(job: _Job, block: int) -> BlockStats:
    """Make and write every dataset of one block; return its counts and sums."""
    config, name = job.config, tagged_name(layout.part_name(block), job.tag)
    regions = list(config.region_shares)
    rows: dict[str, int] = {}

    def write(dataset: str, table: pa.Table) -> None:
        write_part(table, f"{job.targets[dataset].rstrip('/')}/{name}", job.settings)
        rows[dataset] = table.num_rows

    population = draw_population(config, block)
    write(layout.CUSTOMERS, customers_table(population, regions))
    write(layout.EVENTS, draw_events(config, block, population))

    schema = truth_schema(config)
    parts: dict[str, list[pa.Table]] = {
        layout.ASSIGNMENTS: [],
        layout.OUTCOMES: [],
        layout.TRUTH: [],
    }
    campaign_stats = {}
    for campaign in config.campaigns:
        assignments, outcomes, truth, stats = run_campaign(
            config, block, campaign, job.calibration[campaign.campaign_id], population, schema
        )
        parts[layout.ASSIGNMENTS].append(assignments)
        parts[layout.OUTCOMES].append(outcomes)
        parts[layout.TRUTH].append(truth)
        campaign_stats[campaign.campaign_id] = stats
    for dataset, tables in parts.items():
        write(dataset, pa.concat_tables(tables))
    return BlockStats(block=block, rows=rows, campaigns=campaign_stats)
