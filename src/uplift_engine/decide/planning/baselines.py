"""What traditional targeting would do with the same budget: top-K by uplift or by propensity.

Invariant: a baseline sees exactly the optimiser's options (same guardrails, same holdout) and
respects the same per-offer caps; it gives each customer the allowed offer with the highest
score, ranks customers by that score (ties by position) and takes them in order while the
expected cost still fits the budget (it stops at the first customer that does not fit, as a
top-K list does; a customer whose offer is at its cap is skipped). Segment shares are not
applied: ranking has no notion of them. Only the head of the ranking that the budget can reach
is sorted, so a small budget over a large population stays cheap.
"""

from __future__ import annotations

import numpy as np

from uplift_engine.decide.solver.problem import NONE, Problem


def _best(problem: Problem, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = problem.n_customers
    best = np.full(n, -np.inf)
    offer = np.full(n, NONE, dtype=np.int16)
    for k in range(score.shape[0]):
        better = problem.allowed[k] & (score[k] > best)
        np.copyto(best, score[k], where=better)
        offer[better] = k
    return best, offer


def top_k(problem: Problem, score: np.ndarray) -> np.ndarray:
    """The choice vector (``-1`` = none) of top-K targeting by ``score`` (``(K, n)``)."""
    best, offer = _best(problem, score)
    pool = np.flatnonzero(offer >= 0)
    choice = np.full(problem.n_customers, NONE, dtype=np.int16)
    head = _first_head(problem, pool, offer)
    while head:
        part = pool[np.argpartition(-best[pool], head - 1)[:head]] if head < pool.size else pool
        ranked = part[np.lexsort((part, -best[part]))]
        take, stopped = _take(problem, ranked, offer[ranked])
        if stopped or head == pool.size:
            choice[ranked[take]] = offer[ranked[take]]
            break
        head = min(pool.size, head * 8)
    return choice


def _first_head(problem: Problem, pool: np.ndarray, offer: np.ndarray) -> int:
    """How many of the ranking's head the budget may reach, from a sample's mean cost."""
    if pool.size == 0:
        return 0
    sample = pool[:: max(1, pool.size // 10_000)]
    mean_cost = float(problem.cost[offer[sample], sample].mean())
    guess = 1.5 * problem.budget / mean_cost if mean_cost > 0 else np.inf
    return int(min(pool.size, max(4096, guess if np.isfinite(guess) else pool.size)))


def _take(problem: Problem, ranked: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, bool]:
    """Who is taken from a ranked head, and whether the budget stopped the list inside it."""
    cost = problem.cost[k, ranked]
    ok = np.ones(ranked.size, dtype=bool)
    caps = zip(problem.caps("max_customers"), problem.caps("max_budget"), strict=True)
    for j, (most, spend) in enumerate(caps):
        mine = k == j
        if np.isfinite(most):
            ok &= ~mine | (np.cumsum(mine) <= most)
        if np.isfinite(spend):
            ok &= ~mine | (np.cumsum(np.where(mine, cost, 0.0)) <= spend)
    fits = np.cumsum(np.where(ok, cost, 0.0)) <= problem.budget
    return ok & fits, bool((ok & ~fits).any())
