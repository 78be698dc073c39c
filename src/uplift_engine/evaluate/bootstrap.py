"""Seeded, vectorised bootstrap: resample counts in chunks, percentile intervals.

Invariants: a resample is a vector of counts over the rows (a multinomial draw of n rows with
replacement, made as ``bincount`` of n uniform row indices), so a statistic sees *weights* and
never copies the data; statistics that sort (the curves) sort once and reuse the order for
every resample. Resamples are drawn in chunks of at most ``max_cells`` counts, and the same seed
gives the same resamples whatever the chunk size. Intervals are percentile intervals
(``level`` = 0.95 → the 2.5% and 97.5% quantiles of the resampled values); resamples where the
statistic is undefined (NaN) are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import numpy as np

from uplift_engine.errors import UserInputError

MAX_CELLS = 2_000_000  # counts per chunk: 2M float64 = 16 MB for each array a statistic makes

Statistic = Callable[[np.ndarray], np.ndarray]


def resample_counts(
    n_rows: int, n_boot: int, *, seed: int = 0, max_cells: int = MAX_CELLS
) -> Iterator[np.ndarray]:
    """Yield ``(b, n_rows)`` float arrays of bootstrap counts, ``n_boot`` rows in total."""
    if n_rows < 1:
        raise UserInputError(f"cannot resample {n_rows} rows; expected at least 1", field="y")
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, max_cells // n_rows))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        draws = rng.integers(0, n_rows, size=(b, n_rows))
        draws += np.arange(b)[:, None] * n_rows
        counts = np.bincount(draws.ravel(), minlength=b * n_rows)
        yield counts.reshape(b, n_rows).astype(np.float64)


def bootstrap_replicates(
    statistic: Statistic,
    n_rows: int,
    *,
    n_boot: int = 200,
    seed: int = 0,
    max_cells: int = MAX_CELLS,
    threads: int = 1,
) -> np.ndarray:
    """Values of ``statistic`` on ``n_boot`` resamples: ``(n_boot,)`` or ``(n_boot, m)``.

    ``statistic`` takes a ``(b, n_rows)`` array of resample counts (row weights) and returns
    ``(b,)`` or ``(b, m)`` values, one row per resample. With ``threads`` > 1, chunks are
    evaluated in parallel (NumPy releases the GIL), ``threads`` chunks in memory at a time;
    ``statistic`` must then be safe to call from several threads. Results do not depend on
    ``threads``.
    """
    if n_boot < 1:
        raise UserInputError(f"n_boot must be at least 1; received {n_boot}", field="n_boot")
    if threads < 1:
        raise UserInputError(f"threads must be at least 1; received {threads}", field="threads")
    chunks = resample_counts(n_rows, n_boot, seed=seed, max_cells=max_cells)
    parts: list[np.ndarray] = []
    if threads == 1:
        parts = [np.asarray(statistic(counts), np.float64) for counts in chunks]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            while wave := list(islice(chunks, threads)):
                parts.extend(np.asarray(v, np.float64) for v in pool.map(statistic, wave))
    return np.concatenate(parts, axis=0)


def percentile_interval(
    replicates: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column of ``replicates``, NaN resamples left out.

    Returns ``(low, high)`` arrays of shape ``replicates.shape[1:]``; NaN where no resample
    gave a value.
    """
    if not 0 < level < 1:
        raise UserInputError(f"level must be in (0, 1); received {level}", field="level")
    values = np.asarray(replicates, np.float64)
    flat = values.reshape(values.shape[0], -1)
    low = np.full(flat.shape[1], np.nan)
    high = np.full(flat.shape[1], np.nan)
    tail = (1 - level) / 2
    for j in range(flat.shape[1]):
        column = flat[:, j]
        column = column[np.isfinite(column)]
        if column.size:
            low[j], high[j] = np.quantile(column, (tail, 1 - tail))
    return low.reshape(values.shape[1:]), high.reshape(values.shape[1:])


def bootstrap_interval(
    statistic: Statistic,
    n_rows: int,
    *,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
    max_cells: int = MAX_CELLS,
    threads: int = 1,
) -> tuple[np.ndarray, np.ndarray] | tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``n_rows`` rows.

    ``statistic(counts)`` gets a ``(b, n_rows)`` array of resample counts and returns ``(b,)``
    (→ a ``(low, high)`` pair of floats) or ``(b, m)`` values (→ two arrays of length m).
    Example, the mean of ``y``: ``bootstrap_interval(lambda w: w @ y / w.sum(1), len(y))``.
    """
    reps = bootstrap_replicates(
        statistic, n_rows, n_boot=n_boot, seed=seed, max_cells=max_cells, threads=threads
    )
    low, high = percentile_interval(reps, level)
    if reps.ndim == 1:
        return float(low), float(high)
    return low, high
