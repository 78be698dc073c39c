"""HiGHS models of the allocation problem: the LP relaxation (with prices) and the exact MILP.

Invariant: one variable per allowed (customer, offer) pair, ordered customer-major; one row
``Σ_k x_ik ≤ 1`` per customer with two or more allowed offers (a single offer needs only the
bound ``x ≤ 1``); then the coupling rows of :class:`~.problem.Rows`. HiGHS minimises
``−profit·x``, so the price of a ``≤`` row is ``λ = −row_dual ≥ 0``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from dataclasses import dataclass

import highspy
import numpy as np

from uplift_engine.decide.solver.problem import Rows

IPM_FROM = 20_000  # LPs with more variables go to the interior-point solver


@dataclass(frozen=True)
class HighsResult:
    """What HiGHS found: the status, the objective, an upper bound and the variable values."""

    status: str  # "optimal", "infeasible", "time_limit" or HiGHS' own status text
    objective: float
    bound: float
    customer: np.ndarray  # local customer index of each variable
    offer: np.ndarray  # offer index of each variable
    x: np.ndarray
    prices: np.ndarray  # λ per coupling row (LP only; zeros for a MILP)
    relaxed: float = 0.0  # the most room bought or sold at the price box's edges

    @property
    def ok(self) -> bool:
        """True when a solution is available (optimal, or a time-limited MILP incumbent)."""
        return self.status == "optimal" or (self.status == "time_limit" and self.x.size > 0)


def solve_highs(
    profit: np.ndarray,
    cost: np.ndarray,
    allowed: np.ndarray,
    groups: np.ndarray,
    rows: Rows,
    rhs: np.ndarray,
    *,
    integer: bool = False,
    time_limit: float = 60.0,
    mip_gap: float = 1e-4,
    start: np.ndarray | None = None,
    seed: int = 0,
    box: tuple[np.ndarray, np.ndarray] | None = None,
) -> HighsResult:
    """Solve the LP relaxation (``integer=False``) or the MILP over the given customers.

    ``rhs`` replaces ``rows.rhs`` (a subproblem has what the fixed customers left over).
    ``start`` is a choice vector (``-1`` = none) given to the MILP as its first incumbent.
    """
    customer, offer = np.nonzero(allowed.T)
    nv = customer.size
    n = allowed.shape[1]
    if nv == 0:
        empty = np.zeros(0)
        status = "optimal" if (rhs >= -1e-9).all() else "infeasible"
        return HighsResult(status, 0.0, 0.0, customer, offer, empty, np.zeros(rows.m))
    h = _highs()
    h.silent()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("random_seed", int(seed))
    if integer:
        h.setOptionValue("mip_rel_gap", float(mip_gap))
    elif nv > IPM_FROM:
        h.setOptionValue("solver", "ipm")  # with crossover: a vertex, far faster than simplex
    lp = highspy.HighsLp()
    extra_cost, extra_row, extra_sign = _box_columns(box, rows.m)
    n_cols = nv + extra_cost.size
    lp.num_col_ = n_cols
    lp.col_cost_ = np.concatenate([-profit[offer, customer], extra_cost])
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.concatenate([np.ones(nv), np.full(extra_cost.size, highspy.kHighsInf)])

    per_customer = np.bincount(customer, minlength=n)
    multi = np.flatnonzero(per_customer >= 2)
    gub_len = per_customer[multi]
    gub_index = np.flatnonzero(per_customer[customer] >= 2)  # vars are customer-major
    starts = [np.concatenate([[0], np.cumsum(gub_len)])]
    index = [gub_index.astype(np.int64)]
    value = [np.ones(gub_index.size)]
    total = int(gub_len.sum())
    var_cost = cost[offer, customer]
    var_group = groups[customer]
    for j in range(rows.m):
        coef = rows.U[j][offer, var_group] * var_cost + rows.V[j][offer, var_group]
        nz = np.flatnonzero(coef)
        mine = np.flatnonzero(extra_row == j)
        index.append(np.concatenate([nz, nv + mine]))
        value.append(np.concatenate([coef[nz], extra_sign[mine]]))
        total += nz.size + mine.size
        starts.append(np.array([total]))
    n_rows = multi.size + rows.m
    lp.num_row_ = n_rows
    lp.row_lower_ = np.full(n_rows, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate([np.ones(multi.size), np.asarray(rhs, dtype=float)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = n_cols
    lp.a_matrix_.num_row_ = n_rows
    lp.a_matrix_.start_ = np.concatenate(starts).astype(np.int32)
    lp.a_matrix_.index_ = np.concatenate(index).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate(value)
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * nv
    h.passModel(lp)
    if integer and start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = (start[customer] == offer).astype(float)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    return _result(h, customer, offer, rows.m, multi.size, integer, nv)


def _box_columns(
    box: tuple[np.ndarray, np.ndarray] | None, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Costs, rows and signs of the columns that keep the prices inside ``box``."""
    if box is None:
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0)
    lo, hi = (np.asarray(b, dtype=float) for b in box)
    sell = np.flatnonzero(lo > 0)
    cost = np.concatenate([hi, -lo[sell]])  # minimising: buying room costs hi, selling earns lo
    row = np.concatenate([np.arange(m), sell])
    sign = np.concatenate([-np.ones(m), np.ones(sell.size)])
    return cost, row, sign


_banner_shown = False


def _highs() -> highspy.Highs:
    """A HiGHS instance (the first one's banner on C's stdout is hidden: the CLI owns stdout)."""
    global _banner_shown
    if _banner_shown:
        return highspy.Highs()
    _banner_shown = True
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        h = highspy.Highs()
        with contextlib.suppress(Exception):  # flush C's buffer while stdout is /dev/null
            ctypes.CDLL(None).fflush(None)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
    return h


def _result(
    h: highspy.Highs,
    customer: np.ndarray,
    offer: np.ndarray,
    m: int,
    n_gub: int,
    integer: bool,
    nv: int,
) -> HighsResult:
    status = h.getModelStatus()
    info = h.getInfo()
    text = {
        highspy.HighsModelStatus.kOptimal: "optimal",
        highspy.HighsModelStatus.kInfeasible: "infeasible",
        highspy.HighsModelStatus.kTimeLimit: "time_limit",
    }.get(status, h.modelStatusToString(status))
    sol = h.getSolution()
    has_x = text == "optimal" or (integer and info.primal_solution_status == 2)
    values = np.asarray(sol.col_value) if has_x else np.zeros(0)
    x = values[:nv]
    relaxed = float(values[nv:].max()) if values.size > nv else 0.0
    objective = float(-info.objective_function_value) if has_x else float("nan")
    if integer:
        bound = float(-info.mip_dual_bound) if text in ("optimal", "time_limit") else float("nan")
        prices = np.zeros(m)
    else:
        bound = objective
        prices = np.maximum(0.0, -np.asarray(sol.row_dual)[n_gub:]) if has_x else np.zeros(m)
    return HighsResult(text, objective, bound, customer, offer, x, prices, relaxed)
