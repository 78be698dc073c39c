"""The allocation problem: which offer (at most one) each customer gets, under linear caps.

Invariant: arrays are laid out **offers × customers** (shape ``(K, n)``): ``profit[k, i]`` and
``cost[k, i]`` are the expected incremental profit and expected cost of giving offer ``k`` to
customer ``i``; ``allowed[k, i]`` is False where a guardrail forbids it. Customer ``i`` may also
belong to one segment ``groups[i]`` in ``[0, G)`` (``G = 1`` without segments).

Every coupling constraint (budget, per-offer caps, segment shares) has the one form

    Σ_i  U[k_i, g_i] · cost[k_i, i] + V[k_i, g_i]  ≤  rhs          (k_i = the offer i gets)

so a row is two small ``(K, G)`` tables and a right-hand side (:class:`Rows`). Row activity then
needs only the counts and costs per (offer, segment), and a vector of prices ``λ ≥ 0`` turns into
one reduced value per option: ``profit − (λ·U)[k, g] · cost − (λ·V)[k, g]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from uplift_engine.errors import ConfigError, DataError

NONE = -1  # the choice code of "no offer"


@dataclass(frozen=True)
class Problem:
    """One allocation problem (see the module docstring for the layout)."""

    profit: np.ndarray
    cost: np.ndarray
    allowed: np.ndarray
    offers: tuple[str, ...]
    budget: float = math.inf
    max_customers: tuple[float, ...] = ()
    max_budget: tuple[float, ...] = ()
    groups: np.ndarray | None = None
    group_names: tuple[str, ...] = ()
    min_share: tuple[float, ...] = ()
    max_share: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        k = len(self.offers)
        if self.profit.ndim != 2 or self.profit.shape[0] != k:
            raise DataError(
                f"profit must have shape (offers={k}, customers), got {self.profit.shape}"
            )
        if self.cost.shape != self.profit.shape or self.allowed.shape != self.profit.shape:
            raise DataError("profit, cost and allowed must have the same (offers, customers) shape")
        if math.isnan(self.budget) or self.budget < 0:
            raise ConfigError(f"the budget must be a number ≥ 0, got {self.budget}", field="budget")
        for name, caps in (("max_customers", self.max_customers), ("max_budget", self.max_budget)):
            if caps and len(caps) != k:
                raise ConfigError(f"{name} needs one value per offer ({k}), got {len(caps)}")
            bad = [o for o, c in zip(self.offers, caps, strict=False) if math.isnan(c) or c < 0]
            if bad:
                raise ConfigError(f"{name} of offer {bad[0]!r} must be ≥ 0", field=name)
        for name, values in (("profit", self.profit), ("cost", self.cost)):
            finite = np.isfinite(values) | ~self.allowed
            if not finite.all():
                raise DataError(
                    f"{name} is not finite for {int((~finite).sum())} allowed option(s)"
                )
        if (self.cost[self.allowed] < 0).any():
            raise DataError("expected costs must be ≥ 0")
        _check_shares(self)

    @property
    def n_customers(self) -> int:
        """Number of customers (columns)."""
        return int(self.profit.shape[1])

    @property
    def n_groups(self) -> int:
        """Number of segments (1 without segments)."""
        return max(1, len(self.group_names))

    def group_codes(self) -> np.ndarray:
        """The segment code of every customer (zeros without segments)."""
        if self.groups is None:
            return np.zeros(self.n_customers, dtype=np.int32)
        return self.groups

    def caps(self, name: str) -> np.ndarray:
        """Per-offer caps ``max_customers`` or ``max_budget`` as an array (``inf`` = no cap)."""
        values = getattr(self, name)
        return np.asarray(values, dtype=float) if values else np.full(len(self.offers), math.inf)


def _check_shares(problem: Problem) -> None:
    g = len(problem.group_names)
    lo = np.asarray(problem.min_share or [0.0] * g, dtype=float)
    hi = np.asarray(problem.max_share or [1.0] * g, dtype=float)
    if lo.shape != (g,) or hi.shape != (g,):
        raise ConfigError(f"min_share and max_share need one value per segment ({g})")
    if g and problem.groups is None:
        raise ConfigError("segment shares need the segment of every customer (groups)")
    for name, lo_g, hi_g in zip(problem.group_names, lo, hi, strict=True):
        if not 0 <= lo_g <= hi_g <= 1:
            raise ConfigError(
                f"segment {name!r}: shares must satisfy 0 ≤ min ≤ max ≤ 1, got min={lo_g}, "
                f"max={hi_g}",
                field="segments",
            )
    if lo.sum() > 1 + 1e-12:
        raise ConfigError(
            f"segment minimum shares add up to {lo.sum():g} > 1; they cannot all be met",
            field="segments",
        )
    if g and hi.sum() < 1 - 1e-12:
        raise ConfigError(
            f"segment maximum shares add up to {hi.sum():g} < 1, so no campaign can meet them",
            field="segments",
        )
    for s in np.flatnonzero(lo > 0):
        if not problem.allowed[:, problem.group_codes() == s].any():
            raise ConfigError(
                f"segment {problem.group_names[s]!r} needs at least {lo[s]:g} of the treated "
                "customers but has no customer eligible for any offer",
                field="segments",
            )


@dataclass(frozen=True)
class Rows:
    """The coupling constraints: ``U``, ``V`` of shape ``(m, K, G)``, ``rhs`` and names."""

    names: tuple[str, ...]
    U: np.ndarray
    V: np.ndarray
    rhs: np.ndarray
    kind: tuple[str, ...] = field(default=())  # "cost" or "count": the unit of the row's price

    @property
    def m(self) -> int:
        """Number of rows."""
        return len(self.names)

    def prices_to_tables(self, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(λ·U, λ·V)``: the cost multiplier and the constant charged per option, ``(K, G)``."""
        if self.m == 0:
            shape = self.U.shape[1:]
            return np.zeros(shape), np.zeros(shape)
        return np.tensordot(lam, self.U, axes=1), np.tensordot(lam, self.V, axes=1)

    def activity(self, counts: np.ndarray, costs: np.ndarray) -> np.ndarray:
        """Row activity from the counts and costs per (offer, segment)."""
        return (self.U * costs).sum(axis=(1, 2)) + (self.V * counts).sum(axis=(1, 2))


