"""The random holdout: eligible customers left untreated on purpose, to measure the campaign.

Invariant: the holdout is a simple random sample, without replacement, of exactly
``round(share · eligible)`` of the eligible customers (those the guardrails left with at least
one offer), drawn from ``numpy.random.default_rng(seed)``; the same seed and eligibility give
the same holdout. Comparing the eligible customers outside the holdout with those inside
measures what the plan added per eligible customer, without bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uplift_engine.errors import ConfigError


@dataclass(frozen=True)
class Holdout:
    """The drawn holdout and how it was drawn (recorded in the plan's metadata)."""

    mask: np.ndarray  # (n,) bool
    share: float
    seed: int
    eligible: int

    @property
    def count(self) -> int:
        """Customers in the holdout."""
        return int(self.mask.sum())

    def record(self) -> dict[str, object]:
        """The draw, for the plan's metadata."""
        return {
            "share": self.share,
            "seed": self.seed,
            "eligible": self.eligible,
            "count": self.count,
            "method": "simple random sample of eligible customers",
        }


def draw_holdout(eligible: np.ndarray, share: float, seed: int) -> Holdout:
    """Draw ``share`` of the ``eligible`` customers at random (seeded)."""
    if not 0.0 <= share < 1.0:
        raise ConfigError(f"the holdout share must be in [0, 1), got {share}", field="holdout")
    pool = np.flatnonzero(eligible)
    size = round(share * pool.size)
    mask = np.zeros(eligible.shape[0], dtype=bool)
    if size:
        rng = np.random.default_rng(seed)
        mask[rng.choice(pool, size=size, replace=False)] = True
    return Holdout(mask=mask, share=share, seed=seed, eligible=int(pool.size))
