"""A small randomised campaign with known effects, made in NumPy for the learner tests.

Three arms (control 0 with a 30% share, offers 1 and 2), six features (one categorical with
four levels), effects that depend on the features: offer 1 helps when x1 > 0, offer 2 follows
tanh(x2) and harms (a Sleeping Dog region) when x2 < 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Campaign:
    X: np.ndarray
    treatment: np.ndarray
    y: np.ndarray
    true_levels: np.ndarray  # (n, 3) expected outcome under every arm

    @property
    def true_effects(self) -> np.ndarray:
        return self.true_levels[:, 1:] - self.true_levels[:, :1]


def make_campaign(n: int = 20_000, seed: int = 0, kind: str = "binary") -> Campaign:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[:, 5] = rng.integers(0, 4, size=n)  # categorical codes
    treatment = rng.choice(3, size=n, p=[0.3, 0.4, 0.3])
    base = 1 / (1 + np.exp(-(-1.5 + 0.8 * X[:, 0] + 0.3 * (X[:, 5] == 2))))
    effect1 = 0.10 * (X[:, 1] > 0)
    effect2 = 0.08 * np.tanh(2 * X[:, 2])
    levels = np.clip(np.stack([base, base + effect1, base + effect2], axis=1), 0, 1)
    if kind == "binary":
        y = (rng.random(n) < levels[np.arange(n), treatment]).astype(np.float64)
        return Campaign(X, treatment, y, levels)
    revenue = 100 * levels
    y = revenue[np.arange(n), treatment] + rng.normal(0, 10, size=n)
    return Campaign(X, treatment, y, revenue)


def save_bundle(model, encoder, folder) -> None:
    """Write a fitted learner as a bundle of the three-arm campaign above (arms none/cash/fee)."""
    from uplift_engine.learn.training import build_manifest, write_bundle

    manifest = build_manifest(
        graph=model.export(),
        encoder=encoder,
        arms=["none", "cash", "fee"],
        columns={"treatment": "arm", "outcome": "y", "id": "row_id"},
        outcome_kind="binary",
        learner={"name": model.name, "params": model.get_params()},
        metrics={},
        fingerprint={},
        versions={},
        created_at="2026-11-24T00:00:00+00:00",
    )
    write_bundle(manifest, model.export(), folder)