def build_rows(problem: Problem) -> Rows:
    """The coupling rows of a problem (infinite caps and trivial shares are left out)."""
    k, g = len(problem.offers), problem.n_groups
    names: list[str] = []
    kinds: list[str] = []
    us: list[np.ndarray] = []
    vs: list[np.ndarray] = []
    rhs: list[float] = []

    def add(name: str, kind: str, u: np.ndarray, v: np.ndarray, b: float) -> None:
        names.append(name)
        kinds.append(kind)
        us.append(u)
        vs.append(v)
        rhs.append(b)

    zero = np.zeros((k, g))
    if math.isfinite(problem.budget):
        add("budget", "cost", np.ones((k, g)), zero, problem.budget)
    for j, offer in enumerate(problem.offers):
        cap = problem.caps("max_customers")[j]
        if math.isfinite(cap):
            v = zero.copy()
            v[j] = 1.0
            add(f"max_customers:{offer}", "count", zero, v, cap)
        cap = problem.caps("max_budget")[j]
        if math.isfinite(cap):
            u = zero.copy()
            u[j] = 1.0
            add(f"max_budget:{offer}", "cost", u, zero, cap)
    lo = problem.min_share or (0.0,) * len(problem.group_names)
    hi = problem.max_share or (1.0,) * len(problem.group_names)
    for s, name in enumerate(problem.group_names):
        member = (np.arange(g) == s).astype(float)[None, :].repeat(k, axis=0)
        if hi[s] < 1:
            add(f"max_share:{name}", "count", zero, member - hi[s], 0.0)
        if lo[s] > 0:
            add(f"min_share:{name}", "count", zero, lo[s] - member, 0.0)
    shape = (len(names), k, g)
    return Rows(
        names=tuple(names),
        U=np.array(us).reshape(shape),
        V=np.array(vs).reshape(shape),
        rhs=np.array(rhs, dtype=float),
        kind=tuple(kinds),
    )


def tallies(
    choice: np.ndarray, cost: np.ndarray, groups: np.ndarray, n_offers: int, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counts and summed costs per (offer, segment) of a choice vector (``-1`` = none)."""
    treated = choice >= 0
    k = choice[treated].astype(np.int64)
    cell = k * n_groups + groups[treated]
    idx = np.flatnonzero(treated)
    chosen_cost = cost[k, idx]
    size = n_offers * n_groups
    counts = np.bincount(cell, minlength=size).reshape(n_offers, n_groups).astype(float)
    costs = np.bincount(cell, weights=chosen_cost, minlength=size).reshape(n_offers, n_groups)
    return counts, costs


def chosen(values: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """``values[choice[i], i]`` per customer, 0 where the choice is none."""
    treated = choice >= 0
    out = np.zeros(choice.shape[0])
    idx = np.flatnonzero(treated)
    out[idx] = values[choice[idx].astype(np.int64), idx]
    return out


@dataclass(frozen=True)
class Solution:
    """A feasible allocation with a certificate.

    ``choice[i]`` is the offer index of customer ``i`` (``-1`` = none); ``objective`` its
    expected incremental profit; ``bound`` an upper bound on the best possible (the LP relaxation
    or a Lagrangian dual value), so ``gap`` bounds how far from optimal the plan can be.
    ``prices`` are the constraints' shadow prices (profit per unit of each row), usable to decide
    one customer at a time (see :class:`~uplift_engine.decide.Decider`).
    """

    choice: np.ndarray
    objective: float
    bound: float
    method: str
    prices: dict[str, float]
    seconds: float = 0.0
    certified: bool = True  # False when the method fell back to a plain Lagrangian bound
    notes: tuple[str, ...] = ()

    @property
    def gap(self) -> float:
        """Relative optimality gap ``(bound − objective) / |bound|`` (0 when both are 0)."""
        if self.bound == self.objective:
            return 0.0
        return max(0.0, (self.bound - self.objective) / max(abs(self.bound), 1e-12))
