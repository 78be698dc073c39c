"""A scored population with known true effects, for tests, benchmarks and examples.

Invariant: every customer has a *type* (Persuadable, Sure Thing, Lost Cause, Sleeping Dog) that
fixes their true conversion probability without an offer and the true effect of each offer;
the scores are the truth plus noise, with 90% intervals that are honest for that noise
(``uplift ± 1.645·σ_i``, σ_i varying by customer). Nothing here is used to decide: it only
stands in for a fitted model when the truth must be known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from uplift_engine.learn.scores import INTERVAL_LEVEL, ScoresMeta, pred_column, uplift_column

TYPES = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")
Z90 = 1.6448536269514722


@dataclass(frozen=True)
class SyntheticCampaign:
    """Scores (model view), a customers table, and the truth per arm."""

    scores: pa.Table
    meta: ScoresMeta
    customers: pa.Table
    truth: np.ndarray  # (1 + K, n): true conversion probability under control, then each offer
    kind: np.ndarray  # (n,) customer type names

    @property
    def offers(self) -> list[str]:
        """The offers' names."""
        return self.meta.offers


def synthetic_campaign(
    n: int = 5_000,
    offers: tuple[str, ...] = ("cashback", "fee_waiver"),
    *,
    seed: int = 0,
    noise: float = 0.02,
    intervals: bool = True,
    mix: tuple[float, float, float, float] = (0.3, 0.2, 0.35, 0.15),
) -> SyntheticCampaign:
    """Draw ``n`` customers with known effects of every offer and noisy scores of them."""
    rng = np.random.default_rng(seed)
    k = len(offers)
    kind = rng.choice(len(TYPES), size=n, p=np.asarray(mix) / sum(mix))
    base_lo = np.array([0.02, 0.45, 0.0, 0.25])[kind]
    base_hi = np.array([0.15, 0.85, 0.05, 0.6])[kind]
    p0 = rng.uniform(base_lo, base_hi)
    strength = np.linspace(1.0, 0.5, k)[:, None] * rng.uniform(0.6, 1.4, (k, n))
    effect_lo = np.array([0.05, 0.0, -0.005, -0.2])[kind]
    effect_hi = np.array([0.3, 0.03, 0.005, -0.05])[kind]
    tau = rng.uniform(effect_lo, effect_hi) * strength
    truth = np.clip(np.vstack([p0, p0 + tau]), 0.0, 1.0)

    sigma = rng.uniform(0.25, 1.5, n) * noise
    est_base = np.clip(p0 + rng.normal(0, noise / 2, n), 0.0, 1.0)
    est_tau = truth[1:] - truth[0] + rng.normal(0, 1, (k, n)) * sigma
    ids = np.arange(1, n + 1) * 7 + 1000  # ids as given, not row numbers
    segment = np.where(rng.random(n) < 0.1, "priority", np.where(kind == 1, "mass", "young"))
    segment = np.where((segment == "young") & (rng.random(n) < 0.5), "mass", segment)
    columns: dict[str, object] = {"customer_id": ids, pred_column("none"): est_base}
    for j, offer in enumerate(offers):
        columns[pred_column(offer)] = est_base + est_tau[j]
    for j, offer in enumerate(offers):
        columns[uplift_column(offer)] = est_tau[j]
        if intervals:
            columns[uplift_column(offer, "lower")] = est_tau[j] - Z90 * sigma
            columns[uplift_column(offer, "upper")] = est_tau[j] + Z90 * sigma
    columns["segment"] = segment
    scores = pa.table(columns)
    meta = ScoresMeta(
        id_column="customer_id",
        arms=["none", *offers],
        control="none",
        outcome="converted",
        outcome_kind="binary",
        interval_level=INTERVAL_LEVEL if intervals else None,
        interval_kind="confidence" if intervals else None,
        model={"learner": "synthetic", "noise": noise},
    )
    customers = pa.table(
        {
            "customer_id": ids[::-1].copy(),  # another order: the join must match on the id
            "age": rng.integers(18, 80, n)[::-1].copy(),
            "contacts_30d": rng.poisson(1.2, n)[::-1].copy(),
            "is_vip": (rng.random(n) < 0.05)[::-1].copy(),
            "clv": np.round(rng.lognormal(4.6, 0.4, n), 2)[::-1].copy(),
            "income": rng.normal(50, 15, n)[::-1].copy(),
        }
    )
    return SyntheticCampaign(scores, meta, customers, truth, np.array(TYPES)[kind])
