"""What every benchmarked learner looks like to the harness, whichever library it comes from.

Invariant: a :class:`Contender` is built from a dataset's description, a seed and a thread
count; ``fit`` sees only the training part; ``predict`` returns the effect of every offer
against control, shape (n, K), offers in the dataset's arm order; ``interval`` returns 90%
bounds of those effects, or None when the learner gives none. A :class:`Cell` names one
learner for one dataset: either a way to build it, or the reason it cannot run there (a
binary-only learner on a continuous outcome), which the table reports as a result.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from learners.datasets import Dataset, Part

INTERVAL_LEVEL = 0.9


class Contender(ABC):
    """One configured learner of one library, ready to fit."""

    def __init__(self, ds: Dataset, seed: int, threads: int) -> None:
        self.ds = ds
        self.seed = seed
        self.threads = threads
        self.notes: dict[str, Any] = {}

    @abstractmethod
    def fit(self, train: Part) -> None:
        """Fit on the training part."""

    @abstractmethod
    def predict(self, part: Part) -> np.ndarray:
        """Effect of every offer, (n, K)."""

    def interval(self, part: Part) -> tuple[np.ndarray, np.ndarray] | None:
        """90% bounds of every offer's effect, or None."""
        return None


Factory = Callable[[Dataset, int, int], Contender]


@dataclass(frozen=True)
class Cell:
    """One learner on one dataset: how it is built, or why it does not run."""

    key: str  # "library/learner", unique
    library: str
    learner: str
    setup: str  # how it is configured, for the README table
    make: Factory | None = None
    skip: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
