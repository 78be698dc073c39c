"""How ``uplift train`` measures its model out of sample, planned from the table's arms.

Two kinds, chosen by the table's size unless ``--evaluation`` names one:

- ``held_out``: a stratified share of the rows (``--holdout``, 30%) is set aside; selection and
  fitting use the rest and the model is scored on the set-aside rows. From
  ``CROSS_FIT_BELOW_ROWS`` rows on, where a held-out third measures well and a second fit is
  the only extra cost.
- ``cross_fitted``: every row is scored by a model of the same configuration fitted on the
  other ``EVALUATION_FOLDS`` − 1 folds (stratified by arm), so the evaluation uses every row and
  the training parts keep 80% of them; below ``CROSS_FIT_BELOW_ROWS`` rows, where a held-out
  third is both too few to measure on and too many to lose.

Either way the bundle is then refitted on every row (``--refit``, the default): the evaluation
is that of the configuration, measured out of sample, and the saved model has learned from all
the data. ``--no-refit`` keeps the model fitted on the training part, which only a held-out
evaluation has, so it implies ``held_out``.

Invariant: a table whose every arm has at least ``MIN_TABLE_ARM_ROWS`` rows trains; the plan
never gives a fit fewer than :data:`~uplift_engine.learn.training.MIN_ARM_ROWS` rows of an arm
(nor a bootstrap wrapper fewer than ``MIN_BOOTSTRAP_ARM_ROWS``) — the only refusals name the
arm, its count in the user's table and the option that asks for more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from uplift_engine.errors import ConfigError, DataError
from uplift_engine.evaluate.selection import MIN_SELECTION_ARM_ROWS
from uplift_engine.learn.data import holdout_split, stratified_folds
from uplift_engine.learn.training import MIN_ARM_ROWS
from uplift_engine.learn.training.bootstrap import MIN_BOOTSTRAP_ARM_ROWS

EvaluationKind = Literal["held_out", "cross_fitted"]
EVALUATIONS = ("auto", "held-out", "cross-fitted")
"""``--evaluation``: ``auto`` chooses by the table's size."""
MIN_TABLE_ARM_ROWS = 20
"""The fewest rows of an arm a campaign table may have. A pilot of a few hundred customers has
more; below 20, an arm's average outcome is itself too uncertain to say whom an offer moves."""
CROSS_FIT_BELOW_ROWS = 20_000
EVALUATION_FOLDS = 5


@dataclass(frozen=True)
class HeldOut:
    """A held-out evaluation: the rows fitted on (selection too) and the rows scored."""

    share: float
    train_rows: np.ndarray
    held_rows: np.ndarray


@dataclass(frozen=True)
class CrossFitted:
    """A cross-fitted evaluation: the fold of every row."""

    fold: np.ndarray

    @property
    def folds(self) -> int:
        """How many folds."""
        return int(self.fold.max()) + 1


@dataclass(frozen=True)
class EvaluationPlan:
    """The evaluation's kind and rows, and whether the bundle is refitted on every row."""

    refit: bool
    seed: int
    split: HeldOut | CrossFitted

    @property
    def kind(self) -> EvaluationKind:
        """``held_out`` or ``cross_fitted``."""
        return "held_out" if isinstance(self.split, HeldOut) else "cross_fitted"

    def to_dict(self) -> dict[str, Any]:
        """What the manifest and ``--json`` record: the kind, its rows, and the refit."""
        out: dict[str, Any] = {"kind": self.kind, "seed": self.seed, "refit": self.refit}
        split = self.split
        if isinstance(split, HeldOut):
            out |= {
                "share": split.share,
                "rows": len(split.held_rows),
                "train_rows": len(split.train_rows),
            }
        else:
            out |= {"folds": split.folds, "rows": len(split.fold)}
        return out


def plan_evaluation(
    treatment: np.ndarray,
    arm_names: list[str],
    *,
    treatment_column: str,
    evaluation: str,
    refit: bool,
    share: float,
    seed: int,
    bootstrap: bool,
    auto: bool,
) -> EvaluationPlan:
    """The evaluation for a table whose rows have arm codes ``treatment`` (0 = control)."""
    counts = np.bincount(treatment, minlength=len(arm_names))
    short = [(name, int(c)) for name, c in zip(arm_names, counts, strict=True)]
    short = [(name, c) for name, c in short if c < MIN_TABLE_ARM_ROWS]
    if short:
        listed = ", ".join(f"{name!r} has {c}" for name, c in short)
        raise DataError(
            f"every arm needs at least {MIN_TABLE_ARM_ROWS} rows to learn whom an offer moves; "
            f"in this table {listed}",
            field=treatment_column,
        )
    kind = _kind(evaluation, refit, len(treatment))
    if kind == "cross_fitted":
        fold = stratified_folds(treatment, EVALUATION_FOLDS, seed)
        return EvaluationPlan(refit=True, seed=seed, split=CrossFitted(fold))
    train_rows, held_rows = holdout_split(treatment, share, seed)
    _check_training_part(
        counts,
        np.bincount(treatment[train_rows], minlength=len(arm_names)),
        arm_names,
        treatment_column=treatment_column,
        refit=refit,
        bootstrap=bootstrap,
        auto=auto,
        share=share,
    )
    return EvaluationPlan(refit=refit, seed=seed, split=HeldOut(share, train_rows, held_rows))


def check_evaluation(evaluation: str, refit: bool) -> None:
    """``--evaluation`` is known and agrees with ``--refit`` (a ``ConfigError`` otherwise)."""
    if evaluation not in EVALUATIONS:
        raise ConfigError(
            f"--evaluation {evaluation!r} is not known; choose one of {', '.join(EVALUATIONS)}",
            field="evaluation",
        )
    if evaluation == "cross-fitted" and not refit:
        raise ConfigError(
            "--no-refit keeps the model fitted on the training part, which only a held-out "
            "evaluation has: drop --no-refit, or choose --evaluation held-out",
            field="evaluation",
        )


def _kind(evaluation: str, refit: bool, rows: int) -> EvaluationKind:
    check_evaluation(evaluation, refit)
    if evaluation == "held-out" or not refit:
        return "held_out"
    if evaluation == "cross-fitted":
        return "cross_fitted"
    return "held_out" if rows >= CROSS_FIT_BELOW_ROWS else "cross_fitted"


def _check_training_part(
    counts: np.ndarray,
    train_counts: np.ndarray,
    arm_names: list[str],
    *,
    treatment_column: str,
    refit: bool,
    bootstrap: bool,
    auto: bool,
    share: float,
) -> None:
    """A held-out evaluation leaves every arm the rows its training part's fits need."""
    needs = {"a learner needs them": MIN_ARM_ROWS}
    if auto:
        needs["--learner auto cross-fits its candidates on them"] = MIN_SELECTION_ARM_ROWS
    if bootstrap and not refit:
        needs["bootstrap intervals refit on resamples of them"] = MIN_BOOTSTRAP_ARM_ROWS
    why, need = max(needs.items(), key=lambda item: item[1])
    short = [
        f"{name!r} would keep {int(t)} of its {int(c)}"
        for name, t, c in zip(arm_names, train_counts, counts, strict=True)
        if t < need
    ]
    if short:
        raise DataError(
            f"a held-out evaluation sets aside {share:.0%} of the rows, and every arm needs at "
            f"least {need} rows in the rest because {why}: {', '.join(short)}. Choose "
            "--evaluation cross-fitted (with --refit), or a smaller --holdout",
            field=treatment_column,
        )
