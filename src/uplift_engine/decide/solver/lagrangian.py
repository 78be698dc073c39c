"""Large allocations by prices: the LP relaxation, certified by screening, sample to everyone.

Invariant: with prices ``λ ≥ 0`` on the coupling rows, every customer takes the option of
highest reduced value ``profit − λ·a`` (none = 0), and ``L(λ) = λ·rhs + Σ_i max(0, best_i)`` is
an upper bound on any allocation (weak duality). The method finds the LP relaxation's prices:

1. solve the LP exactly (HiGHS) on a random sample of customers, right-hand sides scaled down;
2. on a sample ``GROWTH`` times larger (and finally on everyone), *screen*: for prices anywhere
   in a box around the current λ most customers' best option cannot change — fix them, and
   solve the LP only over the few *marginal* customers (and only their options that can win in
   the box), with what the fixed customers leave of each row and the prices kept in the box;
3. if the box does not bind, those prices and that solution are optimal for the whole LP (the
   fixed customers satisfy complementary slackness); if it binds, the dual value fell as far as
   the box allows: re-centre there, widen the sides that bound, repeat (a trust region).

The LP vertex has at most ``m`` (number of rows) fractional customers; they are rounded down,
rows are repaired if rounding broke a share, and freed room is refilled greedily. The bound is
``L(λ)`` over the whole population, so the stated gap holds whatever happened on the way.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from uplift_engine.decide.solver.milp import HighsResult, solve_highs
from uplift_engine.decide.solver.problem import NONE, Problem, Rows, Solution, build_rows, tallies

FIRST_SAMPLE = 20_000  # customers in the first, exact LP
GROWTH = 8  # each screening level is this much larger than the last
DIRECT_LP = 40_000  # populations up to this size get one LP over everyone
MAX_MARGINAL = 60_000  # the largest LP a screening step may hand to HiGHS
MAX_ATTEMPTS = 8  # trust-region rounds per level
RELAX_TOL = 1e-7  # room bought or sold at the box's edges below this counts as none
FEAS_TOL = 1e-9
REFILL = 1_000  # untreated customers next in line that the refill step tries


@dataclass
class Active:
    """The active customers' arrays: masked profit (−inf where not allowed), cost, segments."""

    profit: np.ndarray
    cost: np.ndarray
    groups: np.ndarray  # segment codes (zeros without segments)
    segmented: bool
    rows: Rows

    def subset(self, idx: np.ndarray) -> Active:
        """The same arrays for some customers only."""
        return Active(
            self.profit[:, idx], self.cost[:, idx], self.groups[idx], self.segmented, self.rows
        )

    def per_customer(self, table: np.ndarray, k: int) -> np.ndarray | float:
        """Entry ``table[k, g_i]`` of a ``(K, G)`` table for every customer (a scalar if G=1)."""
        return table[k][self.groups] if self.segmented else float(table[k, 0])

    def activity(self, choice: np.ndarray) -> np.ndarray:
        """Row activity of a choice vector."""
        counts, costs = tallies(
            choice, self.cost, self.groups, self.profit.shape[0], self.rows.U.shape[2]
        )
        return self.rows.activity(counts, costs)

    def coef(self, j: int, k: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Coefficient of row ``j`` for customers ``idx`` taking offers ``k``."""
        g = self.groups[idx]
        return self.rows.U[j][k, g] * self.cost[k, idx] + self.rows.V[j][k, g]


def best_options(
    data: Active, lam: np.ndarray, floor: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's best reduced value and its offer (``-1`` = none, worth ``floor``)."""
    alpha, beta = data.rows.prices_to_tables(lam)
    n = data.profit.shape[1]
    best = np.full(n, floor)
    best_k = np.full(n, NONE, dtype=np.int16)
    r = np.empty(n)
    for k in range(data.profit.shape[0]):
        np.multiply(data.cost[k], data.per_customer(alpha, k), out=r)
        np.subtract(data.profit[k], r, out=r)
        r -= data.per_customer(beta, k)
        up = r > best
        np.copyto(best, r, where=up)
        best_k[up] = k
    return best, best_k


def dual_bound(data: Active, lam: np.ndarray, rhs: np.ndarray) -> float:
    """``L(λ)``: an upper bound on the profit of any feasible allocation."""
    best, _ = best_options(data, lam)
    return float(lam @ rhs + best.sum())


def screen(
    data: Active, center: np.ndarray, delta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best option of each customer in the box around ``center``, and whether it is sure.

    The reduced value of option k moves by at most ``w = Σ_j δ_j |a_jk|`` in the box; a
    customer is fixed when the lower end of its best option beats the upper end of every other
    (none counts as an option of value 0). Also returns that best lower end.
    """
    alpha, beta = data.rows.prices_to_tables(center)
    walpha, wbeta = _widths(data.rows, delta)
    n = data.profit.shape[1]
    best_lo = np.zeros(n)
    best_k = np.full(n, NONE, dtype=np.int16)
    hi1 = np.zeros(n)
    hi1_k = np.full(n, NONE, dtype=np.int16)
    hi2 = np.full(n, -np.inf)
    r = np.empty(n)
    w = np.empty(n)
    for k in range(data.profit.shape[0]):
        np.multiply(data.cost[k], data.per_customer(alpha, k), out=r)
        np.subtract(data.profit[k], r, out=r)
        r -= data.per_customer(beta, k)
        np.multiply(data.cost[k], data.per_customer(walpha, k), out=w)
        w += data.per_customer(wbeta, k)
        r -= w  # the lower end
        up = r > best_lo
        np.copyto(best_lo, r, where=up)
        best_k[up] = k
        r += w
        r += w  # the upper end
        up = r > hi1
        np.maximum(hi2, r, out=hi2)
        np.copyto(hi2, hi1, where=up)
        np.copyto(hi1, r, where=up)
        hi1_k[up] = k
    rival = np.where(hi1_k == best_k, hi2, hi1)
    return best_k, best_lo > rival, best_lo


def _contenders(
    data: Active, center: np.ndarray, delta: np.ndarray, floor: np.ndarray
) -> np.ndarray:
    """Options whose upper end in the box reaches ``floor``, the customer's best lower end.

    The others can never be best in the box, so the marginal LP may leave them out.
    """
    alpha, beta = data.rows.prices_to_tables(center)
    walpha, wbeta = _widths(data.rows, delta)
    keep = np.zeros(data.profit.shape, dtype=bool)
    for k in range(data.profit.shape[0]):
        upper = (
            data.profit[k]
            - (data.per_customer(alpha, k) - data.per_customer(walpha, k)) * data.cost[k]
            - data.per_customer(beta, k)
            + data.per_customer(wbeta, k)
        )
        keep[k] = (upper >= floor) & (data.profit[k] > -np.inf)
    return keep


def _widths(rows: Rows, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if rows.m == 0:
        return np.zeros(rows.U.shape[1:]), np.zeros(rows.U.shape[1:])
    return np.tensordot(delta, np.abs(rows.U), axes=1), np.tensordot(delta, np.abs(rows.V), axes=1)


def prepare(problem: Problem) -> tuple[Active, np.ndarray]:
    """The arrays of the customers with at least one useful option, and their indices.

    An option is useful when allowed and, unless some row has a negative coefficient (segment
    shares), of positive profit: with rows ≥ 0 its reduced value can never beat "none".
    """
    rows = build_rows(problem)
    useful = problem.allowed
    if (rows.U >= 0).all() and (rows.V >= 0).all():
        useful = useful & (problem.profit > 0)
    active = np.flatnonzero(useful.any(axis=0))
    every = active.size == problem.n_customers
    profit = np.where(useful, problem.profit, -np.inf)
    data = Active(
        profit if every else profit[:, active],
        problem.cost if every else problem.cost[:, active],
        problem.group_codes() if every else problem.group_codes()[active],
        problem.groups is not None and problem.n_groups > 1,
        rows,
    )
    return data, active


def solve_lagrangian(problem: Problem, *, seed: int = 0, time_limit: float = 60.0) -> Solution:
    """Solve a problem of any size by certified screening (see the module docstring)."""
    started = time.perf_counter()
    data, active = prepare(problem)
    rows = data.rows
    n_all = problem.n_customers
    notes: list[str] = []
    if rows.m == 0:
        lam = np.zeros(0)
        choice = best_options(data, lam)[1]
        certified = True
    elif active.size <= DIRECT_LP:
        res = solve_highs(
            data.profit,
            data.cost,
            data.profit > -np.inf,
            data.groups,
            rows,
            rows.rhs,
            time_limit=time_limit,
            seed=seed,
        )
        lam = res.prices
        choice = np.full(active.size, NONE, dtype=np.int16)
        choice, fractional = _round(res, choice, np.arange(active.size))
        certified = res.status == "optimal"
        choice = finish(data, choice, fractional, lam=lam)
    else:
        choice, lam, certified, levels = _multilevel(data, seed=seed, time_limit=time_limit)
        notes.append("levels " + ", ".join(levels))
    bound = dual_bound(data, lam, rows.rhs) if rows.m else float(total_profit(data, choice))
    full = np.full(n_all, NONE, dtype=np.int16)
    full[active] = choice
    return Solution(
        choice=full,
        objective=float(total_profit(data, choice)),
        bound=bound,
        method="lagrangian",
        prices=dict(zip(rows.names, map(float, lam), strict=True)),
        seconds=time.perf_counter() - started,
        certified=certified,
        notes=tuple(notes),
    )


def _multilevel(
    data: Active, *, seed: int, time_limit: float
) -> tuple[np.ndarray, np.ndarray, bool, list[str]]:
    rng = np.random.default_rng(seed)
    n = data.profit.shape[1]
    rows = data.rows
    sizes = [FIRST_SAMPLE]
    while sizes[-1] * GROWTH < n / 2:
        sizes.append(sizes[-1] * GROWTH)
    first = _sample(rng, n, sizes[0])
    sub = data.subset(first)
    res = solve_highs(
        sub.profit,
        sub.cost,
        sub.profit > -np.inf,
        sub.groups,
        rows,
        rows.rhs * first.size / n,
        time_limit=time_limit,
        seed=seed,
    )
    lam = res.prices
    floor = _price_scale(sub) * 1e-4
    spread = 3.0 * lam / math.sqrt(first.size)  # how far the sample's prices may be off
    levels = [f"{first.size} exact"]
    certified = False
    choice = np.zeros(0, dtype=np.int16)
    for size in [*sizes[1:], n]:
        idx = None if size >= n else _sample(rng, n, size)
        level = data if idx is None else data.subset(idx)
        scale = 1.0 if idx is None else idx.size / n
        new, choice, certified, info = _certify(
            level,
            lam,
            np.maximum(spread, floor),
            rows.rhs * scale,
            seed,
            time_limit,
            need_choice=idx is None,
        )
        levels.append(f"{level.profit.shape[1]} {info}")
        # the change since the last level is mostly the last level's error, √GROWTH × this one's
        spread = np.maximum(2.0 * new / math.sqrt(level.profit.shape[1]), 0.7 * np.abs(new - lam))
        lam = new
    return choice, lam, certified, levels


def _certify(
    data: Active,
    center: np.ndarray,
    delta: np.ndarray,
    rhs: np.ndarray,
    seed: int,
    time_limit: float,
    *,
    need_choice: bool = True,
) -> tuple[np.ndarray, np.ndarray, bool, str]:
    """A trust region on the prices: screen a box, solve the marginal LP with prices kept in it.

    When the box does not bind, the LP's prices and solution are optimal for everyone; when it
    binds, the prices moved the dual value down as far as the box allows: re-centre there,
    widen the sides that bound, and repeat.
    """
    n = data.profit.shape[1]
    tol = RELAX_TOL * np.maximum(1.0, np.abs(rhs)).max()
    last = None
    attempts = 0
    for attempts in range(1, MAX_ATTEMPTS + 1):
        best_k, fixed, best_lo = screen(data, center, delta)
        marginal = np.flatnonzero(~fixed)
        if marginal.size > MAX_MARGINAL and attempts < MAX_ATTEMPTS:
            delta = delta * max(0.2, 0.8 * MAX_MARGINAL / marginal.size)
            continue
        base = np.where(fixed, best_k, NONE).astype(np.int16)
        left = rhs - data.activity(base)
        sub = data.subset(marginal)
        lo, hi = np.maximum(0.0, center - delta), center + delta
        res = solve_highs(
            sub.profit,
            sub.cost,
            _contenders(sub, center, delta, best_lo[marginal]),
            sub.groups,
            data.rows,
            left,
            time_limit=time_limit,
            seed=seed,
            box=(lo, hi),
        )
        if res.status != "optimal":
            delta = delta * 2
            continue
        last = (res, base, marginal)
        if res.relaxed <= tol:
            break
        width = np.maximum(delta, 1e-12)
        edge = (res.prices >= hi - 1e-6 * width) | ((lo > 0) & (res.prices <= lo + 1e-6 * width))
        center, delta = res.prices, np.where(edge, 2 * delta, delta)
    if last is None:
        return center, np.full(n, NONE, dtype=np.int16), False, "not certified"
    res, base, marginal = last
    certified = res.relaxed <= tol
    info = f"{'certified' if certified else 'not certified'} ({marginal.size} marginal"
    info += f", {attempts} round{'s' if attempts > 1 else ''})"
    if not need_choice:
        return res.prices, base, certified, info
    choice, fractional = _round(res, base, marginal)
    choice = finish(data, choice, fractional, rhs, res.prices)  # repairs any room bought
    return res.prices, choice, certified, info


def _round(
    res: HighsResult, choice: np.ndarray, customers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Copy the LP's integral choices into ``choice``; return the fractional customers."""
    choice = choice.copy()
    whole = res.x >= 1 - 1e-6
    choice[customers[res.customer[whole]]] = res.offer[whole]
    part = (res.x > 1e-6) & ~whole
    fractional = np.unique(customers[res.customer[part]])
    choice[fractional] = NONE
    return choice, fractional


def finish(
    data: Active,
    choice: np.ndarray,
    candidates: np.ndarray,
    rhs: np.ndarray | None = None,
    lam: np.ndarray | None = None,
) -> np.ndarray:
    """Make ``choice`` feasible (drop the least profitable per unit of overrun), then refill.

    Refilling tries ``candidates`` and, given prices ``lam``, the untreated customers next in
    line (highest reduced value), each with its offers in order of profit, while rows allow.
    """
    rows = data.rows
    rhs = rows.rhs if rhs is None else rhs
    tol = FEAS_TOL * np.maximum(1.0, np.abs(rhs))
    choice = choice.copy()
    for _ in range(100 * max(1, rows.m)):
        over = data.activity(choice) - rhs
        j = int(np.argmax(over - tol))
        if over[j] <= tol[j]:
            break
        idx = np.flatnonzero(choice >= 0)
        k = choice[idx].astype(np.int64)
        coef = data.coef(j, k, idx)
        pos = coef > 0
        if not pos.any():  # cannot happen for rows that "no offer at all" satisfies
            break
        idx, k, coef = idx[pos], k[pos], coef[pos]
        order = np.argsort(data.profit[k, idx] / coef, kind="stable")
        need = np.searchsorted(np.cumsum(coef[order]), over[j] - tol[j] * 0.5) + 1
        choice[idx[order[:need]]] = NONE
    act = data.activity(choice)
    if lam is not None and rows.m and choice.size:
        value = best_options(data, lam, floor=-np.inf)[0]
        value[choice >= 0] = -np.inf
        line = np.argpartition(-value, min(REFILL, value.size - 1))[:REFILL]
        candidates = np.concatenate([candidates, line[value[line] > -np.inf]])
    free = [int(i) for i in dict.fromkeys(candidates.tolist()) if choice[i] == NONE]
    free.sort(key=lambda i: -float(np.max(data.profit[:, i])))
    for i in free:
        g = data.groups[i]
        for k in np.argsort(-data.profit[:, i], kind="stable"):
            if not data.profit[k, i] > 0:
                break
            add = rows.U[:, k, g] * data.cost[k, i] + rows.V[:, k, g]
            if np.all(act + add <= rhs + tol):
                choice[i] = k
                act = act + add
                break
    return choice


def total_profit(data: Active, choice: np.ndarray) -> float:
    """Expected profit of a choice vector over the active customers."""
    idx = np.flatnonzero(choice >= 0)
    return float(data.profit[choice[idx].astype(np.int64), idx].sum())


def _sample(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return np.flatnonzero(rng.random(n) < size / n)


def _price_scale(data: Active) -> np.ndarray:
    """A typical price per row (profit per unit), for the smallest box width."""
    rows = data.rows
    ok = data.profit > 0
    typical_profit = float(np.median(data.profit[ok])) if ok.any() else 1.0
    typical_cost = float(np.median(data.cost[ok])) if ok.any() else 1.0
    unit = np.array(
        [
            typical_profit / max(typical_cost, 1e-12) if kind == "cost" else typical_profit
            for kind in rows.kind
        ]
    )
    return unit
