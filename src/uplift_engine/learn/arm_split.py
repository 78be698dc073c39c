"""Score an S-learner's booster under every arm, walking arm-free trees once.

An S-learner's model reads the arm code as its last feature. Most of its trees never split on
that feature, so their output is the same under every arm: evaluating the whole model once per
arm repeats them. Here the model's text is cut into two LightGBM models — the trees that split
on the arm and those that do not — the arm-free part is evaluated once, the other once per arm,
and the raw scores are added before the objective's link (the sigmoid of a binary model).
Trees are summed in a different order than LightGBM's own ``predict``, so results agree with
it to rounding (about 1e-15), not bit for bit.

Invariant: only LightGBM models with a ``binary`` or ``regression`` objective (the two the
learners fit) are split; :func:`split_by_arm` returns ``None`` for anything else, and the caller
evaluates the model once per arm as before.

This module is on the scoring path: NumPy and LightGBM (imported when a model is cut) only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

_TREE = re.compile(r"^Tree=\d+\n", re.MULTILINE)
_END = "end of trees"


@dataclass(frozen=True)
class ArmSplitModel:
    """The arm-free trees and the arm-reading trees of one booster, and its link."""

    shared: Any
    """A ``lightgbm.Booster`` of the trees that never read the arm, or ``None``."""
    by_arm: Any
    """A ``lightgbm.Booster`` of the trees that split on the arm, or ``None``."""
    sigmoid: float | None
    """The binary objective's sigmoid scale; ``None`` for regression (identity link)."""
    n_shared: int
    n_by_arm: int

    def predict(self, X: np.ndarray, arms: list[float], threads: int) -> dict[float, np.ndarray]:
        """The model's output (n,) under each arm code; ``X`` lacks the arm column."""
        inputs = np.empty((X.shape[0], X.shape[1] + 1), dtype=np.float64)
        inputs[:, :-1] = X
        inputs[:, -1] = arms[0]
        base = np.zeros(X.shape[0])
        if self.shared is not None:
            base += self.shared.predict(inputs, raw_score=True, num_threads=threads)
        out = {}
        for arm in arms:
            raw = base
            if self.by_arm is not None:
                inputs[:, -1] = arm
                raw = base + self.by_arm.predict(inputs, raw_score=True, num_threads=threads)
            out[arm] = raw if self.sigmoid is None else 1.0 / (1.0 + np.exp(-self.sigmoid * raw))
        return out


def split_by_arm(text: str) -> ArmSplitModel | None:
    """Cut a LightGBM model whose last feature is the arm; ``None`` when it cannot be cut."""
    header_end = text.find("\nTree=")
    end = text.find(_END)
    if header_end < 0 or end < 0:
        return None
    header, body, tail = text[: header_end + 1], text[header_end + 1 : end], text[end:]
    fields = dict(
        line.split("=", 1) for line in header.splitlines() if "=" in line and line[0] != "["
    )
    objective = fields.get("objective", "").split()
    if not objective or objective[0] not in ("binary", "regression"):
        return None
    if fields.get("num_tree_per_iteration", "1") != "1":
        return None
    sigmoid = None
    if objective[0] == "binary":
        scale = [p.split(":", 1)[1] for p in objective[1:] if p.startswith("sigmoid:")]
        sigmoid = float(scale[0]) if scale else 1.0
    arm = str(int(fields["max_feature_idx"]))
    starts = [m.start() for m in _TREE.finditer(body)]
    trees = [body[a:b] for a, b in zip(starts, [*starts[1:], len(body)], strict=True)]
    shared: list[str] = []
    by_arm: list[str] = []
    for tree in trees:
        split = re.search(r"^split_feature=(.*)$", tree, re.MULTILINE)
        reads_arm = split is not None and arm in split.group(1).split()
        (by_arm if reads_arm else shared).append(tree)
    return ArmSplitModel(
        shared=_booster(header, shared, tail),
        by_arm=_booster(header, by_arm, tail),
        sigmoid=sigmoid,
        n_shared=len(shared),
        n_by_arm=len(by_arm),
    )


def _booster(header: str, trees: list[str], tail: str) -> Any:
    import lightgbm  # only when a model is scored: a graph of tree ensembles does without it

    if not trees:
        return None
    blocks = [_TREE.sub(f"Tree={i}\n", tree, count=1) for i, tree in enumerate(trees)]
    sizes = "tree_sizes=" + " ".join(str(len(block)) for block in blocks)
    header = re.sub(r"^tree_sizes=.*$", sizes, header, count=1, flags=re.MULTILINE)
    return lightgbm.Booster(model_str=header + "".join(blocks) + tail)
