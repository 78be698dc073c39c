"""The child of one (trial, repeat, cell): fit every fold, save every row's out-of-fold effect.

Invariant: for fold k of the repeat's saved folds a fresh learner is built (same seed for every
fold and every learner of the repeat), fitted on the rows of the other folds and asked for the
effects of fold k's rows only; ``effects.npy`` (n, offers) holds those out-of-fold effects for
all rows, in row order. Only ``fit`` is inside the fit timer and only ``predict`` inside the
predict timer, both summed over folds; no intervals are asked for. Run by ``learners.worker``
when its arguments say ``"mode": "cross_fit"``, so it lives under the same sandbox.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np


def run(args: dict[str, Any]) -> dict[str, Any]:
    """Fit and predict all folds of one repeat; returns what goes into result.json."""
    from learners.real_splits import fold_dataset, load
    from learners.registry import cell
    from learners.worker import _peak_mb

    out = Path(args["out"])
    meta, arrays = load(Path(args["data"]))
    folds = np.load(args["folds"], allow_pickle=False)
    found = cell(meta, args["key"])
    if found.make is None or found.skip:
        raise RuntimeError(f"cell {found.key} does not run here: {found.skip}")
    offers = len(meta["arms"]) - 1
    effects = np.full((len(folds), offers), np.nan)
    result: dict[str, Any] = {"rss_loaded_mb": round(_peak_mb(), 1), "fit_s_per_fold": []}
    predict_s, notes = 0.0, []
    for k in range(int(folds.max()) + 1):
        ds = fold_dataset(meta, arrays, folds, k)
        contender = found.make(ds, args["seed"], args["threads"])
        clock = time.perf_counter()
        contender.fit(ds.train)
        result["fit_s_per_fold"].append(time.perf_counter() - clock)
        clock = time.perf_counter()
        fold_effects = contender.predict(ds.test)
        predict_s += time.perf_counter() - clock
        shape = (len(ds.test.y), offers)
        if fold_effects.shape != shape:
            raise RuntimeError(
                f"fold {k}: predictions have shape {fold_effects.shape}, not {shape}"
            )
        effects[folds == k] = fold_effects
        notes.append(contender.notes)
    result["fit_s"] = float(sum(result["fit_s_per_fold"]))
    result["predict_s"] = predict_s
    result["non_finite_predictions"] = int((~np.isfinite(effects)).sum())
    np.save(out / "effects.npy", effects, allow_pickle=False)
    result["notes"] = {"folds": notes}
    winners = [n["winner"] for n in notes if "winner" in n]
    if winners:
        result["notes"]["winners"] = winners
    result["peak_self_mb"] = round(_peak_mb(), 1)
    return result
